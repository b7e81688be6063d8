"""Time only moves forward in an order's history, the same on every path that changes it.

A `now` at most `Policy.clock_skew` before the order's last change is judged
and recorded at that change's time; one further back is refused with
`StaleTime`, naming the order, the `now` and the last change, and nothing
changes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest

from lifecycle import (
    CancellationStatus,
    InvalidPolicy,
    Order,
    OrderLifecycle,
    Policy,
    StaleTime,
    apply,
    reconcile_cancellation,
)
from tests.factories import BUYER, PLATFORM, SELLER, at, paid, released

SKEW = Policy().clock_skew


def _ship(lifecycle: OrderLifecycle, now: datetime) -> None:
    lifecycle.send(
        "ship", initiator=SELLER, now=now, tracking_number="1Z9", shipping_provider_name="UPS"
    )


def _times(order: Order) -> list[datetime]:
    return [record.at for record in order.history]


def test_the_default_tolerance_is_fifteen_minutes_and_a_negative_one_is_refused() -> None:
    assert timedelta(minutes=15) == SKEW
    with pytest.raises(InvalidPolicy, match="clock_skew"):
        Policy(clock_skew=timedelta(seconds=-1))


def test_a_now_within_the_tolerance_is_recorded_at_the_last_change_so_history_is_monotonic() -> (
    None
):
    lifecycle = released()
    last = lifecycle.order.updated_at
    assert last == at(hours=1)
    _ship(lifecycle, last - SKEW)
    assert lifecycle.order.history[-1].at == last
    assert lifecycle.order.updated_at == last
    assert _times(lifecycle.order) == sorted(_times(lifecycle.order))


def test_a_now_beyond_the_tolerance_is_refused_naming_the_order_the_now_and_the_last_change() -> (
    None
):
    lifecycle = released()
    before = lifecycle.order
    stale = before.updated_at - SKEW - timedelta(seconds=1)  # type: ignore[operator]
    with pytest.raises(StaleTime) as raised:
        _ship(lifecycle, stale)
    error = raised.value
    assert (error.order_id, error.now, error.updated_at) == (before.order_id, stale, at(hours=1))
    assert before.order_id in str(error)
    assert stale.isoformat() in str(error)
    assert lifecycle.order is before


def test_a_zero_tolerance_refuses_any_earlier_now_and_takes_the_same_moment() -> None:
    policy = Policy(clock_skew=timedelta(0))
    lifecycle = released(policy=policy)
    with pytest.raises(StaleTime):
        _ship(lifecycle, at(hours=1) - timedelta(microseconds=1))
    _ship(lifecycle, at(hours=1))
    assert lifecycle.order.history[-1].at == at(hours=1)


def _send(order: Order, now: datetime, policy: Policy) -> Any:
    return OrderLifecycle(order, policy).send("cancel", initiator=SELLER, now=now)


def _apply(order: Order, now: datetime, policy: Policy) -> Any:
    return apply(order, "cancel", initiator=SELLER, now=now, policy=policy)


def _due(order: Order, now: datetime, policy: Policy) -> Any:
    return OrderLifecycle(order, policy).due(now)


def _run_due(order: Order, now: datetime, policy: Policy) -> Any:
    return OrderLifecycle(order, policy).run_due(now)


def _reconcile_cancellation(order: Order, now: datetime, policy: Policy) -> Any:
    return reconcile_cancellation(
        order, "C1", CancellationStatus.PENDING, at=now, cancelled_by=BUYER, policy=policy
    )


PATHS: dict[str, Callable[[Order, datetime, Policy], Any]] = {
    "send": _send,
    "apply": _apply,
    "due": _due,
    "run_due": _run_due,
    "reconcile_cancellation": _reconcile_cancellation,
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_every_path_that_changes_an_order_refuses_a_now_beyond_the_tolerance(path: str) -> None:
    """The same `StaleTime` from `send`, `apply`, the timers and the searches behind reconcile,
    even on a path whose timers are due (the hold of a paid order ended long ago)."""
    policy = Policy()
    # A webhook said at day 3 that the order is still on hold; the hold timer is overdue.
    start = released if path == "reconcile_cancellation" else paid  # a request needs no hold
    moved = attrs.evolve(start(policy=policy).order, updated_at=at(days=3))
    with pytest.raises(StaleTime):
        PATHS[path](moved, at(days=3) - SKEW - timedelta(minutes=1), policy)
    PATHS[path](moved, at(days=3) - SKEW, policy)  # within the tolerance: taken


def test_a_timer_due_at_now_fires_at_now_the_boundary_of_its_stable_window() -> None:
    """The hold ends at payment + 1 h: at exactly that moment it is over (`now >= end`),
    as `stable_between` assumes when it starts the next window there."""
    lifecycle = paid()
    assert lifecycle.due(at(hours=1)) == ("release_hold",)
    lifecycle.run_due(at(hours=1))
    record = lifecycle.order.history[-1]
    assert (record.event, record.initiator, record.at) == ("release_hold", PLATFORM, at(hours=1))
