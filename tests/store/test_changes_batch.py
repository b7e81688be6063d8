"""The change feed inside a batch: its rows are written at the batch's end.

So the feed's writer lock (PostgreSQL: an advisory lock held to the end of
the transaction) is held only while they are written and the batch commits,
and writers on other connections, such as the other workers of
`replay --workers N`, go on meanwhile. The feed must stay what it was: every
change once, in commit order, nothing of a change that did not hold.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest

from adapters.errors import AlreadyProcessed
from adapters.service import OrderService
from adapters.store import FIRST_SEEN, Change, InputOutcome, Store, open_store
from lifecycle import Initiator, OrderLifecycle
from tests.factories import T0
from tests.store.conftest import postgres_dsn, with_schema
from tests.store.helpers import SHOP, seed_detail, status_webhook


def test_a_batch_lists_its_changes_once_in_order_when_it_ends(store: Store) -> None:
    service = OrderService(store)
    with store.batch():
        service.seed(seed_detail("O1"), shop_id=SHOP)
        service.webhook(status_webhook("O1", "ON_HOLD", T0))
        service.seed(seed_detail("O2"), shop_id=SHOP)
    service.webhook(status_webhook("O2", "ON_HOLD", T0))  # after the batch, on its own
    feed = store.changes()
    assert [c.cursor for c in feed] == [1, 2, 3, 4]
    assert [(c.order_id, c.event) for c in feed] == [
        ("O1", FIRST_SEEN),
        ("O1", "pay"),
        ("O2", FIRST_SEEN),
        ("O2", "pay"),
    ]


def test_a_change_that_does_not_hold_inside_a_batch_leaves_no_feed_row(store: Store) -> None:
    service = OrderService(store)
    with store.batch():
        service.seed(seed_detail("O1"), shop_id=SHOP)
        receipt = store.receive("webhook", "k", "{}", T0, "O1")
        store.finish(receipt.inbox_id, InputOutcome.DUPLICATE)  # another worker's, done
        stored = store.load("O1")
        assert stored is not None
        lifecycle = OrderLifecycle(stored)
        lifecycle.send("pay", initiator=Initiator.PLATFORM, now=T0)
        paid = lifecycle.order
        with pytest.raises(AlreadyProcessed):  # undone whole, its feed rows too
            store.commit(
                Change(
                    order=paid,
                    expected_version=stored.version,
                    records=paid.history[len(stored.history) :],
                    effects=(),
                    next_timer_at=None,
                    inbox_id=receipt.inbox_id,
                ),
                T0,
            )
        service.webhook(status_webhook("O1", "ON_HOLD", T0))  # the same version, held
    assert [(c.event, c.version) for c in store.changes()] == [(FIRST_SEEN, 0), ("pay", 1)]


def test_an_open_batch_does_not_hold_the_feed_lock_on_postgresql() -> None:
    dsn = postgres_dsn()
    schema = f"b_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    store = open_store(with_schema(dsn, schema))
    try:
        service = OrderService(store)
        with store.batch(), psycopg.connect(dsn, autocommit=True) as watcher:
            service.seed(seed_detail("O1"), shop_id=SHOP)
            service.webhook(status_webhook("O1", "ON_HOLD", T0))
            held = watcher.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND ((classid::bigint << 32) | objid::bigint) = 5318008416"
            ).fetchone()
            assert held == (0,)
        assert len(store.changes()) == 2
    finally:
        store.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
