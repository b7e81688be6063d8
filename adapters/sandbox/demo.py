"""`order-lifecycle demo`: the bundled sample, end to end, against the local partner fakes.

It starts every partner fake on 127.0.0.1 (`adapters.sandbox.local_partners`),
replays `adapters/sandbox/samples/demo.jsonl` (made by `scripts/make_demo_sample.py`)
into a fresh SQLite file under `policy` (the default: a retail shop that
reports to neither TikTok feed), dispatches the outbox over real HTTP, and
prints a table of the orders and of the partner calls made. Exit status 0
when every effect was delivered, 1 when any is left as a dead letter.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import TextIO

import httpx

from adapters.sandbox.local_partners import local_partners
from adapters.service import Dispatcher, OrderService, replay
from adapters.store import OutboxStatus, SqliteStore
from adapters.wiring import build_executors
from lifecycle import DEFAULT_POLICY, Policy

__all__ = ["SAMPLE", "run_demo", "sample_lines"]

SAMPLE = "demo.jsonl"

#: Ids in request paths, replaced by their names so that calls group by endpoint.
_PATH_IDS = (
    (re.compile(r"(/packages/)[^/]+"), r"\1{package_id}"),
    (re.compile(r"(/cancellations/)(?!search)[^/]+"), r"\1{cancel_id}"),
    (re.compile(r"(/returns/)(?!search)[^/]+"), r"\1{return_id}"),
    (re.compile(r"(/delivery_options/)[^/]+"), r"\1{id}"),
    (re.compile(r"(/orders/)[^/]+$"), r"\1{order_no}"),
)


def sample_lines() -> list[str]:
    """The bundled sample, one input per line."""
    sample = resources.files("adapters.sandbox").joinpath("samples", SAMPLE)
    text = sample.read_text(encoding="utf-8")
    return text.splitlines()


def _endpoint(path: str) -> str:
    for pattern, name in _PATH_IDS:
        path = pattern.sub(name, path)
    return path


def run_demo(db_file: Path, out: TextIO, err: TextIO, policy: Policy = DEFAULT_POLICY) -> int:
    lines = sample_lines()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    with local_partners() as partners, httpx.Client(timeout=30) as http:
        out.write(f"sandbox: every partner fake listening on {partners.url}\n")
        for text in lines:
            if text.strip():
                partners.know(json.loads(text))
        store = SqliteStore(db_file)
        try:
            report = replay(OrderService(store, policy), lines)
            settings = partners.settings()
            dispatcher = Dispatcher(
                store, build_executors(settings, http), secrets=settings.secrets()
            )
            delivered = dispatcher.drain()
            _orders_table(store, out)
            outcomes = report.outcomes()
            out.write(
                f"\nreplayed {len(lines)} inputs from the bundled sample into {db_file}: "
                + ", ".join(f"{n} {name}" for name, n in sorted(outcomes.items()))
                + "\n"
            )
            for line, order_id, error_type, reason in report.rejected():
                out.write(f"  rejected line {line} ({order_id}): {error_type}: {reason}\n")
            _calls_table(partners.calls(), out)
            dead = store.outbox(status=OutboxStatus.DEAD)
            out.write(
                f"\ndispatched {delivered.done} effects over HTTP; {len(dead)} dead letters\n"
            )
            for entry in dead:
                out.write(f"  dead: {entry.kind} {entry.order_id}: {entry.last_error}\n")
            out.write(f"\nlook closer: order-lifecycle history ORDER_ID --db sqlite:///{db_file}\n")
        finally:
            store.close()
    return 1 if dead else 0


def _orders_table(store: SqliteStore, out: TextIO) -> None:
    out.write(f"\n{'order':<20}{'status':<21}{'version':>7}{'effects':>9}  path\n")
    for summary in store.orders():
        order = store.load(summary.order_id)
        assert order is not None
        events = [t.event for t in store.history(summary.order_id)]
        path = " > ".join(_compact(events))
        if order.cancelled_after_shipped:
            path += " (after shipped)"
        done = Counter(
            e.kind for e in store.outbox(summary.order_id) if e.status is OutboxStatus.DONE
        )
        out.write(
            f"{summary.order_id:<20}{summary.status:<21}{summary.version:>7}"
            f"{sum(done.values()):>9}  {path}\n"
        )


def _compact(events: list[str]) -> list[str]:
    """Events with repeats folded: ship, ship -> ship x2."""
    folded: list[str] = []
    for event in events:
        if folded and folded[-1].split(" x")[0] == event:
            count = int(folded[-1].split(" x")[1]) + 1 if " x" in folded[-1] else 2
            folded[-1] = f"{event} x{count}"
        else:
            folded.append(event)
    return folded


def _calls_table(calls: Counter[tuple[str, str, str]], out: TextIO) -> None:
    grouped: Counter[tuple[str, str, str]] = Counter()
    for (partner, method, path), count in calls.items():
        grouped[(partner, method, _endpoint(path))] += count
    out.write(f"\n{'partner':<31}{'call':<72}{'count':>5}\n")
    for (partner, method, path), count in sorted(grouped.items()):
        out.write(f"{partner:<31}{method + ' ' + path:<72}{count:>5}\n")
