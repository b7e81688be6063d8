"""The OMS actions of single transitions: which come, for which lines, and the echo rule."""

from __future__ import annotations

from lifecycle import (
    CloseOrder,
    ExpectReturn,
    OmsLine,
    Origin,
    Policy,
    RefundIssued,
    ReleaseForFulfilment,
    ReleaseInventory,
    ReserveInventory,
    StopFulfilment,
    apply,
)
from tests.factories import BUYER, PLATFORM, SELLER, T0, at, delivered, new_order, paid, released


def _line(n: int) -> OmsLine:
    return OmsLine(f"L{n}", sku_id=f"SKU{n}", seller_sku=f"MUG-{n}", quantity=1)


def test_payment_reserves_every_line_and_the_end_of_the_hold_releases_them() -> None:
    paying = apply(new_order(2), "pay", initiator=BUYER, now=T0)
    assert paying.actions == (
        ReserveInventory(paying.order.order_id, 1, lines=(_line(1), _line(2))),
    )
    ending = apply(paying.order, "release_hold", initiator=PLATFORM, now=at(hours=1))
    assert ending.actions == (
        ReleaseForFulfilment(paying.order.order_id, 2, lines=(_line(1), _line(2))),
    )


def test_a_one_line_buyer_cancel_in_the_hold_stops_and_releases_that_line_only() -> None:
    order = paid(2).order
    outcome = apply(order, "cancel", initiator=BUYER, now=at(hours=0.5), line_item_ids=["L2"])
    assert [type(a) for a in outcome.actions] == [StopFulfilment, ReleaseInventory]
    assert all(action.lines == (_line(2),) for action in outcome.actions)
    keys = {action.idempotency_key for action in outcome.actions}
    assert len(keys) == 2


def test_a_seller_cancel_from_the_oms_releases_inventory_but_never_says_stop() -> None:
    order = released(2).order
    outcome = apply(order, "cancel", initiator=SELLER, origin=Origin.OMS, now=at(hours=2))
    assert [type(a) for a in outcome.actions] == [ReleaseInventory]
    assert outcome.actions[0].lines == (_line(1), _line(2))


def test_a_seller_cancel_made_in_tiktok_is_not_the_oms_own_and_stops_fulfilment() -> None:
    order = released(1).order
    outcome = apply(order, "cancel", initiator=SELLER, origin=Origin.TIKTOK, now=at(hours=2))
    assert [type(a) for a in outcome.actions] == [StopFulfilment, ReleaseInventory]


def test_cancelling_an_unpaid_order_releases_nothing_it_never_reserved() -> None:
    outcome = apply(new_order(2), "cancel", initiator=BUYER, now=T0)
    assert outcome.actions == ()


def test_tiktok_cancelling_after_shipment_releases_no_shipped_units() -> None:
    order = delivered(2).order
    outcome = apply(order, "cancel", initiator=PLATFORM, origin=Origin.TIKTOK, now=at(days=4))
    assert outcome.order.cancelled_after_shipped
    assert outcome.actions == ()


def test_an_approved_return_with_goods_is_expected_and_its_refund_is_told() -> None:
    order = delivered(2).order
    asked = apply(
        order,
        "request_return",
        initiator=BUYER,
        now=at(days=4),
        return_id="R1",
        line_item_ids=["L1"],
    )
    assert asked.actions == ()
    approved = apply(
        asked.order, "approve_return", initiator=SELLER, now=at(days=4), return_id="R1"
    )
    assert approved.actions == (
        ExpectReturn(order.order_id, approved.order.version, lines=(_line(1),), return_id="R1"),
    )
    back = apply(approved.order, "receive_return", initiator=SELLER, now=at(days=6), return_id="R1")
    refunded = apply(
        back.order,
        "refund",
        initiator=PLATFORM,
        origin=Origin.TIKTOK,
        now=at(days=7),
        return_id="R1",
    )
    assert refunded.actions == (
        RefundIssued(order.order_id, refunded.order.version, lines=(_line(1),), return_id="R1"),
    )


def test_a_refund_without_return_expects_no_goods_back() -> None:
    order = delivered(1).order
    asked = apply(
        order,
        "request_return",
        initiator=BUYER,
        now=at(days=4),
        return_id="R1",
        return_type="REFUND",
    )
    approved = apply(
        asked.order, "approve_return", initiator=SELLER, now=at(days=4), return_id="R1"
    )
    assert approved.actions == ()


def test_completion_closes_the_order_with_the_lines_it_kept() -> None:
    order = delivered(2).order
    outcome = apply(order, "complete", initiator=PLATFORM, now=at(days=20))
    assert outcome.actions == (
        CloseOrder(order.order_id, outcome.order.version, lines=(_line(1), _line(2))),
    )


def test_the_actions_are_pushed_as_effects_only_when_the_policy_says_so() -> None:
    order = paid(1).order
    quiet = apply(order, "release_hold", initiator=PLATFORM, now=at(hours=1))
    assert quiet.actions
    assert not set(quiet.actions) & set(quiet.effects)
    pushing = Policy(push_oms_actions=True)
    loud = apply(order, "release_hold", initiator=PLATFORM, now=at(hours=1), policy=pushing)
    assert loud.actions == quiet.actions
    assert loud.effects[-len(loud.actions) :] == loud.actions
