"""Metrics: the endpoint, the worker and the dispatcher run as subprocesses with
`--metrics-port`, against a sandbox that injects faults (429, 503, timeouts, dropped
connections, malformed answers, refusals). Their metrics are scraped over real HTTP
while the run goes on, and at its end the counters say what the store says happened:
delivered = done rows, dead = dead rows, every claim of an effect counted once
(attempts beyond the first = retried, plus any lease lost), every webhook kept and
processed counted once.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from prometheus_client.parser import text_string_to_metric_families

from adapters.sandbox import Received, Reply
from adapters.sandbox.local_partners import local_partners
from adapters.store import OutboxStatus, Store, open_store
from tests.reliability._checks import seed, settled
from tests.reliability._client import send
from tests.reliability._procs import Processes, metrics_url, wait_until
from tests.reliability.conftest import SEED, scale
from tests.reliability.test_faults import Faults
from tests.reliability.workload import interleaved, plan_orders

ORDERS = scale(ci=60, full=600)
REFUSED = 0.03  # answered 400: a dead letter at once


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of the `order_lifecycle_` metrics, by name and labels."""
    text = httpx.get(url, timeout=30).text
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("order_lifecycle_"):
                found[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return found


def total(samples: dict[tuple[tuple[str, str], ...], float], **labels: str) -> float:
    wanted = set(labels.items())
    return sum(value for key, value in samples.items() if wanted <= set(key))


def store_says(store: Store) -> dict[str, float]:
    rows = store.outbox()
    return {
        "delivered": sum(e.status is OutboxStatus.DONE for e in rows),
        "dead": sum(e.status is OutboxStatus.DEAD for e in rows),
        "claims": sum(e.attempts for e in rows),
    }


def dispatcher_says(url: str) -> dict[str, float]:
    attempts = scrape(url)["order_lifecycle_effect_attempts_total"]
    return {
        "delivered": total(attempts, outcome="delivered"),
        "dead": total(attempts, outcome="dead"),
        "claims": total(attempts),
    }


def test_the_dispatchers_counters_match_the_store_after_a_fault_injection_run(
    database: Callable[[str], str],
    processes: Processes,
    figures: Callable[..., None],
) -> None:
    url = database("sqlite")
    plans = plan_orders(ORDERS, SEED + 30, datetime.now(UTC), prefix="M")
    store = open_store(url)
    try:
        seed(store, plans)
        with local_partners() as partners:
            faults = Faults(SEED + 31, partners.server.route)
            rng, lock = random.Random(SEED + 32), threading.Lock()

            def faulty(request: Received) -> Reply | None:
                with lock:
                    refuse = rng.random() < REFUSED
                if refuse:
                    return Reply(400, {"code": 36009003, "message": "refused by the test"})
                return faults(request)

            partners.server.fault = faulty
            serve, endpoint = processes.serve(url, "--metrics-port", "0", "--log-json")
            work = processes.work(url, "--metrics-port", "0", "--log-json")
            # One call at a time: with several in flight the seeded faults fall on calls
            # in whatever order they arrive, and a run may then see no retry to count.
            dispatch = processes.dispatch(
                url,
                partners.url,
                "--metrics-port",
                "0",
                "--log-json",
                "--max-attempts",
                "4",
                "--concurrency",
                "1",
            )
            endpoints = {p.name: metrics_url(p) for p in (serve, work, dispatch)}

            # Scraped while the webhooks arrive: the counters only ever grow.
            scrapes: list[dict[str, float]] = []
            stop = threading.Event()

            def scraper() -> None:
                while not stop.wait(0.3):
                    scrapes.append(dispatcher_says(endpoints[dispatch.name]))

            thread = threading.Thread(target=scraper)
            thread.start()
            try:
                answers = send(endpoint, interleaved(plans, SEED), seed=SEED)
                wait_until(lambda: settled(store), "every effect delivered or dead", 600)
            finally:
                stop.set()
                thread.join()

            expected = store_says(store)
            wait_until(
                lambda: dispatcher_says(endpoints[dispatch.name]) == expected,
                f"the dispatcher's counters to reach the store's {expected}",
                60,
            )
            final = scrape(endpoints[dispatch.name])
            received = scrape(endpoints[serve.name])["order_lifecycle_inputs_received_total"]
            processed = scrape(endpoints[work.name])["order_lifecycle_inputs_processed_total"]
            kept = [e for e in store.inbox() if e.kind == "webhook"]
    finally:
        store.close()

    assert expected["dead"] > 0, "the refusals must leave dead letters to count"
    attempts = final["order_lifecycle_effect_attempts_total"]
    retried, lost = total(attempts, outcome="retried"), total(attempts, outcome="lost")
    assert retried > 0, "the faults must cause retries to count"
    assert retried + lost == expected["claims"] - expected["delivered"] - expected["dead"]
    calls = final["order_lifecycle_partner_call_duration_seconds_count"]
    assert total(calls) == expected["claims"] - lost  # one timed call per attempt made
    for earlier, later in itertools.pairwise(scrapes):
        assert all(later[key] >= earlier[key] for key in earlier), (earlier, later)
    assert total(received, kind="webhook") == answers["HTTP 200"]
    assert total(processed, kind="webhook") == len(kept)
    figures(
        **{
            "orders / webhooks kept": f"{ORDERS} / {len(kept)}",
            "faults injected": ", ".join(f"{n} {k}" for k, n in sorted(faults.injected.items())),
            "scrapes during the run": len(scrapes),
            "delivered = done rows": int(expected["delivered"]),
            "dead = dead rows": int(expected["dead"]),
            "retried (+ lost) = attempts - 1": f"{int(retried)} (+ {int(lost)})",
        }
    )
