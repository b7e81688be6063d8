"""Small builders for orders in any state, shared by the tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from lifecycle import Initiator, Order, OrderLifecycle, OrderLine, Origin, Policy

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
BUYER, SELLER, PLATFORM = Initiator.BUYER, Initiator.SELLER, Initiator.PLATFORM
#: A shop that reports to both TikTok reporting feeds (both are off by default).
REPORTING = Policy(report_sync_order_info=True, report_events_api=True)


def at(hours: float = 0, days: float = 0) -> datetime:
    """A moment after payment at T0."""
    return T0 + timedelta(hours=hours, days=days)


def new_order(lines: int = 2, order_id: str = "576461413038785752") -> Order:
    return Order(
        order_id=order_id,
        shop_id="7494049642642441621",
        currency="USD",
        created_at=T0,
        lines=[
            OrderLine(
                f"L{i}",
                sku_id=f"SKU{i}",
                seller_sku=f"MUG-{i}",
                product_name=f"Mug {i}",
                sale_price=Decimal("12.50"),
                original_price=Decimal("15.00"),
            )
            for i in range(1, lines + 1)
        ],
        sub_total=Decimal("12.50") * lines,
        total_amount=Decimal("12.50") * lines,
    )


def paid(lines: int = 2, policy: Policy | None = None) -> OrderLifecycle:
    """An order TikTok reported paid at T0: ON_HOLD."""
    lifecycle = OrderLifecycle(new_order(lines), policy or Policy())
    lifecycle.send("pay", initiator=BUYER, now=T0)
    return lifecycle


def released(lines: int = 2, policy: Policy | None = None) -> OrderLifecycle:
    """An order whose hold ended an hour after payment: AWAITING_SHIPMENT."""
    lifecycle = paid(lines, policy)
    lifecycle.send("release_hold", initiator=PLATFORM, now=at(hours=1))
    return lifecycle


def shipped(lines: int = 2, policy: Policy | None = None) -> OrderLifecycle:
    """Every line shipped from the OMS two hours after payment: AWAITING_COLLECTION."""
    lifecycle = released(lines, policy)
    lifecycle.send(
        "ship",
        initiator=SELLER,
        now=at(hours=2),
        tracking_number="1Z999",
        shipping_provider_name="UPS",
    )
    return lifecycle


def delivered(lines: int = 2, policy: Policy | None = None) -> OrderLifecycle:
    """Collected and delivered, as TikTok reports: DELIVERED on day 3."""
    lifecycle = shipped(lines, policy)
    lifecycle.send("collect", initiator=PLATFORM, origin=Origin.TIKTOK, now=at(hours=5))
    lifecycle.send("deliver", initiator=PLATFORM, origin=Origin.TIKTOK, now=at(days=3))
    return lifecycle


def kinds(effects: tuple[object, ...]) -> list[str]:
    return [type(effect).__name__ for effect in effects]
