"""Write adapters/sandbox/samples/demo.jsonl: the bundled sample `order-lifecycle demo` replays.

Run `python scripts/make_demo_sample.py` (it is deterministic: the same file
every time). Dozens of orders cover every path of the rules in docs/rules.md, as
the inputs an OMS would see: Get Order Detail objects (the demo gives them to
the fake TikTok Shop for its order book: the store reads them from there), TikTok
webhooks in TikTok's envelope (`type`, `tts_notification_id`,
`shop_id`, `timestamp`, `data`), the seller's actions in the OMS, and clock
ticks. A few webhooks arrive twice, one arrives late (stale), and one carries
a status this library does not know, as happens in the field.

Sync Order Information is TikTok's hotel / travel order feed and needs a
stay record and fulfilment amounts that TikTok's order does not carry. The
sample shop sells mugs and, like any retail shop, reports to neither TikTok
feed (the default policy). Its OMS still keeps a stay in each order's
`extensions`, so that `order-lifecycle demo --config FILE` with
`report_sync_order_info = true` can show that feed end to end; the retail
path needs none of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from adapters.partners.tiktok_shop import detail_from_order
from lifecycle import Order, OrderLine, Recipient

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "adapters" / "sandbox" / "samples" / "demo.jsonl"
SHOP_ID = "7494049642642441621"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

PRODUCTS = [
    ("1729382256910", "MUG-RED", "Red enamel mug", "12.50"),
    ("1729382256911", "MUG-BLUE", "Blue enamel mug", "12.50"),
    ("1729382256912", "TOTE-NAT", "Canvas tote bag", "18.00"),
    ("1729382256913", "CANDLE-FIG", "Fig candle", "24.00"),
]
CITIES = [("San Francisco", "CA", "94105"), ("Austin", "TX", "73301"), ("Denver", "CO", "80202")]


class Sample:
    """Collects timed lines, then writes them in time order."""

    def __init__(self) -> None:
        self.lines: list[tuple[datetime, int, dict[str, Any]]] = []
        self.notification = 7327000000000000000

    def add(self, at: datetime, line: dict[str, Any]) -> dict[str, Any]:
        self.lines.append((at, len(self.lines), line))
        return line

    def webhook(self, at: datetime, kind: int, data: dict[str, Any]) -> dict[str, Any]:
        self.notification += 7919
        envelope = {
            "type": kind,
            "tts_notification_id": str(self.notification),
            "shop_id": SHOP_ID,
            "timestamp": int(at.timestamp()) + 3,
            "data": data,
        }
        return self.add(at, envelope)

    def again(self, at: datetime, line: dict[str, Any]) -> None:
        """TikTok delivers the same notification a second time."""
        self.add(at, line)

    def write(self, path: Path) -> int:
        ordered = sorted(self.lines, key=lambda item: (item[0], item[1]))
        text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for _, _, line in ordered)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return len(ordered)


def _seconds(at: datetime) -> int:
    return int(at.timestamp())


class Shop:
    """One order's inputs, built step by step."""

    def __init__(self, sample: Sample, number: int, lines: int = 2, packages: int = 1) -> None:
        self.sample = sample
        self.order_id = f"5764614130{number:08d}"
        self.placed = T0 + timedelta(minutes=number)
        self.line_ids = [f"{self.order_id[-6:]}{i:02d}" for i in range(1, lines + 1)]
        self.packages = [f"11529{number:05d}{p}" for p in range(1, packages + 1)]
        prices = []
        order_lines = []
        for i, line_id in enumerate(self.line_ids):
            sku, seller_sku, name, price = PRODUCTS[(number + i) % len(PRODUCTS)]
            prices.append(Decimal(price))
            order_lines.append(
                OrderLine(
                    line_id,
                    sku_id=sku,
                    seller_sku=seller_sku,
                    product_name=name,
                    product_id=f"PRD-{seller_sku}",
                    sale_price=Decimal(price),
                    original_price=Decimal(price),
                    package_id=self.packages[min(i, packages - 1)],
                )
            )
        sub_total = sum(prices, Decimal(0))
        shipping, taxes = Decimal("4.99"), (sub_total * Decimal("0.08")).quantize(Decimal("0.01"))
        city, state, zipcode = CITIES[number % len(CITIES)]
        self.order = Order(
            order_id=self.order_id,
            shop_id=SHOP_ID,
            currency="USD",
            created_at=self.placed,
            updated_at=self.placed,
            lines=order_lines,
            sub_total=sub_total,
            shipping_fee=shipping,
            taxes=taxes,
            total_amount=sub_total + shipping + taxes,
            payment_method="CREDIT_CARD",
            recipient=Recipient(
                name=f"Buyer {number}",
                full_address=f"{100 + number} Market St",
                city=city,
                state=state,
                zipcode=zipcode,
                phone=f"+1415555{number:04d}",
                region_code="US",
            ),
            buyer_email=f"buyer{number}@example.com",
        )
        total = self.order.total_amount
        self.extensions = {
            "sync_order_info": {
                "stay": {"check_in": "2026-12-01", "check_out": "2026-12-03", "rooms": 1},
                "fulfillment_value": str(total),
                "fulfillment_tax": str(taxes),
                "fulfillment_service_fee": str(shipping),
                "commission_base_amount": str(sub_total),
            }
        }

    # --------------------------------------------------------------- TikTok's side

    def seed(self) -> Shop:
        self.sample.add(
            self.placed,
            {
                "order_detail": detail_from_order(self.order),
                "shop_id": SHOP_ID,
                "extensions": self.extensions,
            },
        )
        return self

    def status(self, at: datetime, status: str, **extra: Any) -> dict[str, Any]:
        data = {"order_id": self.order_id, "order_status": status, "update_time": _seconds(at)}
        data.update(extra)
        return self.sample.webhook(at, 1, data)

    def paid(self) -> Shop:
        self.status(self.placed + timedelta(minutes=2), "ON_HOLD", is_on_hold_order=True)
        return self

    def cancellation(self, at: datetime, status: str, cancel_id: str) -> dict[str, Any]:
        return self.sample.webhook(
            at,
            11,
            {
                "order_id": self.order_id,
                "cancel_id": cancel_id,
                "cancellations_role": "BUYER",
                "cancel_status": status,
                "create_time": _seconds(at),
            },
        )

    def ret(self, at: datetime, status: str, return_id: str, return_type: str) -> None:
        self.sample.webhook(
            at,
            12,
            {
                "order_id": self.order_id,
                "return_id": return_id,
                "return_role": "BUYER",
                "return_type": return_type,
                "return_status": status,
                "create_time": _seconds(at),
                "update_time": _seconds(at),
            },
        )

    # --------------------------------------------------------------- the OMS's side

    def command(self, at: datetime, event: str, **params: Any) -> None:
        line = {
            "command": event,
            "order_id": self.order_id,
            "initiator": "SELLER",
            "at": at.isoformat(),
        }
        line.update(params)
        self.sample.add(at, line)

    def ship(self, at: datetime, lines: list[str] | None = None, package: int = 0) -> None:
        self.command(
            at,
            "ship",
            line_item_ids=lines or self.line_ids,
            package_id=self.packages[package],
            tracking_number=f"1Z999AA1{self.order_id[-8:]}{package}",
            shipping_provider_id="7117858858072016686",
            shipping_provider_name="UPS",
        )

    def travel(self, shipped: datetime) -> None:
        self.status(shipped + timedelta(hours=20), "IN_TRANSIT")
        self.status(shipped + timedelta(days=2), "DELIVERED")


def build() -> Sample:
    sample = Sample()
    number = iter(range(1, 1000))
    day, hour = timedelta(days=1), timedelta(hours=1)
    after_hold = T0 + 3 * hour

    def orders(count: int, scenario: Callable[[Shop], None], **shape: int) -> None:
        for _ in range(count):
            shop = Shop(sample, next(number), **shape).seed().paid()
            scenario(shop)

    def completed(shop: Shop) -> None:
        shop.ship(after_hold + 2 * hour)
        shop.travel(after_hold + 2 * hour)

    def buyer_cancels_in_hold(shop: Shop) -> None:
        shop.cancellation(
            shop.placed + 20 * timedelta(minutes=1),
            "CANCELLATION_REQUEST_COMPLETE",
            f"CX{shop.order_id[-5:]}",
        )

    def request_approved(shop: Shop) -> None:
        cancel_id = f"CA{shop.order_id[-5:]}"
        shop.cancellation(after_hold + hour, "CANCELLATION_REQUEST_PENDING", cancel_id)
        shop.command(after_hold + 3 * hour, "approve_cancellation", cancel_id=cancel_id)

    def request_rejected(shop: Shop) -> None:
        cancel_id = f"CR{shop.order_id[-5:]}"
        shop.cancellation(after_hold + hour, "CANCELLATION_REQUEST_PENDING", cancel_id)
        shop.command(
            after_hold + 2 * hour,
            "reject_cancellation",
            cancel_id=cancel_id,
            reason="already packed",
        )
        shop.ship(after_hold + 3 * hour)
        shop.travel(after_hold + 3 * hour)

    def request_auto_approved(shop: Shop) -> None:
        shop.cancellation(
            after_hold + hour, "CANCELLATION_REQUEST_PENDING", f"CT{shop.order_id[-5:]}"
        )

    def seller_cancels(shop: Shop) -> None:
        shop.command(after_hold + 2 * hour, "cancel", reason="out of stock")

    def seller_cancels_pending_request(shop: Shop) -> None:
        cancel_id = f"CP{shop.order_id[-5:]}"
        shop.cancellation(after_hold + hour, "CANCELLATION_REQUEST_PENDING", cancel_id)
        shop.command(after_hold + 2 * hour, "cancel", reason="buyer asked")

    def fraud_before_shipment(shop: Shop) -> None:
        shop.status(after_hold + 4 * hour, "CANCELLED")

    def fraud_after_shipment(shop: Shop) -> None:
        shipped = after_hold + 2 * hour
        shop.ship(shipped)
        shop.status(shipped + 20 * hour, "IN_TRANSIT")
        shop.status(shipped + day + 6 * hour, "CANCELLED")

    def never_shipped(shop: Shop) -> None:
        """TikTok's SLA timer cancels it after 15 days."""

    def partial_shipment(shop: Shop) -> None:
        first = after_hold + 2 * hour
        shop.ship(first, [shop.line_ids[0]], package=0)
        shop.ship(first + day, [shop.line_ids[1]], package=1)
        shop.travel(first + day)

    def returned(return_type: str) -> Callable[[Shop], None]:
        def scenario(shop: Shop) -> None:
            shipped = after_hold + 2 * hour
            shop.ship(shipped)
            shop.travel(shipped)
            return_id = f"R{return_type[0]}{shop.order_id[-5:]}"
            asked = shipped + 3 * day
            shop.ret(asked, "RETURN_OR_REFUND_REQUEST_PENDING", return_id, return_type)
            shop.command(asked + 2 * hour, "approve_return", return_id=return_id)
            if return_type != "REFUND":
                shop.ret(asked + 2 * day, "BUYER_SHIPPED_ITEM", return_id, return_type)
            shop.ret(asked + 4 * day, "RETURN_OR_REFUND_REQUEST_SUCCESS", return_id, return_type)

        return scenario

    orders(6, completed)
    orders(3, buyer_cancels_in_hold, lines=1)
    orders(3, request_approved)
    orders(3, request_rejected)
    orders(3, request_auto_approved)
    orders(3, seller_cancels)
    orders(3, seller_cancels_pending_request)
    orders(3, fraud_before_shipment)
    orders(3, fraud_after_shipment)
    orders(3, never_shipped, lines=1)
    orders(3, partial_shipment, packages=2)
    orders(3, returned("RETURN_AND_REFUND"))
    orders(2, returned("REFUND"))

    # Field noise: duplicates, a late (stale) report, a status nobody documented.
    late = Shop(sample, next(number)).seed().paid()
    shipped = after_hold + 2 * hour
    late.ship(shipped)
    released_report = {
        "order_id": late.order_id,
        "order_status": "AWAITING_SHIPMENT",
        "update_time": _seconds(T0 + 2 * hour),
    }
    late.status(shipped + 20 * hour, "IN_TRANSIT")
    sample.webhook(shipped + 22 * hour, 1, released_report)  # arrives after IN_TRANSIT: stale
    dup = Shop(sample, next(number)).seed()
    paid = dup.status(dup.placed + timedelta(minutes=2), "ON_HOLD", is_on_hold_order=True)
    sample.again(dup.placed + timedelta(minutes=9), paid)
    dup.ship(after_hold + 2 * hour)
    delivered = dup.status(after_hold + 2 * day, "DELIVERED")
    sample.again(after_hold + 2 * day + hour, delivered)
    odd = Shop(sample, next(number)).seed().paid()
    odd.status(after_hold + 5 * hour, "AWAITING_PICKUP")  # unknown: rejected, nothing changes
    odd.ship(after_hold + 6 * hour)
    odd.travel(after_hold + 6 * hour)

    # The clock: holds end, requests time out, the SLA runs out, return windows close.
    for at in (T0 + 2 * hour, after_hold + 2 * day + hour, T0 + 16 * day, T0 + 40 * day):
        sample.add(at, {"tick": at.isoformat()})
    return sample


def main() -> None:
    count = build().write(OUT)
    print(f"wrote {count} lines to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
