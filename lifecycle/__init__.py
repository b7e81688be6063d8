"""The TikTok Shop order lifecycle: states, rules, decisions and effects, with no I/O.

Start with `OrderLifecycle` (one order, what may happen next, and what each
change asks of the partners), or with `apply` and `allowed_events` for the
fast path over many orders.
"""

from types import FunctionType as _FunctionType

from ._actions import Outcome, first_seen_actions
from ._command import Command
from ._diagram import dot as dot_diagram
from ._diagram import mermaid as mermaid_diagram
from ._diagram import transition_table
from ._effects import (
    EFFECT_TYPES,
    OMS_ACTION_TYPES,
    ApproveTikTokCancellation,
    ApproveTikTokReturn,
    CancelTikTokOrder,
    CloseOrder,
    CreateSfccOrder,
    Effect,
    ExpectReturn,
    OmsAction,
    OmsLine,
    RefundIssued,
    RejectTikTokCancellation,
    ReleaseForFulfilment,
    ReleaseInventory,
    ReportTikTokEvent,
    ReserveInventory,
    SfccStatus,
    ShippingStatus,
    ShipTikTokPackage,
    StopFulfilment,
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
    InvalidPolicy,
    InvalidType,
    InvalidValue,
    LifecycleError,
    NaiveTime,
    NoLegalPath,
    StaleObservation,
    StaleTime,
    UnknownEvent,
    UnknownName,
)


def __getattr__(name: str) -> object:
    # OrderMachine needs python-statemachine, which imports asyncio and socket:
    # loaded when first asked for, so that importing lifecycle does no such thing.
    if name == "OrderMachine":
        from ._machine import OrderMachine

        OrderMachine.__module__ = __name__
        return OrderMachine
    raise AttributeError(f"module 'lifecycle' has no attribute {name!r}")


__all__ = [
    "DEFAULT_POLICY",
    "EFFECT_TYPES",
    "EVENTS",
    "EVENT_PARAMS",
    "OMS_ACTION_TYPES",
    "TABLE",
    "ApproveTikTokCancellation",
    "ApproveTikTokReturn",
    "CancelTikTokOrder",
    "CancellationRequest",
    "CancellationStatus",
    "CloseOrder",
    "Command",
    "CreateSfccOrder",
    "Decision",
    "Effect",
    "ExpectReturn",
    "FiredTimer",
    "HistoryRecord",
    "IllegalTransition",
    "Initiator",
    "InvalidParameters",
    "InvalidPolicy",
    "InvalidType",
    "InvalidValue",
    "LifecycleError",
    "LineStatus",
    "NaiveTime",
    "NoLegalPath",
    "OmsAction",
    "OmsLine",
    "Order",
    "OrderLifecycle",
    "OrderLine",
    "OrderMachine",
    "OrderStatus",
    "Origin",
    "Outcome",
    "Policy",
    "Recipient",
    "RefundIssued",
    "RejectTikTokCancellation",
    "ReleaseForFulfilment",
    "ReleaseInventory",
    "ReportTikTokEvent",
    "ReserveInventory",
    "ReturnRequest",
    "ReturnStatus",
    "ReturnType",
    "SfccStatus",
    "ShipTikTokPackage",
    "ShippingStatus",
    "StaleObservation",
    "StaleTime",
    "Step",
    "StopFulfilment",
    "SyncOrderInfo",
    "Timer",
    "UnknownEvent",
    "UnknownName",
    "UpdateSfccOrderStatus",
    "UpdateSfccReturn",
    "UpdateSfccShipping",
    "allowed_events",
    "apply",
    "dot_diagram",
    "due_timers",
    "first_seen_actions",
    "mermaid_diagram",
    "next_timer_at",
    "reconcile",
    "reconcile_cancellation",
    "reconcile_return",
    "timers",
    "transition_table",
]


def _publish() -> None:
    # As httpx does, and as adapters._util.publish does for the shell (which the
    # core may not import): reprs and docs show `lifecycle.Order`, not
    # `lifecycle._model.Order`. First every attrs class's annotations are
    # resolved, while its own module (and its bases') can resolve them.
    import sys

    import attrs

    for module_name, module in list(sys.modules.items()):
        if module_name.startswith(f"{__name__}._"):
            for value in list(vars(module).values()):
                own = isinstance(value, type) and value.__module__ == module_name
                if own and attrs.has(value):
                    attrs.resolve_types(value)
    namespace: dict[str, object] = globals()
    for name in __all__:
        value = namespace.get(name)
        if not isinstance(value, type | _FunctionType):
            continue
        if str(getattr(value, "__module__", "")).startswith(f"{__name__}._"):
            value.__module__ = __name__


_publish()
