"""Orders and MockTransport helpers shared by the reporting and SFCC adapter tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from adapters.http import RetryPolicy
from adapters.partners.sync_order_info import StayRecord, SyncOrderData
from lifecycle import Order, OrderLine, Recipient

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
T0_SECONDS = 1795167000
DONE = T0 + timedelta(days=3)
DONE_SECONDS = T0_SECONDS + 3 * 86400

ORDER_ID = "576461413038785752"
SHOP_ID = "7494049642642441621"
EMAIL = " Jane.Doe@Example.COM "
PHONE = "(415) 555-0123"
CLEAR_PII = (
    "Jane.Doe@Example.COM",
    "jane.doe@example.com",
    "(415) 555-0123",
    "+14155550123",
    "4155550123",
    "415-555-0123",
)
FAST = RetryPolicy(
    attempts=3,
    timeout=timedelta(seconds=5),
    wait_initial=timedelta(milliseconds=1),
    wait_max=timedelta(milliseconds=2),
    wait_jitter=timedelta(0),
)


def _line(line_id: str, sku: str, seller_sku: str, name: str, price: str) -> OrderLine:
    return OrderLine(
        line_id,
        sku_id=sku,
        seller_sku=seller_sku,
        product_name=name,
        sale_price=Decimal(price),
        original_price=Decimal(price),
        product_id="HOTEL-1",
    )


def hotel_order(**changes: Any) -> Order:
    """Two nights in a deluxe room (two 202309 unit lines) and a breakfast.

    Money: sub_total 380.00 after 40.00 of discounts, 15.00 fees, 38.00 tax,
    433.00 paid.
    """
    fields: dict[str, Any] = {
        "order_id": ORDER_ID,
        "shop_id": SHOP_ID,
        "currency": "USD",
        "created_at": T0,
        "lines": [
            _line("L1", "SKU-DLX", "ROOM-DLX", "Deluxe King", "180.00"),
            _line("L2", "SKU-DLX", "ROOM-DLX", "Deluxe King", "180.00"),
            _line("L3", "SKU-BRK", "BREAKFAST", "Breakfast", "20.00"),
        ],
        "sub_total": Decimal("380.00"),
        "seller_discount": Decimal("30.00"),
        "platform_discount": Decimal("10.00"),
        "shipping_fee": Decimal("15.00"),
        "taxes": Decimal("38.00"),
        "total_amount": Decimal("433.00"),
        "recipient": Recipient(
            name="Jane Doe",
            full_address="1 Main St",
            city="San Francisco",
            state="CA",
            zipcode="94105",
            phone=PHONE,
            region_code="US",
        ),
        "buyer_email": EMAIL,
        "buyer_message": "late arrival",
    }
    fields.update(changes)
    return Order(**fields)


STAY = StayRecord(date(2026, 12, 1), date(2026, 12, 3), rooms=2, actual_occupancy=3, no_show=False)

COMPLETE_DATA = SyncOrderData(
    stay=STAY,
    ttoclid="opfed89ds90132344n2dkkl12321s321va",
    order_url="https://hotel.example/orders/576461413038785752",
    spu_name="Harbour Hotel Rooms",
    fulfillment_value=Decimal("433.00"),
    fulfillment_tax=Decimal("38.00"),
    fulfillment_service_fee=Decimal("15.00"),
    commission_base_amount=Decimal("380.00"),
    commission_currency="USD",
    promotion_id="PROMO-1",
    promotion_description="Winter sale",
    promotion_saved_amount=Decimal("30.00"),
)

Handler = Callable[[httpx.Request], httpx.Response]


def mock_client(handler: Handler) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def async_mock_client(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def body_of(request: httpx.Request) -> Any:
    """A sent JSON body, with numbers that have a fraction as `Decimal`."""
    return json.loads(request.content, parse_float=Decimal)


def tiktok_ok(request_id: str = "req-1") -> httpx.Response:
    return httpx.Response(200, json={"code": 0, "message": "OK", "request_id": request_id})
