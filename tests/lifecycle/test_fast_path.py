"""The compiled table and the declared machine agree; kept answers equal fresh ones."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from lifecycle import (
    EVENTS,
    TABLE,
    IllegalTransition,
    Initiator,
    OrderLifecycle,
    OrderMachine,
    OrderStatus,
    Origin,
    allowed_events,
    apply,
)
from tests.factories import T0, new_order

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


def test_table_lists_exactly_the_machine_transitions() -> None:
    declared = {
        (OrderStatus(state.value), event.id, OrderStatus(t.target.value))
        for state in OrderMachine.states
        for t in state.transitions
        for event in t.events
    }
    compiled = {
        (status, event, entry.target)
        for (status, event), entries in TABLE.items()
        for entry in entries
    }
    assert compiled == declared


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
