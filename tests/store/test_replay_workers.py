"""`order-lifecycle replay --workers N`: N processes, one store, the same result as one.

Each replay runs as a real `python -m adapters` process (whose workers are
processes of their own), on SQLite and on PostgreSQL. The input is the demo
sample (seeds, webhooks, OMS commands and ticks for 44 orders) followed by
bad lines of every sort and a Get Order Detail response whose orders fall to
different workers; the replay with two workers must print the same summary
and the same JSON, and leave the same orders, history, outbox and inbox
outcomes, as the replay with one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from adapters.store import Shard, effect_to_dict, open_store
from tests.store.conftest import BACKENDS, postgres_dsn, with_schema

SAMPLE = Path(__file__).parents[2] / "adapters" / "sandbox" / "samples" / "demo.jsonl"


def _response(*order_ids: str) -> dict[str, Any]:
    """A Get Order Detail response holding fresh orders (a copy of the sample's first)."""
    first = json.loads(SAMPLE.read_text().splitlines()[0])["order_detail"]
    return {
        "code": 0,
        "message": "Success",
        "request_id": "r-1",
        "data": {"orders": [{**first, "id": order_id} for order_id in order_ids]},
    }


#: Lines after the sample: every kind of bad line, and lines two workers share.
EXTRA = [
    "{not json",
    "[1, 2]",
    json.dumps({"command": "ship", "order_id": "576461413000000001"}),  # no initiator, no at
    json.dumps({"tick": "yesterday"}),
    json.dumps({"code": 7, "message": "no", "data": {}}),
    json.dumps({"something": "else"}),
    json.dumps(_response("990000000000000001", "990000000000000002", "990000000000000003")),
    json.dumps({"tick": "2027-06-01T00:00:00Z"}),
]


@pytest.fixture
def input_file(tmp_path: Path) -> Path:
    path = tmp_path / "inputs.jsonl"
    path.write_text(SAMPLE.read_text() + "\n".join(EXTRA) + "\n")
    return path


def test_the_extra_lines_fall_to_both_workers() -> None:
    """The test's input really spreads over two workers (else it could not fail)."""
    owners = {Shard(i, 2).owns(f"99000000000000000{n}") for n in (1, 2, 3) for i in (0, 1)}
    assert owners == {True, False}
    lines = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    ids = {line["order_detail"]["id"] for line in lines if "order_detail" in line}
    assert len(ids) == 44
    assert {Shard(0, 2).owns(order_id) for order_id in ids} == {True, False}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    schemas: list[tuple[str, str]] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path}/{uuid.uuid4().hex[:8]}.db"
        dsn = postgres_dsn()
        schema = f"w_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        schemas.append((dsn, schema))
        return with_schema(dsn, schema)

    yield make
    for dsn, schema in schemas:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _replay(source: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adapters", "replay", str(source), "--db", url, *extra],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _contents(url: str) -> dict[str, Any]:
    """Everything a replay leaves in the store that does not depend on timing or ids."""
    store = open_store(url, create=False)
    try:
        orders = {summary.order_id: summary for summary in store.orders()}
        return {
            "orders": {
                order_id: (s.status, s.version, s.next_timer_at) for order_id, s in orders.items()
            },
            "bodies": {order_id: store.load(order_id) for order_id in orders},
            "history": {
                order_id: [
                    (t.version, t.event, t.source, t.target, t.at, t.reason)
                    for t in store.history(order_id)
                ]
                for order_id in orders
            },
            "outbox": sorted(
                (
                    e.order_id,
                    e.version,
                    e.kind,
                    e.idempotency_key,
                    json.dumps(effect_to_dict(e.effect)),
                )
                for e in store.outbox()
            ),
            "inbox": sorted(
                (e.kind, e.dedup_key, e.order_id or "", e.outcome or "", e.reason, e.repeats)
                for e in store.inbox()
            ),
            "waiting": sorted(e.dedup_key for e in store.waiting()),
        }
    finally:
        store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_replay_with_two_workers_prints_and_stores_what_one_does(
    backend: str, database: Callable[[str], str], input_file: Path
) -> None:
    one, two = database(backend), database(backend)
    alone = _replay(input_file, one)
    shared = _replay(input_file, two, "--workers", "2")
    assert alone.returncode == 1, alone.stderr  # the bad lines and a rejected input
    assert shared.returncode == alone.returncode, shared.stderr
    assert shared.stdout == alone.stdout
    assert shared.stderr == alone.stderr  # each bad line reported once, in line order
    assert alone.stdout.startswith("224 inputs:")
    assert "6 bad line" in alone.stdout
    assert _contents(two) == _contents(one)


@pytest.mark.parametrize("backend", BACKENDS)
def test_replay_json_with_three_workers_lists_the_same_orders_in_the_same_order(
    backend: str, database: Callable[[str], str], input_file: Path
) -> None:
    alone = _replay(input_file, database(backend), "--json")
    shared = _replay(input_file, database(backend), "--json", "--workers", "3")
    assert shared.returncode == alone.returncode == 1
    documents = [json.loads(line) for line in shared.stdout.splitlines()]
    assert documents == [json.loads(line) for line in alone.stdout.splitlines()]
    assert len(documents) == 47
    assert shared.stderr == alone.stderr


def test_replay_workers_refuse_a_store_in_memory(input_file: Path) -> None:
    done = _replay(input_file, "sqlite:///:memory:", "--workers", "2")
    assert done.returncode == 2
    assert "SQLite file or PostgreSQL" in done.stderr


def test_replay_workers_must_be_one_or_more(input_file: Path, tmp_path: Path) -> None:
    done = _replay(input_file, f"sqlite:///{tmp_path}/x.db", "--workers", "0")
    assert done.returncode == 2
    assert "at least one worker" in done.stderr
