"""`order-lifecycle work --workers N`: N worker processes over one inbox, by order id.

Unlike racing workers (test_concurrency.py), sharded workers never fight over
an input: each takes only the inputs of its own orders (and shard 0 those of
no order), so every input is applied exactly once, by one worker, and each
order's webhooks apply in arrival order. A worker that dies stops the command
with a non-zero status; SIGTERM to the command stops every worker.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.service import OrderService
from adapters.store import InputOutcome, open_store
from tests.reliability._checks import orders_match_memory, seed, sqlite_integrity
from tests.reliability._procs import Proc, Processes, wait_until
from tests.reliability.conftest import BACKENDS, SEED, scale
from tests.reliability.workload import APP_KEY, APP_SECRET, SHOP, interleaved, plan_orders, signed

ORDERS = scale(ci=60, full=1000)
WORKERS = 2


def _deauthorized(number: int) -> bytes:
    """A webhook about no order (a shop's authorization ended): shard 0's to apply."""
    return json.dumps(
        {
            "type": 6,
            "tts_notification_id": f"deauth-{number}",
            "shop_id": SHOP,
            "timestamp": int(datetime.now(UTC).timestamp()),
            "data": {"message": "the seller deauthorized the app"},
        }
    ).encode()


def _pids(proc: Proc) -> list[int]:
    """The worker pids `work --workers N` prints once they have all started."""
    found: list[int] = []

    def said() -> bool:
        alive = proc.alive()  # before reading: a process that exited has said all it will
        match = re.search(r"workers, by order id: pids ([\d ]+)\n", proc.stdout())
        if match:
            found.extend(int(pid) for pid in match.group(1).split())
            return True
        if not alive:
            raise AssertionError(f"{proc.name} exited: {proc.stderr()}")
        return False

    wait_until(said, f"{proc.name} to start its workers")
    return found


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


@pytest.mark.parametrize("backend", BACKENDS)
def test_sharded_workers_apply_every_input_once_and_each_orders_in_order(
    backend: str,
    database: Callable[[str], str],
    processes: Processes,
    figures: Callable[..., None],
) -> None:
    url = database(backend)
    plans = plan_orders(ORDERS, SEED + 20, datetime.now(UTC), prefix="W")
    store = open_store(url)
    try:
        seed(store, plans)
        intake = OrderService(store, app_key=APP_KEY, app_secret=APP_SECRET)
        sent = 0
        for webhook in interleaved(plans, SEED):
            assert not intake.accept_webhook(webhook.body, webhook.headers).duplicate
            sent += 1
        for number in range(3):
            body = _deauthorized(number)
            assert not intake.accept_webhook(body, signed(body)).duplicate
        work = processes.start("work", "--once", "--batch", "25", "--workers", str(WORKERS), db=url)
        assert work.wait() == 0, processes.captured()
        assert len(_pids(work)) == WORKERS
        processed = int(re.search(r"processed (\d+) inputs", work.stdout()).group(1))
        # No input was taken by two workers (a race's loser would count it again).
        assert processed == sent + 3
        entries = [e for e in store.inbox() if e.kind == "webhook" and e.duplicate_of is None]
        assert len(entries) == sent + 3
        assert all(e.outcome is not None for e in entries)  # none left unprocessed
        assert not [e.reason for e in entries if e.outcome is InputOutcome.REJECTED]
        nameless = [e for e in store.inbox() if e.order_id is None]
        assert len(nameless) == 3
        assert {e.outcome for e in nameless} == {InputOutcome.APPLIED}
        figures(
            backend=backend,
            **{"worker processes": WORKERS, "inputs processed": processed},
            **orders_match_memory(store, plans, in_order=True),
            **{"SQLite integrity_check": sqlite_integrity(url)},
        )
    finally:
        store.close()


def test_a_worker_that_dies_stops_the_others_and_the_command_exits_non_zero(
    database: Callable[[str], str], processes: Processes
) -> None:
    url = database("sqlite")
    work = processes.work(url, "--workers", "2")
    first, second = _pids(work)
    os.kill(second, signal.SIGKILL)
    assert work.wait() == 2, work.stderr()
    assert "worker 1 of 2 died: killed by SIGKILL" in work.stderr()
    assert _gone(first)
    assert _gone(second)


def test_sigterm_to_the_command_stops_every_worker_cleanly(
    database: Callable[[str], str], processes: Processes
) -> None:
    url = database("sqlite")
    work = processes.work(url, "--workers", "2")
    pids = _pids(work)
    work.popen.terminate()
    assert work.wait() == 0, work.stderr()
    assert "processed 0 inputs" in work.stdout()
    assert all(_gone(pid) for pid in pids)
