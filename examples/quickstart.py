"""A TikTok Shop order through its lifecycle: hold, release, shipment, delivery, completion.

Run it with `python examples/quickstart.py`. It prints, at each step, what
each party may do and the partner calls the change asks for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from lifecycle import Initiator, Order, OrderLifecycle, OrderLine, Origin


def main() -> None:
    placed = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    order = Order(
        order_id="576461413038785752",
        shop_id="7494049642642441621",
        currency="USD",
        created_at=placed,
        lines=[
            OrderLine(
                "L1",
                sku_id="1729",
                seller_sku="MUG-RED",
                product_name="Red mug",
                sale_price=Decimal("12.50"),
                original_price=Decimal("15.00"),
            ),
            OrderLine(
                "L2",
                sku_id="1730",
                seller_sku="MUG-BLUE",
                product_name="Blue mug",
                sale_price=Decimal("12.50"),
                original_price=Decimal("15.00"),
            ),
        ],
        sub_total=Decimal("25.00"),
        total_amount=Decimal("25.00"),
    )
    lifecycle = OrderLifecycle(order)

    def step(title: str, effects: tuple[object, ...], now: datetime) -> None:
        print(f"\n== {title}: order is {lifecycle.status}")
        for effect in effects:
            print(f"   effect  {effect}")
        for who in Initiator:
            print(f"   {who.lower():<8} may {', '.join(lifecycle.allowed(who, now=now)) or '-'}")

    now = placed
    step("TikTok reports payment", lifecycle.send("pay", initiator="BUYER", now=now), now)

    now += timedelta(minutes=20)
    refused = lifecycle.check(
        "ship", initiator="SELLER", now=now, tracking_number="1Z999", shipping_provider_name="UPS"
    )
    print(f"\n   ship during the hold? {refused.allowed}: {refused.reason}")

    now = placed + timedelta(hours=1, minutes=1)
    print(f"\n   timers due at {now:%H:%M}: {lifecycle.due(now)}")
    step("the hold is over", lifecycle.run_due(now), now)

    now += timedelta(hours=3)
    effects = lifecycle.send(
        "ship", initiator="SELLER", now=now, tracking_number="1Z999", shipping_provider_name="UPS"
    )
    step("the seller ships from the OMS", effects, now)

    refused = lifecycle.check("cancel", initiator="SELLER", now=now)
    print(f"\n   seller cancel now? {refused.allowed}: {refused.reason}")

    now += timedelta(hours=5)
    step(
        "TikTok reports collection",
        lifecycle.send("collect", initiator="PLATFORM", origin=Origin.TIKTOK, now=now),
        now,
    )
    now += timedelta(days=2)
    step(
        "TikTok reports delivery",
        lifecycle.send("deliver", initiator="PLATFORM", origin=Origin.TIKTOK, now=now),
        now,
    )

    now += timedelta(days=15)
    step("the return window is over", lifecycle.run_due(now), now)

    print("\n== history")
    for record in lifecycle.order.history:
        print(
            f"   {record.at:%Y-%m-%d %H:%M} {record.event:<13} {record.source} -> "
            f"{record.target} by {record.initiator} via {record.origin}"
        )


if __name__ == "__main__":
    main()
