"""A fake TikTok Shop written from TikTok's documented 202309 shapes (not the
library's sandbox), served on 127.0.0.1 by the standard library.

It checks the signature, app key, `shop_cipher` and access token of every
call, answers Get Order Detail, Search Orders, Search Cancellations and Search
Returns from what a test puts in it, and keeps every read it answered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.reliability.workload import APP_KEY, APP_SECRET

SHOP = "7494049642642441621"
CIPHER = "ROW_cipher"
TOKEN = "shop-access-token"
NOW = datetime.now(UTC).replace(microsecond=0)
PAID = NOW - timedelta(hours=3)


def seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def item(line_id: str, **more: Any) -> dict[str, Any]:
    return {
        "id": line_id,
        "sku_id": f"SKU-{line_id}",
        "seller_sku": f"MUG-{line_id}",
        "product_id": "P-1",
        "product_name": "Mug",
        "sale_price": "12.50",
        "original_price": "15.00",
        "display_status": "AWAITING_SHIPMENT",
        **more,
    }


def detail(order_id: str, status: str, lines: int, updated: datetime) -> dict[str, Any]:
    return {
        "id": order_id,
        "status": status,
        "create_time": seconds(PAID),
        "paid_time": seconds(PAID),
        "update_time": seconds(updated),
        "payment": {"currency": "USD", "sub_total": "37.50", "total_amount": "37.50"},
        "line_items": [item(f"{order_id}-L{i}") for i in range(1, lines + 1)],
        "delivery_option_id": "DO-1",
    }


def shipped(line: dict[str, Any], package: str, tracking: str, display: str) -> None:
    line.update(
        display_status=display,
        package_id=package,
        tracking_number=tracking,
        shipping_provider_id="SP-1",
        shipping_provider_name="UPS",
    )


class TikTok:
    """What the fake TikTok holds, and every read it answered."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.cancellations: list[dict[str, Any]] = []
        self.reads: list[str] = []
        #: the ids of each Get Order Detail call, in the order they came
        self.detail_calls: list[list[str]] = []
        #: called with a Get Order Detail call's ids before it is answered, outside
        #: the lock (a test may block there to hold the call in flight)
        self.before_detail: Callable[[list[str]], None] | None = None
        self.lock = threading.Lock()

    def sign_ok(self, path: str, query: dict[str, str], body: bytes, method: str) -> bool:
        text = path + "".join(
            k + v for k, v in sorted(query.items()) if k not in ("sign", "access_token")
        )
        wrapped = APP_SECRET.encode() + text.encode()
        wrapped += (b"" if method == "GET" else body) + APP_SECRET.encode()
        expected = hmac.new(APP_SECRET.encode(), wrapped, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, query.get("sign", ""))

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> Any:
        if (method, path) == ("GET", "/order/202309/orders"):
            ids = query["ids"].split(",")
            with self.lock:
                self.detail_calls.append(ids)
            if self.before_detail is not None:
                self.before_detail(ids)
        with self.lock:
            self.reads.append(path)
            if (method, path) == ("GET", "/order/202309/orders"):
                return {"orders": [self.orders[i] for i in ids if i in self.orders]}
            low, high = body.get("update_time_ge", 0), body.get("update_time_lt", 2**40)
            if (method, path) == ("POST", "/order/202309/orders/search"):
                found = [o for o in self.orders.values() if low <= o["update_time"] < high]
                return {"orders": found, "next_page_token": "", "total_count": len(found)}
            if (method, path) == ("POST", "/return_refund/202309/cancellations/search"):
                wanted = body.get("cancel_ids")
                found = [
                    c
                    for c in self.cancellations
                    if (wanted is None or c["cancel_id"] in wanted)
                    and (wanted is not None or low <= c["update_time"] < high)
                ]
                return {"cancellations": found, "next_page_token": "", "total_count": len(found)}
            if (method, path) == ("POST", "/return_refund/202309/returns/search"):
                return {"return_orders": [], "next_page_token": "", "total_count": 0}
        raise KeyError(path)


@contextmanager
def running(state: TikTok) -> Iterator[str]:
    """Serve `state` on a free port of 127.0.0.1; its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            query = dict(parse_qsl(url.query))
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            envelope: dict[str, Any]
            if query.get("app_key") != APP_KEY or not state.sign_ok(
                url.path, query, raw, self.command
            ):
                envelope = {"code": 106001, "message": "Invalid signature", "request_id": "R"}
            elif (
                query.get("shop_cipher") != CIPHER
                or self.headers.get("x-tts-access-token") != TOKEN
            ):
                envelope = {"code": 105002, "message": "Invalid credentials", "request_id": "R"}
            else:
                body = json.loads(raw) if raw else {}
                try:
                    data = state.answer(self.command, url.path, query, body)
                except KeyError:
                    self.send_error(404)
                    return
                envelope = {"code": 0, "message": "Success", "request_id": "R", "data": data}
            payload = json.dumps(envelope).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                return  # the caller was killed while its call was in flight

        do_GET = do_POST = _serve

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def partners_file(base: str) -> str:
    """A partners file's JSON that reads the shop `SHOP` from the fake at `base`."""
    return json.dumps(
        {
            "tiktok_shop": {
                "app_key": APP_KEY,
                "app_secret": APP_SECRET,
                "shops": {
                    SHOP: {"shop_cipher": CIPHER, "access_token": TOKEN, "refresh_token": "refresh"}
                },
                "auth_base_url": base,
                "settings": {"base_url": base},
            }
        }
    )
