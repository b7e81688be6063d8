"""A TikTok Shop that holds orders, as an `httpx.MockTransport` handler.

Written from TikTok's documented 202309 shapes (Get Order Detail, Search
Orders, Search Cancellations, Search Returns; envelope `{code, message,
request_id, data}`), not from the library's own builders, so the tests
that read from it check the library against TikTok's wire, not against
itself. Every call is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.http import RetryPolicy
from adapters.partners.tiktok_shop import (
    TikTokShopAuth,
    TikTokShopClient,
    TikTokShopSettings,
    TokenSet,
)

SHOP = "7494049642642441621"
BASE = "https://open-api.test"
NO_RETRIES = RetryPolicy(attempts=1)


def seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def line(line_id: str, sku: str = "MUG", price: str = "12.50", **more: Any) -> dict[str, Any]:
    """A Get Order Detail `line_items[]` entry (202309: one unit per line item)."""
    return {
        "id": line_id,
        "sku_id": f"SKU-{line_id}",
        "seller_sku": sku,
        "product_id": f"P-{line_id}",
        "product_name": f"Mug {line_id}",
        "sale_price": price,
        "original_price": "15.00",
        "display_status": more.pop("display_status", "AWAITING_SHIPMENT"),
        **more,
    }


def order(
    order_id: str,
    status: str,
    created: datetime,
    *,
    lines: int = 2,
    updated: datetime | None = None,
) -> dict[str, Any]:
    """A Get Order Detail `orders[]` object with `lines` open line items."""
    return {
        "id": order_id,
        "status": status,
        "create_time": seconds(created),
        "update_time": seconds(updated or created),
        "paid_time": seconds(created),
        "payment": {"currency": "USD", "sub_total": "25.00", "total_amount": "25.00"},
        "line_items": [line(f"{order_id}-L{i}") for i in range(1, lines + 1)],
        "delivery_option_id": "DO-1",
    }


class FakeShop:
    """TikTok Shop's order reads, answering from what it holds; `calls` counts them."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.cancellations: list[dict[str, Any]] = []
        self.returns: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str, Any]] = []
        self.fail_next: list[httpx.Response] = []

    # ------------------------------------------------------------------ holding

    def put(self, detail: dict[str, Any]) -> None:
        self.orders[detail["id"]] = detail

    def ship(
        self, order_id: str, line_ids: list[str], package: str, tracking: str, at: datetime
    ) -> None:
        """The seller shipped some lines in Seller Center: TikTok's detail shows the parcel."""
        detail = self.orders[order_id]
        for item in detail["line_items"]:
            if item["id"] in line_ids:
                item.update(
                    display_status="AWAITING_COLLECTION",
                    package_id=package,
                    tracking_number=tracking,
                    shipping_provider_id="SP-UPS",
                    shipping_provider_name="UPS",
                )
        open_left = any(i["display_status"] == "AWAITING_SHIPMENT" for i in detail["line_items"])
        detail["status"] = "PARTIALLY_SHIPPING" if open_left else "AWAITING_COLLECTION"
        detail["packages"] = [{"id": package}]
        detail["update_time"] = seconds(at)

    # ------------------------------------------------------------------ answering

    def calls_to(self, path: str) -> list[Any]:
        return [payload for _method, p, payload in self.calls if p == path]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.params["shop_cipher"] == "CIPHER"
        body = json.loads(request.content) if request.content else {}
        path = request.url.path
        payload = dict(request.url.params) if request.method == "GET" else body
        self.calls.append((request.method, path, payload))
        if self.fail_next:
            return self.fail_next.pop(0)
        if (request.method, path) == ("GET", "/order/202309/orders"):
            ids = request.url.params["ids"].split(",")
            assert len(ids) <= 50, "Get Order Detail takes at most 50 ids"
            found = [self.orders[i] for i in ids if i in self.orders]
            return self._data({"orders": found})
        if (request.method, path) == ("POST", "/order/202309/orders/search"):
            return self._page(list(self.orders.values()), body, "orders", request)
        if (request.method, path) == ("POST", "/return_refund/202309/cancellations/search"):
            items = _having(self.cancellations, "cancel_id", body.get("cancel_ids"))
            return self._page(items, body, "cancellations", request)
        if (request.method, path) == ("POST", "/return_refund/202309/returns/search"):
            items = _having(self.returns, "return_id", body.get("return_ids"))
            return self._page(items, body, "return_orders", request)
        raise AssertionError(f"unexpected call {request.method} {path}")

    def _page(
        self, items: list[dict[str, Any]], body: dict[str, Any], key: str, request: httpx.Request
    ) -> httpx.Response:
        low, high = body.get("update_time_ge"), body.get("update_time_lt")
        chosen = [
            item
            for item in items
            if (low is None or item["update_time"] >= low)
            and (high is None or item["update_time"] < high)
        ]
        size = int(request.url.params.get("page_size", "20"))
        start = int(request.url.params.get("page_token") or 0)
        page = chosen[start : start + size]
        token = str(start + size) if start + size < len(chosen) else ""
        return self._data({key: page, "next_page_token": token, "total_count": len(chosen)})

    @staticmethod
    def _data(data: Any) -> httpx.Response:
        return httpx.Response(
            200, json={"code": 0, "message": "Success", "request_id": "RID", "data": data}
        )

    def client(self) -> TikTokShopClient:
        http = httpx.Client(transport=httpx.MockTransport(self))
        auth = TikTokShopAuth(
            app_key="KEY",
            app_secret="app-secret",
            tokens=TokenSet("access", "refresh"),
            shop_cipher="CIPHER",
            clock=lambda: 1_700_000_000,
        )
        settings = TikTokShopSettings(base_url=BASE, search_page_size=2)
        return TikTokShopClient(http, auth, settings=settings, retry=NO_RETRIES)

    def client_for(self) -> Callable[[str], TikTokShopClient]:
        client = self.client()
        return lambda _shop: client


def _having(items: list[dict[str, Any]], key: str, wanted: list[str] | None) -> list[Any]:
    return [item for item in items if wanted is None or item[key] in wanted]


def webhook(kind: int, data: dict[str, Any], at: datetime, shop: str = SHOP) -> bytes:
    """A webhook envelope as TikTok posts it."""
    return json.dumps(
        {"type": kind, "shop_id": shop, "timestamp": seconds(at) + 1, "data": data}
    ).encode()


def now_utc() -> datetime:
    return datetime.now(UTC)
