"""Replaying inputs into SQLite with `order-lifecycle replay`, against a raw sqlite3 loop.

Each run is a fresh process (`order-lifecycle replay FILE --db sqlite:///...`),
timed from outside, its peak resident memory read from the kernel. The
reference then writes the very rows our replay wrote (read back from its
database) into an empty database of the same schema with plain sqlite3, in
the same batches of inputs per transaction as our replay commits, so the
ratio says what the library costs above the database's own work.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench._harness import Paired, table, verdict
from bench.replay_inputs import inputs

TABLES = ("inbox", "orders", "transitions", "outbox", "order_snapshots")
#: Inputs per transaction: `order-lifecycle replay`'s default `--batch`, for both sides.
BATCH = 500


def _write_inputs(path: Path, count: int) -> None:
    with path.open("w") as out:
        for line in inputs(count):
            out.write(line + "\n")


#: Runs the replay, then prints the process's own peak RSS (VmHWM, in kB). Counted from
#: inside: a child's rusage would also count the memory of the benchmark process it
#: was forked from, which exec records as the child's own.
_REPLAY_AND_REPORT = """
import sys
from adapters.entrypoints.cli import main
code = main(["replay", sys.argv[1], "--db", sys.argv[2]])
with open("/proc/self/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
print(f"VmHWM {peak}", file=sys.stderr)
sys.exit(code)
"""


def _run_replay(source: Path, database: Path | str) -> tuple[float, int]:
    """Seconds and peak RSS (bytes) of one `order-lifecycle replay` process.

    `database` is a SQLite file, or a database URL (PostgreSQL).
    """
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    command = [sys.executable, "-c", _REPLAY_AND_REPORT, str(source), url]
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"replay failed: {result.stderr}")
    peak = int(result.stderr.rsplit("VmHWM", 1)[1].split()[0])
    return elapsed, peak * 1024


def _raw_reference(ours: Path, count: int) -> float:
    """Seconds for plain sqlite3 to write our rows again, in replay's batches of inputs."""
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
            if number % BATCH == 1:
                target.execute("BEGIN IMMEDIATE")
            for name in statements:
                upto = len(rows[name]) * number // count
                for row in rows[name][cursors[name] : upto]:
                    target.execute(statements[name], row)
                cursors[name] = upto
            if number % BATCH == 0 or number == count:
                target.execute("COMMIT")
        elapsed = time.perf_counter() - start
        target.close()
    return elapsed


def bench_replay(quick: bool) -> tuple[str, list[tuple[str, bool]]]:
    # (inputs, paired rounds): the rounds alternate our replay with the raw loop.
    sizes = ((3_000, 2), (12_000, 1)) if quick else ((100_000, 3), (400_000, 1))
    rows = []
    peaks = []
    ratios = []
    with tempfile.TemporaryDirectory() as folder:
        for count, rounds in sizes:
            source = Path(folder) / f"in-{count}.jsonl"
            _write_inputs(source, count)
            # Rounds alternate which side goes first; the raw loop writes the rows that
            # the first round's replay wrote, so that round runs ours first.
            ours, theirs, peak = [], [], 0
            for round_ in range(rounds):
                database = Path(folder) / f"replay-{count}-{round_}.db"
                if round_ % 2:
                    theirs.append(_raw_reference(Path(folder) / f"replay-{count}-0.db", count))
                seconds, peak_now = _run_replay(source, database)
                ours.append(seconds)
                peak = max(peak, peak_now)
                if not round_ % 2:
                    theirs.append(_raw_reference(database, count))
            # Our speed against raw: raw seconds over our seconds.
            result = Paired(
                statistics.median(theirs),
                statistics.median(ours),
                tuple(raw / mine for raw, mine in zip(theirs, ours, strict=True)),
            )
            peaks.append(peak)
            ratios.append(result.median)
            rows.append(
                (
                    f"{count:,} inputs ({rounds} round{'s' * (rounds > 1)})",
                    f"{count / result.reference:,.0f} inputs/s",
                    f"{peak / 2**20:,.1f} MiB",
                    f"{count / result.candidate:,.0f} inputs' rows/s",
                    result.spread(),
                    ">= 0.5x",
                )
            )
    (small, _), (large, _) = sizes
    growth = peaks[1] / peaks[0]
    checks = [
        ("replay at least 0.5x raw sqlite3, same rows and batches", min(ratios) >= 0.5),
        (
            f"peak memory flat ({large // small}x the inputs, {growth:.2f}x the memory)",
            growth < 1.25,
        ),
    ]
    text = table(
        "Replay into SQLite (order-lifecycle replay)",
        rows + [(c, verdict(ok), "", "", "", "") for c, ok in checks],
        (
            "what",
            "ours",
            "peak RSS",
            "raw sqlite3 loop",
            "ours vs raw: min / median / max",
            "target",
        ),
    )
    return text, checks


#: The PostgreSQL the `replay_postgres` benchmark may use (never set in CI): a DSN.
POSTGRES_DSN = "ORDER_LIFECYCLE_BENCH_POSTGRES"


def _schema_url(dsn: str, schema: str) -> str:
    separator = "&" if "?" in dsn else "?"
    return f"{dsn}{separator}options=-csearch_path%3D{schema}"


def _raw_postgres(dsn: str, ours: str, count: int, *, pipelined: bool) -> float:
    """Seconds for plain psycopg to write our rows again, in replay's batches of inputs.

    `pipelined`: one `executemany` per table per batch (psycopg pipelines it);
    otherwise one `execute` per row, as a naive loop would.
    """
    import psycopg

    target = f"raw_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = {
            name: conn.execute(f"SELECT * FROM {ours}.{name} ORDER BY 1").fetchall()
            for name in TABLES
        }
        conn.execute(f"CREATE SCHEMA {target}")
        for name in TABLES:
            conn.execute(f"CREATE TABLE {target}.{name} (LIKE {ours}.{name} INCLUDING ALL)")
    try:
        with psycopg.connect(dsn) as conn:
            statements = {
                name: f"INSERT INTO {target}.{name} VALUES"
                f" ({', '.join(['%s'] * len(rows[name][0]))})"
                for name in TABLES
                if rows[name]
            }
            cursors = dict.fromkeys(TABLES, 0)
            start = time.perf_counter()
            with conn.cursor() as cursor:
                for number in range(1, count + 1):
                    for name, sql in statements.items():
                        upto = len(rows[name]) * number // count
                        chunk = rows[name][cursors[name] : upto]
                        if pipelined and (number % BATCH == 0 or number == count):
                            # Written once per batch, everything since the last one.
                            cursor.executemany(sql, rows[name][cursors[name] : upto])
                            cursors[name] = upto
                        elif not pipelined:
                            for row in chunk:
                                cursor.execute(sql, row)
                            cursors[name] = upto
                    if number % BATCH == 0 or number == count:
                        conn.commit()
            return time.perf_counter() - start
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {target} CASCADE")


def bench_replay_postgres(quick: bool) -> tuple[str, list[tuple[str, bool]]]:
    """Replay into PostgreSQL against raw psycopg, when `ORDER_LIFECYCLE_BENCH_POSTGRES` is set."""
    dsn = os.environ.get(POSTGRES_DSN, "")
    title = "Replay into PostgreSQL (order-lifecycle replay)"
    header = ("what", "ours", "raw psycopg", "ours vs raw: min / median / max", "target")
    if not dsn:
        return table(title, [(f"skipped: set {POSTGRES_DSN} to a DSN", "", "", "", "")], header), []
    import psycopg

    count, rounds = (3_000, 1) if quick else (30_000, 3)
    results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in.jsonl"
        _write_inputs(source, count)
        for round_ in range(rounds):
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            try:
                seconds, _ = _run_replay(source, _schema_url(dsn, schema))
                for pipelined in (True, False) if round_ % 2 else (False, True):
                    raw = _raw_postgres(dsn, schema, count, pipelined=pipelined)
                    results[pipelined].append((seconds, raw))
            finally:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
    rows = []
    medians = {}
    for pipelined, name in ((True, "pipelined executemany"), (False, "execute per row")):
        runs = results[pipelined]
        paired_ = Paired(
            statistics.median(s for s, _ in runs),
            statistics.median(r for _, r in runs),
            tuple(r / s for s, r in runs),
        )
        medians[pipelined] = paired_.median
        rows.append(
            (
                f"{count:,} inputs vs raw psycopg, {name} ({rounds} rounds)",
                f"{count / paired_.candidate:,.0f} inputs/s",
                f"{count / paired_.reference:,.0f} inputs' rows/s",
                paired_.spread(),
                ">= 0.5x" if pipelined else "",
            )
        )
    checks = [("replay at least 0.5x pipelined raw psycopg", medians[True] >= 0.5)]
    return table(title, rows + [(c, verdict(ok), "", "", "") for c, ok in checks], header), checks
