"""SIGKILL of `work` in the middle of a read batch: no input lost, nothing read twice
into a double transition.

Sixty orders the store has never seen, two webhooks each (on hold, then the hold
released), are kept in the inbox. `work --partners --lease 1` applies them: all
wait, and one claim of sixty Get Order Detail jobs goes out as two calls (50
ids, then 10). The fake TikTok Shop (`tests/reliability/_tiktok.py`) answers
the first call and holds the second until the test has killed the worker:
fifty orders are applied and their reads done, ten reads are in flight. A
fresh `work --once` then finishes. Every webhook is in the inbox once with an
outcome, none waits, each order's history is `pay`, `release_hold` once, and
only the ten reads the dead worker's lease held are read again.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.partners.tiktok_shop import webhook_signature
from adapters.service import OrderService
from adapters.store import InputOutcome, ReadStatus, open_store
from tests.reliability._procs import WAIT, Processes, wait_until
from tests.reliability._tiktok import NOW, PAID, SHOP, TikTok, detail, partners_file, running
from tests.reliability.workload import APP_KEY, APP_SECRET

ORDERS = 60  # two Get Order Detail calls of one batch: 50 ids, then 10


def envelope(order_id: str, status: str, at: datetime, number: int) -> bytes:
    body = {
        "type": 1,
        "tts_notification_id": f"{order_id}-{number}",
        "shop_id": SHOP,
        "timestamp": int(NOW.timestamp()),
        "data": {"order_id": order_id, "order_status": status, "update_time": int(at.timestamp())},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def test_sigkill_during_a_read_batch_loses_no_input_and_reads_nothing_twice_into_a_transition(
    tmp_path: Path, processes: Processes
) -> None:
    state = TikTok()
    order_ids = [f"K{n:03d}" for n in range(ORDERS)]
    for order_id in order_ids:
        state.orders[order_id] = detail(order_id, "UNPAID", 2, PAID)
    entered, release = threading.Event(), threading.Event()

    def hold_the_second_call(_ids: list[str]) -> None:
        if len(state.detail_calls) == 2:
            entered.set()
            release.wait(WAIT)

    state.before_detail = hold_the_second_call
    db = f"sqlite:///{tmp_path}/crash.db"
    store = open_store(db)
    try:
        accept = OrderService(store, app_key=APP_KEY, app_secret=APP_SECRET)
        sent = set()
        for order_id in order_ids:
            steps = (
                ("ON_HOLD", PAID + timedelta(minutes=1)),
                ("AWAITING_SHIPMENT", PAID + timedelta(hours=1, minutes=1)),
            )
            for number, (status, at) in enumerate(steps):
                body = envelope(order_id, status, at, number)
                accept.accept_webhook(
                    body, {"Authorization": webhook_signature(body, APP_KEY, APP_SECRET)}
                )
                sent.add(f"tiktok:{order_id}-{number}")
        with running(state) as base:
            partners = tmp_path / "partners.json"
            partners.write_text(partners_file(base))
            reads = ("--partners", str(partners), "--lease", "1")
            first = processes.work(db, *reads, "--batch", "500")
            assert entered.wait(WAIT), f"the worker never made its second read: {first.stderr()}"
            # Mid batch: the first call's fifty orders applied, ten reads in flight.
            assert len(store.orders()) == 50
            assert len(store.reads(ReadStatus.DONE)) == 50
            in_flight = store.reads(ReadStatus.IN_FLIGHT)
            assert {job.target for job in in_flight} == set(state.detail_calls[1])
            first.kill()
            release.set()

            def leases_ended() -> bool:
                now = datetime.now(UTC)
                return all(job.next_attempt_at <= now for job in store.reads(ReadStatus.IN_FLIGHT))

            wait_until(leases_ended, "the dead worker's read leases to end")
            fresh = processes.start("work", "--once", *reads, db=db)
            assert fresh.wait() == 0, fresh.stderr()
        assert "inputs waiting: 0" in fresh.stdout()

        webhooks = [e for e in store.inbox() if e.kind == "webhook" and e.duplicate_of is None]
        keys = Counter(e.dedup_key for e in webhooks)
        assert set(keys) == sent
        assert max(keys.values()) == 1
        assert all(e.outcome is not None for e in webhooks)
        assert not [e for e in webhooks if e.outcome is InputOutcome.WAITING]
        assert store.waiting() == []
        for order_id in order_ids:
            stored = store.load(order_id)
            assert stored is not None
            history = store.history(order_id)
            assert [t.event for t in history] == ["pay", "release_hold"], order_id
            assert stored.version == len(history) == 2
        outbox = [e.idempotency_key for e in store.outbox()]
        assert len(outbox) == len(set(outbox)), "an effect was enqueued twice"
        assert {job.status for job in store.reads()} == {ReadStatus.DONE}
        # Reads at the fake: each order of the finished call once; the ten the dead
        # worker's lease held once more, by the fresh worker; nothing else.
        asked = Counter(order_id for call in state.detail_calls for order_id in call)
        held = {job.target for job in in_flight}
        assert len(held) == len(in_flight) == ORDERS - 50
        assert {o for o, n in asked.items() if n == 2} == held
        assert {o for o, n in asked.items() if n == 1} == set(order_ids) - held
        assert len(state.detail_calls) == 3
    finally:
        store.close()
    assert "Traceback" not in processes.captured()
