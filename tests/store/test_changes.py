"""The change feed: every committed transition, in commit order, with its OMS actions."""

from __future__ import annotations

from adapters.service import OrderService
from adapters.store import FIRST_SEEN, Store, open_store
from lifecycle import Policy
from tests.factories import T0, at
from tests.store.helpers import SHOP, seed_detail, seller, status_webhook, undo_schema_5


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
        undo_schema_5(execute, store_url.startswith("sqlite"))
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


def test_pushed_actions_reach_an_oms_function_in_order_and_a_failure_holds_the_rest(
    store: Store,
) -> None:
    """At least once and in order: an action that fails is retried before the next of
    its order goes; after the retries run out it is a dead letter with the error."""
    from datetime import timedelta

    import httpx

    from adapters.service import Backoff, Dispatcher
    from adapters.store import OutboxStatus
    from adapters.wiring import PartnerSettings, build_executors

    service = OrderService(store, Policy(push_oms_actions=True), clock=lambda: at(hours=4))
    _lived(service, "O1")  # reserve, release for fulfilment; the seller's cancel is refused
    service.command(seller("O1", "cancel", at(hours=3)))  # the whole order: release only
    taken: list[str] = []
    failures = [1]

    def handle(action: object) -> None:
        what = getattr(action, "what", "")
        if what == "release_for_fulfilment" and failures[0]:
            failures[0] -= 1
            raise ConnectionError("the OMS is restarting")
        taken.append(what)

    now = [at(days=1)]
    with httpx.Client() as http:
        dispatcher = Dispatcher(
            store,
            build_executors(PartnerSettings(), http, oms=handle),
            clock=lambda: now[0],
            backoff=Backoff(timedelta(seconds=10), spread=0),
            max_attempts=2,
        )
        first = dispatcher.drain()
        assert (first.done, first.retried) == (1, 1)
        assert taken == ["reserve_inventory"]  # the cancel's release waits behind the retry
        now[0] += timedelta(minutes=1)
        dispatcher.drain()
    assert taken == ["reserve_inventory", "release_for_fulfilment", "release_inventory"]
    assert all(e.status is OutboxStatus.DONE for e in store.outbox("O1") if e.channel == "oms")

    failures[0] = 99
    service.seed(seed_detail("O2"), shop_id=SHOP)
    service.webhook(status_webhook("O2", "ON_HOLD", T0))
    service.tick(at(hours=1))
    with httpx.Client() as http:
        dispatcher = Dispatcher(
            store,
            build_executors(PartnerSettings(), http, oms=handle),
            clock=lambda: now[0],
            backoff=Backoff(timedelta(seconds=10), spread=0),
            max_attempts=2,
        )
        for _ in range(3):
            now[0] += timedelta(minutes=1)
            dispatcher.drain()
    [dead] = [e for e in store.outbox("O2", OutboxStatus.DEAD) if e.channel == "oms"]
    assert dead.kind == "ReleaseForFulfilment"
    assert dead.attempts == 2
    assert "ConnectionError: the OMS is restarting" in dead.last_error
