"""Bad input: hostile webhooks get a typed error (and the right HTTP status at the
endpoint) and leave every table exactly as it was.

Hand-picked cases cover bad JSON, wrong types, huge numbers, unknown statuses,
missing fields, replayed and forged signatures, timestamps far in the
past or future, invalid UTF-8 and NUL bytes. Unicode and SQL-like strings in ids
are well-formed and signed, so the endpoint keeps them (200); the worker then
keeps them waiting for an order of that id, and no order, history or effect
changes.
A signed webhook of a type the library does not use or know is kept too (200),
never refused: TikTok redelivers what it is not answered 2xx.
Hypothesis mutates a valid envelope field by field with hostile values.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.entrypoints.webhook_app import WebhookApp
from adapters.errors import InboundError, MalformedPayload
from adapters.partners.tiktok_shop import parse_webhook, webhook_signature
from adapters.service import OrderService
from adapters.store import InputOutcome, SqliteStore
from tests.reliability.conftest import scale
from tests.reliability.workload import APP_KEY, APP_SECRET, signed
from tests.store.helpers import SHOP, seed_detail

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ORDER = "576461413038785752"
TABLES = ("orders", "transitions", "inbox", "outbox", "external_refs", "schema_version")
STAMP = int((NOW - timedelta(minutes=3)).timestamp())


def envelope(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "type": 1,
        "shop_id": SHOP,
        "timestamp": STAMP,
        "data": {"order_id": ORDER, "order_status": "ON_HOLD", "update_time": STAMP - 2},
    }
    data = changes.pop("data", {})
    value.update(changes)
    value["data"] = {**value["data"], **data}
    return {k: v for k, v in value.items() if v is not _DROP}


_DROP = object()


def raw(value: Any) -> bytes:
    return json.dumps(value).encode()


def without(field: str) -> bytes:
    value = envelope()
    value.pop(field)
    return raw(value)


def without_data(field: str) -> bytes:
    value = envelope()
    value["data"].pop(field)
    return raw(value)


#: (name, body, headers or None for a good signature, status, error type)
HOSTILE: list[tuple[str, bytes, dict[str, str] | None, int, str]] = [
    ("not JSON", b"{type: 1,", None, 400, "MalformedPayload"),
    ("empty body", b"", None, 400, "MalformedPayload"),
    ("a JSON array", b"[1, 2, 3]", None, 400, "MalformedPayload"),
    ("a JSON string", b'"webhook"', None, 400, "MalformedPayload"),
    ("invalid UTF-8", b'{"type": 1, "shop_id": "\xff\xfe"}', None, 400, "MalformedPayload"),
    ("NUL bytes", raw(envelope(shop_id="\x00\x00")) + b"\x00", None, 400, "MalformedPayload"),
    ("type as text", raw(envelope(type="one")), None, 400, "MalformedPayload"),
    ("type as a float", raw(envelope(type=1.0)), None, 400, "MalformedPayload"),
    ("type as true", raw(envelope(type=True)), None, 400, "MalformedPayload"),
    ("data as text", raw({**envelope(), "data": "order"}), None, 400, "MalformedPayload"),
    ("order_id as list", raw(envelope(data={"order_id": [1]})), None, 400, "MalformedPayload"),
    ("status as number", raw(envelope(data={"order_status": 111})), None, 400, "UnknownValue"),
    ("huge timestamp", raw(envelope(timestamp=10**30)), None, 400, "MalformedPayload"),
    ("huge update_time", raw(envelope(data={"update_time": 1e308})), None, 400, "MalformedPayload"),
    ("negative time", raw(envelope(timestamp=-(10**12))), None, 400, "MalformedPayload"),
    (
        "unknown status",
        raw(envelope(data={"order_status": "TELEPORTED"})),
        None,
        400,
        "UnknownValue",
    ),
    (
        "SQL in the status",
        raw(envelope(data={"order_status": "'; DROP TABLE orders; --"})),
        None,
        400,
        "UnknownValue",
    ),
    ("no type", without("type"), None, 400, "MalformedPayload"),
    ("no shop_id", without("shop_id"), None, 400, "MalformedPayload"),
    ("no data", without("data"), None, 400, "MalformedPayload"),
    ("no order_status", without_data("order_status"), None, 400, "MalformedPayload"),
    ("no update_time", without_data("update_time"), None, 400, "MalformedPayload"),
    ("sent in 2001", raw(envelope(timestamp=978307200)), None, 400, "UntimelyWebhook"),
    ("sent 8 days ago", raw(envelope(timestamp=STAMP - 8 * 86400)), None, 400, "UntimelyWebhook"),
    ("sent in 2099", raw(envelope(timestamp=4070908800)), None, 400, "UntimelyWebhook"),
    ("no signature", raw(envelope()), {}, 401, "InvalidSignature"),
    ("empty signature", raw(envelope()), {"Authorization": " "}, 401, "InvalidSignature"),
    ("forged signature", raw(envelope()), {"Authorization": "ab" * 32}, 401, "InvalidSignature"),
    (
        "malformed signature",
        raw(envelope()),
        {"Authorization": "sha256=x"},
        401,
        "InvalidSignature",
    ),
    (
        "signed with another secret",
        raw(envelope()),
        {"Authorization": webhook_signature(raw(envelope()), APP_KEY, "guess")},
        401,
        "InvalidSignature",
    ),
    (
        "a signature replayed from another body",
        raw(envelope(data={"order_status": "CANCELLED"})),
        signed(raw(envelope())),
        401,
        "InvalidSignature",
    ),
]


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Path, OrderService, WebhookApp]]:
    path = tmp_path / "store.db"
    store = SqliteStore(path)
    service = OrderService(store, clock=lambda: NOW, app_key=APP_KEY, app_secret=APP_SECRET)
    service.seed(seed_detail(ORDER), shop_id=SHOP)
    yield path, service, WebhookApp(service)
    store.close()


def post_all(app: WebhookApp, requests: list[tuple[bytes, dict[str, str]]]) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://oms.test") as client:
            return [await client.post("/", content=body, headers=h) for body, h in requests]

    return asyncio.run(go())


def test_hostile_webhooks_get_a_typed_error_and_change_no_table(
    world: tuple[Path, OrderService, WebhookApp], figures: Callable[..., None]
) -> None:
    path, service, app = world
    before = dump(path)
    errors: Counter[str] = Counter()
    for name, body, headers, status, error in HOSTILE:
        headers = signed(body) if headers is None else headers
        with pytest.raises(InboundError) as raised:
            service.accept_webhook(body, headers)
        assert type(raised.value).__name__ == error, name
        [answer] = post_all(app, [(body, headers)])
        assert (answer.status_code, answer.json()) == (status, {"error": error}), name
        errors[f"{status} {error}"] += 1
    assert dump(path) == before
    figures(
        **{
            "hand-picked hostile webhooks": len(HOSTILE),
            "answers": ", ".join(f"{n} x {k}" for k, n in sorted(errors.items())),
            "tables changed": 0,
        }
    )


@pytest.mark.parametrize(
    "order_id",
    ["订单-🙂-\u202e", "1'; DROP TABLE orders; --", '" OR 1=1 --', "x" * 2000, "null"],
)
def test_odd_but_well_formed_ids_are_kept_waiting_for_their_order_changing_no_order(
    world: tuple[Path, OrderService, WebhookApp], order_id: str
) -> None:
    path, service, app = world
    before = dump(path)
    body = raw(envelope(data={"order_id": order_id}))
    [answer] = post_all(app, [(body, signed(body))])
    assert (answer.status_code, answer.json()) == (200, {"status": "accepted"})
    [result] = service.process_pending()
    assert (result.outcome, result.error_type) == (InputOutcome.WAITING, "")
    after = dump(path)
    assert {t: after[t] for t in TABLES if t != "inbox"} == {
        t: before[t] for t in TABLES if t != "inbox"
    }
    [kept] = after["inbox"][len(before["inbox"]) :]
    assert kept[5] == order_id  # stored as sent: parameters, never SQL text


@pytest.mark.parametrize("kind", [2, 5, 99, 10**100, -1])
def test_signed_webhooks_of_unused_or_unknown_types_are_kept_and_change_no_order(
    world: tuple[Path, OrderService, WebhookApp], kind: int
) -> None:
    path, service, app = world
    before = dump(path)
    body = raw({**envelope(type=kind), "data": {"product_id": "1729", "status": "LIVE"}})
    [answer] = post_all(app, [(body, signed(body))])
    assert (answer.status_code, answer.json()) == (200, {"status": "accepted"})
    [result] = service.process_pending()
    assert result.outcome is not InputOutcome.REJECTED, result
    after = dump(path)
    assert {t: after[t] for t in TABLES if t != "inbox"} == {
        t: before[t] for t in TABLES if t != "inbox"
    }
    assert len(after["inbox"]) == len(before["inbox"]) + 1


HOSTILE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "'; DROP TABLE inbox; --", "ON_HOLD\x00", "🙂", "1e309", "NaN"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
FIELDS = st.sampled_from(
    [
        "type",
        "shop_id",
        "timestamp",
        "data",
        "data.order_id",
        "data.order_status",
        "data.update_time",
        "data.is_on_hold_order",
    ]
)


@settings(
    max_examples=scale(ci=150, full=2000),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(mutations=st.lists(st.tuples(FIELDS, HOSTILE_VALUES), min_size=1, max_size=3))
def test_hypothesis_mutated_envelopes_are_refused_by_type_or_kept_never_crash(
    world: tuple[Path, OrderService, WebhookApp],
    mutations: list[tuple[str, Any]],
) -> None:
    path, _, app = world
    value = envelope()
    for field, hostile in mutations:
        if field.startswith("data.") and isinstance(value.get("data"), dict):
            value["data"][field[5:]] = hostile
        else:
            value[field] = hostile
    body = json.dumps(value).encode()
    before = dump(path)
    [answer] = post_all(app, [(body, signed(body))])
    if answer.status_code == 200:
        return  # a valid webhook after all: kept, as it should be
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] in {"MalformedPayload", "UnknownValue", "UntimelyWebhook"}
    assert dump(path) == before


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"order_id": "\ud800"}, "data.order_id: a lone surrogate"),
        ({"order_id": "a\x00b"}, "data.order_id: a NUL character"),
        ({"order_id": "O1", "note": ["x", {"deep": "\x00"}]}, "data.note[1].deep: a NUL"),
    ],
)
def test_text_no_store_can_keep_is_a_400_naming_the_field_not_a_503(
    world: tuple[Path, OrderService, WebhookApp], data: dict[str, object], named: str
) -> None:
    """A lone surrogate or a NUL is bad data, refused by name (400, nothing stored); 503 is
    kept for a store that is really unavailable, since TikTok redelivers a 503 forever."""
    path, _service, app = world
    before = dump(path)
    body = raw(envelope(data=data))
    [answer] = post_all(app, [(body, signed(body))])
    assert (answer.status_code, answer.json()) == (400, {"error": "MalformedPayload"})
    with pytest.raises(MalformedPayload, match=re.escape(named)):
        parse_webhook(body)
    assert dump(path) == before
