"""The TikTok Shop order lifecycle: states, rules, decisions and effects, with no I/O.

Start with `OrderLifecycle` (one order, what may happen next, and what each
change asks of the partners), or with `apply` and `allowed_events` for the
fast path over many orders.
"""

from ._actions import Outcome
from ._command import Command
from ._diagram import dot as dot_diagram
from ._diagram import mermaid as mermaid_diagram
from ._diagram import transition_table
from ._effects import (
    EFFECT_TYPES,
    ApproveTikTokCancellation,
    ApproveTikTokReturn,
    CancelTikTokOrder,
    CreateSfccOrder,
    Effect,
    RejectTikTokCancellation,
    ReportTikTokEvent,
    SfccStatus,
    ShippingStatus,
    ShipTikTokPackage,
    SyncOrderInfo,
    UpdateSfccOrderStatus,
    UpdateSfccReturn,
    UpdateSfccShipping,
)
from ._lifecycle import OrderLifecycle
from ._model import (
    CancellationRequest,
    CancellationStatus,
    HistoryRecord,
    Initiator,
    LineStatus,
    Order,
    OrderLine,
    OrderStatus,
    Origin,
    Recipient,
    ReturnRequest,
    ReturnStatus,
    ReturnType,
)
from ._policy import DEFAULT_POLICY, Policy
from ._reconcile import reconcile, reconcile_cancellation, reconcile_return
from ._rules import EVENT_PARAMS, EVENTS
from ._search import Step
from ._table import TABLE, Decision, allowed_events, apply
from ._timers import FiredTimer, Timer, due_timers, next_timer_at, timers
from .errors import (
    IllegalTransition,
    InvalidParameters,
    LifecycleError,
    NoLegalPath,
    StaleObservation,
    UnknownEvent,
)


def __getattr__(name: str) -> object:
    # OrderMachine needs python-statemachine, which imports asyncio and socket:
    # loaded when first asked for, so that importing lifecycle does no such thing.
    if name == "OrderMachine":
        from ._machine import OrderMachine

        return OrderMachine
    raise AttributeError(f"module 'lifecycle' has no attribute {name!r}")


__all__ = [
    "DEFAULT_POLICY",
    "EFFECT_TYPES",
    "EVENTS",
    "EVENT_PARAMS",
    "TABLE",
    "ApproveTikTokCancellation",
    "ApproveTikTokReturn",
    "CancelTikTokOrder",
    "CancellationRequest",
    "CancellationStatus",
    "Command",
    "CreateSfccOrder",
    "Decision",
    "Effect",
    "FiredTimer",
    "HistoryRecord",
    "IllegalTransition",
    "Initiator",
    "InvalidParameters",
    "LifecycleError",
    "LineStatus",
    "NoLegalPath",
    "Order",
    "OrderLifecycle",
    "OrderLine",
    "OrderMachine",
    "OrderStatus",
    "Origin",
    "Outcome",
    "Policy",
    "Recipient",
    "RejectTikTokCancellation",
    "ReportTikTokEvent",
    "ReturnRequest",
    "ReturnStatus",
    "ReturnType",
    "SfccStatus",
    "ShipTikTokPackage",
    "ShippingStatus",
    "StaleObservation",
    "Step",
    "SyncOrderInfo",
    "Timer",
    "UnknownEvent",
    "UpdateSfccOrderStatus",
    "UpdateSfccReturn",
    "UpdateSfccShipping",
    "allowed_events",
    "apply",
    "dot_diagram",
    "due_timers",
    "mermaid_diagram",
    "next_timer_at",
    "reconcile",
    "reconcile_cancellation",
    "reconcile_return",
    "timers",
    "transition_table",
]
