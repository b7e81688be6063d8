"""Outbox dispatch over HTTP to the local partner fakes, against a raw httpx loop.

Our side: orders are replayed into a SQLite store, then `Dispatcher.drain()`
delivers every effect (signing, retries, marking rows done, keeping SFCC's
order numbers) to the fakes on 127.0.0.1. The reference sends the very
requests the fakes received, byte for byte, with a bare `httpx.Client`, as
many at once as the dispatcher had in flight: from one thread against the
sequential dispatcher, and from a pool of `CONCURRENCY` threads (each taking
the next request, in the order the fakes received them) against
`Dispatcher(concurrency=CONCURRENCY)`. The concurrent pair meets partners
that take `LATENCY` to answer each call (the fakes sleep that long before
answering), as a partner across a network does: concurrency is there to
overlap that wait, which fakes answering at once from this very process
would not show. Each round runs both pairs on copies of one replayed store,
with fresh fakes for every drain and every loop.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from adapters.sandbox import Received, Reply
from adapters.sandbox.local_partners import local_partners
from adapters.service import Dispatcher, OrderService, replay
from adapters.store import OutboxStatus, SqliteStore
from adapters.wiring import build_executors, http_limits
from bench._harness import Paired, table, verdict
from bench.replay_inputs import inputs

#: the calls in flight of the concurrent row (the `dispatch --concurrency` default)
CONCURRENCY = 8
#: how long the fakes take to answer each call of the concurrent pair
LATENCY = 0.01


class _Drained:
    def __init__(self, seconds: float, delivered: int, dead: int, sent: list[Received]) -> None:
        self.seconds, self.delivered, self.dead, self.sent = seconds, delivered, dead, sent


def _slow(latency: float) -> Callable[[Received], Reply | None] | None:
    """A fault hook that answers every request after `latency` seconds (none for 0)."""
    if not latency:
        return None

    def wait(request: Received) -> None:
        time.sleep(latency)

    return wait


def _drain(
    lines: list[str], template: Path, folder: Path, concurrency: int, latency: float
) -> _Drained:
    """Our drain of a copy of the replayed store, to fresh fakes."""
    path = folder / f"dispatch-{concurrency}.db"
    shutil.copyfile(template, path)
    with local_partners() as partners:
        partners.server.fault = _slow(latency)
        for text in lines:
            partners.know(json.loads(text))
        store = SqliteStore(path)
        try:
            settings = partners.settings()
            with httpx.Client(timeout=30, limits=http_limits(settings, concurrency)) as http:
                dispatcher = Dispatcher(
                    store,
                    build_executors(settings, http),
                    secrets=settings.secrets(),
                    concurrency=concurrency,
                )
                start = time.perf_counter()
                report = dispatcher.drain()
                seconds = time.perf_counter() - start
            delivered = len(store.outbox(status=OutboxStatus.DONE))
        finally:
            store.close()
        return _Drained(seconds, delivered, report.dead, list(partners.server.requests()))


def _raw(
    lines: list[str], sent: list[Received], concurrency: int, latency: float
) -> tuple[float, int]:
    """The raw loop: `sent` again to fresh fakes, `concurrency` at once; seconds, 2xx."""
    # Fresh fakes that know the same orders, so every request meets the state ours met
    # (the fakes issue the same tokens in the same order).
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with (
        local_partners() as fresh,
        httpx.Client(base_url=fresh.url, timeout=30, limits=limits) as raw,
        ThreadPoolExecutor(concurrency) as pool,
    ):
        fresh.server.fault = _slow(latency)
        for text in lines:
            fresh.know(json.loads(text))

        def send(request: Received) -> bool:
            query = "&".join(f"{k}={v}" for k, v in request.query.items())
            answer = raw.request(
                request.method,
                request.path + (f"?{query}" if query else ""),
                content=request.body,
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            )
            return answer.is_success

        start = time.perf_counter()
        if concurrency == 1:
            ok = sum(send(request) for request in sent)
        else:
            ok = sum(pool.map(send, sent))
        return time.perf_counter() - start, ok


def _round(lines: list[str]) -> dict[int, tuple[_Drained, float, int]]:
    """One round: for each concurrency, our drain then its raw loop."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        template = folder / "replayed.db"
        store = SqliteStore(template)
        try:
            replay(OrderService(store), lines)
        finally:
            store.close()
        found = {}
        for concurrency, latency in ((1, 0.0), (CONCURRENCY, LATENCY)):
            ours = _drain(lines, template, folder, concurrency, latency)
            found[concurrency] = (ours, *_raw(lines, ours.sent, concurrency, latency))
        return found


def bench_dispatch(quick: bool) -> tuple[str, list[tuple[str, bool]]]:
    count, rounds = (1_200, 1) if quick else (6_000, 3)
    lines = list(inputs(count))
    runs = [_round(lines) for _ in range(rounds)]
    rows = []
    checks = []
    for concurrency in (1, CONCURRENCY):
        paired = [run[concurrency] for run in runs]
        result = Paired(
            statistics.median(ours.seconds for ours, _, _ in paired),
            statistics.median(raw for _, raw, _ in paired),
            tuple(raw / ours.seconds for ours, raw, _ in paired),  # raw seconds over ours
        )
        ours, _, ok = paired[-1]
        many = "one call" if concurrency == 1 else f"{concurrency} calls"
        threads = (
            "one thread"
            if concurrency == 1
            else f"{concurrency} threads, partners answering in {LATENCY * 1000:.0f} ms"
        )
        check = f"dispatch, {many} in flight, at least 0.8x the raw httpx loop"
        checks.append((check, result.median >= 0.8))
        rows += [
            (
                f"Dispatcher(concurrency={concurrency}).drain, {ours.delivered:,} effects"
                f" ({len(ours.sent):,} HTTP requests, {ours.dead} dead letters)",
                f"{ours.delivered / result.candidate:,.0f} effects/s",
                result.spread(),
                ">= 0.8x",
            ),
            (
                f"ref: raw httpx loop sending the same requests, {threads} ({ok:,} answered 2xx)",
                f"{ours.delivered / result.reference:,.0f} effects/s",
                "1x",
                "",
            ),
        ]
    text = table(
        f"Outbox dispatch to the partner fakes over HTTP ({rounds} rounds)",
        rows + [(c, verdict(ok), "", "") for c, ok in checks],
        ("what", "throughput", "vs raw loop: min / median / max", "target"),
    )
    return text, checks
