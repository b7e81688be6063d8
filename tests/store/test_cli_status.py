"""`status` and `dead`: what an operator reads of the backlog, the lag and the dead, checked
against the store after a replay with known outcomes, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.entrypoints._reports import STATUS_BREACHED
from adapters.store import OutboxStatus, ReadKind, ReadRequest, ReadStatus, Store, open_store
from tests.store.test_cli import ORDER, run, write_inputs

#: Past every due time the replay stamps with the wall clock.
LATER = datetime(2100, 1, 1, tzinfo=UTC)


@pytest.fixture
def replayed(store_url: str, tmp_path: Path) -> str:
    """The scenario of test_cli replayed: 3 inputs applied, 1 rejected, 1 repeat, 1 bad line."""
    code, _, _ = run("replay", str(write_inputs(tmp_path / "in.jsonl")), "--db", store_url)
    assert code == 1  # the rejected input
    return store_url


def add_the_dead(store: Store) -> tuple[int, int, int]:
    """One dead input, one dead letter, one dead read; their ids."""
    parked = store.receive("command", "k-poison", '{"command": 1}', LATER, ORDER)
    store.fail(parked.inbox_id, "KeyError", "'at'", 1)
    [entry] = store.claim(LATER, 1, timedelta(minutes=5))
    store.bury(
        entry.id, "RejectedError: sfcc: 400 (attempt 1)", LATER, token=entry.lease_token or ""
    )
    store.request_reads([ReadRequest(ReadKind.ORDER_DETAIL, "S1", "O-missing")], LATER)
    [job] = store.claim_reads(LATER, 1, timedelta(minutes=5))
    store.bury_read(job.id, job.lease_token or "", "NotReturned: gone (attempt 1)", LATER)
    return parked.inbox_id, entry.id, job.id


def status(url: str, *args: str) -> tuple[int, dict[str, object], str]:
    code, out, err = run("status", "--json", "--db", url, "--now", LATER.isoformat(), *args)
    return code, json.loads(out) if out else {}, err


def test_status_json_after_a_replay_says_what_the_store_holds(replayed: str) -> None:
    """Inputs by outcome, effects by partner, orders, timers: as the replay left them."""
    code, document, _ = status(replayed)
    assert code == 0
    assert list(document) == [
        "now",
        "inputs",
        "effects",
        "reads",
        "watermarks",
        "orders",
        "timers",
        "dead",
        "thresholds",
        "breaches",
    ]
    inputs = document["inputs"]
    assert inputs == {
        "by_outcome": {
            "pending": 0,
            "applied": 3,
            "duplicate": 0,
            "stale": 0,
            "rejected": 1,
            "waiting": 0,
            "ignored": 0,
            "dead": 0,
        },
        "repeats": 1,
        "oldest_pending_age_seconds": None,
        "oldest_waiting_age_seconds": None,
    }
    store = open_store(replayed, create=False)
    try:
        outbox = store.outbox()
        [order] = store.orders()
    finally:
        store.close()
    effects = document["effects"]
    assert {p: row["pending"] for p, row in effects["by_partner"].items()} == {
        "sfcc": 2,
        "tiktok_shop": 1,
    }
    assert effects["due"] == len(outbox) == 3
    oldest = min(e.next_attempt_at for e in outbox)
    assert effects["oldest_due_age_seconds"] == round((LATER - oldest).total_seconds(), 3)
    assert (effects["dead"], document["dead"]) == (0, 0)
    assert document["reads"] == {
        "by_status": {"pending": 0, "in_flight": 0, "done": 0, "dead": 0},
        "due": 0,
        "oldest_due_age_seconds": None,
    }
    assert document["watermarks"] == []
    assert document["orders"]["total"] == 1
    assert document["orders"]["by_status"]["PARTIALLY_SHIPPING"] == 1
    assert order.next_timer_at is None  # shipped in part: no timer runs
    assert document["timers"] == {"due": 0, "oldest_due_age_seconds": None}
    assert (document["thresholds"], document["breaches"]) == ({}, [])


def test_status_exits_3_past_a_threshold_and_names_each_one_passed(replayed: str) -> None:
    """`--max-dead 2` with three dead, a due effect older than allowed, no watermark."""
    store = open_store(replayed)
    try:
        add_the_dead(store)
        store.set_mark("sync.watermark:S1", LATER.isoformat(), LATER - timedelta(minutes=10))
    finally:
        store.close()
    code, document, _ = status(
        replayed, "--max-dead", "2", "--max-due-age", "60", "--max-watermark-age", "900"
    )
    assert code == STATUS_BREACHED == 3
    assert document["dead"] == 3
    assert document["thresholds"] == {"max_dead": 2, "max_due_age": 60, "max_watermark_age": 900}
    assert [b["threshold"] for b in document["breaches"]] == ["max_dead", "max_due_age"]
    assert document["breaches"][0]["value"] == 3
    [mark] = document["watermarks"]
    assert (mark["shop_id"], mark["age_seconds"]) == ("S1", 600.0)

    code, document, _ = status(replayed, "--max-dead", "3", "--max-watermark-age", "600")
    assert (code, document["breaches"]) == (0, [])
    code, out, _ = run("status", "--db", replayed, "--now", LATER.isoformat(), "--max-dead", "0")
    assert code == 3
    assert "BREACH max_dead: the count of the dead (inputs, effects, reads) is 3" in out


def test_a_watermark_threshold_without_any_watermark_is_a_breach(replayed: str) -> None:
    """A probe that expects the catch-up to run is told that it never ran."""
    code, document, _ = status(replayed, "--max-watermark-age", "3600")
    assert code == 3
    [breach] = document["breaches"]
    assert breach["threshold"] == "max_watermark_age"
    assert "sync has never run" in breach["message"]


def test_dead_lists_each_dead_thing_with_its_id_and_typed_error(replayed: str) -> None:
    """Inputs, dead letters and reads, each with what an operator needs to decide; exit 1."""
    store = open_store(replayed)
    try:
        input_id, effect_id, read_id = add_the_dead(store)
        key = store.outbox(status=OutboxStatus.DEAD)[0].idempotency_key
    finally:
        store.close()
    code, out, _ = run("dead", "--json", "--db", replayed)
    assert code == 1
    document = json.loads(out)
    [parked] = document["inputs"]
    assert parked["id"] == input_id
    assert (parked["kind"], parked["order_id"], parked["error_type"]) == (
        "command",
        ORDER,
        "KeyError",
    )
    assert parked["attempts"] == 1
    assert "payload" not in parked
    [letter] = document["effects"]
    assert (letter["id"], letter["partner"], letter["kind"]) == (
        effect_id,
        "sfcc",
        "CreateSfccOrder",
    )
    assert (letter["idempotency_key"], letter["error_type"]) == (key, "RejectedError")
    assert letter["last_error"] == "RejectedError: sfcc: 400 (attempt 1)"
    [read] = document["reads"]
    assert (read["id"], read["target"], read["error_type"]) == (read_id, "O-missing", "NotReturned")

    code, out, _ = run("dead", "--kind", "effects", "--json", "--db", replayed)
    assert list(json.loads(out)) == ["effects"]
    code, out, _ = run("dead", "--db", replayed)
    assert f"{effect_id}  sfcc" in out
    assert "dead letters (1)" in out


def test_dead_redrives_by_id_and_refuses_an_id_that_is_not_dead(replayed: str) -> None:
    """An unknown id re-drives nothing and says so; a known one goes back to pending."""
    store = open_store(replayed)
    try:
        input_id, effect_id, read_id = add_the_dead(store)
    finally:
        store.close()
    code, out, err = run("dead", "--redrive", "999", "--kind", "effects", "--db", replayed)
    assert (code, out) == (2, "")
    assert "no dead effects with id 999" in err
    assert "nothing re-driven" in err
    code, _, err = run("dead", "--redrive", str(effect_id), "--db", replayed)
    assert code == 2
    assert "--kind" in err

    code, out, _ = run(
        "dead", "--redrive", str(effect_id), "--kind", "effects", "--json", "--db", replayed
    )
    assert (code, json.loads(out)) == (0, {"redriven": {"effects": 1}})
    store = open_store(replayed)
    try:
        assert store.outbox(status=OutboxStatus.DEAD) == []
        assert [e.id for e in store.parked()] == [input_id]
        assert [j.id for j in store.reads(ReadStatus.DEAD)] == [read_id]
    finally:
        store.close()

    code, out, _ = run("dead", "--redrive", "--all", "--db", replayed)
    assert code == 0
    assert out == (
        "1 dead inputs back to pending\n"
        "0 dead effects back to pending\n"
        "1 dead reads back to pending\n"
    )
    assert run("dead", "--db", replayed)[0] == 0


@pytest.mark.parametrize("command", ["status", "dead"])
def test_status_and_dead_create_no_store(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read-only: where there is no store they say so, and the folder stays empty."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ORDER_LIFECYCLE_DB", raising=False)
    code, out, err = run(command)
    assert (code, out) == (2, "")
    assert f"order-lifecycle {command}: StoreNotFound" in err
    assert list(tmp_path.iterdir()) == []


def test_a_dead_read_whose_target_is_already_pending_stays_dead_and_says_so(
    replayed: str,
) -> None:
    """The pending job will answer the inputs; re-driving the dead one would read twice."""
    store = open_store(replayed)
    try:
        _, _, read_id = add_the_dead(store)
        store.request_reads([ReadRequest(ReadKind.ORDER_DETAIL, "S1", "O-missing")], LATER)
    finally:
        store.close()
    code, out, _ = run("dead", "--redrive", str(read_id), "--kind", "reads", "--db", replayed)
    assert code == 0
    assert out == (
        "0 dead reads back to pending\n1 stayed dead: a pending job already does the same work\n"
    )
