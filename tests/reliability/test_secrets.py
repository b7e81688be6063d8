"""Secrets: app secrets, tokens, emails and phone numbers never reach a log line, a
repr, an exception or the dead-letter table.

An end-to-end run (endpoint, worker and dispatcher as subprocesses) against a
sandbox that refuses some calls with an answer quoting the whole request, its
credentials and the buyer's data included, so that the dead letters are made
of exactly what must not leak. Everything captured is scanned: the processes'
stdout and stderr, the log records of the in-process endpoint, every stored
error (outbox, inbox), and the reprs and messages of the errors raised.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from adapters.entrypoints.webhook_app import WebhookApp
from adapters.errors import InboundError
from adapters.sandbox import Received, Reply
from adapters.sandbox.local_partners import SANDBOX_CREDENTIALS, local_partners, sandbox_settings
from adapters.service import OrderService
from adapters.store import OutboxStatus, open_store
from tests.reliability._checks import seed, settled
from tests.reliability._client import send
from tests.reliability._procs import Processes, metrics_url, wait_until
from tests.reliability.conftest import SEED, scale
from tests.reliability.workload import APP_KEY, APP_SECRET, email, interleaved, phone, plan_orders

ORDERS = scale(ci=40, full=300)
REFUSED = 0.3


def _secrets(order_count: int, order_ids: list[str]) -> list[str]:
    secret_keys = ("secret", "token")
    found = [APP_SECRET] + [v for k, v in SANDBOX_CREDENTIALS.items() if k.endswith(secret_keys)]
    found += ["sandbox-token-"]  # the bearer tokens the fake SFCC issues at run time
    found += [email(order_id) for order_id in order_ids]
    found += [phone(number) for number in range(order_count)]
    return found


def test_no_secret_or_personal_data_in_logs_reprs_errors_or_dead_letters(
    database: Callable[[str], str],
    processes: Processes,
    figures: Callable[..., None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = database("sqlite")
    plans = plan_orders(ORDERS, SEED + 20, datetime.now(UTC), prefix="S")
    rng, lock = random.Random(SEED + 21), threading.Lock()
    store = open_store(url)
    captured: list[str] = []
    try:
        seed(store, plans)
        with local_partners() as partners:

            def quote_everything(request: Received) -> Reply | None:
                with lock:
                    refuse = rng.random() < REFUSED
                if not refuse:
                    return None
                echo = f"{request.method} {request.path} {request.query} {request.headers}"
                echo += " " + request.body.decode(errors="replace")
                fault = {"type": "InvalidRequest", "message": echo}
                body = {"code": 36009003, "message": echo, "msg": echo, "fault": fault}
                return Reply(400, body)

            partners.server.fault = quote_everything
            # With metrics and JSON logs: both are scanned too.
            telemetry = ("--metrics-port", "0", "--log-json")
            serve, endpoint = processes.serve(url, *telemetry)
            work = processes.work(url, *telemetry)
            dispatch = processes.dispatch(url, partners.url, "--max-attempts", "2", *telemetry)
            scraped = [metrics_url(proc) for proc in (serve, work, dispatch)]
            send(endpoint, interleaved(plans, SEED), seed=SEED)
            # Forged deliveries that carry the secret in their body must not echo it.
            forged = json.dumps({"app_secret": APP_SECRET, "email": email(plans[0].order_id)})
            for headers in ({}, {"Authorization": "0" * 64}):
                captured.append(str(send_one(endpoint, forged.encode(), headers)))

            wait_until(lambda: settled(store), "every effect delivered or parked")
            metrics = [httpx.get(address, timeout=30).text for address in scraped]
            assert all("order_lifecycle_" in text for text in metrics)
            captured += metrics
            processes.stop_all()
        logged = [line for line in processes.captured().splitlines() if line.startswith("{")]
        assert any('"event": "effect"' in line for line in logged), "JSON logs to scan"
        assert any('"event": "input"' in line for line in logged), "JSON logs to scan"
        dead = store.outbox(status=OutboxStatus.DEAD)
        assert dead, "the refusals must leave dead letters to scan"
        captured += [e.last_error for e in store.outbox()]
        captured += [f"{e.reason} {e.error_type}" for e in store.inbox()]
        captured.append(processes.captured())

        # In-process: the endpoint's log records, reprs, and the errors hostile input raises.
        caplog.set_level(logging.DEBUG)
        service = OrderService(store, app_key=APP_KEY, app_secret=APP_SECRET)
        app = WebhookApp(service)
        captured += [repr(service), repr(app), repr(store), repr(sandbox_settings("http://x"))]
        for body, headers in (
            (forged.encode(), {}),
            (forged.encode(), {"Authorization": "a" * 64}),
        ):
            with pytest.raises(InboundError) as raised:
                service.accept_webhook(body, headers)
            captured += [repr(raised.value), str(raised.value)]
        captured.append(caplog.text)
    finally:
        store.close()
    text = "\n".join(captured)
    leaks = [s for s in _secrets(ORDERS, [p.order_id for p in plans]) if s in text]
    assert not leaks, f"leaked: {leaks[:5]}"
    figures(
        **{
            "orders / effects": f"{ORDERS} / {len(store_outbox_count(url))}",
            "dead letters scanned (quoting requests)": len(dead),
            "captured text scanned": f"{len(text):,} characters",
            "secrets and personal values looked for": len(_secrets(ORDERS, [])) + ORDERS,
            "found": 0,
        }
    )


def send_one(url: str, body: bytes, headers: dict[str, str]) -> int:
    import httpx

    return httpx.post(url, content=body, headers=headers, timeout=30).status_code


def store_outbox_count(url: str) -> list[object]:
    store = open_store(url)
    try:
        return list(store.outbox())
    finally:
        store.close()
