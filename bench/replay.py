"""Replaying inputs into SQLite with `order-lifecycle replay`, against a raw sqlite3 loop.

Each run is a fresh process (`order-lifecycle replay FILE --db sqlite:///...`),
timed from outside, its peak resident memory read from the kernel. The
reference then writes the very rows our replay wrote (read back from its
database) into an empty database of the same schema with plain sqlite3, one
transaction per input as our replay commits, so the ratio says what the
library costs above the database's own work.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._harness import table, verdict
from bench.replay_inputs import inputs

TABLES = ("inbox", "orders", "transitions", "outbox")


def _write_inputs(path: Path, count: int) -> None:
    with path.open("w") as out:
        for line in inputs(count):
            out.write(line + "\n")


def _run_replay(source: Path, database: Path) -> tuple[float, int]:
    """Seconds and peak RSS (bytes) of one `order-lifecycle replay` process."""
    command = [
        sys.executable,
        "-m",
        "adapters",
        "replay",
        str(source),
        "--db",
        f"sqlite:///{database}",
    ]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(
            f"replay failed: {process.stderr.read().decode() if process.stderr else ''}"
        )
    return elapsed, usage.ru_maxrss * 1024


def _raw_reference(ours: Path, count: int) -> float:
    """Seconds for plain sqlite3 to write our rows again, one transaction per input."""
    source = sqlite3.connect(ours)
    schema = [
        sql
        for (sql,) in source.execute(
            "SELECT sql FROM sqlite_master WHERE type IN ('table', 'index') AND sql IS NOT NULL"
            " AND name NOT LIKE 'sqlite_%'"
        )
    ]
    rows = {name: source.execute(f"SELECT * FROM {name}").fetchall() for name in TABLES}
    source.close()
    with tempfile.TemporaryDirectory() as folder:
        target = sqlite3.connect(Path(folder) / "raw.db", isolation_level=None)
        target.execute("PRAGMA journal_mode=WAL")
        target.execute("PRAGMA synchronous=NORMAL")
        for sql in schema:
            target.execute(sql)
        statements = {
            name: f"INSERT OR REPLACE INTO {name} VALUES ({', '.join('?' * len(rows[name][0]))})"
            for name in TABLES
            if rows[name]
        }
        # Spread every table's rows over the inputs in order, as replay wrote them.
        cursors = dict.fromkeys(TABLES, 0)
        start = time.perf_counter()
        for number in range(1, count + 1):
            target.execute("BEGIN IMMEDIATE")
            for name in statements:
                upto = len(rows[name]) * number // count
                for row in rows[name][cursors[name] : upto]:
                    target.execute(statements[name], row)
                cursors[name] = upto
            target.execute("COMMIT")
        elapsed = time.perf_counter() - start
        target.close()
    return elapsed


def bench_replay(quick: bool) -> tuple[str, list[tuple[str, bool]]]:
    sizes = (3_000, 12_000) if quick else (250_000, 1_000_000)
    rows = []
    figures = []
    with tempfile.TemporaryDirectory() as folder:
        for count in sizes:
            source = Path(folder) / f"in-{count}.jsonl"
            database = Path(folder) / f"replay-{count}.db"
            _write_inputs(source, count)
            seconds, peak = _run_replay(source, database)
            raw = _raw_reference(database, count)
            figures.append((count, seconds, peak, raw))
            rows.append(
                (
                    f"{count:,} inputs",
                    f"{count / seconds:,.0f} inputs/s",
                    f"{peak / 2**20:,.1f} MiB",
                    f"{count / raw:,.0f} rows-batches/s",
                    f"{raw / seconds:.2f}x raw",
                )
            )
    (small, _, small_peak, _), (large, large_seconds, large_peak, _) = figures
    growth = large_peak / small_peak
    checks = [
        ("at least 50,000 inputs/s", large / large_seconds >= 50_000),
        (
            f"peak memory flat ({large // small}x the inputs, {growth:.2f}x the memory)",
            growth < 1.25,
        ),
    ]
    text = table(
        "Replay into SQLite (order-lifecycle replay)",
        rows + [(c, verdict(ok), "", "", "") for c, ok in checks],
        ("what", "ours", "peak RSS", "raw sqlite3 loop", "ours vs raw"),
    )
    return text, checks
