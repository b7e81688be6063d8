"""The compiled table against the rules and the machine; kept answers equal fresh ones.

Expectations are written by hand from the rules, or are the python-statemachine
machine's own answers (`allowed_events`, `enabled_events`, `send`): never a
second run of the loop that compiled the table.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifecycle import (
    EVENTS,
    TABLE,
    IllegalTransition,
    Initiator,
    InvalidParameters,
    Order,
    OrderLifecycle,
    OrderMachine,
    OrderStatus,
    Origin,
    allowed_events,
    apply,
)
from lifecycle._lifecycle import _Slot
from lifecycle._table import context, judge
from tests.factories import T0, at, delivered, new_order, paid, released

PARAMS: dict[str, dict[str, Any]] = {
    "request_cancellation": {"cancel_id": "C1"},
    "request_return": {"return_id": "R1"},
    "ship": {"tracking_number": "1Z", "shipping_provider_name": "UPS"},
}
steps = st.lists(
    st.tuples(
        st.sampled_from(EVENTS),
        st.sampled_from(list(Initiator)),
        st.sampled_from([None, *Origin]),
        st.sampled_from(
            [timedelta(0), timedelta(minutes=40), timedelta(hours=30), timedelta(days=8)]
        ),
        st.booleans(),
    ),
    max_size=30,
)


RETURNS = {
    "request_return",
    "approve_return",
    "reject_return",
    "ship_return",
    "receive_return",
    "refund",
    "withdraw_return",
}
REQUESTS = {
    "request_cancellation",
    "approve_cancellation",
    "reject_cancellation",
    "withdraw_cancellation",
}
#: Written from the rules, not read off the machine: which events exist in each status.
EVENTS_BY_STATUS: dict[OrderStatus, set[str]] = {
    OrderStatus.UNPAID: {"pay", "cancel"},
    OrderStatus.ON_HOLD: {"release_hold", "cancel"},
    OrderStatus.AWAITING_SHIPMENT: {"cancel", "ship", *REQUESTS},
    OrderStatus.PARTIALLY_SHIPPING: {"cancel", "ship", *REQUESTS, *RETURNS},
    OrderStatus.AWAITING_COLLECTION: {"cancel", "collect", *RETURNS},
    OrderStatus.IN_TRANSIT: {"cancel", "deliver", *RETURNS},
    OrderStatus.DELIVERED: {"cancel", "complete", *RETURNS},
    OrderStatus.COMPLETED: set(),
    OrderStatus.CANCELLED: set(),
}


def machine_at(status: OrderStatus) -> Any:
    return OrderMachine(model=_Slot(status))


@pytest.mark.parametrize("status", list(OrderStatus))
def test_each_status_has_the_events_the_rules_give_it(status: OrderStatus) -> None:
    """The table and the machine both list exactly the events the rules allow in a status."""
    in_table = {event for (source, event) in TABLE if source is status}
    assert in_table == EVENTS_BY_STATUS[status]
    assert {event.id for event in machine_at(status).allowed_events} == EVENTS_BY_STATUS[status]


@pytest.mark.parametrize(
    ("status", "event", "targets"),
    [
        (
            OrderStatus.AWAITING_SHIPMENT,
            "ship",
            [OrderStatus.AWAITING_COLLECTION, OrderStatus.PARTIALLY_SHIPPING],
        ),
        (
            OrderStatus.PARTIALLY_SHIPPING,
            "cancel",
            [
                OrderStatus.CANCELLED,
                OrderStatus.PARTIALLY_SHIPPING,
                OrderStatus.AWAITING_COLLECTION,
            ],
        ),
        (OrderStatus.UNPAID, "cancel", [OrderStatus.CANCELLED, OrderStatus.UNPAID]),
        (OrderStatus.ON_HOLD, "release_hold", [OrderStatus.AWAITING_SHIPMENT]),
        (OrderStatus.DELIVERED, "complete", [OrderStatus.COMPLETED]),
        (OrderStatus.IN_TRANSIT, "refund", [OrderStatus.IN_TRANSIT]),
    ],
)
def test_table_targets_are_the_documented_ones_in_declaration_order(
    status: OrderStatus, event: str, targets: list[OrderStatus]
) -> None:
    assert [entry.target for entry in TABLE[(status, event)]] == targets


def test_allowed_events_of_concrete_orders() -> None:
    """Hand-worked answers: who may do what on a paid, a released and a delivered order."""
    on_hold = paid()
    assert allowed_events(on_hold.order, now=at(hours=0.5)) == ("cancel",)
    assert allowed_events(on_hold.order, now=at(hours=1)) == ("release_hold", "cancel")
    assert allowed_events(on_hold.order, Initiator.SELLER, now=at(hours=0.5)) == ("cancel",)
    waiting = released()
    assert allowed_events(waiting.order, Initiator.BUYER, now=at(hours=2)) == (
        "request_cancellation",
    )
    assert allowed_events(waiting.order, Initiator.SELLER, now=at(hours=2)) == ("cancel", "ship")
    assert allowed_events(waiting.order, Initiator.PLATFORM, now=at(hours=2)) == (
        "cancel",
        "ship",
    )
    done = delivered()
    assert allowed_events(done.order, Initiator.BUYER, now=at(days=4)) == ("request_return",)
    assert allowed_events(done.order, Initiator.SELLER, now=at(days=4)) == ()
    assert allowed_events(done.order, Initiator.PLATFORM, now=at(days=4)) == ("cancel",)
    assert allowed_events(done.order, Initiator.PLATFORM, now=at(days=17)) == (
        "cancel",
        "complete",
    )


def walk(
    lines: int, steps: list[tuple[str, Initiator, Origin | None, timedelta, bool]]
) -> list[tuple[Order, datetime]]:
    """The orders a sequence of attempted events passes through, each with its moment."""
    order, now = new_order(lines), T0
    seen = [(order, now)]
    for event, who, origin, step, with_params in steps:
        now += step
        params = PARAMS.get(event, {}) if with_params else {}
        with contextlib.suppress(IllegalTransition):
            order = apply(order, event, initiator=who, origin=origin, now=now, **params).order
            seen.append((order, now))
    return seen


@given(steps=steps, lines=st.integers(1, 3), with_params=st.booleans())
def test_table_and_machine_enable_the_same_events(
    steps: list[tuple[str, Initiator, Origin | None, timedelta, bool]],
    lines: int,
    with_params: bool,
) -> None:
    """For every order on the way, the machine's own `enabled_events` agrees with the table."""
    for order, now in walk(lines, steps):
        machine = machine_at(order.status)
        for event in EVENTS:
            for who in Initiator:
                for origin in (None, *Origin):
                    try:
                        ctx = context(
                            order,
                            event,
                            initiator=who,
                            origin=origin,
                            now=now,
                            params=PARAMS.get(event, {}) if with_params else {},
                        )
                    except InvalidParameters:
                        continue
                    enabled = {e.id for e in machine.enabled_events(ctx=ctx)}
                    assert (event in enabled) == judge(ctx).allowed, (order.status, event, who)


@given(steps=steps, lines=st.integers(1, 3))
def test_fast_path_and_machine_agree_on_every_step(
    steps: list[tuple[str, Initiator, Origin | None, timedelta, bool]], lines: int
) -> None:
    """`apply` (table) and `OrderLifecycle.send` (machine) accept, refuse and change alike."""
    lifecycle = OrderLifecycle(new_order(lines))
    order = lifecycle.order
    now = T0
    for event, who, origin, step, with_params in steps:
        now += step
        params = PARAMS.get(event, {}) if with_params else {}
        try:
            outcome = apply(order, event, initiator=who, origin=origin, now=now, **params)
        except IllegalTransition as refused_fast:
            try:
                lifecycle.send(event, initiator=who, origin=origin, now=now, **params)
            except IllegalTransition as refused:
                assert type(refused) is type(refused_fast)
                assert refused.reason == refused_fast.reason
                assert refused.allowed == refused_fast.allowed
                continue
            raise AssertionError(
                f"machine accepted {event} by {who} that the table refused"
            ) from refused_fast
        effects = lifecycle.send(event, initiator=who, origin=origin, now=now, **params)
        assert lifecycle.order == outcome.order
        assert effects == outcome.effects
        order = outcome.order


@given(steps=steps, probes=st.lists(st.integers(0, 60 * 24 * 40), min_size=1, max_size=12))
def test_kept_allowed_answers_equal_fresh_ones(
    steps: list[tuple[str, Initiator, Origin | None, timedelta, bool]], probes: list[int]
) -> None:
    """`OrderLifecycle.allowed` keeps answers only while no timer can change them."""
    lifecycle = OrderLifecycle(new_order(2))
    now = T0
    for event, who, origin, step, with_params in steps:
        now += step
        with contextlib.suppress(IllegalTransition):
            lifecycle.send(
                event,
                initiator=who,
                origin=origin,
                now=now,
                **(PARAMS.get(event, {}) if with_params else {}),
            )
        for minutes in probes:
            moment = T0 + timedelta(minutes=minutes)
            for initiator in (None, *Initiator):
                fresh = allowed_events(lifecycle.order, initiator, now=moment)
                assert lifecycle.allowed(initiator, now=moment) == fresh


def test_a_record_keeps_the_tables_copy_of_the_event_name_not_the_callers() -> None:
    """An event name decoded from an input is an equal but separate string; the record
    keeps the table's own, so a million records share one "pay"."""
    caller = "".join(["p", "ay"])
    order = apply(new_order(), caller, initiator=Initiator.BUYER, now=T0).order
    (record,) = order.history
    assert record.event == caller
    assert record.event is next(event for event in EVENTS if event == "pay")
    assert record.event is not caller
