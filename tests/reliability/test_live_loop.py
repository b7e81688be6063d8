"""The live loop end to end, in real processes on 127.0.0.1.

A fake TikTok Shop, written from TikTok's documented 202309 shapes (not the
library's sandbox: `tests/reliability/_tiktok.py`), holds the truth about a
shop's orders. `serve` receives signed webhooks about orders the store has
never seen; `work --partners` reads what the webhooks leave out and applies them; `sync`
heals an order whose webhooks were all lost; `show --json` shows each order
in TikTok's state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.partners.tiktok_shop import webhook_signature
from tests.reliability._procs import Processes
from tests.reliability._tiktok import (
    NOW,
    PAID,
    SHOP,
    TikTok,
    detail,
    partners_file,
    running,
    seconds,
    shipped,
)
from tests.reliability.workload import APP_KEY, APP_SECRET

pytestmark = pytest.mark.reliability


@pytest.fixture
def tiktok() -> Iterator[tuple[TikTok, str]]:
    state = TikTok()
    with running(state) as url:
        yield state, url


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
    partners.write_text(partners_file(base))
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
