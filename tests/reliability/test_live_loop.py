"""The live loop end to end, in real processes on 127.0.0.1.

A fake TikTok Shop, written here from TikTok's documented 202309 shapes (not
the library's sandbox), holds the truth about a shop's orders. `serve`
receives signed webhooks about orders the store has never seen; `work
--partners` reads what the webhooks leave out and applies them; `sync`
heals an order whose webhooks were all lost; `show --json` shows each order
in TikTok's state.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from adapters.partners.tiktok_shop import webhook_signature
from tests.reliability._procs import Processes
from tests.reliability.workload import APP_KEY, APP_SECRET

pytestmark = pytest.mark.reliability

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
        with self.lock:
            self.reads.append(path)
            if (method, path) == ("GET", "/order/202309/orders"):
                ids = query["ids"].split(",")
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


@pytest.fixture
def tiktok() -> Iterator[tuple[TikTok, str]]:
    state = TikTok()

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
            self.wfile.write(payload)

        do_GET = do_POST = _serve

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def signed_post(url: str, kind: int, data: dict[str, Any], at: datetime) -> httpx.Response:
    body = json.dumps(
        {"type": kind, "shop_id": SHOP, "timestamp": seconds(at), "data": data}
    ).encode()
    headers = {"Authorization": webhook_signature(body, APP_KEY, APP_SECRET)}
    return httpx.post(f"{url}/webhooks/tiktok", content=body, headers=headers, timeout=30)


def test_webhooks_about_unknown_orders_are_read_applied_and_healed_by_sync(
    tmp_path: Path, tiktok: tuple[TikTok, str]
) -> None:
    state, base = tiktok
    db = f"sqlite:///{tmp_path}/live.db"
    partners = tmp_path / "partners.json"
    partners.write_text(
        json.dumps(
            {
                "tiktok_shop": {
                    "app_key": APP_KEY,
                    "app_secret": APP_SECRET,
                    "shops": {
                        SHOP: {
                            "shop_cipher": CIPHER,
                            "access_token": TOKEN,
                            "refresh_token": "refresh",
                        }
                    },
                    "auth_base_url": base,
                    "settings": {"base_url": base},
                }
            }
        )
    )
    procs = Processes(tmp_path)
    try:
        _serve, url = procs.serve(db)
        state.orders["A"] = detail("A", "AWAITING_SHIPMENT", 3, PAID + timedelta(hours=1))
        state.orders["B"] = detail("B", "AWAITING_SHIPMENT", 2, PAID + timedelta(hours=1))
        first = PAID + timedelta(hours=1)
        for order_id in ("A", "B"):
            data = {
                "order_id": order_id,
                "order_status": "AWAITING_SHIPMENT",
                "update_time": seconds(first),
            }
            assert signed_post(url, 1, data, NOW).status_code == 200
        # A correctly signed webhook of a type the library does not use: kept, 200.
        assert signed_post(url, 5, {"product_id": "P-1"}, NOW).status_code == 200

        def work() -> str:
            proc = procs.start("work", "--once", "--partners", str(partners), db=db)
            assert proc.wait() == 0, proc.stderr()
            return proc.stdout()

        def show(order_id: str) -> dict[str, Any]:
            proc = procs.start("show", order_id, "--json", db=db)
            assert proc.wait() == 0, proc.stderr()
            shown: dict[str, Any] = json.loads(proc.stdout())
            return shown

        out = work()
        assert "inputs waiting: 0" in out
        assert show("A")["status"] == "AWAITING_SHIPMENT"
        assert show("B")["status"] == "AWAITING_SHIPMENT"

        # The buyer asks to cancel one line of A's three; the seller ships B in
        # Seller Center. The webhooks name neither the line nor the parcel.
        later = PAID + timedelta(hours=2)
        state.cancellations.append(
            {
                "cancel_id": "C-1",
                "order_id": "A",
                "cancel_status": "CANCELLATION_REQUEST_PENDING",
                "cancellations_role": "BUYER",
                "cancel_reason": "Changed my mind",
                "cancel_line_items": [{"order_line_item_id": "A-L2"}],
                "create_time": seconds(later),
                "update_time": seconds(later),
            }
        )
        cancel = {
            "order_id": "A",
            "cancel_id": "C-1",
            "cancellations_role": "BUYER",
            "cancel_status": "CANCELLATION_REQUEST_PENDING",
            "create_time": seconds(later),
        }
        assert signed_post(url, 11, cancel, NOW).status_code == 200
        b = state.orders["B"]
        for line in b["line_items"]:
            shipped(line, "PKG-B", "1ZB", "AWAITING_COLLECTION")
        b.update(status="AWAITING_COLLECTION", update_time=seconds(later))
        package = {
            "sc_type": "SPLIT",
            "role_type": "SELLER",
            "package_list": [{"package_id": "PKG-B", "order_id_list": ["B"]}],
            "update_time": seconds(later),
        }
        assert signed_post(url, 4, package, NOW).status_code == 200

        work()
        a = show("A")
        assert a["status"] == "AWAITING_SHIPMENT"
        assert a["waiting"] == []
        assert a["history"][-1]["event"] == "request_cancellation"

        # TikTok approves the request (the seller let its window run out).
        state.cancellations[0].update(
            cancel_status="CANCELLATION_REQUEST_SUCCESS", update_time=seconds(later) + 60
        )
        approved = {**cancel, "cancel_status": "CANCELLATION_REQUEST_SUCCESS"}
        assert signed_post(url, 11, approved, NOW).status_code == 200
        work()
        a = show("A")
        assert a["status"] == "AWAITING_SHIPMENT", "one line of three: the order goes on"
        assert [(ln["line_item_id"], ln["status"]) for ln in a["lines"]] == [
            ("A-L1", "OPEN"),
            ("A-L2", "CANCELLED"),
            ("A-L3", "OPEN"),
        ]
        b_shown = show("B")
        assert b_shown["status"] == "AWAITING_COLLECTION"
        assert {(ln["tracking_number"], ln["package_id"]) for ln in b_shown["lines"]} == {
            ("1ZB", "PKG-B")
        }
        [shipping] = [e for e in b_shown["effects"] if e["kind"] == "UpdateSfccShipping"]
        assert shipping["tracking_number"] == "1ZB"

        # C's webhooks were all lost: only the catch-up can know it.
        c = detail("C", "IN_TRANSIT", 1, later)
        shipped(c["line_items"][0], "PKG-C", "1ZC", "IN_TRANSIT")
        state.orders["C"] = c
        since = (PAID - timedelta(minutes=1)).isoformat()
        proc = procs.start("sync", "--since", since, "--partners", str(partners), db=db)
        assert proc.wait() == 0, proc.stderr()
        assert "1 unknown (seeded)" in proc.stdout()
        c_shown = show("C")
        assert c_shown["status"] == "IN_TRANSIT"
        assert c_shown["lines"][0]["tracking_number"] == "1ZC"
        reads = list(state.reads)
        assert reads.count("/order/202309/orders") == 2, reads
    finally:
        procs.stop_all()
