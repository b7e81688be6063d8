"""Load: the endpoint under uvicorn takes a sustained stream of signed webhooks for
thousands of orders while a worker applies them and a dispatcher delivers the effects.

Every order starts unknown: the store is not seeded. The sandbox's TikTok Shop
holds every order (and each buyer's cancellation request), and `work
--sandbox` reads each order's detail from it on first sight, in batches, and
re-reads what the webhooks leave out. Afterwards every webhook is in the inbox
with an outcome, every order is what the in-memory lifecycle makes of its
webhooks in order, every effect reached the sandbox once per idempotency key,
and every order was read, with no read dead and no input left waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from adapters.sandbox.local_partners import local_partners
from adapters.store import open_store
from tests.reliability._checks import (
    effects_reached_the_sandbox,
    inbox_is_complete,
    orders_match_memory,
    read_on_first_sight,
    settled,
    sqlite_integrity,
)
from tests.reliability._client import send
from tests.reliability._procs import Processes, wait_until
from tests.reliability.conftest import FULL, SEED, scale
from tests.reliability.workload import first_sight_policy, interleaved, plan_orders, stock

ORDERS = scale(ci=300, full=3000)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"] if FULL else ["sqlite"])
def test_a_sustained_stream_of_webhooks_is_kept_applied_and_delivered(
    backend: str,
    database: Callable[[str], str],
    processes: Processes,
    figures: Callable[..., None],
) -> None:
    url = database(backend)
    plans = plan_orders(ORDERS, SEED, datetime.now(UTC))
    policy, config = first_sight_policy()
    config_file = processes.logs / "first-sight.toml"
    config_file.write_text(config)
    store = open_store(url)
    try:
        with local_partners() as partners:
            stock(partners.tiktok_shop, plans)
            with_config = ("--config", str(config_file))
            _, endpoint = processes.serve(url, *with_config)
            processes.work(url, "--sandbox", partners.url, *with_config)
            processes.dispatch(url, partners.url, *with_config)
            started = time.monotonic()
            answers = send(endpoint, interleaved(plans, SEED), resend=0.05, seed=SEED)
            sent_in = time.monotonic() - started

            wait_until(lambda: settled(store, reads=True), "the worker and dispatcher", 600)
            settled_in = time.monotonic() - started
            webhooks = sum(len(p.webhooks) for p in plans)
            rate = (webhooks + answers["resent"]) / sent_in
            assert answers["HTTP 200"] == webhooks + answers["resent"], answers
            assert answers["accepted"] == webhooks
            assert answers["resent answered duplicate"] == answers["resent"]
            figures(
                backend=backend,
                **{
                    "webhooks sent (+ redeliveries)": f"{webhooks} (+{answers['resent']})",
                    "answers": ", ".join(
                        f"{n} {k}" for k, n in sorted(answers.items()) if k.startswith("HTTP")
                    ),
                    "sent in / applied and delivered in": f"{sent_in:.1f} s / {settled_in:.1f} s",
                    "endpoint rate (informational)": f"{rate:.0f} webhooks/s",
                },
                **inbox_is_complete(store, plans),
                **orders_match_memory(store, plans, policy=policy),
                **effects_reached_the_sandbox(store, partners),
                **read_on_first_sight(store, partners, plans),
                **{"SQLite integrity_check": sqlite_integrity(url)},
            )
    finally:
        store.close()
    assert "Traceback" not in processes.captured()
