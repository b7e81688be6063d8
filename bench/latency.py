"""Webhook to partner call: how long from TikTok's POST to the effect reaching the partner.

The real deployment, in processes: `order-lifecycle serve` (uvicorn) keeps
signed webhooks in a SQLite inbox, `order-lifecycle work` applies them, and
`order-lifecycle dispatch` delivers the effects to the partner fakes on
127.0.0.1, which note when each call arrives. Orders wait ON_HOLD; each
webhook releases one (AWAITING_SHIPMENT), whose effect is SFCC's order
creation. A client sends the webhooks at a steady rate.

`latency_postgres` runs the same path on PostgreSQL (a schema of its own in
the database `ORDER_LIFECYCLE_BENCH_POSTGRES` names), at 500 webhooks/s, with
`work --workers 2` sharding the inbox by order.

The reference, measured in the same run, is the same path with the lifecycle
replaced by a pass-through: a worker that asks for SFCC's order creation for
every webhook it finds in the inbox, without judging anything. The floor
under both is one HTTP round trip from the client to the fakes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from adapters.partners.tiktok_shop import webhook_signature
from adapters.sandbox import Received, Reply
from adapters.sandbox.local_partners import local_partners
from adapters.service import OrderService, replay
from adapters.store import open_store
from bench._harness import table, verdict
from bench.replay import POSTGRES_DSN, _schema_url
from bench.replay_inputs import SHOP, order_path

APP_KEY, APP_SECRET = "bench-app-key", "bench-app-secret"


#: The reference worker: the same inbox and outbox, the lifecycle replaced by a
#: pass-through that asks, for every webhook, SFCC's order creation at once.
_PASS_THROUGH_WORKER = """
import sys, time
from adapters.store import Change, open_store
from lifecycle import CreateSfccOrder
store = open_store(sys.argv[1])
stop = time.monotonic() + float(sys.argv[2])
while time.monotonic() < stop:
    entries = store.pending("webhook", 100)
    for entry in entries:
        order = store.load(entry.order_id)
        effect = CreateSfccOrder(order.order_id, order.version)
        try:
            store.commit(
                Change(order, order.version, (), (effect,), None, entry.id), order.created_at
            )
        except Exception:
            continue  # another pass-through worker took this one first
    if not entries:
        time.sleep(0.02)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _release(order_id: str, at: int, number: int) -> bytes:
    envelope = {
        "type": 1,
        "tts_notification_id": f"9{number:012d}",
        "shop_id": SHOP,
        "timestamp": at,
        "data": {
            "order_id": order_id,
            "order_status": "AWAITING_SHIPMENT",
            "update_time": at,
            "is_on_hold_order": True,
        },
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def _send_steadily(
    url: str, bodies: list[tuple[str, bytes]], rate: float, senders: int = 8
) -> dict[str, float]:
    """POST each body at `rate` per second, from `senders` threads as TikTok sends
    concurrently (so one slow answer does not hold back the next webhook); when
    each was sent (wall clock)."""
    sent: dict[str, float] = {}
    start = time.monotonic()
    failures: list[BaseException] = []

    def send(first: int) -> None:
        try:
            with httpx.Client(timeout=30) as client:
                for number in range(first, len(bodies), senders):
                    order_id, body = bodies[number]
                    pause = start + number / rate - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    sent[order_id] = time.time()
                    signature = webhook_signature(body, APP_KEY, APP_SECRET)
                    client.post(url, content=body, headers={"Authorization": signature})
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=send, args=(first,)) for first in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return sent


def _processes(
    folder: Path,
    db: str,
    sandbox: str,
    port: int,
    seconds: float,
    *,
    pass_through: bool,
    workers: int = 1,
) -> list[Any]:
    env = {**os.environ, "TIKTOK_APP_KEY": APP_KEY, "TIKTOK_APP_SECRET": APP_SECRET}
    commands = [
        ["serve", "--db", db, "--port", str(port), "--seconds", str(seconds)],
        ["work", "--db", db, "--interval", "0.02", "--seconds", str(seconds)]
        + (["--workers", str(workers)] if workers > 1 else []),
        [
            "dispatch",
            "--db",
            db,
            "--sandbox",
            sandbox,
            "--interval",
            "0.02",
            "--seconds",
            str(seconds),
        ],
    ]
    started = []
    for number, args in enumerate(commands):
        log = (folder / f"{number}-{args[0]}.log").open("wb")
        program = ["-m", "adapters", *args]
        copies = 1
        if pass_through and args[0] == "work":
            # As many pass-through processes as the lifecycle has workers.
            program, copies = ["-c", _PASS_THROUGH_WORKER, db, str(seconds)], workers
        started += [
            subprocess.Popen([sys.executable, *program], stdout=log, stderr=log, env=env)
            for _ in range(copies)
        ]
    return started


def _run(
    rate: float,
    seconds: float,
    *,
    pass_through: bool,
    postgres: str | None = None,
    workers: int = 1,
) -> tuple[list[float], int, list[float]]:
    """Latencies (seconds) of one run, how many effects never arrived, and the floor.

    On a SQLite file in a temporary folder, or in a fresh schema of the
    PostgreSQL database `postgres` names (dropped afterwards).
    """
    if postgres is None:
        return _run_on(rate, seconds, pass_through=pass_through, db=None, workers=workers)
    import psycopg

    schema = f"latency_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        return _run_on(
            rate,
            seconds,
            pass_through=pass_through,
            db=_schema_url(postgres, schema),
            workers=workers,
        )
    finally:
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _run_on(
    rate: float, seconds: float, *, pass_through: bool, db: str | None, workers: int
) -> tuple[list[float], int, list[float]]:
    count = int(rate * seconds)
    arrived: dict[str, float] = {}
    lock = threading.Lock()

    def note(request: Received) -> Reply | None:
        if request.path.endswith("OrderCreate-Social"):
            order_id = str((request.json() or {}).get("c_externalOrderId"))
            with lock:
                arrived.setdefault(order_id, time.time())
        return None

    with tempfile.TemporaryDirectory() as folder, local_partners() as partners:
        seeds = [line for n in range(count) for line in order_path(n)[:2]]  # seeded, ON_HOLD
        for text in seeds:
            partners.know(json.loads(text))
        url = db or f"sqlite:///{Path(folder) / 'latency.db'}"
        store = open_store(url)
        try:
            replay(OrderService(store), seeds, batch_size=500)
        finally:
            store.close()
        partners.server.fault = note
        port = _free_port()
        processes = _processes(
            Path(folder),
            url,
            partners.url,
            port,
            seconds + 60,
            pass_through=pass_through,
            workers=workers,
        )
        try:
            ready = time.monotonic() + 30
            while time.monotonic() < ready:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            now = int(time.time())
            bodies = [
                (f"5764614130{n:08d}", _release(f"5764614130{n:08d}", now, n)) for n in range(count)
            ]
            try:
                sent = _send_steadily(f"http://127.0.0.1:{port}/", bodies, rate)
            except httpx.TransportError:
                for log in sorted(Path(folder).glob("*.log")):
                    print(f"--- {log.name}\n{log.read_text()[-2000:]}", file=sys.stderr)
                raise
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(arrived) < count:
                time.sleep(0.05)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        floor: list[float] = []
        with httpx.Client(base_url=partners.url, timeout=30) as client:
            for _, body in bodies[: min(count, 500)]:
                start = time.perf_counter()
                client.post("/open_api/v1.3/event/track/", content=body)
                floor.append(time.perf_counter() - start)
    latencies = [arrived[order] - sent[order] for order in sent if order in arrived]
    return latencies, count - len(latencies), floor


def _row(what: str, values: list[float], reference: list[float] | None) -> tuple[str, ...]:
    p99 = _percentile(values, 0.99)
    versus = "1x" if reference is None else f"{p99 / _percentile(reference, 0.99):.2f}x"
    return (
        what,
        f"{_percentile(values, 0.50) * 1e3:.1f} ms",
        f"{p99 * 1e3:.1f} ms",
        f"{statistics.mean(values) * 1e3:.1f} ms",
        versus,
    )


def bench_latency(quick: bool) -> tuple[str, list[tuple[str, bool]]]:
    rate, seconds = (100.0, 3.0) if quick else (100.0, 8.0)
    ours, lost, floor = _run(rate, seconds, pass_through=False)
    reference, reference_lost, _ = _run(rate, seconds, pass_through=True)
    p99 = _percentile(ours, 0.99)
    checks = [("p99 under 50 ms on loopback", p99 < 0.050 and lost == 0)]
    count = int(rate * seconds)
    rows = [
        _row(
            f"webhook -> SFCC order creation, {count:,} webhooks at {rate:.0f}/s", ours, reference
        ),
        _row("ref: the same path, the lifecycle replaced by a pass-through", reference, None),
        _row("ref: one HTTP round trip to the fakes (the floor)", floor, reference),
        (f"effects that never arrived: {lost} (pass-through: {reference_lost})", "", "", "", ""),
    ]
    text = table(
        "Webhook to partner call latency (serve + work + dispatch processes)",
        rows + [(c, verdict(ok), "", "", "") for c, ok in checks],
        ("what", "p50", "p99", "mean", "p99 vs pass-through"),
    )
    return text, checks


def bench_latency_postgres(quick: bool) -> tuple[str, list[tuple[str, bool]]]:
    """The same path on PostgreSQL at 500 webhooks/s with `work --workers 2`, when
    `ORDER_LIFECYCLE_BENCH_POSTGRES` is set."""
    dsn = os.environ.get(POSTGRES_DSN, "")
    title = "Webhook to partner call latency on PostgreSQL (serve + work --workers 2 + dispatch)"
    header = ("what", "p50", "p99", "mean", "p99 vs pass-through")
    if not dsn:
        return table(title, [(f"skipped: set {POSTGRES_DSN} to a DSN", "", "", "", "")], header), []
    rate, seconds, workers = (500.0, 2.0, 2) if quick else (500.0, 8.0, 2)
    ours, lost, floor = _run(rate, seconds, pass_through=False, postgres=dsn, workers=workers)
    reference, reference_lost, _ = _run(
        rate, seconds, pass_through=True, postgres=dsn, workers=workers
    )
    p99 = _percentile(ours, 0.99)
    checks = [("p99 under 50 ms at 500/s on PostgreSQL", p99 < 0.050 and lost == 0)]
    count = int(rate * seconds)
    rows = [
        _row(
            f"webhook -> SFCC order creation, {count:,} webhooks at {rate:.0f}/s,"
            f" work --workers {workers}",
            ours,
            reference,
        ),
        _row("ref: the same path, the lifecycle replaced by a pass-through", reference, None),
        _row("ref: one HTTP round trip to the fakes (the floor)", floor, reference),
        (f"effects that never arrived: {lost} (pass-through: {reference_lost})", "", "", "", ""),
    ]
    text = table(title, rows + [(c, verdict(ok), "", "", "") for c, ok in checks], header)
    return text, checks
