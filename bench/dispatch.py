"""Outbox dispatch over HTTP to the local partner fakes, against a raw httpx loop.

Our side: orders are replayed into a SQLite store, then `Dispatcher.drain()`
delivers every effect (signing, retries, marking rows done, keeping SFCC's
order numbers) to the fakes on 127.0.0.1. The reference sends the very
requests the fakes received, byte for byte, with a bare `httpx.Client` from
one thread, the dispatcher's concurrency.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import httpx

from adapters.sandbox.local_partners import local_partners
from adapters.service import Dispatcher, OrderService, replay
from adapters.store import OutboxStatus, SqliteStore
from adapters.wiring import build_executors
from bench._harness import table, verdict
from bench.replay_inputs import inputs


def bench_dispatch(quick: bool) -> tuple[str, list[tuple[str, bool]]]:
    count = 1_200 if quick else 12_000
    lines = list(inputs(count))
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
    ours_rate = delivered / ours
    raw_rate = delivered / reference
    ratio = ours_rate / raw_rate
    checks = [("dispatch at least 0.7x the raw httpx loop", ratio >= 0.7)]
    rows = [
        (
            f"Dispatcher.drain, {delivered:,} effects ({len(sent):,} HTTP requests)",
            f"{ours_rate:,.0f} effects/s",
            f"{ratio:.2f}x raw",
        ),
        (
            f"ref: raw httpx loop sending the same requests, one thread ({ok:,} answered 2xx)",
            f"{raw_rate:,.0f} effects/s",
            "1x",
        ),
        (f"dead letters: {report.dead}", "", ""),
    ]
    text = table(
        "Outbox dispatch to the partner fakes over HTTP",
        rows + [(c, verdict(ok), "") for c, ok in checks],
        ("what", "throughput", "vs raw loop"),
    )
    return text, checks
