"""The ASGI webhook endpoint: the status of every kind of request, and what it stores.

Driven in memory through httpx's ASGI transport; tests/reliability drives it
under uvicorn over real HTTP.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.entrypoints.webhook_app import WebhookApp
from adapters.service import OrderService
from adapters.store import InputOutcome, SqliteStore, Store
from tests.store.helpers import SHOP, seed_detail, status_webhook

KEY, SECRET = "app-key-1", "app-secret-do-not-log"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ORDER = "576461413038785752"


def signed(body: bytes) -> dict[str, str]:
    from adapters.partners.tiktok_shop import webhook_signature

    return {"Authorization": webhook_signature(body, KEY, SECRET)}


def post(
    app: WebhookApp, body: Any, headers: dict[str, str], method: str = "POST"
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://oms.test") as client:
            return await client.request(method, "/tiktok/webhooks", content=body, headers=headers)

    return asyncio.run(go())


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("orders", "transitions", "inbox", "outbox", "external_refs")
        }


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    opened = SqliteStore(db)
    OrderService(opened).seed(seed_detail(ORDER), shop_id=SHOP)
    yield opened
    opened.close()


def app_for(store: Store, **kwargs: Any) -> WebhookApp:
    service = OrderService(store, clock=lambda: NOW, app_key=KEY, app_secret=SECRET)
    return WebhookApp(service, **kwargs)


def test_a_signed_webhook_is_kept_unprocessed_and_a_worker_applies_it(store: Store) -> None:
    body = status_webhook(ORDER, "ON_HOLD", NOW - timedelta(minutes=5), "n-1")
    answer = post(app_for(store), body, signed(body))
    assert (answer.status_code, answer.json()) == (200, {"status": "accepted"})
    [pending] = store.pending("webhook")
    assert (pending.payload.encode(), pending.order_id) == (body, ORDER)
    assert store.load(ORDER).version == 0  # type: ignore[union-attr]
    [result] = OrderService(store).process_pending()
    assert result.outcome is InputOutcome.APPLIED
    assert store.pending("webhook") == []
    assert store.load(ORDER).status == "ON_HOLD"  # type: ignore[union-attr]


def test_a_repeated_delivery_answers_200_and_keeps_no_new_input(store: Store) -> None:
    body = status_webhook(ORDER, "ON_HOLD", NOW - timedelta(minutes=5), "n-1")
    app = app_for(store)
    assert post(app, body, signed(body)).json() == {"status": "accepted"}
    again = post(app, body, signed(body))
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert len(store.inbox()) == 2  # the seed and the webhook, once
    OrderService(store).process_pending()
    third = post(app, body, signed(body))
    assert third.json() == {"status": "duplicate"}
    assert store.pending("webhook") == []
    kept = store.inbox()[-1]
    assert (kept.outcome, kept.repeats) == (InputOutcome.APPLIED, 1)  # counted, not kept again
    assert len(store.inbox()) == 2


def test_inline_processing_applies_before_answering(store: Store) -> None:
    body = status_webhook(ORDER, "ON_HOLD", NOW - timedelta(minutes=5))
    answer = post(app_for(store, process_inline=True), body, signed(body))
    assert answer.json() == {"status": "applied"}
    assert store.load(ORDER).status == "ON_HOLD"  # type: ignore[union-attr]
    unknown = status_webhook("404", "ON_HOLD", NOW - timedelta(minutes=5))
    answer = post(app_for(store, process_inline=True), unknown, signed(unknown))
    assert answer.json() == {"status": "waiting"}  # kept until its order is known


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({}, 401, "InvalidSignature"),
        ({"Authorization": "0" * 64}, 401, "InvalidSignature"),
        ({"Authorization": "not-hex"}, 401, "InvalidSignature"),
    ],
)
def test_forged_or_missing_signatures_are_401_and_store_nothing(
    store: Store, db: Path, headers: dict[str, str], status: int, error: str
) -> None:
    body = status_webhook(ORDER, "ON_HOLD", NOW)
    before = dump(db)
    answer = post(app_for(store), body, headers)
    assert (answer.status_code, answer.json()) == (status, {"error": error})
    assert dump(db) == before


def test_other_methods_are_405(store: Store) -> None:
    answer = post(app_for(store), b"", {}, method="GET")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"


def test_an_oversized_body_is_413_by_its_length_or_while_it_streams(store: Store, db: Path) -> None:
    app = app_for(store, max_body=1024)
    before = dump(db)
    big = b"x" * 5000
    answer = post(app, big, {**signed(big), "Content-Length": "5000"})
    assert (answer.status_code, answer.json()) == (413, {"error": "BodyTooLarge"})
    chunks_read = []

    async def stream() -> AsyncIterator[bytes]:
        for number in range(1000):
            chunks_read.append(number)
            yield b"y" * 512

    answer = post(app, stream(), signed(b""))
    assert (answer.status_code, answer.json()) == (413, {"error": "BodyTooLarge"})
    assert len(chunks_read) < 10  # refused after the cap, not read whole
    answer = post(app, b"{}", {**signed(b"{}"), "Content-Length": "two"})
    assert answer.status_code == 400
    assert dump(db) == before


def test_a_body_that_stalls_past_body_timeout_is_408_closed_and_stores_nothing(
    store: Store, db: Path
) -> None:
    app = app_for(store, body_timeout=0.2)
    before = dump(db)
    stalled = asyncio.Event()

    async def stream() -> AsyncIterator[bytes]:
        yield b'{"type": 1'
        await stalled.wait()  # never set: the client sends nothing more
        yield b"}"  # pragma: no cover

    answer = post(app, stream(), signed(b""))
    assert (answer.status_code, answer.json()) == (408, {"error": "BodyTimeout"})
    assert answer.headers["connection"] == "close"
    assert dump(db) == before
    with pytest.raises(ValueError, match="body_timeout"):
        app_for(store, body_timeout=0)


def test_a_failing_store_is_503_so_tiktok_delivers_again(store: Store) -> None:
    """The store wraps the driver's error (here sqlite3's closed-database error) in its own
    `StoreFailed`, and the app answers 503 naming it."""
    body = status_webhook(ORDER, "ON_HOLD", NOW)
    store.close()
    answer = post(app_for(store), body, signed(body))
    assert (answer.status_code, answer.json()) == (503, {"error": "StoreFailed"})


def test_each_request_logs_one_typed_line_without_body_or_secret(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "adapters.entrypoints.webhook_app")
    body = json.dumps({"type": 1, "shop_id": SHOP, "timestamp": "soon", "data": {}}).encode()
    post(app_for(store), body, signed(body))
    [record] = caplog.records
    assert record.getMessage() == "webhook status=400 outcome=refused error=MalformedPayload"
    assert record.webhook == {"status": 400, "outcome": "refused", "error": "MalformedPayload"}  # type: ignore[attr-defined]
    assert SECRET not in caplog.text
    assert "soon" not in caplog.text


def test_the_app_needs_credentials_and_answers_lifespan(store: Store) -> None:
    with pytest.raises(ValueError, match="app_key and app_secret"):
        WebhookApp(OrderService(store))
    app = app_for(store)
    assert SECRET not in repr(app)
    sent: list[dict[str, Any]] = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def get(app: WebhookApp, path: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://oms.test") as client:
            return await client.get(path)

    return asyncio.run(go())


def test_health_and_readiness_answer_get_without_a_signature(store: Store, db: Path) -> None:
    """/healthz: the process is up; /readyz: the store answers. Nothing is kept."""
    before = dump(db)
    app = app_for(store)
    assert (get(app, "/healthz").status_code, get(app, "/healthz").json()) == (
        200,
        {"status": "ok"},
    )
    assert (get(app, "/readyz").status_code, get(app, "/readyz").json()) == (
        200,
        {"status": "ready"},
    )
    assert get(app, "/elsewhere").status_code == 405
    assert post(app, b"{}", {}, method="PUT").status_code == 405
    assert dump(db) == before


def test_readiness_says_unavailable_when_the_store_does_not_answer(tmp_path: Path) -> None:
    """A store that fails (closed here) makes /readyz a 503; /healthz still says ok."""
    broken = SqliteStore(tmp_path / "gone.db")
    app = app_for(broken)
    broken.close()
    ready = get(app, "/readyz")
    assert (ready.status_code, ready.json()) == (503, {"status": "unavailable"})
    assert get(app, "/healthz").status_code == 200


def ask(app: WebhookApp, method: str, path: str, body: bytes = b"") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://oms.test") as client:
            return await client.request(method, path, content=body)

    return asyncio.run(go())


def test_a_probes_path_takes_only_get_and_head_and_keeps_no_webhook(store: Store, db: Path) -> None:
    """A signed POST to /healthz is not a webhook: 405 naming GET and HEAD; HEAD has no body."""
    before = dump(db)
    app = app_for(store)
    body = status_webhook(ORDER, "ON_HOLD", NOW)
    for path in ("/healthz", "/readyz"):
        refused = post_to(app, path, body, signed(body))
        assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD")
        head = ask(app, "HEAD", path)
        assert (head.status_code, head.content) == (200, b"")
    assert ask(app, "DELETE", "/readyz").status_code == 405
    assert dump(db) == before


def post_to(app: WebhookApp, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://oms.test") as client:
            return await client.post(path, content=body, headers=headers)

    return asyncio.run(go())


class _Stuck:
    """A store whose every call waits until it is let go (a locked database, a lost server)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.released = threading.Event()

    def schema_version(self) -> int:
        self.released.wait(30)
        return self.store.schema_version()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_readiness_gives_up_on_a_store_that_does_not_answer_in_time(store: Store) -> None:
    """/readyz answers 503 after `ready_timeout`, not when the store answers at last:
    the store here is let go only once the app has logged its answer."""
    stuck = _Stuck(store)
    service = OrderService(stuck, clock=lambda: NOW, app_key=KEY, app_secret=SECRET)  # type: ignore[arg-type]
    records: list[logging.LogRecord] = []

    class Release(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)
            stuck.released.set()

    logger = logging.getLogger("test.readiness")
    logger.addHandler(Release())
    logger.setLevel(logging.DEBUG)
    app = WebhookApp(service, ready_timeout=0.05, logger=logger)
    ready = get(app, "/readyz")
    assert (ready.status_code, ready.json()) == (503, {"status": "unavailable"})
    assert records[0].webhook == {  # type: ignore[attr-defined]
        "status": 503,
        "outcome": "not ready",
        "error": "TimeoutError",
    }
    assert get(app, "/readyz").status_code == 200  # answered again once it is let go


def test_a_passing_probe_is_logged_at_debug_a_failing_one_at_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = SqliteStore(tmp_path / "gone.db")
    app = app_for(broken)
    caplog.set_level(logging.DEBUG, logger="adapters.entrypoints.webhook_app")
    get(app, "/healthz")
    broken.close()
    get(app, "/readyz")
    assert [r.levelno for r in caplog.records] == [logging.DEBUG, logging.ERROR]


def test_each_answer_is_counted_by_status_and_each_kept_webhook_as_received(
    store: Store,
) -> None:
    from adapters.service import Metrics, Telemetry

    metrics = Metrics()
    service = OrderService(
        store, clock=lambda: NOW, app_key=KEY, app_secret=SECRET, telemetry=Telemetry(metrics)
    )
    app = WebhookApp(service)
    body = status_webhook(ORDER, "ON_HOLD", NOW)
    assert post(app, body, signed(body)).status_code == 200
    assert post(app, body, signed(body)).status_code == 200  # a redelivery
    assert post(app, body, {"Authorization": "0" * 64}).status_code == 401
    assert get(app, "/elsewhere").status_code == 405
    counts = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name.endswith("_total")
    }
    requests = "order_lifecycle_webhook_requests_total"
    assert counts[(requests, (("status", "200"),))] == 2
    assert counts[(requests, (("status", "401"),))] == 1
    assert counts[(requests, (("status", "405"),))] == 1
    assert counts[("order_lifecycle_inputs_received_total", (("kind", "webhook"),))] == 2
