"""Hardening runs: poison inputs, unknown outcomes, fenced leases, Retry-After.

Each run is seeded, prints its figures, and checks the promise it is about:

- poison: hostile lines inside a valid replay file, and signed poison webhooks
  posted to a real `serve` between valid ones (with inputs that fail when
  applied put in the inbox meanwhile): every valid input is applied, every
  bad one reported with its type, and a parked input does not stop the ones
  behind it;
- unknown outcome: the partner applies the call and then drops the
  connection or answers too late; the effect is retried with its idempotency
  key until an answer says done, and the partner applies each key once;
- fenced leases: two dispatchers share the outbox with leases shorter than
  their batches against a slow partner; no effect is sent twice;
- Retry-After: a 429's `Retry-After` (seconds, an HTTP-date, one past the
  cap) schedules the next attempt no sooner than asked, and at most the cap.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from adapters.http import RetryPolicy
from adapters.sandbox import DROP, Received, Reply
from adapters.sandbox.local_partners import LocalPartners, local_partners, sandbox_settings
from adapters.service import Backoff, Dispatcher, EffectContext, Executor, OrderService
from adapters.store import OutboxStatus, Store, open_store
from adapters.wiring import build_executors
from lifecycle import Effect
from tests.reliability._checks import (
    effects_reached_the_sandbox,
    inbox_is_complete,
    orders_match_memory,
    seed,
    settled,
)
from tests.reliability._procs import Processes, wait_until
from tests.reliability.conftest import SEED, scale
from tests.reliability.workload import POLICY, interleaved, plan_orders, signed

ONE_CALL = RetryPolicy(attempts=1)


def _applied_in_process(store: Store, plans: list, seed_value: int) -> None:  # type: ignore[type-arg]
    seed(store, plans)
    service = OrderService(store, POLICY)
    for webhook in interleaved(plans, seed_value):
        service.webhook(webhook.body)


def _counting(executors: Mapping[str, Executor], calls: Counter[str]) -> dict[str, Executor]:
    """The executors, each call counted per effect (its idempotency key)."""
    lock = threading.Lock()

    def counted(executor: Executor) -> Executor:
        def run(effect: Effect, context: EffectContext) -> Mapping[str, str] | None:
            with lock:
                calls[effect.idempotency_key] += 1
            return executor(effect, context)

        return run

    return {kind: counted(executor) for kind, executor in executors.items()}


# --------------------------------------------------------------------------- poison inputs

HOSTILE_LINES: dict[str, bytes] = {
    "binary": b"\xff\xfe\x00\x01binary",
    "latin-1": '{"tick": "caf\xe9"}'.encode("latin-1"),
    "lone surrogate": b'{"command": "cancel", "order_id": "\\ud800", "initiator": "BUYER",'
    b' "at": "2026-11-20T09:40:00Z"}',
    "deep nesting": b"[" * 50_000 + b"]" * 50_000,
    "tick in year 9999": b'{"tick": "9999-12-31T23:59:59-05:00"}',
}


def test_hostile_lines_inside_a_valid_replay_file_are_reported_by_type_and_the_rest_runs(
    tmp_path: Path, processes: Processes, figures: Callable[..., None]
) -> None:
    plans = plan_orders(scale(ci=60, full=600), SEED + 50, datetime.now(UTC), prefix="P")
    rng = random.Random(SEED + 51)
    lines = [json.dumps({"order_detail": p.detail, "shop_id": "S"}).encode() for p in plans]
    valid = [w.body for w in interleaved(plans, SEED)]
    hostile = list(HOSTILE_LINES.items()) * 3
    numbered: list[tuple[str | None, bytes]] = [(None, line) for line in lines]
    for body in valid:
        numbered.append((None, body))
        if hostile and rng.random() < 0.05:
            numbered.append(hostile.pop())
    numbered += [(name, line) for name, line in hostile]
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(line for _, line in numbered) + b"\n")
    url = f"sqlite:///{tmp_path}/replay.db"
    proc = processes.start("replay", str(path), "--batch", "50", db=url)
    assert proc.wait() == 1  # some lines were bad
    reported = [line for line in proc.stderr().splitlines() if line.startswith("line ")]
    bad_numbers = [n for n, (name, _) in enumerate(numbered, start=1) if name is not None]
    assert [int(line.split(":")[0].split()[1]) for line in reported] == bad_numbers
    types = Counter(line.split(": ")[1].split()[0] for line in reported)
    assert set(types) == {"BadLine"}, types  # typed, never Python's own error
    store = open_store(url)
    try:
        applied = Counter(e.outcome.value for e in store.inbox() if e.outcome is not None)
        for plan in plans:
            order = store.load(plan.order_id)
            assert order is not None
        # Each order as the in-memory lifecycle makes it of its webhooks, bad lines or not.
        # (The replay's orders carry no shop's extensions, so only the states compare.)
        matched = orders_match_memory(store, plans, in_order=False)
    finally:
        store.close()
    figures(
        **{
            "lines (valid / hostile)": f"{len(numbered)} ({len(numbered) - len(bad_numbers)}"
            f" / {len(bad_numbers)})",
            "hostile lines reported (by type)": f"{len(reported)}: "
            + ", ".join(f"{n} x {t}" for t, n in sorted(types.items())),
            "inputs kept, by outcome": ", ".join(f"{n} {o}" for o, n in sorted(applied.items())),
            **matched,
        }
    )


def _poison_webhooks(now: datetime) -> dict[str, bytes]:
    stamp = int(now.timestamp())

    def envelope(data: object, **more: object) -> bytes:
        return json.dumps({"type": 1, "shop_id": "S", "timestamp": stamp, "data": data, **more})[
            :
        ].encode()

    return {
        "update_time in year 9999": envelope(
            {"order_id": "P-X", "order_status": "ON_HOLD", "update_time": 253402300799}
        ),
        "deep nesting": b'{"type": 1, "shop_id": "S", "timestamp": %d, "data": ' % stamp
        + b"[" * 20_000
        + b"]" * 20_000
        + b"}",
        "lone surrogate": envelope(
            {"order_id": "\ud800", "order_status": "ON_HOLD", "update_time": stamp}
        ).replace(b"\\ud800", b"\\ud800"),
        "NUL in order_id": envelope(
            {"order_id": "P\u0000X", "order_status": "ON_HOLD", "update_time": stamp}
        ),
        "order_status a number": envelope({"order_id": "P-Y", "order_status": 5, "update_time": 1}),
    }


def test_signed_poison_webhooks_are_refused_by_type_and_parked_inputs_let_the_rest_apply(
    database: Callable[[str], str], processes: Processes, figures: Callable[..., None]
) -> None:
    url = database("sqlite")
    now = datetime.now(UTC)
    plans = plan_orders(scale(ci=60, full=600), SEED + 52, now, prefix="Q")
    store = open_store(url)
    try:
        seed(store, plans)
        _, endpoint = processes.serve(url)
        processes.work(url)
        poison = _poison_webhooks(now)
        answers: Counter[str] = Counter()
        refused: Counter[str] = Counter()
        parked_ids: list[int] = []
        rng = random.Random(SEED + 53)
        with httpx.Client(timeout=30) as client:
            for number, webhook in enumerate(interleaved(plans, SEED)):
                answer = client.post(endpoint, content=webhook.body, headers=webhook.headers)
                answers[f"HTTP {answer.status_code}"] += 1
                if rng.random() < 0.05:
                    name, body = rng.choice(sorted(poison.items()))
                    bad = client.post(endpoint, content=body, headers=signed(body))
                    error = bad.json().get("error")
                    refused[f"{bad.status_code} {error} ({name})"] += 1
                    assert bad.status_code == 400, (name, bad.status_code)
                if number % 40 == 0:
                    # An input no path foresaw, kept as a worker would find it.
                    entry = store.receive(
                        "order_detail", f"poison-{number}", '{"order_detail": 5}', now, None
                    )
                    parked_ids.append(entry.inbox_id)
        assert answers == Counter({"HTTP 200": sum(len(p.webhooks) for p in plans)})
        wait_until(lambda: not store.pending("webhook", 1), "every webhook processed")
        wait_until(lambda: {e.id for e in store.parked()} >= set(parked_ids), "the poison parked")
        parked = store.parked()
        assert {e.id for e in parked} == set(parked_ids)
        assert all(e.attempts == 3 and e.error_type for e in parked)  # the worker's default
        inbox = inbox_is_complete(store, plans)
        matched = orders_match_memory(store, plans)
    finally:
        store.close()
    figures(
        **{
            "valid webhooks answered": ", ".join(f"{n} x {a}" for a, n in answers.items()),
            "signed poison webhooks refused": f"{sum(refused.values())}: "
            + ", ".join(f"{n} x {r}" for r, n in sorted(refused.items())),
            "inputs failing when applied (parked)": f"{len(parked_ids)} ({len(parked)},"
            f" {parked[0].error_type if parked else '-'}, 3 attempts each)",
            **inbox,
            **matched,
        }
    )


# --------------------------------------------------------------------------- unknown outcomes


class AppliedThenLost:
    """The partner applies some calls and then the answer never arrives."""

    def __init__(self, partners: LocalPartners, rate: float, seed_value: int) -> None:
        self.partners = partners
        self.rng = random.Random(seed_value)
        self.rate = rate
        self.lock = threading.Lock()
        self.injected: Counter[str] = Counter()

    def __call__(self, request: Received) -> Reply | None:
        if "token" in request.path:
            return None
        with self.lock:
            draw = self.rng.random()
        if draw >= self.rate:
            return None
        self.partners.server.route(request)  # applied
        if draw < self.rate / 2:
            self.injected["dropped after applying"] += 1
            return DROP
        self.injected["timed out after applying"] += 1
        time.sleep(0.4)  # past the client's 0.2 s timeout
        return DROP


def test_a_partner_that_applies_then_loses_its_answer_is_retried_by_key_and_applies_once(
    tmp_path: Path, figures: Callable[..., None]
) -> None:
    plans = plan_orders(scale(ci=60, full=400), SEED + 60, datetime.now(UTC), prefix="U")
    store = open_store(f"sqlite:///{tmp_path}/unknown.db")
    calls: Counter[str] = Counter()
    try:
        _applied_in_process(store, plans, SEED)
        with local_partners() as partners, httpx.Client(timeout=0.2) as http:
            fault = AppliedThenLost(partners, 0.3, SEED + 61)
            partners.server.fault = fault
            executors = build_executors(sandbox_settings(partners.url, ONE_CALL), http)
            dispatcher = Dispatcher(
                store,
                _counting(executors, calls),
                max_attempts=50,
                backoff=Backoff(initial=timedelta(0), spread=0),
            )
            report = dispatcher.drain()
            assert settled(store)
            reached = effects_reached_the_sandbox(store, partners)
    finally:
        store.close()
    effects = len(calls)
    repeats = sum(calls.values()) - effects
    assert report.done == effects
    assert repeats >= sum(fault.injected.values()) > 0
    figures(
        **{
            "effects (done)": f"{effects} ({report.done})",
            "unknown outcomes injected": ", ".join(
                f"{n} {kind}" for kind, n in sorted(fault.injected.items())
            ),
            "calls made (repeats with the same key)": f"{sum(calls.values())} ({repeats})",
            "most calls for one effect": max(calls.values()),
            **reached,
        }
    )


# --------------------------------------------------------------------------- fenced leases


def test_two_dispatchers_with_leases_shorter_than_their_batches_send_no_effect_twice(
    tmp_path: Path, figures: Callable[..., None]
) -> None:
    plans = plan_orders(scale(ci=40, full=200), SEED + 70, datetime.now(UTC), prefix="F")
    url = f"sqlite:///{tmp_path}/leases.db"
    store = open_store(url)
    calls: Counter[str] = Counter()
    lease, delay, batch = timedelta(seconds=0.4), 0.06, 20  # a batch: 1.2 s, three leases
    reports = []
    try:
        _applied_in_process(store, plans, SEED)
        with local_partners() as partners, httpx.Client(timeout=5) as http:

            def slow(request: Received) -> Reply | None:
                time.sleep(delay)
                return None

            partners.server.fault = slow
            executors = _counting(
                build_executors(sandbox_settings(partners.url, ONE_CALL), http), calls
            )

            def run() -> None:
                own = open_store(url)
                try:
                    dispatcher = Dispatcher(own, executors, batch_size=batch, lease=lease)
                    reports.append(dispatcher.drain())
                finally:
                    own.close()

            threads = [threading.Thread(target=run) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=600)
            assert settled(store)
            reached = effects_reached_the_sandbox(store, partners)
    finally:
        store.close()
    repeats = sum(calls.values()) - len(calls)
    assert repeats == 0, f"{repeats} effects sent twice"
    assert sum(r.done for r in reports) == len(calls)
    figures(
        **{
            "dispatchers / batch / lease / partner delay": f"2 / {batch} /"
            f" {lease.total_seconds():g} s / {delay * 1000:.0f} ms a call",
            "effects done by each dispatcher": " / ".join(str(r.done) for r in reports),
            "left to the other (lease lost)": " / ".join(str(r.lost) for r in reports),
            "repeats per effect": f"{repeats} in {len(calls)} effects",
            **reached,
        }
    )


# --------------------------------------------------------------------------- Retry-After


def test_a_retry_after_is_honoured_as_seconds_or_a_date_and_capped(
    tmp_path: Path, figures: Callable[..., None]
) -> None:
    plans = plan_orders(scale(ci=20, full=100), SEED + 80, datetime.now(UTC), prefix="A")
    store = open_store(f"sqlite:///{tmp_path}/retry_after.db")
    clock = [datetime.now(UTC)]
    cap = timedelta(minutes=10)
    asked: dict[str, timedelta] = {}
    kinds: Counter[str] = Counter()
    try:
        _applied_in_process(store, plans, SEED)
        with local_partners() as partners, httpx.Client(timeout=5) as http:
            rng = random.Random(SEED + 81)
            lock = threading.Lock()

            def throttle(request: Received) -> Reply | None:
                if "token" in request.path:
                    return None
                with lock:
                    if rng.random() < 0.5:
                        return None
                    draw = rng.random()
                if draw < 0.4:
                    wait, header, kind = timedelta(seconds=120), "120", "seconds"
                elif draw < 0.8:
                    wait = timedelta(seconds=300)
                    header = email.utils.format_datetime(datetime.now(UTC) + wait, usegmt=True)
                    kind = "HTTP-date"
                else:
                    wait, header, kind = timedelta(hours=5), "18000", "past the cap"
                with lock:
                    asked["this run"] = wait
                    kinds[kind] += 1
                return Reply(
                    429, {"code": 429, "message": "slow down"}, headers={"Retry-After": header}
                )

            partners.server.fault = throttle
            executors = build_executors(sandbox_settings(partners.url, ONE_CALL), http)
            # One effect a batch, so that the run's one 429 is that effect's.
            dispatcher = Dispatcher(
                store,
                executors,
                clock=lambda: clock[0],
                batch_size=1,
                max_attempts=50,
                backoff=Backoff(initial=timedelta(seconds=1), spread=0, retry_after_cap=cap),
            )
            waits: list[tuple[timedelta, timedelta, timedelta]] = []
            for _ in range(5000):
                before = {e.id: e.attempts for e in store.outbox(status=OutboxStatus.PENDING)}
                asked.clear()
                now = clock[0]
                handled = dispatcher.run_once().handled
                for entry in store.outbox(status=OutboxStatus.PENDING):
                    if entry.attempts > before.get(entry.id, entry.attempts):
                        [wanted] = asked.values()
                        # The wait is the longer of the backoff's own and what was asked.
                        own = dispatcher.backoff.delay(entry.attempts, entry.id)
                        waits.append((entry.next_attempt_at - now, min(wanted, cap), own))
                if settled(store):
                    break
                due = [e.next_attempt_at for e in store.outbox(status=OutboxStatus.PENDING)]
                if not handled:  # what is due waits behind an effect of its order due later
                    due = [moment for moment in due if moment > clock[0]]
                clock[0] = max(clock[0], min(due))
            left = Counter(
                (e.kind, e.status.value)
                for e in store.outbox()
                if e.status is not OutboxStatus.DONE
            )
            assert settled(store), left
            reached = effects_reached_the_sandbox(store, partners)
    finally:
        store.close()
    assert waits
    slack = timedelta(seconds=2)  # an HTTP-date has whole seconds
    honoured = [wait for wait, wanted, _ in waits if wait >= wanted - slack]
    assert len(honoured) == len(waits), "a retry was scheduled sooner than Retry-After asked"
    assert all(wait <= max(wanted, own) + slack for wait, wanted, own in waits)
    figures(
        **{
            "429 with Retry-After": ", ".join(f"{n} as {k}" for k, n in sorted(kinds.items())),
            "retries scheduled (no sooner than asked)": f"{len(waits)} ({len(honoured)})",
            "longest wait scheduled (cap)": f"{max(w for w, _, _ in waits)} ({cap})",
            **reached,
        }
    )
