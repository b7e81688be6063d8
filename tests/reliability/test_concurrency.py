"""Concurrency on the webhook path: several `order-lifecycle work` processes apply the
same inbox of webhooks for the same orders at once, on one PostgreSQL database and
on one SQLite file. No update is lost and none is applied twice.

tests/store/test_concurrency.py races OMS commands; here the racers are workers
that take the same pending webhooks in the same order, so most inputs are
fought over: each must be applied by exactly one of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from adapters.service import OrderService
from adapters.store import InputOutcome, open_store
from tests.reliability._checks import inbox_is_complete, orders_match_memory, seed, sqlite_integrity
from tests.reliability._procs import Processes
from tests.reliability.conftest import BACKENDS, SEED, scale
from tests.reliability.workload import APP_KEY, APP_SECRET, interleaved, plan_orders

ORDERS = scale(ci=120, full=1000)
WORKERS = 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_workers_racing_over_one_inbox_lose_no_update_and_apply_nothing_twice(
    backend: str,
    database: Callable[[str], str],
    processes: Processes,
    figures: Callable[..., None],
) -> None:
    url = database(backend)
    plans = plan_orders(ORDERS, SEED + 10, datetime.now(UTC), prefix="C")
    store = open_store(url)
    try:
        seed(store, plans)
        intake = OrderService(store, app_key=APP_KEY, app_secret=APP_SECRET)
        for webhook in interleaved(plans, SEED):
            assert not intake.accept_webhook(webhook.body, webhook.headers).duplicate
        workers = [
            processes.start("work", "--once", "--batch", "25", db=url) for _ in range(WORKERS)
        ]
        assert [w.wait() for w in workers] == [0] * WORKERS, processes.captured()
        reported = [
            {name: int(n) for n, name in re.findall(r"(\d+) (applied|duplicate|stale)", w.stdout())}
            for w in workers
        ]
        applied_by_workers = sum(r.get("applied", 0) for r in reported)
        applied_in_inbox = sum(
            1
            for e in store.inbox()
            if e.kind == "webhook" and e.duplicate_of is None and e.outcome is InputOutcome.APPLIED
        )
        assert applied_by_workers == applied_in_inbox  # each applied input by one worker only
        figures(
            backend=backend,
            **{
                "worker processes": WORKERS,
                "applied by each worker": " / ".join(str(r.get("applied", 0)) for r in reported),
                "lost to another worker (duplicate)": " / ".join(
                    str(r.get("duplicate", 0)) for r in reported
                ),
            },
            **inbox_is_complete(store, plans),
            **orders_match_memory(store, plans, in_order=False),
            **{"SQLite integrity_check": sqlite_integrity(url)},
        )
    finally:
        store.close()
