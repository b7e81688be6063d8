"""`replay --workers N`: inputs per second against the number of workers, one store.

The workers are started as `order-lifecycle replay --workers N` starts them
(`adapters.entrypoints._workers.run_workers`, spawned processes, one shard
of the orders each), each with its own store connection and service, and
each replays the whole file, applying its shard's lines. They wait for each
other at a barrier once started, so the interpreters' start (about a second
each here) is not in the rate: the rate is the inputs over the time from the
barrier to the last worker's end. CPU time per input is the workers' own,
summed; what is left of the wall time per input is time spent waiting for
the database (its work, the round trips, its locks), which
docs/performance.md uses to project the curve to a larger machine.

Workers 1 and 2 by default (this machine has two cores);
`ORDER_LIFECYCLE_BENCH_WORKERS=4` measures 1 to 4. SQLite is the reference:
its writers take turns on the file's one lock. PostgreSQL runs only when
`ORDER_LIFECYCLE_BENCH_POSTGRES` holds a DSN (each run in a schema of its
own, dropped after).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from adapters.entrypoints._workers import run_workers
from adapters.service import OrderService, replay
from adapters.store import Shard, open_store
from bench._harness import table
from bench.replay import BATCH, POSTGRES_DSN, _schema_url, _write_inputs

#: The most workers measured (from 1): `ORDER_LIFECYCLE_BENCH_WORKERS`, default 2.
WORKERS_ENV = "ORDER_LIFECYCLE_BENCH_WORKERS"


def _timed_shard(shard: Shard, url: str, source: str, barrier: Any) -> tuple[float, float, float]:
    """One worker: its shard of the file replayed into `url`; (start, end, CPU seconds)."""
    store = open_store(url)
    try:
        service = OrderService(store, order_cache=10_000, shard=shard)
        with open(source, encoding="utf-8") as lines:
            barrier.wait()
            start, cpu = time.time(), time.process_time()
            replay(service, lines, batch_size=BATCH)
            return start, time.time(), time.process_time() - cpu
    finally:
        store.close()


#: The `application_name` of the workers' PostgreSQL connections, for `_Sampler`.
APPLICATION = "bench_workers"


class _Sampler:
    """What the workers' PostgreSQL backends do, sampled from `pg_stat_activity`.

    Every 20 ms while they run: the share of the samples in which a backend
    waits on a lock (the feed's advisory lock, a row), works (active), or
    waits for its worker (idle in a transaction: the worker decides, or the
    round trip).
    """

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.seen: dict[str, int] = {"lock": 0, "active": 0, "client": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _Sampler:
        # Entered once per run, counting on: a fresh thread each time.
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self._stop.wait(0.02):
                for state, waiting in conn.execute(
                    "SELECT state, wait_event_type FROM pg_stat_activity"
                    " WHERE application_name = %s AND state <> 'idle'",
                    (APPLICATION,),
                ):
                    if waiting == "Lock":
                        self.seen["lock"] += 1
                    elif state == "active":
                        self.seen["active"] += 1
                    else:
                        self.seen["client"] += 1

    def shares(self) -> str:
        total = sum(self.seen.values()) or 1
        return " / ".join(f"{self.seen[key] / total:.0%}" for key in ("lock", "active", "client"))


def _run(
    source: Path, url: str, workers: int, sampler: _Sampler | None = None
) -> tuple[float, float]:
    """Inputs' wall seconds (barrier to last end) and the workers' CPU seconds, summed."""
    open_store(url).close()  # created and migrated once, as the command does
    barrier = multiprocessing.get_context("spawn").Barrier(workers)
    with sampler or contextlib.nullcontext():
        results = run_workers(workers, _timed_shard, (url, str(source), barrier))
    done = [result for result in results if result is not None]
    start = min(begun for begun, _, _ in done)
    end = max(ended for _, ended, _ in done)
    return end - start, sum(cpu for _, _, cpu in done)


@contextmanager
def _sqlite(folder: Path) -> Iterator[Callable[[], str]]:
    def fresh() -> str:
        return f"sqlite:///{folder}/{uuid.uuid4().hex[:8]}.db"

    yield fresh


@contextmanager
def _postgres(dsn: str) -> Iterator[Callable[[], str]]:
    import psycopg

    schemas: list[str] = []

    def fresh() -> str:
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        schemas.append(schema)
        return _schema_url(dsn, schema) + f"&application_name={APPLICATION}"

    try:
        yield fresh
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _curve(
    fresh: Callable[[], str],
    source: Path,
    count: int,
    most: int,
    rounds: int,
    dsn: str | None = None,
) -> dict[int, tuple[float, float, str]]:
    """For each number of workers: median (inputs/s, CPU seconds per input), and with
    `dsn` what the backends did over all rounds (`_Sampler.shares`)."""
    rates: dict[int, list[float]] = {n: [] for n in range(1, most + 1)}
    cpus: dict[int, list[float]] = {n: [] for n in range(1, most + 1)}
    samplers = {n: _Sampler(dsn) if dsn else None for n in rates}
    for round_ in range(rounds):
        order = list(range(1, most + 1))
        for workers in order if round_ % 2 == 0 else order[::-1]:
            seconds, cpu = _run(source, fresh(), workers, samplers[workers])
            rates[workers].append(count / seconds)
            cpus[workers].append(cpu / count)
    shares = {n: sampler.shares() if sampler else "" for n, sampler in samplers.items()}
    return {n: (statistics.median(rates[n]), statistics.median(cpus[n]), shares[n]) for n in rates}


def bench_workers(quick: bool) -> tuple[str, list[tuple[str, bool]]]:
    most = max(1, int(os.environ.get(WORKERS_ENV, "2")))
    count, rounds = (300, 1) if quick else (12_000, 3)
    dsn = os.environ.get(POSTGRES_DSN, "")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in.jsonl"
        _write_inputs(source, count)
        backends = [("SQLite", _sqlite(Path(folder)))]
        if dsn:
            backends.append(("PostgreSQL", _postgres(dsn)))
        for name, opened in backends:
            with opened as fresh:
                curve = _curve(
                    fresh, source, count, most, rounds, dsn if name != "SQLite" else None
                )
            alone = curve[1][0]
            for workers, (rate, cpu, shares) in curve.items():
                wall = 1 / rate
                rows.append(
                    (
                        f"{name}, {workers} worker{'s' * (workers > 1)}",
                        f"{rate:,.0f} inputs/s",
                        f"{rate / alone:.2f}x",
                        f"{cpu * 1e6:,.0f} us",
                        f"{max(wall - cpu / workers, 0.0) * 1e6:,.0f} us",
                        shares,
                    )
                )
    if not dsn:
        rows.append((f"PostgreSQL skipped: set {POSTGRES_DSN} to a DSN", "", "", "", "", ""))
    text = table(
        f"Replay with --workers N ({count:,} inputs, {rounds} round{'s' * (rounds > 1)})",
        rows,
        (
            "store, workers",
            "replay rate",
            "vs 1 worker, same run",
            "CPU per input (all workers)",
            "wall per input not on a worker's CPU",
            "PostgreSQL backends: on a lock / active / waiting for the worker",
        ),
    )
    return text, []
