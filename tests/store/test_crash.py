"""A dispatcher killed with SIGKILL mid-batch, then restarted, delivers every effect
at least once, and the sandbox applies each idempotency key's effect once."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import timedelta

from adapters.sandbox.local_partners import local_partners
from adapters.service import OrderService
from adapters.store import OutboxStatus, Store
from tests.factories import REPORTING, T0, at
from tests.store.helpers import cancel_webhook, seed_detail, seller, status_webhook

ORDERS = 5
NOW = T0 + timedelta(days=30)
STAY = {"sync_order_info": {"stay": {"check_in": "2026-12-01", "check_out": "2026-12-02"}}}


def _dispatcher(
    store_url: str, sandbox: str, now: str, kill_after: int
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.store._workers",
            "dispatch",
            store_url,
            sandbox,
            now,
            str(kill_after),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_killed_dispatcher_restarted_delivers_everything_and_nothing_twice(
    store: Store, store_url: str
) -> None:
    service = OrderService(store, policy=REPORTING, clock=lambda: NOW)
    with local_partners() as partners:
        for number in range(ORDERS):
            order_id = f"O{number}"
            detail = seed_detail(order_id)
            partners.know({"order_detail": detail})
            service.seed(detail, shop_id="S1", extensions=STAY)
            service.webhook(status_webhook(order_id, "ON_HOLD", T0))
            pending = cancel_webhook(
                order_id, "CANCELLATION_REQUEST_PENDING", f"C{number}", at(hours=2)
            )
            partners.know(
                {
                    "type": 11,
                    "data": {
                        "order_id": order_id,
                        "cancel_id": f"C{number}",
                        "cancel_status": "CANCELLATION_REQUEST_PENDING",
                    },
                }
            )
            service.tick(at(hours=1))
            service.webhook(pending)
            service.command(
                seller(order_id, "approve_cancellation", at(hours=3), cancel_id=f"C{number}")
            )
        expected = {e.idempotency_key: e.kind for e in store.outbox()}
        assert len(expected) == 4 * ORDERS

        killed = _dispatcher(store_url, partners.url, NOW.isoformat(), kill_after=3)
        assert killed.returncode == -9, killed.stderr
        in_flight = store.outbox(status=OutboxStatus.IN_FLIGHT)
        assert in_flight, "the kill must leave leased rows behind"

        # Restarted after the dead worker's lease ran out.
        later = (NOW + timedelta(minutes=10)).isoformat()
        restarted = _dispatcher(store_url, partners.url, later, kill_after=0)
        assert restarted.returncode == 0, restarted.stderr
        assert {e.status for e in store.outbox()} == {OutboxStatus.DONE}, [
            e.last_error for e in store.outbox(status=OutboxStatus.DEAD)
        ]

        tiktok, sfcc, reporting = partners.tiktok_shop, partners.sfcc, partners.reporting
        approvals = [k for k, kind in expected.items() if kind == "ApproveTikTokCancellation"]
        assert sorted(tiktok.applied) == sorted(approvals)  # each key applied once
        sent = Counter(
            r.query["idempotency_key"] for r in partners.server.requests("POST", r".*/approve")
        )
        assert max(sent.values()) == 2  # the one delivered before the kill went out again
        assert sorted(sfcc.by_external_id) == [f"O{n}" for n in range(ORDERS)]
        assert all(
            sfcc.order(f"O{n}").get("c_externalOrderStatus") == "CANCELLED" for n in range(ORDERS)
        )
        assert Counter(i["order_id"] for i in reporting.order_infos) == {
            f"O{n}": 1 for n in range(ORDERS)
        }
