"""The transition table: every state and every transition of an order, in one place.

Read a line as: *event* takes the order from *source* to *target* when every
selector in `cond` holds (they choose between targets) and no guard in
`unless` objects (a guard returns the reason it refuses, see `_rules`).

The machine chooses the transition and records the status; `perform` in
`_actions` then builds the next order and its effects from the status it
chose. Nothing else in the library assigns an order's status. `_table`
compiles this class into a lookup table for hot paths, and a property test
proves the two agree.
"""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any

from statemachine import State, StateMachine

from ._model import OrderStatus
from ._rules import (
    buyer_or_platform_pays,
    buyer_requests_after_hold,
    cancels_whole_order,
    completion_is_due,
    hold_is_over,
    leaves_only_shipped_lines,
    leaves_open_lines,
    lines_are_open,
    no_request_pending,
    only_the_buyer_asks_returns,
    only_the_buyer_requests,
    only_the_buyer_ships_returns,
    only_the_buyer_withdraws,
    only_tiktok_cancels_after_shipment,
    only_tiktok_refunds,
    only_tiktok_tracks_parcels,
    partial_cancel_permitted,
    request_is_pending,
    request_matches_seller_cancel,
    return_is_in_step,
    return_lines_are_shipped,
    returns_rejected_in_tiktok,
    seller_answers_request,
    seller_or_tiktok_answers_return,
    seller_ships,
    ships_every_open_line,
    ships_some_lines,
)

# Guards shared by several lines of the table.
_PARTIAL = [partial_cancel_permitted, lines_are_open, request_matches_seller_cancel]
_ANSWER = [request_is_pending, seller_answers_request]
_RETURN_ANSWER = [seller_or_tiktok_answers_return, return_is_in_step]


def _stays_in(states: tuple[State, ...], *, unless: list[Any]) -> Any:
    """The same self-transition, with the same guards, in each of `states`."""
    return reduce(operator.or_, (state.to.itself(unless=unless) for state in states))


class OrderMachine(StateMachine):
    """The TikTok Shop order lifecycle, state by state."""

    unpaid = State(value=OrderStatus.UNPAID, initial=True)
    on_hold = State(value=OrderStatus.ON_HOLD)
    awaiting_shipment = State(value=OrderStatus.AWAITING_SHIPMENT)
    partially_shipping = State(value=OrderStatus.PARTIALLY_SHIPPING)
    awaiting_collection = State(value=OrderStatus.AWAITING_COLLECTION)
    in_transit = State(value=OrderStatus.IN_TRANSIT)
    delivered = State(value=OrderStatus.DELIVERED)
    completed = State(value=OrderStatus.COMPLETED, final=True)
    cancelled = State(value=OrderStatus.CANCELLED, final=True)

    # Where shipped lines exist: returns and refunds can happen in any of these.
    _SHIPPED_STATES = (partially_shipping, awaiting_collection, in_transit, delivered)

    # Payment and the one-hour remorse hold.
    pay = unpaid.to(on_hold, unless=[buyer_or_platform_pays])
    release_hold = on_hold.to(awaiting_shipment, unless=[hold_is_over])

    # Cancellation: free for anyone before and during the hold, a buyer's request
    # after it, the seller's until tracking is uploaded, TikTok's until completion.
    cancel = (
        unpaid.to(cancelled, cond=[cancels_whole_order])
        | unpaid.to.itself(cond=[leaves_open_lines], unless=_PARTIAL)
        | on_hold.to(cancelled, cond=[cancels_whole_order])
        | on_hold.to.itself(cond=[leaves_open_lines], unless=_PARTIAL)
        | awaiting_shipment.to(
            cancelled,
            cond=[cancels_whole_order],
            unless=[buyer_requests_after_hold, request_matches_seller_cancel],
        )
        | awaiting_shipment.to.itself(
            cond=[leaves_open_lines], unless=[buyer_requests_after_hold, *_PARTIAL]
        )
        | partially_shipping.to(
            cancelled, cond=[cancels_whole_order], unless=[only_tiktok_cancels_after_shipment]
        )
        | partially_shipping.to.itself(
            cond=[leaves_open_lines], unless=[buyer_requests_after_hold, *_PARTIAL]
        )
        | partially_shipping.to(
            awaiting_collection,
            cond=[leaves_only_shipped_lines],
            unless=[buyer_requests_after_hold, *_PARTIAL],
        )
        | awaiting_collection.to(
            cancelled, cond=[cancels_whole_order], unless=[only_tiktok_cancels_after_shipment]
        )
        | in_transit.to(
            cancelled, cond=[cancels_whole_order], unless=[only_tiktok_cancels_after_shipment]
        )
        | delivered.to(
            cancelled, cond=[cancels_whole_order], unless=[only_tiktok_cancels_after_shipment]
        )
    )

    # The buyer's cancellation request after the hold, and its answers.
    request_cancellation = awaiting_shipment.to.itself(
        unless=[only_the_buyer_requests, no_request_pending, lines_are_open]
    ) | partially_shipping.to.itself(
        unless=[only_the_buyer_requests, no_request_pending, lines_are_open]
    )
    approve_cancellation = (
        awaiting_shipment.to(cancelled, cond=[cancels_whole_order], unless=_ANSWER)
        | awaiting_shipment.to.itself(cond=[leaves_open_lines], unless=_ANSWER)
        | partially_shipping.to(cancelled, cond=[cancels_whole_order], unless=_ANSWER)
        | partially_shipping.to.itself(cond=[leaves_open_lines], unless=_ANSWER)
        | partially_shipping.to(
            awaiting_collection, cond=[leaves_only_shipped_lines], unless=_ANSWER
        )
    )
    reject_cancellation = awaiting_shipment.to.itself(
        unless=_ANSWER
    ) | partially_shipping.to.itself(unless=_ANSWER)
    withdraw_cancellation = awaiting_shipment.to.itself(
        unless=[request_is_pending, only_the_buyer_withdraws]
    ) | partially_shipping.to.itself(unless=[request_is_pending, only_the_buyer_withdraws])

    # Fulfilment: one tracking number per package, split by line.
    ship = (
        awaiting_shipment.to(
            awaiting_collection, cond=[ships_every_open_line], unless=[seller_ships, lines_are_open]
        )
        | awaiting_shipment.to(
            partially_shipping, cond=[ships_some_lines], unless=[seller_ships, lines_are_open]
        )
        | partially_shipping.to(
            awaiting_collection, cond=[ships_every_open_line], unless=[seller_ships, lines_are_open]
        )
        | partially_shipping.to.itself(
            cond=[ships_some_lines], unless=[seller_ships, lines_are_open]
        )
    )
    collect = awaiting_collection.to(in_transit, unless=[only_tiktok_tracks_parcels])
    deliver = in_transit.to(delivered, unless=[only_tiktok_tracks_parcels])
    complete = delivered.to(completed, unless=[only_tiktok_tracks_parcels, completion_is_due])

    # Returns and refunds, for shipped lines; they leave the order status as it is.
    request_return = _stays_in(
        _SHIPPED_STATES, unless=[only_the_buyer_asks_returns, return_lines_are_shipped]
    )
    approve_return = _stays_in(_SHIPPED_STATES, unless=_RETURN_ANSWER)
    reject_return = _stays_in(
        _SHIPPED_STATES, unless=[returns_rejected_in_tiktok, return_is_in_step]
    )
    ship_return = _stays_in(
        _SHIPPED_STATES, unless=[only_the_buyer_ships_returns, return_is_in_step]
    )
    receive_return = _stays_in(_SHIPPED_STATES, unless=_RETURN_ANSWER)
    refund = _stays_in(_SHIPPED_STATES, unless=[only_tiktok_refunds, return_is_in_step])
    withdraw_return = _stays_in(
        _SHIPPED_STATES, unless=[only_the_buyer_ships_returns, return_is_in_step]
    )
    del _SHIPPED_STATES
