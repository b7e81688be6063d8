"""The application services: inbox -> lifecycle -> store, the outbox loop, reads, replay."""

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
    ReplayReport,
    parse_time,
    replay,
)
from ._sync import (
    Syncer,
    SyncReport,
)

__all__ = [
    "GET_ORDER_DETAIL_MAX_IDS",
    "SFCC_ORDER_NO",
    "Accepted",
    "Backoff",
    "BadLine",
    "DispatchReport",
    "Dispatcher",
    "EffectContext",
    "Executor",
    "LineResult",
    "NoExecutor",
    "OrderService",
    "ReadReport",
    "Reader",
    "ReplayReport",
    "Result",
    "SyncReport",
    "Syncer",
    "TooManyConflicts",
    "content_key",
    "parse_time",
    "personal_values",
    "replay",
]

_publish(__name__, globals())
