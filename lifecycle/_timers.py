"""Timers: what TikTok does by itself when time passes, computed, never slept on.

`timers` lists the timers an order has now, each with the moment it falls
due (read from `_deadlines`, as the guards read it); `due_timers` applies
the ones due at `now`, with initiator `PLATFORM` and origin `TIMER`, one
after the other, and hands back each timer with its outcome, so no caller
applies them a second time.
"""

from __future__ import annotations

from datetime import UTC, datetime

from attrs import frozen

from ._actions import Outcome
from ._deadlines import auto_approval_at, completes_at, hold_ends, ship_by
from ._model import Initiator, Order, OrderStatus, Origin
from ._policy import DEFAULT_POLICY, Policy
from ._table import attempt, aware, forward

#: How many timers can fall due one after the other for one order (hold, SLA, ...).
_MAX_CHAIN = 8


@frozen
class Timer:
    """A timer of one order: the event TikTok sends itself at `at`, and why."""

    event: str
    at: datetime
    reason: str


@frozen
class FiredTimer:
    """A timer `due_timers` applied, and its outcome: the next order and the effects."""

    timer: Timer
    outcome: Outcome


def timers(order: Order, policy: Policy = DEFAULT_POLICY) -> tuple[Timer, ...]:
    """The order's timers now, earliest first."""
    found: list[Timer] = []
    status = order.status
    if status is OrderStatus.ON_HOLD:
        found.append(Timer("release_hold", hold_ends(order, policy), "remorse hold over"))
    if status is OrderStatus.AWAITING_SHIPMENT:
        found.append(
            Timer(
                "cancel", ship_by(order, policy), f"not shipped within {policy.ship_by.days} days"
            )
        )
    request = order.pending_cancellation
    if request is not None:
        found.append(
            Timer(
                "approve_cancellation",
                auto_approval_at(request, policy),
                "cancellation request unanswered",
            )
        )
    if status is OrderStatus.DELIVERED and not order.open_returns:
        found.append(Timer("complete", completes_at(order, policy), "return window over"))
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
    now = aware(now)
    moments = sorted(timer.at for timer in timers(order, policy))
    since = max((m for m in moments if m <= now), default=_DAWN)
    until = min((m for m in moments if m > now), default=None)
    return since, until


def due_timers(
    order: Order, now: datetime, policy: Policy = DEFAULT_POLICY
) -> tuple[FiredTimer, ...]:
    """The timers due at `now`, applied one after the other, each with what it did.

    The last outcome's order is the order once every due timer has run; the
    effects of all of them, in order, are what running them asks for. A `now`
    before the order's last change is taken as `forward` takes it (`StaleTime`
    beyond `Policy.clock_skew`).
    """
    now = forward(order, aware(now), policy)
    chain: list[FiredTimer] = []
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
            chain.append(FiredTimer(timer, outcome))
            order = outcome.order
            break
        else:
            break
    return tuple(chain)
