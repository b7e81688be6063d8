"""One bad input never stops the others: poison is parked, impossible times refused.

An input whose processing fails with an error nothing foresaw is tried
`max_attempts` times, then parked as `dead` with its error, and the inputs
behind it apply; `redrive_inputs` puts it back. A time no TikTok answer can
carry (year 9999) is refused where it enters, as a typed error.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.entrypoints.cli import main
from adapters.errors import MalformedPayload
from adapters.partners.tiktok_shop import parse_webhook, webhook_signature
from adapters.service import OrderService
from adapters.store import InputOutcome, SqliteStore
from tests.service.fake_shop import SHOP, order, seconds, webhook

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
CLOCK = T0 + timedelta(hours=3)
YEAR_9999 = 253402300799


def status(order_id: str, value: str, when: int) -> bytes:
    data = {"order_id": order_id, "order_status": value, "update_time": when}
    return webhook(1, data, T0)


def test_an_impossible_time_is_refused_where_it_enters_by_name() -> None:
    with pytest.raises(MalformedPayload, match="update_time"):
        parse_webhook(status("O1", "ON_HOLD", YEAR_9999))


def test_a_signed_webhook_from_year_9999_is_refused_and_nothing_is_kept() -> None:
    store = SqliteStore(":memory:")
    service = OrderService(store, clock=lambda: CLOCK, app_key="K", app_secret="S")
    body = status("O1", "ON_HOLD", YEAR_9999)
    with pytest.raises(MalformedPayload):
        service.accept_webhook(body, {"Authorization": webhook_signature(body, "K", "S")})
    assert store.inbox() == []


def test_a_poison_input_is_parked_after_its_attempts_and_the_next_ones_apply() -> None:
    store = SqliteStore(":memory:")
    service = OrderService(store, clock=lambda: CLOCK, max_attempts=3)
    service.seed(order("O1", "AWAITING_SHIPMENT", T0), shop_id=SHOP)
    # An input no code path foresaw: an order detail that is not an object.
    poison = store.receive("order_detail", "poison", '{"order_detail": 5}', CLOCK, "O1")
    good = store.receive(
        "webhook", "good", status("O1", "IN_TRANSIT", seconds(CLOCK)).decode(), CLOCK, "O1"
    )

    results = service.process_pending()

    assert [(r.inbox_id, r.outcome) for r in results] == [
        (poison.inbox_id, InputOutcome.DEAD),
        (good.inbox_id, InputOutcome.APPLIED),
    ]
    [parked] = store.parked()
    assert (parked.id, parked.attempts, parked.error_type) == (poison.inbox_id, 3, "AttributeError")
    assert store.pending(None) == []
    assert store.redrive_inputs() == 1
    [again] = store.pending(None)
    assert (again.id, again.attempts) == (poison.inbox_id, 0)


def test_replay_reports_hostile_lines_by_type_and_runs_the_rest(tmp_path: Path) -> None:
    """Binary, latin-1, a lone surrogate, deep nesting and an overflowing tick inside a
    valid file: each is a bad line with its error's type; every valid line applies."""
    path = tmp_path / "hostile.jsonl"
    valid_detail = json.dumps({"order_detail": order("O1", "ON_HOLD", T0), "shop_id": SHOP})
    lines = [
        valid_detail.encode(),
        b"\xff\xfe\x00binary",
        '{"tick": "caf\xe9"}'.encode("latin-1"),
        b'{"command": "cancel", "order_id": "\\ud800", "initiator": "BUYER",'
        b' "at": "2026-11-20T09:40:00Z"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"tick": "9999-12-31T23:59:59-05:00"}',
        status("O1", "AWAITING_SHIPMENT", seconds(T0 + timedelta(hours=1))),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    out, err = io.StringIO(), io.StringIO()

    code = main(["replay", str(path), "--db", f"sqlite:///{tmp_path}/x.db", "--json"], out, err)

    assert code == 1
    [document] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert document["status"] == "AWAITING_SHIPMENT"
    bad = [line for line in err.getvalue().splitlines() if line.startswith("line ")]
    assert [line.split(":")[0] for line in bad] == [f"line {n}" for n in (2, 3, 4, 5, 6)]
    assert all(line.endswith("(skipped)") for line in bad)
    # Typed: not Python's RecursionError, OverflowError or UnicodeEncodeError.
    assert [line.split(": ")[1] for line in bad] == ["BadLine"] * 5
