"""Several processes apply events to the same orders at once, on each backend.

No update is lost (every line ends shipped, every command's effects are in
the outbox), the history has no gap, and each order's version equals the
number of its transitions.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from adapters.service import OrderService
from adapters.store import Store
from lifecycle import OrderStatus
from tests.factories import T0, at
from tests.store.helpers import seed_detail, status_webhook

ORDERS, LINES, WORKERS = 4, 12, 3


def test_concurrent_writers_lose_no_update_and_leave_no_gap(store: Store, store_url: str) -> None:
    service = OrderService(store)
    for number in range(ORDERS):
        order_id = f"O{number}"
        service.seed(seed_detail(order_id, lines=LINES), shop_id="S1")
        service.webhook(status_webhook(order_id, "ON_HOLD", T0))
    service.tick(at(hours=1))
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.store._workers", "ship", store_url]
            + [str(n) for n in (worker, WORKERS, ORDERS, LINES)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for worker in range(WORKERS)
    ]
    applied = [int(w.communicate(timeout=120)[0]) for w in workers]
    assert [w.returncode for w in workers] == [0] * WORKERS
    assert sum(applied) == ORDERS * LINES
    for number in range(ORDERS):
        order_id = f"O{number}"
        order = store.load(order_id)
        assert order is not None
        history = store.history(order_id)
        assert order.status is OrderStatus.AWAITING_COLLECTION
        assert order.version == len(history) == len(order.history) == 2 + LINES
        assert [t.version for t in history] == list(range(1, order.version + 1))
        assert sorted(t.params["line_item_ids"][0] for t in history if t.event == "ship") == sorted(
            f"L{line}" for line in range(1, LINES + 1)
        )
        kinds = [e.kind for e in store.outbox(order_id)]
        assert kinds.count("ShipTikTokPackage") == LINES
        assert kinds.count("UpdateSfccShipping") == LINES
        assert all(line.tracking_number for line in order.lines)
    assert store.due_orders(T0 + timedelta(days=1)) == []
