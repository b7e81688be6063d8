"""Reconciliation: the events a late or missing report stands for, written out by hand."""

from __future__ import annotations

import pytest

from lifecycle import (
    CancellationStatus,
    Initiator,
    NoLegalPath,
    OrderStatus,
    ReturnStatus,
    ReturnType,
    StaleObservation,
    Step,
    apply,
    reconcile,
    reconcile_cancellation,
    reconcile_return,
)
from tests.factories import BUYER, PLATFORM, SELLER, at, delivered, new_order, paid, released

WITHDRAWN_OR_REJECTED = frozenset({CancellationStatus.WITHDRAWN, CancellationStatus.REJECTED})


def events(steps: tuple[Step, ...]) -> list[tuple[str, Initiator]]:
    return [(step.event, step.initiator) for step in steps]


# --------------------------------------------------------------------------- order status


def test_an_unpaid_order_reported_delivered_fills_in_every_missing_step() -> None:
    steps = reconcile(new_order(), OrderStatus.DELIVERED, observed_at=at(days=3))
    assert events(steps) == [
        ("pay", PLATFORM),
        ("release_hold", PLATFORM),
        ("ship", SELLER),
        ("collect", PLATFORM),
        ("deliver", PLATFORM),
    ]
    assert all(step.params == {} for step in steps)


def test_a_cancellation_report_is_tried_as_the_canceller_it_names() -> None:
    order = released().order
    assert events(reconcile(order, "CANCELLED", observed_at=at(hours=2))) == [("cancel", PLATFORM)]
    assert events(reconcile(order, "CANCELLED", observed_at=at(hours=2), cancelled_by=SELLER)) == [
        ("cancel", SELLER)
    ]
    # A buyer cannot cancel outright after the hold: TikTok's cancel stands in.
    assert events(reconcile(order, "CANCELLED", observed_at=at(hours=2), cancelled_by=BUYER)) == [
        ("cancel", PLATFORM)
    ]


def test_a_pending_request_reported_cancelled_is_the_request_approved() -> None:
    order = apply(
        released().order, "request_cancellation", initiator=BUYER, now=at(hours=2), cancel_id="C1"
    ).order
    steps = reconcile(order, OrderStatus.CANCELLED, observed_at=at(hours=3))
    assert events(steps) == [("approve_cancellation", PLATFORM)]


def test_order_status_reports_that_no_legal_path_explains_are_typed_errors() -> None:
    order = delivered().order
    with pytest.raises(NoLegalPath, match="no legal path from DELIVERED to AWAITING_SHIPMENT"):
        reconcile(order, "AWAITING_SHIPMENT", observed_at=at(days=4))
    with pytest.raises(NoLegalPath, match="does not say which lines shipped"):
        reconcile(released().order, "PARTIALLY_SHIPPING", observed_at=at(hours=2))
    with pytest.raises(StaleObservation, match="older than the order's last update"):
        reconcile(order, "COMPLETED", observed_at=at(days=1))
    with pytest.raises(ValueError, match="unknown order status 'LOST'"):
        reconcile(order, "LOST", observed_at=at(days=4))
    assert reconcile(order, "DELIVERED", observed_at=at(days=1)) == ()


# --------------------------------------------------------------------------- cancellation


def test_an_approval_of_a_request_the_order_never_heard_of_is_a_cancellation() -> None:
    order = released().order
    steps = reconcile_cancellation(order, "C1", CancellationStatus.APPROVED, at=at(hours=3))
    assert steps == (Step("cancel", PLATFORM, {"cancel_id": "C1"}),)
    steps = reconcile_cancellation(
        order, "C1", CancellationStatus.APPROVED, at=at(hours=3), cancelled_by=SELLER
    )
    assert steps == (Step("cancel", SELLER, {"cancel_id": "C1"}),)


def test_each_cancellation_status_maps_to_its_own_events() -> None:
    order = released().order
    requested = reconcile_cancellation(order, "C1", CancellationStatus.PENDING, at=at(hours=2))
    assert requested == (Step("request_cancellation", BUYER, {"cancel_id": "C1"}),)
    pending = apply(
        order, "request_cancellation", initiator=BUYER, now=at(hours=2), cancel_id="C1"
    ).order
    assert reconcile_cancellation(pending, "C1", CancellationStatus.REJECTED, at=at(hours=3)) == (
        Step("reject_cancellation", SELLER, {"cancel_id": "C1"}),
    )
    assert reconcile_cancellation(pending, "C1", WITHDRAWN_OR_REJECTED, at=at(hours=3)) == (
        Step("withdraw_cancellation", BUYER, {"cancel_id": "C1"}),
    ), "withdrawn is preferred when the report does not tell the two apart"
    assert reconcile_cancellation(pending, "C1", CancellationStatus.APPROVED, at=at(hours=3)) == (
        Step("approve_cancellation", PLATFORM, {"cancel_id": "C1"}),
    )


def test_cancellation_reports_the_order_already_reflects_imply_nothing() -> None:
    order = released().order
    pending = apply(
        order, "request_cancellation", initiator=BUYER, now=at(hours=2), cancel_id="C1"
    ).order
    assert reconcile_cancellation(pending, "C1", CancellationStatus.PENDING, at=at(hours=3)) == ()
    assert reconcile_cancellation(order, "C9", WITHDRAWN_OR_REJECTED, at=at(hours=3)) == ()
    cancelled = apply(order, "cancel", initiator=SELLER, now=at(hours=2)).order
    assert reconcile_cancellation(cancelled, "C1", CancellationStatus.PENDING, at=at(hours=3)) == ()


def test_a_cancellation_request_after_delivery_has_no_legal_path() -> None:
    with pytest.raises(NoLegalPath, match=r"cancellation C1 PENDING: .*re-read the order detail"):
        reconcile_cancellation(delivered().order, "C1", CancellationStatus.PENDING, at=at(days=4))
    with pytest.raises(ValueError, match="cancellation goal is one or more of"):
        reconcile_cancellation(released().order, "C1", frozenset(), at=at(hours=2))


# --------------------------------------------------------------------------- returns


def test_a_return_reported_received_fills_in_the_lost_steps() -> None:
    steps = reconcile_return(
        delivered().order,
        "R1",
        ReturnStatus.RECEIVED,
        at=at(days=5),
        return_type=ReturnType.RETURN_AND_REFUND,
    )
    assert steps == (
        Step("request_return", BUYER, {"return_id": "R1", "return_type": "RETURN_AND_REFUND"}),
        Step("approve_return", PLATFORM, {"return_id": "R1"}),
        Step("receive_return", PLATFORM, {"return_id": "R1"}),
    )


def test_return_reports_behind_or_after_the_return_imply_nothing() -> None:
    order = delivered().order
    for event, who in (("request_return", BUYER), ("approve_return", PLATFORM)):
        order = apply(order, event, initiator=who, now=at(days=4), return_id="R1").order
    assert order.return_request("R1").status is ReturnStatus.AWAITING_BUYER_SHIPMENT
    assert reconcile_return(order, "R1", ReturnStatus.REQUESTED, at=at(days=5)) == ()
    assert reconcile_return(order, "R1", ReturnStatus.APPROVED, at=at(days=5)) == ()
    refunded = order
    for event, who in (("receive_return", PLATFORM), ("refund", PLATFORM)):
        refunded = apply(refunded, event, initiator=who, now=at(days=6), return_id="R1").order
    assert reconcile_return(refunded, "R1", ReturnStatus.REJECTED, at=at(days=7)) == ()


def test_a_return_before_shipment_has_no_legal_path() -> None:
    with pytest.raises(NoLegalPath, match=r"return R1 REQUESTED: .*re-read the order detail"):
        reconcile_return(paid().order, "R1", ReturnStatus.REQUESTED, at=at(hours=0.5))
