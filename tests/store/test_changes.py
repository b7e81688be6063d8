"""The change feed: every committed transition, in commit order, with its OMS actions."""

from __future__ import annotations

from adapters.service import OrderService
from adapters.store import FIRST_SEEN, Store, open_store
from lifecycle import Policy
from tests.factories import T0, at
from tests.store.helpers import SHOP, seed_detail, seller, status_webhook


def _lived(service: OrderService, order_id: str) -> None:
    service.seed(seed_detail(order_id, lines=2), shop_id=SHOP)
    service.webhook(status_webhook(order_id, "ON_HOLD", T0))
    service.tick(at(hours=1))
    service.command(seller(order_id, "cancel", at(hours=2), line_item_ids=["L2"]))


def test_every_change_is_listed_once_in_commit_order_with_its_actions(store: Store) -> None:
    service = OrderService(store, Policy(seller_partial_cancel=True))
    _lived(service, "O1")
    feed = store.changes()
    assert [c.cursor for c in feed] == [1, 2, 3, 4]
    assert [(c.event, c.source, c.target) for c in feed] == [
        (FIRST_SEEN, "UNPAID", "UNPAID"),
        ("pay", "UNPAID", "ON_HOLD"),
        ("release_hold", "ON_HOLD", "AWAITING_SHIPMENT"),
        ("cancel", "AWAITING_SHIPMENT", "AWAITING_SHIPMENT"),
    ]
    assert [[a.what for a in c.actions] for c in feed] == [
        [],
        ["reserve_inventory"],
        ["release_for_fulfilment"],
        ["release_inventory"],  # the seller cancelled from the OMS: no stop echoed back
    ]
    assert [line.line_item_id for line in feed[3].actions[0].lines] == ["L2"]
    assert [c.version for c in feed] == [0, 1, 2, 3]
    assert feed[3].initiator == "SELLER"
    assert feed[3].origin == "OMS"


def test_a_reader_pages_on_with_its_cursor(store: Store) -> None:
    service = OrderService(store)
    for order_id in ("O1", "O2", "O3"):
        _lived(service, order_id)
    everything = store.changes()
    pages, cursor = [], 0
    while page := store.changes(after=cursor, limit=2):
        pages.extend(page)
        cursor = page[-1].cursor
    assert pages == everything
    assert store.changes(after=everything[-1].cursor) == []


def test_the_actions_go_to_the_outbox_only_when_the_policy_pushes_them(store: Store) -> None:
    OrderService(store).seed(seed_detail("O1"), shop_id=SHOP)
    OrderService(store).webhook(status_webhook("O1", "ON_HOLD", T0))
    assert [e.kind for e in store.outbox("O1")] == []
    pushing = OrderService(store, Policy(push_oms_actions=True))
    pushing.tick(at(hours=1))
    kinds = [e.kind for e in store.outbox("O1")]
    assert "ReleaseForFulfilment" in kinds
    assert [e.channel for e in store.outbox("O1") if e.kind == "ReleaseForFulfilment"] == ["oms"]


def test_an_order_first_seen_paid_asks_to_reserve_and_release_it(store: Store) -> None:
    detail = seed_detail("O1")
    detail["status"] = "AWAITING_SHIPMENT"
    OrderService(store).seed(detail, shop_id=SHOP)
    [seen] = store.changes()
    assert seen.event == FIRST_SEEN
    assert seen.target == "AWAITING_SHIPMENT"
    assert [a.what for a in seen.actions] == ["reserve_inventory", "release_for_fulfilment"]


def test_history_from_before_the_feed_is_numbered_in_the_order_it_happened(
    store_url: str,
) -> None:
    """A store of schema 3 gains the feed on upgrade: its transitions, without actions."""
    made = open_store(store_url)
    _lived(OrderService(made), "O1")
    assert hasattr(made, "_transaction")
    with made._transaction() as execute:  # back to schema 3, history kept
        execute("DROP TABLE changes")
        execute("DELETE FROM schema_version WHERE version = 4")
    made.close()
    upgraded = open_store(store_url)
    try:
        feed = upgraded.changes()
        assert [(c.cursor, c.event, c.version) for c in feed] == [
            (1, "pay", 1),
            (2, "release_hold", 2),
        ]
        assert all(c.actions == () for c in feed)
        OrderService(upgraded).tick(at(days=30))  # not shipped in time: TikTok cancels
        [late] = upgraded.changes(after=2)
        assert (late.cursor, late.event) == (3, "cancel")
        assert [a.what for a in late.actions] == ["stop_fulfilment", "release_inventory"]
    finally:
        upgraded.close()
