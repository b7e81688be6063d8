"""Racing writers and a `changes --follow` reader (real processes), on each backend.

The reader polls while the writers commit; whatever order their transactions
end in, it prints every change exactly once, its cursors 1, 2, 3, ... with no
gap, and it stops cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading

from adapters.service import OrderService
from adapters.store import Store
from tests.factories import T0, at
from tests.store.helpers import seed_detail, status_webhook

ORDERS, LINES, WORKERS = 4, 8, 3


def test_a_following_reader_sees_every_change_of_racing_writers_once(
    store: Store, store_url: str
) -> None:
    service = OrderService(store)
    reader = subprocess.Popen(
        [
            *(sys.executable, "-m", "adapters", "changes", "--follow", "--json"),
            *("--interval", "0.01", "--db", store_url),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    rows: list[dict[str, object]] = []
    seen_enough = threading.Event()
    wanted = [0]

    def read() -> None:
        assert reader.stdout is not None
        for line in reader.stdout:
            rows.append(json.loads(line))
            if wanted[0] and len(rows) >= wanted[0]:
                seen_enough.set()

    pump = threading.Thread(target=read, daemon=True)
    for number in range(ORDERS):
        order_id = f"O{number}"
        service.seed(seed_detail(order_id, lines=LINES), shop_id="S1")
        service.webhook(status_webhook(order_id, "ON_HOLD", T0))
    service.tick(at(hours=1))
    pump.start()
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.store._workers", "ship", store_url]
            + [str(n) for n in (worker, WORKERS, ORDERS, LINES)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for worker in range(WORKERS)
    ]
    assert sum(int(w.communicate(timeout=180)[0]) for w in writers) == ORDERS * LINES
    committed = store.changes(limit=10_000)
    wanted[0] = len(committed)
    if len(rows) < wanted[0]:
        seen_enough.wait(timeout=120)
    reader.send_signal(signal.SIGTERM)
    _, errors = reader.communicate(timeout=60)
    pump.join(timeout=10)
    assert reader.returncode == 0, errors
    assert len(committed) == ORDERS * (3 + LINES)  # first seen, pay, release, one ship per line
    assert [row["cursor"] for row in rows] == list(range(1, len(committed) + 1))
    assert [(row["order_id"], row["version"]) for row in rows] == [
        (c.order_id, c.version) for c in committed
    ]
    for order_id in {c.order_id for c in committed}:
        versions = [row["version"] for row in rows if row["order_id"] == order_id]
        assert versions == list(range(len(versions)))  # each order's changes in its order
