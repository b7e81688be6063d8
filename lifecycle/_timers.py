"""Timers: what TikTok does by itself when time passes, computed, never slept on.

`timers` lists the timers an order has now, each with the moment it falls
due; `due` answers which of them a caller should send at `now`, with
initiator `PLATFORM`, in an order in which every one of them succeeds.
"""

from __future__ import annotations

from datetime import UTC, datetime

from attrs import frozen

from ._model import Initiator, Order, OrderStatus, Origin
from ._policy import DEFAULT_POLICY, Policy
from ._rules import paid_at
from ._table import attempt

#: How many timers can fall due one after the other for one order (hold, SLA, ...).
_MAX_CHAIN = 8


@frozen
class Timer:
    """A timer of one order: the event TikTok sends itself at `at`, and why."""

    event: str
    at: datetime
    reason: str


def timers(order: Order, policy: Policy = DEFAULT_POLICY) -> tuple[Timer, ...]:
    """The order's timers now, earliest first."""
    found: list[Timer] = []
    status = order.status
    if status is OrderStatus.ON_HOLD:
        found.append(Timer("release_hold", paid_at(order) + policy.hold, "remorse hold over"))
    if status is OrderStatus.AWAITING_SHIPMENT:
        found.append(
            Timer(
                "cancel",
                paid_at(order) + policy.ship_by,
                f"not shipped within {policy.ship_by.days} days",
            )
        )
    request = order.pending_cancellation
    if request is not None:
        found.append(
            Timer(
                "approve_cancellation",
                request.requested_at + policy.cancellation_auto_approval,
                "cancellation request unanswered",
            )
        )
    if status is OrderStatus.DELIVERED and not order.open_returns:
        delivered = order.delivered_at or order.updated_at or order.created_at
        found.append(
            Timer(
                "complete",
                delivered + policy.completion_after_delivery,
                "return window over",
            )
        )
    return tuple(sorted(found, key=lambda timer: timer.at))


def next_timer_at(order: Order, policy: Policy = DEFAULT_POLICY) -> datetime | None:
    """When the order's next timer falls due; `None` when it has none (an index key)."""
    pending = timers(order, policy)
    return pending[0].at if pending else None


_DAWN = datetime.min.replace(tzinfo=UTC)


def stable_between(
    order: Order, now: datetime, policy: Policy = DEFAULT_POLICY
) -> tuple[datetime, datetime | None]:
    """The interval around `now` in which no rule's answer about `order` can change.

    Every rule that reads the clock compares it with one of the order's timer
    moments, so between two of them every answer stays the same: from the
    last timer moment at or before `now`, until the next one after it.
    """
    moments = sorted(timer.at for timer in timers(order, policy))
    since = max((m for m in moments if m <= now), default=_DAWN)
    until = min((m for m in moments if m > now), default=None)
    return since, until


def due_timers(order: Order, now: datetime, policy: Policy = DEFAULT_POLICY) -> tuple[Timer, ...]:
    """The timers due at `now`, in an order in which each one succeeds after the last."""
    chain: list[Timer] = []
    for _ in range(_MAX_CHAIN):
        for timer in timers(order, policy):
            if timer.at > now:
                break
            outcome = attempt(
                order,
                timer.event,
                initiator=Initiator.PLATFORM,
                origin=Origin.TIMER,
                now=now,
                policy=policy,
                reason=timer.reason,
            )
            if outcome is None:
                continue
            chain.append(timer)
            order = outcome.order
            break
        else:
            break
    return tuple(chain)
