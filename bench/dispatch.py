"""Outbox dispatch over HTTP to the local partner fakes, against a raw httpx loop.

Our side: orders are replayed into a SQLite store, then `Dispatcher.drain()`
delivers every effect (signing, retries, marking rows done, keeping SFCC's
order numbers) to the fakes on 127.0.0.1. The reference sends the very
requests the fakes received, byte for byte, with a bare `httpx.Client` from
one thread, the dispatcher's concurrency.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from adapters.sandbox.local_partners import local_partners
from adapters.service import Dispatcher, OrderService, replay
from adapters.store import OutboxStatus, SqliteStore
from adapters.wiring import build_executors
from bench._harness import Paired, table, verdict
from bench.replay_inputs import inputs


def _round(lines: list[str]) -> tuple[float, float, int, int, int, int]:
    """One round: our drain, then the raw loop; seconds of each, effects, requests, 2xx, dead."""
    with tempfile.TemporaryDirectory() as folder, local_partners() as partners:
        for text in lines:
            partners.know(json.loads(text))
        store = SqliteStore(Path(folder) / "dispatch.db")
        try:
            replay(OrderService(store), lines)
            settings = partners.settings()
            with httpx.Client(timeout=30) as http:
                dispatcher = Dispatcher(
                    store, build_executors(settings, http), secrets=settings.secrets()
                )
                start = time.perf_counter()
                report = dispatcher.drain()
                ours = time.perf_counter() - start
            delivered = len(store.outbox(status=OutboxStatus.DONE))
        finally:
            store.close()
        sent = list(partners.server.requests())
    # The reference talks to fresh fakes that know the same orders, so every request
    # meets the same state ours met (the fakes issue the same tokens in the same order).
    with local_partners() as fresh, httpx.Client(base_url=fresh.url, timeout=30) as raw:
        for text in lines:
            fresh.know(json.loads(text))
        ok = 0
        start = time.perf_counter()
        for request in sent:
            query = "&".join(f"{k}={v}" for k, v in request.query.items())
            answer = raw.request(
                request.method,
                request.path + (f"?{query}" if query else ""),
                content=request.body,
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            )
            ok += answer.is_success
        reference = time.perf_counter() - start
    return ours, reference, delivered, len(sent), ok, report.dead


def bench_dispatch(quick: bool) -> tuple[str, list[tuple[str, bool]]]:
    count, rounds = (1_200, 1) if quick else (6_000, 3)
    lines = list(inputs(count))
    # Each round is a fresh store and fresh fakes: ours then the raw loop (which replays
    # the requests ours made), so the rounds pair each drain with its own reference.
    runs = [_round(lines) for _ in range(rounds)]
    result = Paired(
        statistics.median(run[0] for run in runs),
        statistics.median(run[1] for run in runs),
        tuple(run[1] / run[0] for run in runs),  # our speed: raw seconds over ours
    )
    _, _, delivered, sent, ok, dead = runs[-1]
    checks = [("dispatch at least 0.8x the raw httpx loop", result.median >= 0.8)]
    rows = [
        (
            f"Dispatcher.drain, {delivered:,} effects ({sent:,} HTTP requests)",
            f"{delivered / result.candidate:,.0f} effects/s",
            result.spread(),
            ">= 0.8x",
        ),
        (
            f"ref: raw httpx loop sending the same requests, one thread ({ok:,} answered 2xx)",
            f"{delivered / result.reference:,.0f} effects/s",
            "1x",
            "",
        ),
        (f"dead letters: {dead}", "", "", ""),
    ]
    text = table(
        f"Outbox dispatch to the partner fakes over HTTP ({rounds} rounds)",
        rows + [(c, verdict(ok), "", "") for c, ok in checks],
        ("what", "throughput", "vs raw loop: min / median / max", "target"),
    )
    return text, checks
