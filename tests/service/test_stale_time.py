"""A time too far before an order's last change, on the service's paths.

The same `StaleTime` from the core, kept the way each path keeps a refusal:
an OMS command is `rejected` (error type `StaleTime`), a TikTok report is
`stale` (as a report older than the order already is), and a tick refuses
that one order while the other due orders go on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.service import OrderService
from adapters.store import InputOutcome, SqliteStore
from lifecycle import Command, Initiator, OrderStatus, Policy
from tests.service.fake_shop import SHOP, order
from tests.store.helpers import cancel_webhook

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
SKEW = Policy().clock_skew


def _service() -> OrderService:
    return OrderService(SqliteStore(":memory:"), clock=lambda: T0 + timedelta(days=2))


def test_an_oms_command_stamped_too_early_is_rejected_as_stale_time_and_changes_nothing() -> None:
    service = _service()
    service.seed(
        order("O1", "AWAITING_SHIPMENT", T0, updated=T0 + timedelta(hours=5)), shop_id=SHOP
    )
    before = service.store.load("O1")
    early = T0 + timedelta(hours=5) - SKEW - timedelta(seconds=1)
    result = service.command(Command("O1", "cancel", Initiator.SELLER, early))
    assert (result.outcome, result.error_type) == (InputOutcome.REJECTED, "StaleTime")
    assert "O1" in result.reason
    assert early.isoformat() in result.reason
    assert service.store.load("O1") == before


def test_an_oms_command_within_the_tolerance_applies_at_the_last_change() -> None:
    service = _service()
    last = T0 + timedelta(hours=5)
    service.seed(order("O1", "AWAITING_SHIPMENT", T0, updated=last), shop_id=SHOP)
    result = service.command(Command("O1", "cancel", Initiator.SELLER, last - SKEW))
    assert result.outcome is InputOutcome.APPLIED
    stored = service.store.load("O1")
    assert stored is not None
    assert stored.status is OrderStatus.CANCELLED
    assert stored.history[-1].at == last


def test_a_cancellation_webhook_older_than_the_order_by_more_than_the_tolerance_is_stale() -> None:
    """A type 11 is applied through a search, not `reconcile`'s status check: its step
    raises `StaleTime`, kept as `stale` like a status report older than the order."""
    service = _service()
    service.seed(order("O1", "AWAITING_SHIPMENT", T0, updated=T0 + timedelta(days=1)), shop_id=SHOP)
    result = service.webhook(cancel_webhook("O1", "CANCELLATION_REQUEST_PENDING", "C1", T0))
    assert (result.outcome, result.error_type) == (InputOutcome.STALE, "StaleTime")
    stored = service.store.load("O1")
    assert stored is not None
    assert stored.cancellation is None


def test_a_tick_too_early_for_one_order_refuses_that_order_and_the_others_go_on() -> None:
    service = _service()
    # TikTok said at +3 h that O1 is still on hold; its hold timer (+1 h) is overdue.
    service.seed(order("O1", "ON_HOLD", T0, updated=T0 + timedelta(hours=3)), shop_id=SHOP)
    service.seed(order("O2", "ON_HOLD", T0), shop_id=SHOP)
    results = {r.order_id: r for r in service.tick(T0 + timedelta(hours=1, minutes=1))}
    assert (results["O1"].outcome, results["O1"].error_type) == (
        InputOutcome.REJECTED,
        "StaleTime",
    )
    assert results["O2"].outcome is InputOutcome.APPLIED
    o1, o2 = service.store.load("O1"), service.store.load("O2")
    assert o1 is not None
    assert o1.status is OrderStatus.ON_HOLD
    assert o2 is not None
    assert o2.status is OrderStatus.AWAITING_SHIPMENT
