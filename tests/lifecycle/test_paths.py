"""Every path of the rules in docs/rules.md and their public sources, as example tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from lifecycle import (
    EVENTS,
    TABLE,
    ApproveTikTokCancellation,
    CancellationStatus,
    CancelTikTokOrder,
    CreateSfccOrder,
    IllegalTransition,
    InvalidParameters,
    LineStatus,
    NaiveTime,
    OrderLifecycle,
    OrderStatus,
    Origin,
    Policy,
    RejectTikTokCancellation,
    ReturnStatus,
    SfccStatus,
    ShippingStatus,
    ShipTikTokPackage,
    SyncOrderInfo,
    UnknownEvent,
    UpdateSfccOrderStatus,
    due_timers,
)
from tests.factories import (
    BUYER,
    PLATFORM,
    REPORTING,
    SELLER,
    at,
    delivered,
    kinds,
    new_order,
    paid,
    released,
    shipped,
)

# --------------------------------------------------------------------------- the hold


def test_buyer_cancels_during_hold_without_approval_and_sfcc_never_hears_of_it() -> None:
    lifecycle = paid(policy=REPORTING)
    effects = lifecycle.send("cancel", initiator=BUYER, now=at(hours=0.5))
    assert lifecycle.status is OrderStatus.CANCELLED
    assert lifecycle.order.cancelled_by is BUYER
    assert all(line.status is LineStatus.CANCELLED for line in lifecycle.order.lines)
    # The order never reached SFCC (created after the hold), and TikTok reported the cancel.
    assert kinds(effects) == ["SyncOrderInfo"]
    assert isinstance(effects[0], SyncOrderInfo)
    assert effects[0].status is OrderStatus.CANCELLED
    assert effects[0].cancelled_by is BUYER


def test_buyer_cancels_some_lines_during_hold_and_the_order_stays_on_hold() -> None:
    lifecycle = paid(lines=3)
    effects = lifecycle.send("cancel", initiator=BUYER, now=at(hours=0.2), line_item_ids=["L2"])
    assert lifecycle.status is OrderStatus.ON_HOLD
    assert lifecycle.order.open_line_ids == ("L1", "L3")
    assert effects == ()


def test_nobody_ships_during_the_hold() -> None:
    lifecycle = paid()
    for who in (SELLER, PLATFORM):
        decision = lifecycle.check(
            "ship",
            initiator=who,
            now=at(hours=0.5),
            tracking_number="1Z",
            shipping_provider_name="UPS",
        )
        assert not decision.allowed
        assert "remorse hold" in decision.reason
    with pytest.raises(IllegalTransition) as raised:
        lifecycle.send(
            "ship",
            initiator=SELLER,
            now=at(hours=0.5),
            tracking_number="1Z",
            shipping_provider_name="UPS",
        )
    assert raised.value.state is OrderStatus.ON_HOLD
    assert raised.value.event == "ship"
    assert raised.value.allowed == ("cancel",)


def test_hold_releases_after_one_hour_into_sfcc_as_new() -> None:
    lifecycle = paid()
    assert lifecycle.due(at(hours=0.99)) == ()
    assert not lifecycle.check("release_hold", initiator=PLATFORM, now=at(hours=0.5)).allowed
    assert lifecycle.due(at(hours=1)) == ("release_hold",)
    effects = lifecycle.send("release_hold", initiator=PLATFORM, now=at(hours=1))
    assert lifecycle.status is OrderStatus.AWAITING_SHIPMENT
    assert kinds(effects) == ["CreateSfccOrder"]
    assert effects[0].external_status is SfccStatus.NEW  # type: ignore[attr-defined]
    assert effects[0] == CreateSfccOrder(lifecycle.order.order_id, 2)


def test_tiktok_may_report_the_release_before_our_clock_says_the_hour_is_over() -> None:
    """TikTok runs the hold timer; its report is a fact, not a request."""
    lifecycle = paid()
    lifecycle.send("release_hold", initiator=PLATFORM, origin=Origin.TIKTOK, now=at(hours=0.9))
    assert lifecycle.status is OrderStatus.AWAITING_SHIPMENT


def test_hold_length_is_a_policy_setting() -> None:
    lifecycle = paid(policy=Policy(hold=__import__("datetime").timedelta(0)))
    assert lifecycle.due(at()) == ("release_hold",)


# --------------------------------------------------------------------------- buyer requests


def test_after_the_hold_a_buyer_cancel_is_a_request() -> None:
    lifecycle = released()
    decision = lifecycle.check("cancel", initiator=BUYER, now=at(hours=2))
    assert not decision.allowed
    assert "request_cancellation" in decision.reason
    lifecycle.send("request_cancellation", initiator=BUYER, now=at(hours=2), cancel_id="C1")
    request = lifecycle.order.cancellation
    assert request is not None
    assert request.status is CancellationStatus.PENDING
    assert request.line_item_ids == ("L1", "L2")
    assert lifecycle.status is OrderStatus.AWAITING_SHIPMENT


def test_seller_approves_a_buyer_request_from_the_oms() -> None:
    lifecycle = released(policy=REPORTING)
    lifecycle.send("request_cancellation", initiator=BUYER, now=at(hours=2), cancel_id="C1")
    effects = lifecycle.send("approve_cancellation", initiator=SELLER, now=at(hours=3))
    assert lifecycle.status is OrderStatus.CANCELLED
    assert kinds(effects) == ["UpdateSfccOrderStatus", "ApproveTikTokCancellation", "SyncOrderInfo"]
    assert effects[1] == ApproveTikTokCancellation(lifecycle.order.order_id, 4, "C1")
    assert effects[2].cancelled_by is BUYER  # type: ignore[attr-defined]
    assert lifecycle.order.cancellation.status is CancellationStatus.APPROVED  # type: ignore[union-attr]


def test_seller_rejects_a_buyer_request_and_the_order_goes_on() -> None:
    lifecycle = released()
    lifecycle.send("request_cancellation", initiator=BUYER, now=at(hours=2), cancel_id="C1")
    effects = lifecycle.send(
        "reject_cancellation", initiator=SELLER, now=at(hours=3), reason="already packed"
    )
    assert effects == (
        RejectTikTokCancellation(lifecycle.order.order_id, 4, "C1", reason="already packed"),
    )
    assert lifecycle.status is OrderStatus.AWAITING_SHIPMENT
    assert lifecycle.order.cancellation.status is CancellationStatus.REJECTED  # type: ignore[union-attr]
    assert "ship" in lifecycle.allowed(SELLER, now=at(hours=3))


def test_unanswered_request_is_approved_automatically_after_the_window() -> None:
    lifecycle = released(policy=REPORTING)
    lifecycle.send("request_cancellation", initiator=BUYER, now=at(hours=2), cancel_id="C1")
    assert "approve_cancellation" not in lifecycle.due(at(hours=49))
    assert not lifecycle.check("approve_cancellation", initiator=PLATFORM, now=at(hours=49)).allowed
    assert lifecycle.due(at(hours=50)) == ("approve_cancellation",)
    effects = lifecycle.run_due(at(hours=50))
    assert lifecycle.status is OrderStatus.CANCELLED
    # TikTok approved it itself: nothing goes back to TikTok Shop.
    assert kinds(effects) == ["UpdateSfccOrderStatus", "SyncOrderInfo"]


def _refunded_first_line_then_requested_rest() -> OrderLifecycle:
    """Line L1 shipped, returned and refunded; the buyer asks to cancel L2 and L3."""
    lifecycle = released(3)
    lifecycle.send(
        "ship",
        initiator=SELLER,
        now=at(hours=2),
        line_item_ids=["L1"],
        tracking_number="1Z1",
        shipping_provider_name="UPS",
    )
    tiktok = {"initiator": PLATFORM, "origin": Origin.TIKTOK}
    lifecycle.send(
        "request_return",
        initiator=BUYER,
        origin=Origin.TIKTOK,
        now=at(hours=3),
        line_item_ids=["L1"],
        return_id="R1",
    )
    lifecycle.send("approve_return", initiator=SELLER, now=at(hours=4), return_id="R1")
    lifecycle.send("receive_return", **tiktok, now=at(hours=5), return_id="R1")
    lifecycle.send("refund", **tiktok, now=at(hours=6), return_id="R1")
    lifecycle.send(
        "request_cancellation",
        initiator=BUYER,
        origin=Origin.TIKTOK,
        now=at(hours=7),
        line_item_ids=["L2", "L3"],
        cancel_id="C1",
    )
    assert lifecycle.status is OrderStatus.PARTIALLY_SHIPPING
    return lifecycle


def test_a_request_for_every_line_left_after_a_refunded_shipment_can_be_approved() -> None:
    """The shipped line was refunded, so the request covers every live line: approving it
    cancels the order (it used to find no transition, and the auto-approval stayed due)."""
    lifecycle = _refunded_first_line_then_requested_rest()
    assert lifecycle.check("approve_cancellation", initiator=SELLER, now=at(hours=8)).allowed
    lifecycle.send("approve_cancellation", initiator=SELLER, now=at(hours=8), cancel_id="C1")
    assert lifecycle.status is OrderStatus.CANCELLED
    assert [line.status for line in lifecycle.order.lines] == [
        LineStatus.REFUNDED,
        LineStatus.CANCELLED,
        LineStatus.CANCELLED,
    ]
    assert lifecycle.order.cancelled_after_shipped


def test_the_auto_approval_of_such_a_request_runs_and_is_then_no_longer_due() -> None:
    lifecycle = _refunded_first_line_then_requested_rest()
    assert lifecycle.due(at(hours=7 + 48)) == ("approve_cancellation",)
    lifecycle.run_due(at(hours=7 + 48))
    assert lifecycle.status is OrderStatus.CANCELLED
    assert lifecycle.due(at(days=30)) == ()


def test_auto_approval_window_is_a_policy_setting() -> None:
    from datetime import timedelta

    lifecycle = released(policy=Policy(cancellation_auto_approval=timedelta(hours=24)))
    lifecycle.send("request_cancellation", initiator=BUYER, now=at(hours=2), cancel_id="C1")
    assert lifecycle.due(at(hours=26)) == ("approve_cancellation",)


def test_buyer_withdraws_a_request() -> None:
    lifecycle = released()
    lifecycle.send("request_cancellation", initiator=BUYER, now=at(hours=2), cancel_id="C1")
    assert not lifecycle.check("withdraw_cancellation", initiator=SELLER, now=at(hours=3)).allowed
    assert lifecycle.send("withdraw_cancellation", initiator=BUYER, now=at(hours=3)) == ()
    assert lifecycle.order.cancellation.status is CancellationStatus.WITHDRAWN  # type: ignore[union-attr]
    assert lifecycle.order.pending_cancellation is None


def test_one_request_at_a_time_and_a_cancel_id_is_mandatory() -> None:
    lifecycle = released()
    with pytest.raises(InvalidParameters, match="cancel_id"):
        lifecycle.send("request_cancellation", initiator=BUYER, now=at(hours=2))
    lifecycle.send("request_cancellation", initiator=BUYER, now=at(hours=2), cancel_id="C1")
    decision = lifecycle.check(
        "request_cancellation", initiator=BUYER, now=at(hours=2), cancel_id="C2"
    )
    assert not decision.allowed
    assert "C1 is already pending" in decision.reason


def test_shipping_over_a_pending_request_closes_it() -> None:
    """TikTok for SFCC: Order Management: once shipped, the buyer's cancellation does not
    proceed."""
    lifecycle = released()
    lifecycle.send("request_cancellation", initiator=BUYER, now=at(hours=2), cancel_id="C1")
    lifecycle.send(
        "ship",
        initiator=SELLER,
        now=at(hours=3),
        tracking_number="1Z",
        shipping_provider_name="UPS",
    )
    assert lifecycle.order.cancellation.status is CancellationStatus.REJECTED  # type: ignore[union-attr]
    assert lifecycle.due(at(days=10)) == ()


def test_tiktok_cancelling_some_requested_lines_leaves_the_request_for_the_rest() -> None:
    """A line TikTok cancels outright is no longer in question; the request still asks
    for the others, and approving it then cancels exactly those."""
    lifecycle = released(lines=3)
    lifecycle.send("request_cancellation", initiator=BUYER, now=at(hours=2), cancel_id="C1")
    lifecycle.send("cancel", initiator=PLATFORM, now=at(hours=3), line_item_ids=["L1"])
    request = lifecycle.order.pending_cancellation
    assert request is not None
    assert request.cancel_id == "C1"
    assert request.line_item_ids == ("L2", "L3")
    assert request.requested_at == at(hours=2)
    # The auto-approval still runs from when the buyer asked.
    assert lifecycle.due(at(hours=50)) == ("approve_cancellation",)
    lifecycle.send("approve_cancellation", initiator=SELLER, now=at(hours=4))
    assert lifecycle.status is OrderStatus.CANCELLED
    assert lifecycle.order.cancelled_by is BUYER
    assert all(line.status is LineStatus.CANCELLED for line in lifecycle.order.lines)


def test_tiktok_cancelling_lines_beside_a_request_leaves_it_untouched() -> None:
    lifecycle = released(lines=3)
    lifecycle.send(
        "request_cancellation",
        initiator=BUYER,
        now=at(hours=2),
        cancel_id="C1",
        line_item_ids=["L2"],
    )
    lifecycle.send("cancel", initiator=PLATFORM, now=at(hours=3), line_item_ids=["L1"])
    request = lifecycle.order.pending_cancellation
    assert request is not None
    assert request.line_item_ids == ("L2",)


# --------------------------------------------------------------------------- seller cancels


def test_seller_cancels_before_shipment_from_the_oms() -> None:
    lifecycle = released(policy=REPORTING)
    effects = lifecycle.send("cancel", initiator=SELLER, now=at(hours=2), reason="out of stock")
    assert lifecycle.status is OrderStatus.CANCELLED
    assert lifecycle.order.cancelled_by is SELLER
    assert kinds(effects) == ["UpdateSfccOrderStatus", "CancelTikTokOrder", "SyncOrderInfo"]
    assert effects[1] == CancelTikTokOrder(
        lifecycle.order.order_id, 3, ("L1", "L2"), whole_order=True, reason="out of stock"
    )
    assert effects[2].cancelled_by is SELLER  # type: ignore[attr-defined]


def test_seller_cancel_with_a_pending_buyer_request_approves_the_request() -> None:
    """Logicbroker TikTok Shop connector: the integration accepts the buyer's request instead
    of issuing a new one."""
    lifecycle = released()
    lifecycle.send("request_cancellation", initiator=BUYER, now=at(hours=2), cancel_id="C1")
    effects = lifecycle.send("cancel", initiator=SELLER, now=at(hours=3))
    assert lifecycle.status is OrderStatus.CANCELLED
    assert "CancelTikTokOrder" not in kinds(effects)
    assert ApproveTikTokCancellation(lifecycle.order.order_id, 4, "C1") in effects
    assert lifecycle.order.cancellation.status is CancellationStatus.APPROVED  # type: ignore[union-attr]


def test_seller_cancel_reported_by_tiktok_is_not_sent_back_to_tiktok() -> None:
    lifecycle = released(policy=REPORTING)
    effects = lifecycle.send("cancel", initiator=SELLER, origin=Origin.TIKTOK, now=at(hours=2))
    assert lifecycle.status is OrderStatus.CANCELLED
    assert kinds(effects) == ["UpdateSfccOrderStatus", "SyncOrderInfo"]


@pytest.mark.parametrize("build", [shipped, delivered])
def test_seller_cannot_cancel_once_tracking_is_uploaded(build: object) -> None:
    lifecycle = build()  # type: ignore[operator]
    decision = lifecycle.check("cancel", initiator=SELLER, now=at(days=4))
    assert not decision.allowed
    assert decision.reason == (
        f"seller cannot cancel: order is {lifecycle.status};"
        " cancellations close once tracking is uploaded"
    )


def test_buyer_cancel_after_shipment_is_a_return() -> None:
    lifecycle = shipped()
    decision = lifecycle.check("cancel", initiator=BUYER, now=at(hours=3))
    assert not decision.allowed
    assert "request_return" in decision.reason
    assert lifecycle.allowed(BUYER, now=at(hours=3)) == ("request_return",)


def test_seller_partial_cancel_is_refused_unless_the_policy_allows_it() -> None:
    lifecycle = released(lines=3)
    decision = lifecycle.check("cancel", initiator=SELLER, now=at(hours=2), line_item_ids=["L1"])
    assert not decision.allowed
    assert "some lines only" in decision.reason

    allowing = released(lines=3, policy=Policy(seller_partial_cancel=True))
    effects = allowing.send("cancel", initiator=SELLER, now=at(hours=2), line_item_ids=["L1"])
    assert allowing.status is OrderStatus.AWAITING_SHIPMENT
    assert allowing.order.line("L1").status is LineStatus.CANCELLED
    sfcc = effects[0]
    assert isinstance(sfcc, UpdateSfccOrderStatus)
    assert sfcc.external_status is SfccStatus.PARTIALLY_CANCELLED
    assert effects[1] == CancelTikTokOrder(
        allowing.order.order_id, 3, ("L1",), whole_order=False, reason=""
    )


def test_buyer_partial_request_approved_by_the_seller_cancels_those_lines_only() -> None:
    lifecycle = released(lines=3)
    lifecycle.send(
        "request_cancellation",
        initiator=BUYER,
        now=at(hours=2),
        cancel_id="C1",
        line_item_ids=["L2"],
    )
    effects = lifecycle.send("approve_cancellation", initiator=SELLER, now=at(hours=3))
    assert lifecycle.status is OrderStatus.AWAITING_SHIPMENT
    assert lifecycle.order.open_line_ids == ("L1", "L3")
    assert kinds(effects) == ["UpdateSfccOrderStatus", "ApproveTikTokCancellation"]


# --------------------------------------------------------------------------- TikTok cancels


def test_tiktok_fraud_cancel_before_shipment() -> None:
    lifecycle = released(policy=REPORTING)
    effects = lifecycle.send(
        "cancel", initiator=PLATFORM, origin=Origin.TIKTOK, now=at(hours=2), reason="fraud"
    )
    assert lifecycle.status is OrderStatus.CANCELLED
    assert not lifecycle.order.cancelled_after_shipped
    assert kinds(effects) == ["UpdateSfccOrderStatus", "SyncOrderInfo"]
    assert effects[1].cancelled_by is PLATFORM  # type: ignore[attr-defined]


@pytest.mark.parametrize("build", [shipped, delivered])
def test_tiktok_cancel_after_shipment_is_marked_cancel_after_shipped(build: object) -> None:
    lifecycle = build()  # type: ignore[operator]
    effects = lifecycle.send(
        "cancel", initiator=PLATFORM, origin=Origin.TIKTOK, now=at(days=4), reason="fraud"
    )
    assert lifecycle.status is OrderStatus.CANCELLED
    assert lifecycle.order.cancelled_after_shipped
    sfcc = effects[0]
    assert isinstance(sfcc, UpdateSfccOrderStatus)
    assert sfcc.external_status is SfccStatus.CANCELLED
    assert sfcc.cancelled_after_shipped
    # No line is both shipped and cancelled.
    assert all(line.status is LineStatus.SHIPPED for line in lifecycle.order.lines)


def test_sla_auto_cancel_when_not_shipped_within_15_days() -> None:
    lifecycle = released(policy=REPORTING)
    assert lifecycle.due(at(days=14.9)) == ()
    assert lifecycle.due(at(days=15)) == ("cancel",)
    effects = lifecycle.run_due(at(days=15))
    assert lifecycle.status is OrderStatus.CANCELLED
    assert lifecycle.order.history[-1].reason == "not shipped within 15 days"
    assert lifecycle.order.history[-1].origin is Origin.TIMER
    assert kinds(effects) == ["UpdateSfccOrderStatus", "SyncOrderInfo"]


def test_a_long_forgotten_order_runs_every_due_timer_in_order() -> None:
    lifecycle = paid()
    assert lifecycle.due(at(days=16)) == ("release_hold", "cancel")
    lifecycle.run_due(at(days=16))
    assert [r.event for r in lifecycle.order.history] == ["pay", "release_hold", "cancel"]


def test_due_timers_hand_back_each_timer_with_the_outcome_it_had() -> None:
    """One loop applies the timers; its outcomes are the ones run_due keeps."""
    lifecycle = paid(policy=REPORTING)
    fired = due_timers(lifecycle.order, at(days=16), REPORTING)
    assert [(f.timer.event, f.timer.at) for f in fired] == [
        ("release_hold", at(hours=1)),
        ("cancel", at(days=15)),
    ]
    assert [f.outcome.order.status for f in fired] == [
        OrderStatus.AWAITING_SHIPMENT,
        OrderStatus.CANCELLED,
    ]
    assert [kinds(f.outcome.effects) for f in fired] == [
        ["CreateSfccOrder"],
        ["UpdateSfccOrderStatus", "SyncOrderInfo"],
    ]
    effects = lifecycle.run_due(at(days=16))
    assert lifecycle.order == fired[-1].outcome.order
    assert kinds(effects) == ["CreateSfccOrder", "UpdateSfccOrderStatus", "SyncOrderInfo"]
    assert lifecycle.run_due(at(days=16)) == ()
    with pytest.raises(IllegalTransition, match="CANCELLED is final"):
        lifecycle.send("ship", initiator=SELLER, now=at(days=16))


# --------------------------------------------------------------------------- fulfilment


def test_partial_shipment_then_the_rest() -> None:
    lifecycle = released(lines=3)
    effects = lifecycle.send(
        "ship",
        initiator=SELLER,
        now=at(hours=2),
        tracking_number="1Z1",
        shipping_provider_name="UPS",
        line_item_ids=["L1"],
    )
    assert lifecycle.status is OrderStatus.PARTIALLY_SHIPPING
    assert kinds(effects) == ["UpdateSfccShipping", "ShipTikTokPackage"]
    assert effects[0].shipping_status is ShippingStatus.PART_SHIPPED  # type: ignore[attr-defined]
    assert effects[1] == ShipTikTokPackage(
        lifecycle.order.order_id, 3, ("L1",), "1Z1", shipping_provider_name="UPS"
    )
    assert lifecycle.order.line("L1").tracking_number == "1Z1"

    refused = lifecycle.check(
        "ship",
        initiator=SELLER,
        now=at(hours=3),
        tracking_number="1Z2",
        shipping_provider_name="UPS",
        line_item_ids=["L1"],
    )
    assert "line L1 is SHIPPED" in refused.reason

    lifecycle.send(
        "ship",
        initiator=SELLER,
        now=at(hours=3),
        tracking_number="1Z2",
        shipping_provider_name="UPS",
    )
    assert lifecycle.status is OrderStatus.AWAITING_COLLECTION
    assert {line.tracking_number for line in lifecycle.order.lines} == {"1Z1", "1Z2"}


def test_seller_shipment_reported_by_tiktok_needs_no_tracking_and_calls_nothing_on_tiktok() -> None:
    lifecycle = released()
    effects = lifecycle.send("ship", initiator=SELLER, origin=Origin.TIKTOK, now=at(hours=2))
    assert lifecycle.status is OrderStatus.AWAITING_COLLECTION
    assert kinds(effects) == ["UpdateSfccShipping"]


def test_delivery_then_completion_after_the_return_window() -> None:
    lifecycle = delivered(policy=REPORTING)
    assert lifecycle.due(at(days=16.9)) == ()
    assert lifecycle.due(at(days=17)) == ("complete",)
    effects = lifecycle.run_due(at(days=17))
    assert lifecycle.status is OrderStatus.COMPLETED
    assert kinds(effects) == ["UpdateSfccOrderStatus", "SyncOrderInfo", "ReportTikTokEvent"]
    assert effects[1].status is OrderStatus.COMPLETED  # type: ignore[attr-defined]
    assert effects[2].status is OrderStatus.COMPLETED  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- reporting

#: Each way an order ends, and the moment it ends, under a given policy.
_ENDINGS = {
    "completed": lambda policy: (delivered(policy=policy), lambda lc: lc.run_due(at(days=17))),
    "cancelled": lambda policy: (
        released(policy=policy),
        lambda lc: lc.send("cancel", initiator=SELLER, now=at(hours=2)),
    ),
}
_REPORTS = {"SyncOrderInfo", "ReportTikTokEvent"}


@pytest.mark.parametrize("ending", sorted(_ENDINGS))
def test_by_default_a_shop_reports_to_neither_feed(ending: str) -> None:
    """A plain retail shop: no Sync Order Information (a hotel feed), no Events API."""
    lifecycle, end = _ENDINGS[ending](None)
    effects = end(lifecycle)
    assert lifecycle.status.is_final
    assert not set(kinds(effects)) & _REPORTS
    assert "UpdateSfccOrderStatus" in kinds(effects)


@pytest.mark.parametrize("ending", sorted(_ENDINGS))
def test_report_sync_order_info_alone_emits_only_sync_order_info(ending: str) -> None:
    lifecycle, end = _ENDINGS[ending](Policy(report_sync_order_info=True))
    reports = [kind for kind in kinds(end(lifecycle)) if kind in _REPORTS]
    assert reports == ["SyncOrderInfo"]


def test_report_events_api_alone_emits_only_the_event_and_only_where_mapped() -> None:
    policy = Policy(report_events_api=True)
    completed, complete = _ENDINGS["completed"](policy)
    assert [k for k in kinds(complete(completed)) if k in _REPORTS] == ["ReportTikTokEvent"]
    cancelled, cancel = _ENDINGS["cancelled"](policy)
    # The default event map names completion only: a cancellation is no event.
    assert not set(kinds(cancel(cancelled))) & _REPORTS


def test_the_status_sets_still_choose_which_statuses_a_reporting_shop_reports() -> None:
    policy = Policy(
        report_sync_order_info=True,
        report_events_api=True,
        sync_order_statuses={OrderStatus.AWAITING_SHIPMENT},
        tiktok_event_statuses=(),
    )
    lifecycle = paid(policy=policy)
    released_effects = lifecycle.send("release_hold", initiator=PLATFORM, now=at(hours=1))
    assert kinds(released_effects) == ["CreateSfccOrder", "SyncOrderInfo"]
    assert released_effects[1].status is OrderStatus.AWAITING_SHIPMENT  # type: ignore[attr-defined]
    cancelled = lifecycle.send("cancel", initiator=SELLER, now=at(hours=2))
    assert not set(kinds(cancelled)) & _REPORTS


def test_a_shop_that_lists_statuses_but_does_not_report_emits_nothing() -> None:
    """The switches, not the status sets, say whether the shop reports at all."""
    policy = Policy(
        sync_order_statuses={OrderStatus.AWAITING_SHIPMENT},
        tiktok_event_statuses={OrderStatus.AWAITING_SHIPMENT},
    )
    effects = paid(policy=policy).send("release_hold", initiator=PLATFORM, now=at(hours=1))
    assert kinds(effects) == ["CreateSfccOrder"]


# --------------------------------------------------------------------------- returns


def test_return_and_refund_path() -> None:
    lifecycle = delivered()
    lifecycle.send(
        "request_return",
        initiator=BUYER,
        now=at(days=4),
        return_id="R1",
        line_item_ids=["L1"],
        return_type="RETURN_AND_REFUND",
    )
    assert lifecycle.due(at(days=40)) == ()  # no completion while a return is open
    effects = lifecycle.send("approve_return", initiator=SELLER, now=at(days=5))
    assert kinds(effects) == ["ApproveTikTokReturn", "UpdateSfccReturn"]
    assert lifecycle.order.return_request("R1").status is ReturnStatus.AWAITING_BUYER_SHIPMENT
    lifecycle.send("ship_return", initiator=BUYER, now=at(days=6))
    lifecycle.send("receive_return", initiator=SELLER, now=at(days=8))
    lifecycle.send("refund", initiator=PLATFORM, origin=Origin.TIKTOK, now=at(days=9))
    assert lifecycle.order.return_request("R1").status is ReturnStatus.REFUNDED
    assert lifecycle.order.line("L1").status is LineStatus.REFUNDED
    assert lifecycle.status is OrderStatus.DELIVERED
    assert lifecycle.due(at(days=17)) == ("complete",)


def test_return_keeps_when_the_buyer_asked_and_the_parcel_back() -> None:
    """A return learnt late keeps its request time; the return tracking number is kept."""
    lifecycle = delivered()
    lifecycle.send(
        "request_return",
        initiator=BUYER,
        now=at(days=5),
        return_id="R1",
        reason="wrong_size",
        requested_at=at(days=4).isoformat(),
    )
    request = lifecycle.order.return_request("R1")
    assert (request.requested_at, request.reason) == (at(days=4), "wrong_size")
    assert request.return_tracking_number is None
    lifecycle.send("approve_return", initiator=SELLER, now=at(days=5))
    lifecycle.send("ship_return", initiator=BUYER, now=at(days=6), return_tracking_number="1Z9")
    assert lifecycle.order.return_request("R1").return_tracking_number == "1Z9"
    later = delivered()
    later.send(
        "request_return",
        initiator=BUYER,
        now=at(days=4),
        return_id="R2",
        return_tracking_number="TRK",
        requested_at=at(days=9).isoformat(),
    )
    request = later.order.return_request("R2")
    assert request.requested_at == at(days=4), "never later than the event itself"
    assert request.return_tracking_number == "TRK"


@pytest.mark.parametrize(
    ("requested_at", "named"),
    [("yesterday", "ISO-8601"), ("2026-11-20T09:30:00", "UTC offset")],
)
def test_return_request_time_must_be_an_aware_iso_time(requested_at: str, named: str) -> None:
    with pytest.raises(InvalidParameters, match=named):
        delivered().send(
            "request_return",
            initiator=BUYER,
            now=at(days=4),
            return_id="R1",
            requested_at=requested_at,
        )


def test_refund_only_request_skips_the_parcel() -> None:
    lifecycle = delivered()
    lifecycle.send(
        "request_return", initiator=BUYER, now=at(days=4), return_id="R1", return_type="REFUND"
    )
    lifecycle.send("approve_return", initiator=SELLER, now=at(days=5))
    assert lifecycle.order.return_request("R1").status is ReturnStatus.APPROVED
    lifecycle.send("refund", initiator=PLATFORM, origin=Origin.TIKTOK, now=at(days=6))
    assert all(line.status is LineStatus.REFUNDED for line in lifecycle.order.lines)


def test_returns_are_rejected_in_tiktok_not_through_the_integration() -> None:
    lifecycle = delivered()
    lifecycle.send("request_return", initiator=BUYER, now=at(days=4), return_id="R1")
    decision = lifecycle.check("reject_return", initiator=SELLER, now=at(days=5))
    assert not decision.allowed
    assert "by hand in TikTok" in decision.reason
    effects = lifecycle.send(
        "reject_return", initiator=SELLER, origin=Origin.TIKTOK, now=at(days=5)
    )
    assert effects == ()
    assert lifecycle.order.return_request("R1").status is ReturnStatus.REJECTED


def test_returns_need_shipment() -> None:
    lifecycle = released()
    decision = lifecycle.check("request_return", initiator=BUYER, now=at(hours=2), return_id="R1")
    assert not decision.allowed
    assert "returns follow shipment" in decision.reason


# --------------------------------------------------------------------------- final states, errors


@pytest.mark.parametrize("final", ["cancelled", "completed"])
def test_final_states_absorb_every_event(final: str) -> None:
    lifecycle = released() if final == "cancelled" else delivered()
    if final == "cancelled":
        lifecycle.send("cancel", initiator=SELLER, now=at(hours=2))
    else:
        lifecycle.run_due(at(days=20))
    before = lifecycle.order
    assert lifecycle.allowed(now=at(days=30)) == ()
    assert lifecycle.due(at(days=300)) == ()
    for who in (BUYER, SELLER, PLATFORM):
        with pytest.raises(IllegalTransition, match="is final"):
            lifecycle.send("cancel", initiator=who, now=at(days=30))
    assert lifecycle.order is before


def test_an_unknown_event_is_a_typed_error_naming_it() -> None:
    lifecycle = released()
    with pytest.raises(UnknownEvent, match="'refund_everything'"):
        lifecycle.send("refund_everything", initiator=SELLER, now=at(hours=2))
    with pytest.raises(UnknownEvent):
        lifecycle.check("teleport", initiator=SELLER, now=at(hours=2))


def test_bad_parameters_are_typed_errors_naming_the_parameter() -> None:
    lifecycle = released()
    before = lifecycle.order
    with pytest.raises(InvalidParameters, match="no line L9"):
        lifecycle.send(
            "ship",
            initiator=SELLER,
            now=at(hours=2),
            tracking_number="1Z",
            shipping_provider_name="UPS",
            line_item_ids=["L9"],
        )
    with pytest.raises(InvalidParameters, match="takes no parameter colour"):
        lifecycle.send("ship", initiator=SELLER, now=at(hours=2), colour="red")
    with pytest.raises(InvalidParameters, match="list of line item ids"):
        lifecycle.send("cancel", initiator=SELLER, now=at(hours=2), line_item_ids="L1")
    assert not lifecycle.check("ship", initiator=SELLER, now=at(hours=2), colour="red").allowed
    assert lifecycle.order is before


def test_naive_times_and_unknown_initiators_are_refused() -> None:
    from datetime import datetime

    lifecycle = released()
    with pytest.raises(ValueError, match="timezone-aware"):
        lifecycle.send("cancel", initiator=SELLER, now=datetime(2026, 11, 20, 12))
    with pytest.raises(ValueError, match="unknown initiator 'ROBOT'"):
        lifecycle.send("cancel", initiator="ROBOT", now=at(hours=2))


def test_a_failing_callback_propagates_and_leaves_the_order_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lifecycle import _actions

    lifecycle = released()
    before = lifecycle.order

    def explode(*_args: object) -> object:
        raise RuntimeError("adapter bug")

    monkeypatch.setitem(_actions._ACTIONS, "ship", explode)
    with pytest.raises(RuntimeError, match="adapter bug"):
        lifecycle.send(
            "ship",
            initiator=SELLER,
            now=at(hours=2),
            tracking_number="1Z",
            shipping_provider_name="UPS",
        )
    assert lifecycle.order is before
    monkeypatch.undo()
    lifecycle.send(
        "ship",
        initiator=SELLER,
        now=at(hours=2),
        tracking_number="1Z",
        shipping_provider_name="UPS",
    )
    assert lifecycle.status is OrderStatus.AWAITING_COLLECTION


def test_history_records_who_when_from_to_and_why() -> None:
    lifecycle = released()
    lifecycle.send("cancel", initiator=SELLER, now=at(hours=2), reason="out of stock")
    record = lifecycle.order.history[-1]
    assert (record.event, record.source, record.target) == (
        "cancel",
        OrderStatus.AWAITING_SHIPMENT,
        OrderStatus.CANCELLED,
    )
    assert (record.initiator, record.origin, record.at) == (SELLER, Origin.OMS, at(hours=2))
    assert record.reason == "out of stock"
    assert lifecycle.order.version == len(lifecycle.order.history) == 3


def test_unpaid_orders_are_paid_by_the_buyer_or_cancelled() -> None:
    lifecycle = OrderLifecycle(new_order(), REPORTING)
    assert lifecycle.allowed(SELLER, now=at()) == ("cancel",)
    assert not lifecycle.check("pay", initiator=SELLER, now=at()).allowed
    assert lifecycle.send("cancel", initiator=PLATFORM, now=at(hours=1)) == (
        SyncOrderInfo(
            lifecycle.order.order_id, 1, OrderStatus.CANCELLED, at(hours=1), cancelled_by=PLATFORM
        ),
    )


def test_a_shipment_from_the_oms_must_name_the_carrier() -> None:
    """TikTok's Ship Package needs the carrier; refusing here beats a dead letter later."""
    lifecycle = released()
    with pytest.raises(InvalidParameters, match="shipping_provider_id or a shipping_provider_name"):
        lifecycle.send("ship", initiator=SELLER, now=at(hours=2), tracking_number="1Z")
    effects = lifecycle.send(
        "ship", initiator=SELLER, now=at(hours=2), tracking_number="1Z", shipping_provider_id="7117"
    )
    assert effects[1].shipping_provider_id == "7117"  # type: ignore[attr-defined]


def test_the_policy_chooses_which_statuses_are_reported_and_refuses_unknown_ones() -> None:
    """Reporting sets are lifecycle statuses; naming them on the wire is the adapters' job."""
    quiet = paid(policy=Policy(sync_order_statuses=(), tiktok_event_statuses=()))
    assert quiet.send("cancel", initiator=BUYER, now=at(hours=0.5)) == ()
    loud = paid(
        policy=Policy(
            report_sync_order_info=True,
            report_events_api=True,
            sync_order_statuses={"CANCELLED"},
            tiktok_event_statuses={"CANCELLED"},
        )
    )
    effects = loud.send("cancel", initiator=BUYER, now=at(hours=0.5))
    assert kinds(effects) == ["SyncOrderInfo", "ReportTikTokEvent"]
    assert effects[1].status is OrderStatus.CANCELLED  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="sync_order_statuses must be a set"):
        Policy(sync_order_statuses="CANCELLED")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tiktok_event_statuses: unknown order status 'PAID'"):
        Policy(tiktok_event_statuses={"PAID"})


def test_every_absent_transition_has_a_declared_reason() -> None:
    """Refusals of events a status does not have read as a rule, never the generic fallback."""
    from lifecycle._table import why_no_transition

    for status in OrderStatus:
        for event in EVENTS:
            if (status, event) not in TABLE and not status.is_final:
                assert "does not apply" not in why_no_transition(status, event), (status, event)
    assert why_no_transition(OrderStatus.UNPAID, "ship") == "the order is not paid yet"
    assert "remorse hold" in why_no_transition(OrderStatus.ON_HOLD, "ship")
    assert why_no_transition(OrderStatus.DELIVERED, "ship") == (
        "every line is already shipped or cancelled"
    )
    assert "tracking is uploaded" in why_no_transition(
        OrderStatus.IN_TRANSIT, "reject_cancellation"
    )
    assert why_no_transition(OrderStatus.ON_HOLD, "withdraw_cancellation") == (
        "no cancellation request exists before the hold is over"
    )
    assert "returns follow shipment" in why_no_transition(OrderStatus.AWAITING_SHIPMENT, "refund")


def test_times_enter_the_core_in_utc_so_the_hold_is_an_hour_across_a_dst_change() -> None:
    """Paid at 01:30 local time on the night New York's clocks go back: the hold ends one
    elapsed hour later, in the pure core as after a store round trip (both UTC)."""
    from zoneinfo import ZoneInfo

    new_york = ZoneInfo("America/New_York")
    paid_local = datetime(2026, 11, 1, 1, 30, tzinfo=new_york)  # the first 01:30 (EDT)
    order = attrs.evolve(new_order(), created_at=paid_local)
    assert order.created_at.tzinfo is UTC
    lifecycle = OrderLifecycle(order)
    lifecycle.send("pay", initiator=BUYER, now=paid_local)
    assert lifecycle.order.paid_at == paid_local.astimezone(UTC)
    [timer] = lifecycle.timers()
    assert timer.at - paid_local.astimezone(UTC) == timedelta(hours=1)
    assert lifecycle.due(paid_local.astimezone(UTC) + timedelta(minutes=59)) == ()
    assert lifecycle.due(paid_local.astimezone(UTC) + timedelta(hours=1)) == ("release_hold",)


def test_a_naive_now_is_the_same_typed_error_on_every_path() -> None:
    """send, check, allowed, due and run_due all refuse a time without its offset alike."""
    lifecycle = paid()
    naive = datetime(2026, 11, 20, 12, 0)
    calls = [
        lambda: lifecycle.send("release_hold", initiator=PLATFORM, now=naive),
        lambda: lifecycle.check("release_hold", initiator=PLATFORM, now=naive),
        lambda: lifecycle.allowed(PLATFORM, now=naive),
        lambda: lifecycle.due(naive),
        lambda: lifecycle.run_due(naive),
    ]
    for call in calls:
        with pytest.raises(NaiveTime, match="timezone-aware"):
            call()
