"""Partners that quote our requests back: nothing of the quote reaches the store, a log or a repr.

A fake SFCC and a fake TikTok Shop (an `httpx.MockTransport` handler) issue
their tokens at run time (SFCC's OAuth token, TikTok Shop's refreshed access
token, which goes out in `x-tts-access-token` with no `Bearer` prefix), then
refuse every call with a 4xx or 5xx that quotes the whole request: its URL,
its headers (the tokens) and its body (the buyer's name, street address,
phone and email) in the message, the code, the request id, the status line's
reason phrase and the answer's own headers. After the dispatcher parks every
effect as a dead letter, a dump of every table holds no token at all and no
more occurrences of any personal value than before the dispatch; the log
records and the reprs and messages of the errors raised hold none.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import stamina
from cryptography.fernet import Fernet

from adapters.http import REDACTOR, RetryPolicy, log_retry
from adapters.partners.sfcc import SfccSettings
from adapters.partners.tiktok_shop import TikTokShopSettings, detail_from_order
from adapters.service import Dispatcher, EffectContext, Executor, OrderService
from adapters.store import OutboxStatus, SqliteStore
from adapters.wiring import PartnerSettings, TikTokShopPartner, build_executors
from lifecycle import Command, Effect, Initiator, OrderStatus, Recipient
from tests.factories import new_order

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
SHOP = "7494049642642441621"
NAME = "Josephine Quackenbush"
STREET = "4417 Larkspur Crescent"
PHONE = "+14155550123"
EMAIL = "josephine.quackenbush@example.org"
PERSONAL = (NAME, "Josephine", "Quackenbush", STREET, "Larkspur", PHONE, EMAIL)
CONFIGURED = ("configured-access-token-11", "configured-refresh-token-22")
RUNTIME = (
    "runtime-tiktok-access-7f3a9c",
    "runtime-tiktok-refresh-5d1e",
    "runtime-sfcc-bearer-c0ffee",
)
APP_SECRET = "app-secret-of-the-fake-9b2"
CLIENT_SECRET = "sfcc-client-secret-42aa"
TOKENS = (*CONFIGURED, *RUNTIME, APP_SECRET, CLIENT_SECRET)


def _quote(request: httpx.Request) -> str:
    headers = " ".join(f"{k}: {v}" for k, v in request.headers.items())
    body = request.content.decode(errors="replace")
    return f"{headers} {body} {request.method} {request.url}"


class QuotingPartners:
    """SFCC and TikTok Shop that issue tokens, then refuse everything quoting the request."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.refreshed = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host, path = request.url.host, request.url.path
        self.calls.append(f"{host}{path}")
        if path.endswith("/oauth2/access_token"):
            return httpx.Response(200, json={"access_token": RUNTIME[2], "expires_in": 1800})
        if host == "auth.fake" and path == "/api/v2/token/refresh":
            self.refreshed = True
            data = {"access_token": RUNTIME[0], "refresh_token": RUNTIME[1]}
            return httpx.Response(200, json={"code": 0, "message": "ok", "data": data})
        if host == "open-api.fake" and request.headers["x-tts-access-token"] == CONFIGURED[0]:
            return httpx.Response(200, json={"code": 105002, "message": "access token expired"})
        echo = _quote(request)
        status = 503 if len(self.calls) % 2 else 400
        body: Mapping[str, Any] = {
            "code": echo,
            "message": echo,
            "request_id": echo,
            "msg": echo,
            "fault": {"type": echo, "message": echo},
        }
        headers = {"x-tt-logid": echo.encode("ascii", "replace").decode(), "x-echo": echo}
        reason = echo.encode("ascii", "replace")
        return httpx.Response(
            status, json=body, headers=headers, extensions={"reason_phrase": reason}
        )


def _dump(path: Path) -> str:
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = [repr(row) for table in tables for row in db.execute(f'SELECT * FROM "{table}"')]
    return "\n".join(rows)


def _count(text: str, value: str) -> int:
    forms = {value, json.dumps(value)[1:-1]}
    return sum(text.count(form) for form in forms)


@pytest.fixture
def retries_logged() -> Iterator[None]:
    hooks = stamina.instrumentation.get_on_retry_hooks()
    stamina.instrumentation.set_on_retry_hooks([log_retry])
    try:
        yield
    finally:
        stamina.instrumentation.set_on_retry_hooks(hooks)


def test_a_partner_quoting_the_request_leaves_no_token_or_personal_value_behind(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, retries_logged: None
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "orders.db"
    store = SqliteStore(path)
    clock = [T0 + timedelta(hours=2)]
    service = OrderService(store, clock=lambda: clock[0])
    order = attrs.evolve(
        new_order(),
        status=OrderStatus.ON_HOLD,
        paid_at=T0,
        recipient=Recipient(name=NAME, full_address=f"{STREET}, Apt 9", phone=PHONE),
        buyer_email=EMAIL,
    )
    service.seed(detail_from_order(order), shop_id=SHOP)
    service.tick(T0 + timedelta(hours=1))  # hold over: CreateSfccOrder
    reason = {"reason": "ecom_order_to_ship_canceled_reason_created_by_mistakes"}
    service.command(
        Command(order.order_id, "cancel", Initiator.SELLER, T0 + timedelta(hours=2), params=reason)
    )
    before = _dump(path)
    partners = PartnerSettings(
        tiktok_shop=TikTokShopPartner(
            app_key="app-key",
            app_secret=APP_SECRET,
            access_token=CONFIGURED[0],
            refresh_token=CONFIGURED[1],
            shop_cipher="CIPHER",
            auth_base_url="https://auth.fake",
            settings=TikTokShopSettings(base_url="https://open-api.fake"),
            token_key=Fernet.generate_key().decode(),
        ),
        sfcc=SfccSettings(
            base_url="https://sfcc.fake",
            site_id="Site",
            client_id="client",
            client_secret=CLIENT_SECRET,
            token_url="https://account.fake/dwsso/oauth2/access_token",
        ),
        retry=RetryPolicy(attempts=2, wait_initial=timedelta(0), wait_jitter=timedelta(0)),
    )
    fake = QuotingPartners()
    raised: list[str] = []
    with httpx.Client(transport=httpx.MockTransport(fake)) as http:
        executors = build_executors(partners, http, store=store)

        def recording(executor: Executor) -> Executor:
            def run(effect: Effect, context: EffectContext) -> Mapping[str, str] | None:
                try:
                    return executor(effect, context)
                except Exception as error:
                    raised.extend([repr(error), str(error), repr(error.args)])
                    raise

            return run

        dispatcher = Dispatcher(
            store,
            {kind: recording(executor) for kind, executor in executors.items()},
            clock=lambda: clock[0],
            max_attempts=2,
            secrets=partners.secrets(),
        )
        for _ in range(6):
            dispatcher.drain()
            clock[0] += timedelta(hours=2)
    dead = store.outbox(status=OutboxStatus.DEAD)
    after = _dump(path)
    reprs = [repr(dispatcher), repr(store), repr(partners), repr(service), repr(REDACTOR)]
    store.close()

    assert fake.refreshed, "the TikTok token must have been refreshed at run time"
    kinds = {entry.kind for entry in dead}
    assert {"CreateSfccOrder", "CancelTikTokOrder"} <= kinds
    assert all(entry.last_error for entry in dead)
    assert raised, "the refusals must have raised errors to look at"
    logged = caplog.text
    assert "retry" in logged  # the 503s were retried and said so
    for secret in TOKENS:
        assert secret not in after, f"{secret} in the store"
        for text in (logged, *raised, *reprs):
            assert secret not in text, f"{secret} in {text[:200]}"
    for value in PERSONAL:
        assert _count(after, value) == _count(before, value), f"{value} added to the store"
        for text in (logged, *raised):
            assert value not in text, f"{value} in {text[:200]}"


def test_an_error_keeps_only_short_tokens_as_code_and_request_id_and_the_standard_phrase() -> None:
    """The allow-list: a code or request id that is not a short token is dropped, and
    the server's own reason phrase is never read."""
    from adapters.http import status_error

    request = httpx.Request("POST", "https://x.fake/y")
    answer = httpx.Response(
        500, request=request, extensions={"reason_phrase": f"echo {NAME}".encode()}
    )
    error = status_error("p", answer, code=f"{NAME} street", request_id="req-1.a:b")
    assert error is not None
    assert (error.code, error.request_id, error.message) == (
        None,
        "req-1.a:b",
        "Internal Server Error",
    )
    assert NAME not in str(error)


def test_the_redactor_masks_secrets_everywhere_and_personal_values_only_in_their_context() -> None:
    """A registered secret is masked as sent, JSON-escaped and URL-encoded, in every
    thread; personal values only inside `personal` (a short word as a whole word);
    a secret under eight characters is not registered (it would blank words)."""
    import threading
    import urllib.parse

    from adapters.http import Redactor

    redactor = Redactor()
    redactor.register("tok/en+value=42", "short")
    quoted = urllib.parse.quote("tok/en+value=42", safe="")
    assert redactor.mask(f"a tok/en+value=42 b {quoted} c") == "a *** b *** c"
    assert redactor.mask("short stays") == "short stays"
    seen: list[str] = []
    with redactor.personal(["Li Wu", "Li", "Zoë Å"]):
        assert redactor.mask("Li Wu at Lima; Zo\\u00eb \\u00c5") == "*** at Lima; ***"
        worker = threading.Thread(target=lambda: seen.append(redactor.mask("Li Wu")))
        worker.start()
        worker.join()
    assert seen == ["Li Wu"]  # another thread's context holds no values in flight
    assert redactor.mask("Li Wu tok/en+value=42") == "Li Wu ***"
