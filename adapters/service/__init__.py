"""The application services: inbox -> lifecycle -> store, the outbox loop, and replay."""

from ._dispatch import (
    SFCC_ORDER_NO,
    Backoff,
    Dispatcher,
    DispatchReport,
    EffectContext,
    Executor,
    NoExecutor,
)
from ._inbox import (
    Accepted,
    OrderService,
    Result,
    TooManyConflicts,
    UnknownOrder,
    content_key,
)
from ._replay import (
    BadLine,
    LineResult,
    ReplayReport,
    parse_time,
    replay,
)

__all__ = [
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
    "ReplayReport",
    "Result",
    "TooManyConflicts",
    "UnknownOrder",
    "content_key",
    "parse_time",
    "replay",
]
