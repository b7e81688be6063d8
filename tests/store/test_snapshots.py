"""The outbox keeps its order's version; the order at that version is kept once, as a snapshot.

An effect is carried out with the order as it was when it was asked for (an
SFCC order is created with the lines the order had then), read from
`order_snapshots`: one body per (order, version) that asked for effects, not
one per effect. A snapshot is let go when no effect of its version is pending,
in flight or dead any more (a dead letter can be redriven, so it keeps it).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from adapters.service import Dispatcher, EffectContext
from adapters.store import (
    Change,
    OutboxEntry,
    OutboxStatus,
    PostgresStore,
    SqliteStore,
    Store,
    open_store,
)
from adapters.store._codec import effect_to_json, order_to_json
from lifecycle import Effect, Initiator, LineStatus, Order, Origin, Outcome, apply
from tests.factories import T0, at, new_order
from tests.store.conftest import postgres_dsn, with_schema

NOW = T0 + timedelta(days=30)
LEASE = timedelta(minutes=5)

#: Paid (1), released (2: create the SFCC order), shipped (3: SFCC shipping, TikTok
#: package), collected (4), delivered (5).
_PATH: Sequence[tuple[str, Initiator, Origin | None, Any, dict[str, str]]] = (
    ("pay", Initiator.BUYER, None, T0, {}),
    ("release_hold", Initiator.PLATFORM, None, at(hours=1), {}),
    (
        "ship",
        Initiator.SELLER,
        None,
        at(hours=2),
        {"tracking_number": "1Z999", "shipping_provider_name": "UPS"},
    ),
    ("collect", Initiator.PLATFORM, Origin.TIKTOK, at(hours=5), {}),
    ("deliver", Initiator.PLATFORM, Origin.TIKTOK, at(days=3), {}),
)


def _lived(order_id: str) -> list[Outcome]:
    """The outcome of each step of the usual path, in order (versions 1 to 5)."""
    order = new_order(order_id=order_id)
    outcomes = []
    for event, who, origin, when, params in _PATH:
        outcome = apply(order, event, initiator=who, origin=origin, now=when, **params)
        outcomes.append(outcome)
        order = outcome.order
    return outcomes


def _step(store: Store, before: Order, outcome: Outcome) -> None:
    records = outcome.order.history[len(before.history) :]
    store.commit(Change(outcome.order, before.version, records, outcome.effects, None), NOW)


def _commit_path(store: Store, order_id: str, cut: int | None = None) -> list[Outcome]:
    """Store the order unpaid, then each step; with `cut`, a batch ends after that version."""
    outcomes = _lived(order_id)
    unpaid = new_order(order_id=order_id)
    store.commit(Change(unpaid, None, (), (), None), NOW)
    before = unpaid
    batches = [outcomes] if cut is None else [outcomes[:cut], outcomes[cut:]]
    for part in batches:
        with store.batch():
            for outcome in part:
                _step(store, before, outcome)
                before = outcome.order
    return outcomes


def _sql(store: Store, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    assert isinstance(store, SqliteStore | PostgresStore)
    with store._transaction() as execute:
        return list(execute(sql, params).fetchall())


def _snapshots(store: Store) -> list[tuple[str, int]]:
    rows = _sql(store, "SELECT order_id, version FROM order_snapshots ORDER BY order_id, version")
    return [(r[0], int(r[1])) for r in rows]


def _by_kind(entries: Sequence[OutboxEntry]) -> dict[str, OutboxEntry]:
    return {entry.kind: entry for entry in entries}


def _claim(store: Store) -> list[OutboxEntry]:
    return store.claim(NOW, 10, LEASE)


def _done(store: Store, entry: OutboxEntry) -> None:
    assert store.complete(entry.id, NOW, {}, token=entry.lease_token or "")


@pytest.mark.parametrize("cut", [None, 2], ids=["one batch", "a later batch"])
def test_an_effect_sees_the_order_at_its_version_after_the_order_moved_on(
    store: Store, cut: int | None
) -> None:
    """SFCC's create, asked for at version 2, is claimed with the order's lines as at
    version 2 (open, not shipped), though the order reached version 5 in the same
    batch, or in a later one; the shipment's effects see version 3."""
    outcomes = _commit_path(store, "S1", cut)
    assert store.version("S1") == 5
    claimed = _by_kind(_claim(store))
    assert sorted(claimed) == ["CreateSfccOrder", "ShipTikTokPackage"]  # SFCC's in turn
    create = claimed["CreateSfccOrder"]
    assert create.order == outcomes[1].order
    assert create.order is not None
    assert create.order.version == 2
    assert [line.status for line in create.order.lines] == [LineStatus.OPEN] * 2
    assert claimed["ShipTikTokPackage"].order == outcomes[2].order
    _done(store, create)
    [shipping] = _claim(store)
    assert (shipping.kind, shipping.order) == ("UpdateSfccShipping", outcomes[2].order)
    loaded = store.load("S1")
    assert loaded is not None
    assert loaded.version == 5


def test_a_change_of_several_transitions_keeps_each_effects_version(store: Store) -> None:
    """One commit from version 0 to 5 (a catch-up): each effect still gets its version's
    order, and each version that asked for effects is kept once."""
    outcomes = _lived("S2")
    store.commit(Change(new_order(order_id="S2"), None, (), (), None), NOW)
    last = outcomes[-1].order
    effects = tuple(effect for outcome in outcomes for effect in outcome.effects)
    steps = tuple(outcome.order for outcome in outcomes)
    store.commit(Change(last, 0, last.history, effects, None, steps=steps), NOW)
    assert _snapshots(store) == [("S2", 2), ("S2", 3)]
    by_kind = _by_kind(store.outbox("S2"))
    assert by_kind["CreateSfccOrder"].order == outcomes[1].order
    assert by_kind["UpdateSfccShipping"].order == outcomes[2].order
    assert by_kind["ShipTikTokPackage"].order == outcomes[2].order


@pytest.mark.parametrize("batched", [False, True], ids=["alone", "in a batch"])
def test_a_version_is_kept_once_however_many_effects_it_asked_for(
    store: Store, batched: bool
) -> None:
    """Version 3 asked for two effects: one snapshot; the outbox rows hold no order."""
    with store.batch() if batched else nullcontext():
        _commit_path(store, "S3")
    assert _snapshots(store) == [("S3", 2), ("S3", 3)]
    assert [r[0] for r in _sql(store, "SELECT COUNT(*) FROM outbox")] == [3]
    assert "order_body" not in _outbox_columns(store)


def _outbox_columns(store: Store) -> list[str]:
    if isinstance(store, SqliteStore):
        return [r[1] for r in _sql(store, "PRAGMA table_info(outbox)")]
    return [
        r[0]
        for r in _sql(
            store,
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'outbox'"
            " AND table_schema = current_schema()",
        )
    ]


def test_a_claim_inside_the_batch_that_asked_for_the_effect_sees_its_order(store: Store) -> None:
    """The batch writes its snapshots when it ends, or before it reads the outbox."""
    outcomes = _lived("S4")
    with store.batch():
        store.commit(Change(new_order(order_id="S4"), None, (), (), None), NOW)
        _step(store, new_order(order_id="S4"), outcomes[0])
        _step(store, outcomes[0].order, outcomes[1])
        [create] = _claim(store)
        assert create.order == outcomes[1].order
        _step(store, outcomes[1].order, outcomes[2])
        assert [e.order for e in store.outbox("S4")][1:] == [outcomes[2].order] * 2
    assert _snapshots(store) == [("S4", 2), ("S4", 3)]


def test_a_snapshot_is_let_go_when_the_last_effect_of_its_version_is_done(store: Store) -> None:
    """Version 3's snapshot stays while one of its two effects is still to do; a done
    effect then lists without an order, the others keep theirs."""
    outcomes = _commit_path(store, "S5")
    claimed = _by_kind(_claim(store))
    _done(store, claimed["CreateSfccOrder"])
    assert _snapshots(store) == [("S5", 3)]
    _done(store, claimed["ShipTikTokPackage"])
    assert _snapshots(store) == [("S5", 3)]  # SFCC's shipping is still pending
    listed = _by_kind(store.outbox("S5"))
    assert listed["CreateSfccOrder"].order is None
    assert listed["UpdateSfccShipping"].order == outcomes[2].order
    [shipping] = _claim(store)
    assert store.retry_later(shipping.id, "try again", NOW, token=shipping.lease_token or "")
    assert _snapshots(store) == [("S5", 3)]
    [shipping] = _claim(store)
    assert shipping.order == outcomes[2].order
    _done(store, shipping)
    assert _snapshots(store) == []
    assert all(e.status is OutboxStatus.DONE and e.order is None for e in store.outbox("S5"))


def test_a_dead_letter_keeps_its_snapshot_so_that_a_redrive_delivers_it(store: Store) -> None:
    outcomes = _commit_path(store, "S6")
    claimed = _by_kind(_claim(store))
    create = claimed["CreateSfccOrder"]
    assert store.bury(create.id, "RejectedError: no", NOW, token=create.lease_token or "")
    _done(store, claimed["ShipTikTokPackage"])
    assert _snapshots(store) == [("S6", 2), ("S6", 3)]
    [dead] = store.outbox(status=OutboxStatus.DEAD)
    assert dead.order == outcomes[1].order
    assert store.redrive(NOW) == 1
    [again] = _claim(store)
    assert (again.kind, again.order) == ("CreateSfccOrder", outcomes[1].order)
    _done(store, again)
    assert _snapshots(store) == [("S6", 3)]


def test_a_dispatcher_delivers_each_effect_with_its_versions_order_and_lets_go_of_all(
    store: Store,
) -> None:
    """End to end through `Dispatcher`: what each executor got, and nothing kept after."""
    outcomes = _commit_path(store, "S7", cut=1)
    seen: list[tuple[str, Order | None]] = []

    def record(effect: Effect, context: EffectContext) -> None:
        seen.append((type(effect).__name__, context.order))

    kinds = ("CreateSfccOrder", "UpdateSfccShipping", "ShipTikTokPackage")
    report = Dispatcher(store, dict.fromkeys(kinds, record), clock=lambda: NOW).drain()
    assert report.done == 3
    assert sorted(seen, key=lambda s: s[0]) == [
        ("CreateSfccOrder", outcomes[1].order),
        ("ShipTikTokPackage", outcomes[2].order),
        ("UpdateSfccShipping", outcomes[2].order),
    ]
    assert _snapshots(store) == []


# --------------------------------------------------------------------------- schema 5


def _at_schema_4(store_url: str) -> Store:
    """An empty store migrated to schema 4 only: outbox rows carry the order's copy."""
    sqlite = store_url.startswith("sqlite:///")
    latest: type[SqliteStore | PostgresStore] = SqliteStore if sqlite else PostgresStore

    class Previous(latest):  # type: ignore[misc,valid-type]
        MIGRATIONS = latest.MIGRATIONS[:4]

    old: Store = Previous(store_url.removeprefix("sqlite:///") if sqlite else store_url)
    assert old.schema_version() == 4
    return old


def _v4_row(
    order: Order, effect: Effect, status: OutboxStatus, channel: str, body: str | None = None
) -> tuple[Any, ...]:
    return (
        effect.order_id,
        effect.version,
        effect.kind,
        channel,
        effect.idempotency_key,
        effect_to_json(effect),
        order_to_json(order) if body is None else body,
        status.value,
        0,
        NOW.isoformat(timespec="microseconds"),  # as SQLite's store writes times
        "RejectedError: no" if status is OutboxStatus.DEAD else "",
        NOW.isoformat(timespec="microseconds"),
    )


def test_a_store_of_schema_4_with_pending_effects_is_migrated_losing_none(
    store_url: str,
) -> None:
    """Schema 4 kept the order's copy on each outbox row. Migrating keeps one body per
    (order, version) still needed, drops the column, and every pending or dead
    effect is then claimed with the order it was asked with."""
    old = _at_schema_4(store_url)
    first, second = _lived("M1"), _lived("M2")
    create, (shipping, package) = first[1].effects[0], first[2].effects
    other = second[1].effects[0]
    rows = [
        _v4_row(first[1].order, create, OutboxStatus.DONE, "sfcc"),
        _v4_row(first[2].order, shipping, OutboxStatus.PENDING, "sfcc"),
        _v4_row(first[2].order, package, OutboxStatus.IN_FLIGHT, "tiktok"),
        _v4_row(second[1].order, other, OutboxStatus.DEAD, "sfcc"),
    ]
    assert isinstance(old, SqliteStore | PostgresStore)
    with old._transaction() as execute:
        for order in (first[-1].order, second[-1].order):
            execute(
                "INSERT INTO orders (order_id, status, version, body) VALUES (?, ?, ?, ?)",
                (order.order_id, order.status.value, order.version, order_to_json(order)),
            )
        for row in rows:
            execute(
                "INSERT INTO outbox (order_id, version, kind, channel, idempotency_key, effect,"
                " order_body, status, attempts, next_attempt_at, last_error, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
    old.close()
    store = open_store(store_url)
    try:
        assert store.schema_version() == 5
        assert "order_body" not in _outbox_columns(store)
        # The done effect's version needs no snapshot; the two of version 3 share one.
        assert _snapshots(store) == [("M1", 3), ("M2", 2)]
        claimed = _by_kind(store.claim(NOW + LEASE, 10, LEASE))  # past the in-flight lease
        assert sorted(claimed) == ["ShipTikTokPackage", "UpdateSfccShipping"]
        assert claimed["UpdateSfccShipping"].order == first[2].order
        assert claimed["ShipTikTokPackage"].order == first[2].order
        [dead] = store.outbox(status=OutboxStatus.DEAD)
        assert dead.order == second[1].order
        assert store.redrive(NOW) == 1
        claimed.update(_by_kind(store.claim(NOW + LEASE, 10, LEASE)))
        assert claimed["CreateSfccOrder"].order == second[1].order
        for entry in claimed.values():
            assert store.complete(entry.id, NOW, {}, token=entry.lease_token or "")
        assert _snapshots(store) == []
        assert [e.status for e in store.outbox()] == [OutboxStatus.DONE] * 4
    finally:
        store.close()


# --------------------------------------------------------------------------- concurrency


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty schema on PostgreSQL alone (SQLite has one writer at a time: two
    completions there cannot interleave)."""
    dsn = postgres_dsn()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(dsn, schema)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _waits_for_a_lock(url: str, pid: int, finished: threading.Event) -> bool:
    """Whether the backend `pid` comes to wait for a lock before `finished` is set."""
    with psycopg.connect(url, autocommit=True) as watcher:
        for _ in range(3_000):
            if finished.is_set():
                return False
            row = watcher.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            if row is not None and row[0] == "Lock":
                return True
            watcher.execute("SELECT pg_sleep(0.01)")
    return False


def test_two_effects_of_one_version_done_at_once_still_let_go_of_its_snapshot(
    postgres_url: str,
) -> None:
    """PostgreSQL, READ COMMITTED: each of two completions at once would see the other
    effect not done yet and keep the snapshot; the trigger's row lock makes the second
    wait for the first and then see it done."""
    store = open_store(postgres_url)
    try:
        _commit_path(store, "C1")
        claimed = _by_kind(_claim(store))
        _done(store, claimed["CreateSfccOrder"])
        ship = claimed["ShipTikTokPackage"]
        [shipping] = [e for e in store.outbox("C1") if e.kind == "UpdateSfccShipping"]
        assert _snapshots(store) == [("C1", 3)]
    finally:
        store.close()
    done = "UPDATE outbox SET status = 'done' WHERE id = %s"
    with psycopg.connect(postgres_url) as one, psycopg.connect(postgres_url) as two:
        one.execute(done, (ship.id,))
        finished = threading.Event()

        def second() -> None:
            two.execute(done, (shipping.id,))
            two.commit()
            finished.set()

        thread = threading.Thread(target=second)
        thread.start()
        waited = _waits_for_a_lock(postgres_url, two.info.backend_pid, finished)
        one.commit()
        thread.join()
    assert waited, "the second completion did not wait for the first"
    store = open_store(postgres_url)
    try:
        assert _snapshots(store) == []
    finally:
        store.close()
