"""Faults: the partners misbehave at seeded random rates and the worker and the
dispatcher are killed with SIGKILL at seeded random moments, then restarted.

The sandbox answers some calls with 429, 503, a timeout (no answer within the
dispatcher's HTTP timeout), a dropped connection, or a malformed body (after
it applied the call, as a broken proxy would). At the end no input and no
effect is lost, none is applied twice per idempotency key, no order's history
has a gap, and SQLite's `PRAGMA integrity_check` is clean.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from adapters.sandbox import DROP, Received, Reply
from adapters.sandbox.local_partners import local_partners
from adapters.store import open_store
from tests.reliability._checks import (
    effects_reached_the_sandbox,
    inbox_is_complete,
    orders_match_memory,
    seed,
    settled,
    sqlite_integrity,
)
from tests.reliability._client import send
from tests.reliability._procs import Proc, Processes, wait_until
from tests.reliability.conftest import FULL, SEED, scale
from tests.reliability.workload import interleaved, plan_orders

ORDERS = scale(ci=150, full=1500)
KILLS = scale(ci=6, full=40)
#: Per partner call: the chance of each fault.
RATES = {"429": 0.04, "503": 0.04, "timeout": 0.01, "dropped": 0.03, "malformed": 0.03}
TIMEOUT_DELAY = 1.0  # past the dispatcher's --http-timeout 0.5


class Faults:
    """The sandbox's fault hook: seeded, counted, switched off at will."""

    def __init__(self, seed: int, route: Callable[[Received], Reply]) -> None:
        self.rng = random.Random(seed)
        self.route = route
        self.injected: Counter[str] = Counter()
        self.on = True
        self.lock = threading.Lock()

    def __call__(self, request: Received) -> Reply | None:
        with self.lock:
            draw = self.rng.random()
            fault = None
            for name, rate in RATES.items():
                if self.on and draw < rate:
                    fault = name
                    break
                draw -= rate
            if fault:
                self.injected[fault] += 1
        if fault == "429":
            return Reply(429, {"code": 429, "message": "Too Many Requests"})
        if fault == "503":
            return Reply(503, raw=b"<html>Service Unavailable</html>")
        if fault == "timeout":
            time.sleep(TIMEOUT_DELAY)
            return DROP
        if fault == "dropped":
            return DROP
        if fault == "malformed":
            self.route(request)  # applied, but the answer is spoiled on its way back
            return Reply(200, raw=b'{"code": 0, "message": "Succ')
        return None


@pytest.mark.parametrize("backend", ["sqlite", "postgres"] if FULL else ["sqlite"])
def test_faults_and_kills_lose_nothing_and_apply_nothing_twice(
    backend: str,
    database: Callable[[str], str],
    processes: Processes,
    figures: Callable[..., None],
) -> None:
    url = database(backend)
    plans = plan_orders(ORDERS, SEED + 1, datetime.now(UTC), prefix="F")
    rng = random.Random(SEED + 2)
    store = open_store(url)
    kills: Counter[str] = Counter()
    try:
        seed(store, plans)
        with local_partners() as partners:
            faults = Faults(SEED + 3, partners.server.route)
            partners.server.fault = faults
            _, endpoint = processes.serve(url)
            running: dict[str, Proc] = {
                "worker": processes.work(url),
                "dispatcher": processes.dispatch(url, partners.url),
            }

            def restart(name: str) -> None:
                if name == "worker":
                    running[name] = processes.work(url)
                else:
                    running[name] = processes.dispatch(url, partners.url)

            stop = threading.Event()

            def killer() -> None:
                for _ in range(KILLS):
                    if stop.wait(rng.uniform(0.2, 1.2)):
                        return
                    name = rng.choice(sorted(running))
                    running[name].kill()
                    kills[name] += 1
                    restart(name)

            thread = threading.Thread(target=killer)
            thread.start()
            try:
                answers = send(endpoint, interleaved(plans, SEED), seed=SEED)
                thread.join(timeout=300)
            finally:
                stop.set()
                thread.join()

            wait_until(lambda: settled(store), "every input applied, every effect delivered", 600)
            webhooks = sum(len(p.webhooks) for p in plans)
            assert answers["accepted"] == webhooks, answers
            attempts = sum(e.attempts for e in store.outbox())
            figures(
                backend=backend,
                **{
                    "webhooks sent": webhooks,
                    "partner calls (faults injected)": f"{len(partners.server.requests())}"
                    f" ({sum(faults.injected.values())})",
                    "faults": ", ".join(f"{n} {k}" for k, n in sorted(faults.injected.items())),
                    "SIGKILLs (worker / dispatcher)": f"{sum(kills.values())}"
                    f" ({kills['worker']} / {kills['dispatcher']})",
                    "delivery attempts for the effects": attempts,
                },
                **inbox_is_complete(store, plans),
                **orders_match_memory(store, plans),
                **effects_reached_the_sandbox(store, partners),
                **{"SQLite integrity_check": sqlite_integrity(url)},
            )
    finally:
        store.close()
    assert sum(kills.values()) == KILLS
