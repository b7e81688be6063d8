"""A webhook is decoded once: its identity, envelope and data come from one `json.loads`.

The service reads a webhook's dedup key and order id and then decides on it;
both read the same decoded object, in `OrderService.webhook`, in
`accept_webhook` and in `replay`, and the outcome is the one the webhook
always had.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.partners.tiktok_shop import parse_webhook, parse_webhook_object, webhook_signature
from adapters.service import OrderService, replay
from adapters.store import InputOutcome, SqliteStore
from tests.service.fake_shop import SHOP, order, seconds, webhook

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
CLOCK = T0 + timedelta(hours=3)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every `json.loads` of a webhook body (a mapping with `type` and `data`)."""
    seen: list[Any] = []
    real = json.loads

    def counting(text: Any, *args: Any, **kwargs: Any) -> Any:
        value = real(text, *args, **kwargs)
        if isinstance(value, dict) and "type" in value and "data" in value:
            seen.append(value)
        return value

    monkeypatch.setattr(json, "loads", counting)
    return seen


def _shipped(order_id: str) -> bytes:
    data = {"order_id": order_id, "order_status": "IN_TRANSIT", "update_time": seconds(CLOCK)}
    return webhook(1, data, CLOCK)


def _service() -> OrderService:
    service = OrderService(
        SqliteStore(":memory:"), clock=lambda: CLOCK, app_key="K", app_secret="S"
    )
    service.seed(order("O1", "AWAITING_COLLECTION", T0), shop_id=SHOP)
    return service


def test_a_webhook_is_decoded_once_and_applied(decodes: list[Any]) -> None:
    result = _service().webhook(_shipped("O1"))
    assert result.outcome is InputOutcome.APPLIED
    assert len(decodes) == 1


def test_an_accepted_webhook_is_decoded_once_when_kept(decodes: list[Any]) -> None:
    body = _shipped("O1")
    accepted = _service().accept_webhook(body, {"Authorization": webhook_signature(body, "K", "S")})
    assert accepted.order_id == "O1"
    assert len(decodes) == 1


def test_a_replayed_webhook_line_is_decoded_once(decodes: list[Any]) -> None:
    service = _service()
    report = replay(service, [_shipped("O1").decode()])
    assert report.outcomes()[InputOutcome.APPLIED.value] == 1
    assert len(decodes) == 1


def test_parse_webhook_object_reads_what_parse_webhook_reads() -> None:
    body = _shipped("O1")
    assert parse_webhook_object(json.loads(body)) == parse_webhook(body)
