"""The application services: inbox -> lifecycle -> store, the outbox loop, reads, replay,
and the telemetry (metrics and log lines) they report through."""

from adapters._util import publish as _publish
from adapters.errors import (
    BadLine,
    NoExecutor,
    TooManyConflicts,
)

from ._dispatch import (
    SFCC_ORDER_NO,
    Backoff,
    Dispatcher,
    DispatchReport,
    EffectContext,
    Executor,
    personal_values,
)
from ._inbox import (
    Accepted,
    OrderService,
    Result,
    content_key,
)
from ._reads import (
    GET_ORDER_DETAIL_MAX_IDS,
    Reader,
    ReadReport,
)
from ._replay import (
    LineResult,
    ReplayPart,
    ReplayReport,
    parse_time,
    replay,
)
from ._sync import (
    WATERMARK_PREFIX,
    Syncer,
    SyncReport,
    watermark_name,
)
from ._telemetry import (
    NO_TELEMETRY,
    LogFormat,
    Metrics,
    Telemetry,
    serve_metrics,
)

__all__ = [
    "GET_ORDER_DETAIL_MAX_IDS",
    "NO_TELEMETRY",
    "SFCC_ORDER_NO",
    "WATERMARK_PREFIX",
    "Accepted",
    "Backoff",
    "BadLine",
    "DispatchReport",
    "Dispatcher",
    "EffectContext",
    "Executor",
    "LineResult",
    "LogFormat",
    "Metrics",
    "NoExecutor",
    "OrderService",
    "ReadReport",
    "Reader",
    "ReplayPart",
    "ReplayReport",
    "Result",
    "SyncReport",
    "Syncer",
    "Telemetry",
    "TooManyConflicts",
    "content_key",
    "parse_time",
    "personal_values",
    "replay",
    "serve_metrics",
    "watermark_name",
]

_publish(__name__, globals())
