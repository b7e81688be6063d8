"""The direct step of `reconcile` gives exactly the answer of the full search.

A status one legal event away is taken directly; the search runs only when
it is not. Whatever the order's history, for every reported status and
canceller, `reconcile` answers what `search` over the same moves answers
(the same steps, or no legal path).
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from lifecycle import (
    DEFAULT_POLICY,
    EVENTS,
    Initiator,
    NoLegalPath,
    Order,
    OrderStatus,
    Origin,
    reconcile,
)
from lifecycle._search import STATUS_MOVES, one_step, search, steps
from lifecycle._table import attempt
from tests.factories import T0, new_order

PARAMS = {
    "request_cancellation": {"cancel_id": "C1"},
    "request_return": {"return_id": "R1"},
    "ship": {"tracking_number": "1Z", "shipping_provider_name": "UPS"},
}
histories = st.lists(
    st.tuples(
        st.sampled_from(EVENTS),
        st.sampled_from(list(Initiator)),
        st.sampled_from([None, *Origin]),
        st.sampled_from([timedelta(minutes=40), timedelta(hours=30), timedelta(days=8)]),
        st.booleans(),
    ),
    max_size=12,
)


def _order(history: list[tuple[str, Initiator, Origin | None, timedelta, bool]]) -> Order:
    order, now = new_order(), T0
    for event, who, origin, wait, one_line in history:
        now += wait
        params = dict(PARAMS.get(event, {}))
        if one_line and event in ("cancel", "ship", "request_cancellation"):
            params["line_item_ids"] = ["L1"]
        outcome = attempt(order, event, initiator=who, origin=origin, now=now, **params)
        if outcome is not None:
            order = outcome.order
    return order


@given(
    histories,
    st.sampled_from(list(OrderStatus)),
    st.sampled_from([None, *Initiator]),
)
def test_reconcile_answers_what_the_full_search_answers(
    history: list[tuple[str, Initiator, Origin | None, timedelta, bool]],
    goal: OrderStatus,
    cancelled_by: Initiator | None,
) -> None:
    order = _order(history)
    observed_at = (order.updated_at or T0) + timedelta(hours=1)
    if goal is order.status or order.status.is_final:
        return
    moves = steps(STATUS_MOVES, cancelled_by)
    expected = search(
        order, lambda o: o.status is goal, moves, at=observed_at, policy=DEFAULT_POLICY
    )
    direct = one_step(order, goal, moves, at=observed_at, policy=DEFAULT_POLICY)
    assert direct is None or direct == expected
    try:
        found = reconcile(order, goal, observed_at=observed_at, cancelled_by=cancelled_by)
    except NoLegalPath:
        assert expected is None
    else:
        assert found == expected
