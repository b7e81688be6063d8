"""The lifecycle's errors.

::

    LifecycleError
    ├── InvalidValue            a value given to the core breaks its rule (a ValueError);
    │   │                       the message names the field and what is accepted
    │   ├── InvalidPolicy       a `Policy` window or set of statuses is unusable
    │   ├── NaiveTime           a time without its UTC offset (`now`, an order's times)
    │   ├── UnknownName         a status, initiator or origin the lifecycle does not know
    │   └── ParameterError      an event parameter is malformed or names nothing on the order
    ├── InvalidType             a value of the wrong type (a TypeError): a float for money,
    │                           a string where a set of statuses is expected
    ├── UnknownEvent            the event name is not one of the lifecycle's events
    │                           (also a ValueError)
    ├── IllegalTransition       the event is refused now; carries the reason
    │   └── InvalidParameters   the event's parameters are missing or wrong
    ├── StaleObservation        a reported status is older than the order's last update
    ├── StaleTime               a `now` further before the order's last change than
    │                           `Policy.clock_skew` allows
    └── NoLegalPath             no legal sequence of events explains a report

`InvalidValue` and `InvalidType` keep subclassing `ValueError` and `TypeError`,
so attrs validators and callers that catch those go on working; the shell
catches `LifecycleError`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._model import Initiator, OrderStatus

__all__ = [
    "IllegalTransition",
    "InvalidParameters",
    "InvalidPolicy",
    "InvalidType",
    "InvalidValue",
    "LifecycleError",
    "NaiveTime",
    "NoLegalPath",
    "ParameterError",
    "StaleObservation",
    "StaleTime",
    "UnknownEvent",
    "UnknownName",
]


class LifecycleError(Exception):
    """Base of every error the lifecycle raises."""


class InvalidValue(LifecycleError, ValueError):
    """A value given to the core breaks its rule; the message names it and what is accepted."""


class InvalidPolicy(InvalidValue):
    """A `Policy` field is unusable: a negative window, an unknown order status."""


class NaiveTime(InvalidValue):
    """A time without its UTC offset, where the core needs a timezone-aware one."""


class UnknownName(InvalidValue):
    """A status, initiator or origin name that is not one of the lifecycle's."""


class ParameterError(InvalidValue):
    """An event parameter is unknown, malformed or names nothing on the order."""


class InvalidType(LifecycleError, TypeError):
    """A value of the wrong type: money that is not a `Decimal`, a string for a set."""


class UnknownEvent(LifecycleError, ValueError):
    """The event name is not one of the lifecycle's events."""

    def __init__(self, event: str, known: tuple[str, ...]) -> None:
        self.event = event
        self.known = known
        super().__init__(f"unknown event {event!r}; the lifecycle's events are {', '.join(known)}")


class IllegalTransition(LifecycleError):
    """The event cannot happen now; `reason` says why, `allowed` what can."""

    def __init__(
        self,
        event: str,
        state: OrderStatus,
        initiator: Initiator,
        reason: str,
        allowed: tuple[str, ...],
    ) -> None:
        self.event = event
        self.state = state
        self.initiator = initiator
        self.reason = reason
        self.allowed = allowed
        can = ", ".join(allowed) if allowed else "nothing"
        super().__init__(f"{reason} (allowed now for {initiator.lower()}: {can})")


class InvalidParameters(IllegalTransition):
    """The event's parameters are missing, unknown or of the wrong kind."""


class StaleObservation(LifecycleError):
    """A status report is older than the order's last recorded change."""

    def __init__(
        self, order_id: str, observed: OrderStatus, observed_at: datetime, updated_at: datetime
    ) -> None:
        self.order_id = order_id
        self.observed = observed
        self.observed_at = observed_at
        self.updated_at = updated_at
        super().__init__(
            f"order {order_id}: report of {observed} at {observed_at.isoformat()} is older than"
            f" the order's last update at {updated_at.isoformat()}"
        )


class StaleTime(LifecycleError):
    """A `now` earlier than the order's last change by more than `Policy.clock_skew`.

    Time only moves forward in an order's history: a change stamped a little
    before the last one (writers whose clocks or queues differ by less than
    the tolerance) is recorded at the last change's time; one stamped further
    back is refused with this error, naming the order, the `now` and the last change.
    """

    def __init__(self, order_id: str, now: datetime, updated_at: datetime) -> None:
        self.order_id = order_id
        self.now = now
        self.updated_at = updated_at
        super().__init__(
            f"order {order_id}: now {now.isoformat()} is before the order's last change at"
            f" {updated_at.isoformat()} by more than the policy's clock_skew"
        )


class NoLegalPath(LifecycleError):
    """No legal sequence of events brings the order to what TikTok reports.

    `observed` is the reported order status, or a description of the reported
    cancellation or return status (`"return R1 RECEIVED"`).
    """

    def __init__(
        self, order_id: str, current: OrderStatus, observed: OrderStatus | str, why: str
    ) -> None:
        self.order_id = order_id
        self.current = current
        self.observed = observed
        super().__init__(f"order {order_id}: no legal path from {current} to {observed}: {why}")
