"""The live loop: inputs about what the store does not know wait, reads fill the gaps.

Each test drives `OrderService` with a `Reader` (and a `Syncer`) against a
fake TikTok Shop that holds the truth (`fake_shop`), the way a shop's
webhooks and reads reach a real deployment.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from adapters.service import Metrics, OrderService, Reader, Syncer, Telemetry
from adapters.store import InputOutcome, ReadKind, ReadStatus, SqliteStore, waits_for
from lifecycle import LineStatus, OrderStatus
from tests.service.fake_shop import SHOP, FakeShop, order, seconds, webhook

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
CLOCK = T0 + timedelta(hours=3)


@pytest.fixture
def shop() -> FakeShop:
    return FakeShop()


@pytest.fixture
def store() -> SqliteStore:
    return SqliteStore(":memory:")


def live(store: SqliteStore, shop: FakeShop) -> tuple[OrderService, Reader]:
    service = OrderService(store, clock=lambda: CLOCK, reads=True)
    reader = Reader(service, shop.client_for(), clock=lambda: CLOCK)
    return service, reader


def status(order_id: str, value: str, at: datetime) -> bytes:
    data = {"order_id": order_id, "order_status": value, "update_time": seconds(at)}
    return webhook(1, data, at)


def test_first_webhook_of_an_unknown_order_waits_then_applies_after_the_read(
    store: SqliteStore, shop: FakeShop
) -> None:
    """The first webhook TikTok sends about a new order is never lost: it waits,
    a Get Order Detail read seeds the order, then the webhook applies."""
    service, reader = live(store, shop)
    shop.put(order("O1", "AWAITING_SHIPMENT", T0))

    first = service.webhook(status("O1", "AWAITING_SHIPMENT", T0))

    assert first.outcome is InputOutcome.WAITING
    assert "O1" in first.reason
    assert [e.waits_for for e in store.waiting("O1")] == [waits_for(ReadKind.ORDER_DETAIL, "O1")]
    report = reader.run_once()
    assert (report.done, report.calls) == (1, 1)
    seeded = store.load("O1")
    assert seeded is not None
    assert seeded.status is OrderStatus.AWAITING_SHIPMENT
    assert store.waiting() == []
    outcomes = [e.outcome for e in store.inbox("O1")]
    assert InputOutcome.REJECTED not in outcomes
    assert InputOutcome.WAITING not in outcomes


def test_a_storm_of_webhooks_for_one_order_makes_one_read(
    store: SqliteStore, shop: FakeShop
) -> None:
    """Hundreds of signals about one order within a batch are one Get Order Detail call."""
    service, reader = live(store, shop)
    shop.put(order("O1", "AWAITING_SHIPMENT", T0))
    for i in range(200):
        moment = T0 + timedelta(seconds=i)
        service.webhook(status("O1", "AWAITING_SHIPMENT", moment))

    report = reader.run_once()

    assert len(shop.calls_to("/order/202309/orders")) == 1
    assert report.done == 1
    assert store.waiting() == []


def test_reads_of_many_orders_go_out_fifty_ids_a_call(store: SqliteStore, shop: FakeShop) -> None:
    """Get Order Detail takes up to 50 ids: 120 unknown orders are three calls."""
    service, reader = live(store, shop)
    for i in range(120):
        shop.put(order(f"O{i}", "AWAITING_SHIPMENT", T0))
        service.webhook(status(f"O{i}", "AWAITING_SHIPMENT", T0))

    reader.drain()

    calls = shop.calls_to("/order/202309/orders")
    assert sorted(len(c["ids"].split(",")) for c in calls) == [20, 50, 50]
    assert len(store.orders()) == 120
    assert store.waiting() == []


def test_inputs_that_waited_apply_in_the_order_they_arrived(
    store: SqliteStore, shop: FakeShop
) -> None:
    """An OMS command and two webhooks about one unknown order apply oldest first."""
    service, reader = live(store, shop)
    shop.put(order("O1", "ON_HOLD", T0))
    service.webhook(status("O1", "ON_HOLD", T0))
    service.webhook(status("O1", "AWAITING_SHIPMENT", T0 + timedelta(hours=1)))

    reader.run_once()

    stored = store.load("O1")
    assert stored is not None
    assert stored.status is OrderStatus.AWAITING_SHIPMENT
    assert [t.event for t in store.history("O1")][-1] == "release_hold"


def test_a_package_update_names_several_orders_and_brings_tracking_onto_their_lines(
    store: SqliteStore, shop: FakeShop
) -> None:
    """Type 4 carries `package_list[].order_id_list`, no `order_id`: each order named is
    re-read, and the lines shipped in Seller Center get their package, tracking and
    carrier, which `UpdateSfccShipping` carries to SFCC."""
    service, reader = live(store, shop)
    for order_id in ("O1", "O2"):
        shop.put(order(order_id, "AWAITING_SHIPMENT", T0))
        service.seed(shop.orders[order_id], shop_id=SHOP)
    later = T0 + timedelta(hours=2)
    shop.ship("O1", ["O1-L1", "O1-L2"], "PKG-1", "1Z-ONE", later)
    shop.ship("O2", ["O2-L1"], "PKG-2", "1Z-TWO", later)
    package = {
        "sc_type": "SPLIT",
        "role_type": "SELLER",
        "package_list": [
            {"package_id": "PKG-1", "order_id_list": ["O1"]},
            {"package_id": "PKG-2", "order_id_list": ["O2"]},
        ],
        "update_time": seconds(later),
    }

    signal = service.webhook(webhook(4, package, later))
    reader.run_once()

    assert signal.outcome is InputOutcome.APPLIED
    one, two = store.load("O1"), store.load("O2")
    assert one is not None
    assert two is not None
    assert one.status is OrderStatus.AWAITING_COLLECTION
    assert two.status is OrderStatus.PARTIALLY_SHIPPING
    assert [(ln.status, ln.tracking_number, ln.package_id) for ln in two.lines] == [
        (LineStatus.SHIPPED, "1Z-TWO", "PKG-2"),
        (LineStatus.OPEN, None, None),
    ]
    shipping = [e.effect for e in store.outbox("O2") if e.kind == "UpdateSfccShipping"]
    assert [(s.tracking_number, s.package_id, s.line_item_ids) for s in shipping] == [  # type: ignore[attr-defined]
        ("1Z-TWO", "PKG-2", ("O2-L1",))
    ]
    assert not [e for e in store.outbox("O2") if e.kind == "ShipTikTokPackage"]


def test_an_order_status_that_implies_packages_waits_for_the_re_read(
    store: SqliteStore, shop: FakeShop
) -> None:
    """IN_TRANSIT from a type 1 re-reads the order first: the shipment reaches SFCC
    with its tracking number, not as a shipment with none."""
    service, reader = live(store, shop)
    shop.put(order("O1", "AWAITING_SHIPMENT", T0))
    service.seed(shop.orders["O1"], shop_id=SHOP)
    later = T0 + timedelta(hours=2)
    shop.ship("O1", ["O1-L1", "O1-L2"], "PKG-1", "1Z-ONE", later)
    shop.orders["O1"]["status"] = "IN_TRANSIT"

    waiting = service.webhook(status("O1", "IN_TRANSIT", later))
    reader.run_once()

    assert waiting.outcome is InputOutcome.WAITING
    stored = store.load("O1")
    assert stored is not None
    assert stored.status is OrderStatus.IN_TRANSIT
    [shipping] = [e.effect for e in store.outbox("O1") if e.kind == "UpdateSfccShipping"]
    assert shipping.tracking_number == "1Z-ONE"  # type: ignore[attr-defined]
    assert store.waiting() == []


def test_a_one_line_cancellation_request_stays_one_line(store: SqliteStore, shop: FakeShop) -> None:
    """Type 11 has no lines: Search Cancellations gives them, so a buyer's request
    for one line of three is a request for that line, and its approval cancels
    that line only."""
    service, reader = live(store, shop)
    shop.put(order("O1", "AWAITING_SHIPMENT", T0, lines=3))
    service.seed(shop.orders["O1"], shop_id=SHOP)
    later = T0 + timedelta(hours=2)
    shop.cancellations.append(
        {
            "cancel_id": "C1",
            "order_id": "O1",
            "cancel_status": "CANCELLATION_REQUEST_PENDING",
            "cancellations_role": "BUYER",
            "cancel_reason": "Changed my mind",
            "cancel_line_items": [{"order_line_item_id": "O1-L2"}],
            "create_time": seconds(later),
            "update_time": seconds(later),
        }
    )
    data = {
        "order_id": "O1",
        "cancel_id": "C1",
        "cancellations_role": "BUYER",
        "cancel_status": "CANCELLATION_REQUEST_PENDING",
        "create_time": seconds(later),
    }

    waiting = service.webhook(webhook(11, data, later))
    reader.run_once()

    assert waiting.outcome is InputOutcome.WAITING
    stored = store.load("O1")
    assert stored is not None
    assert stored.cancellation is not None
    assert stored.cancellation.line_item_ids == ("O1-L2",)
    assert store.waiting() == []


def test_a_webhook_about_an_order_with_an_input_waiting_waits_behind_it(
    store: SqliteStore, shop: FakeShop
) -> None:
    """TikTok's cancellation of an order must not overtake the buyer's request that
    came first and waits for its lines: it waits behind it and applies after it,
    so the order's history is the webhooks in the order they arrived."""
    service, reader = live(store, shop)
    shop.put(order("O1", "AWAITING_SHIPMENT", T0, lines=2))
    service.seed(shop.orders["O1"], shop_id=SHOP)
    asked, approved = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    shop.cancellations.append(
        {
            "cancel_id": "C1",
            "order_id": "O1",
            "cancel_status": "CANCELLATION_REQUEST_PENDING",
            "cancellations_role": "BUYER",
            "cancel_line_items": [{"order_line_item_id": "O1-L1"}, {"order_line_item_id": "O1-L2"}],
            "create_time": seconds(asked),
            "update_time": seconds(asked),
        }
    )
    request = {
        "order_id": "O1",
        "cancel_id": "C1",
        "cancellations_role": "BUYER",
        "cancel_status": "CANCELLATION_REQUEST_PENDING",
        "create_time": seconds(asked),
    }

    first = service.webhook(webhook(11, request, asked))
    behind = service.webhook(status("O1", "CANCELLED", approved))

    assert first.outcome is InputOutcome.WAITING
    assert behind.outcome is InputOutcome.WAITING
    assert "waiting behind it" in behind.reason
    assert [t.event for t in store.history("O1")] == []  # nothing applied ahead of the request
    reader.drain()
    assert [t.event for t in store.history("O1")][:1] == ["request_cancellation"]
    stored = store.load("O1")
    assert stored is not None
    assert stored.status is OrderStatus.CANCELLED
    assert store.waiting() == []


def test_a_read_that_fails_for_good_parks_the_job_and_keeps_the_inputs_waiting(
    store: SqliteStore, shop: FakeShop
) -> None:
    """An order TikTok does not return parks its read as dead with the reason; the
    webhook stays waiting, and a re-drive once the order exists applies it."""
    service, reader = live(store, shop)
    service.webhook(status("O9", "AWAITING_SHIPMENT", T0))

    report = reader.run_once()

    assert report.dead == 1
    [dead] = store.reads(ReadStatus.DEAD)
    assert "O9" in dead.last_error
    assert "Get Order Detail" in dead.last_error
    assert [e.order_id for e in store.waiting()] == ["O9"]
    shop.put(order("O9", "AWAITING_SHIPMENT", T0))
    assert reader.redrive() == 1
    reader.run_once()
    assert store.waiting() == []
    assert store.load("O9") is not None


def test_a_busy_tiktok_is_retried_later_not_parked(store: SqliteStore, shop: FakeShop) -> None:
    """HTTP 429 is retryable: the read is scheduled again with the dispatcher's backoff."""
    service, reader = live(store, shop)
    shop.put(order("O1", "AWAITING_SHIPMENT", T0))
    service.webhook(status("O1", "AWAITING_SHIPMENT", T0))
    shop.fail_next.append(httpx.Response(429, json={"code": 0, "message": "busy"}))

    report = reader.run_once()

    assert (report.retried, report.dead) == (1, 0)
    [job] = store.reads(ReadStatus.PENDING)
    assert job.next_attempt_at > CLOCK
    assert store.waiting() != []


def test_without_a_reader_an_unknown_orders_webhook_waits_for_its_detail(
    store: SqliteStore,
) -> None:
    """Offline (a replay), the webhook waits until the order's detail arrives in the
    same store, then applies; nothing is rejected for coming first."""
    service = OrderService(store, clock=lambda: CLOCK)
    waiting = service.webhook(status("O1", "AWAITING_SHIPMENT", T0 + timedelta(hours=1)))
    assert waiting.outcome is InputOutcome.WAITING
    assert store.reads() == []

    seeded = service.seed(order("O1", "ON_HOLD", T0), shop_id=SHOP)

    assert [r.outcome for r in seeded.resumed] == [InputOutcome.APPLIED]
    stored = store.load("O1")
    assert stored is not None
    assert stored.status is OrderStatus.AWAITING_SHIPMENT


def test_a_reader_started_later_reads_what_waited_without_one(
    store: SqliteStore, shop: FakeShop
) -> None:
    """Inputs kept while no reader ran get their reads when one starts (`sweep`)."""
    OrderService(store, clock=lambda: CLOCK).webhook(status("O1", "AWAITING_SHIPMENT", T0))
    shop.put(order("O1", "AWAITING_SHIPMENT", T0))
    service, reader = live(store, shop)

    assert reader.sweep() == 1
    reader.run_once()
    service.process_pending()

    assert store.waiting() == []
    assert store.load("O1") is not None


def test_an_unused_webhook_type_is_kept_and_ignored(store: SqliteStore) -> None:
    """A correctly parsed webhook of a type the library does not read is `ignored`."""
    service = OrderService(store, clock=lambda: CLOCK)
    result = service.webhook(webhook(99, {"anything": 1}, T0))
    assert result.outcome is InputOutcome.IGNORED
    assert "99" in result.reason


def test_sync_heals_an_order_whose_webhooks_were_all_lost(
    store: SqliteStore, shop: FakeShop
) -> None:
    """Search Orders since the watermark seeds an order never heard of and brings a
    known one to TikTok's state; the watermark moves to the end of the window."""
    service, _reader = live(store, shop)
    shop.put(order("KNOWN", "AWAITING_SHIPMENT", T0))
    service.seed(shop.orders["KNOWN"], shop_id=SHOP)
    later = T0 + timedelta(hours=2)
    shop.ship("KNOWN", ["KNOWN-L1", "KNOWN-L2"], "PKG-K", "1Z-K", later)
    shop.put(order("NEW", "AWAITING_SHIPMENT", T0, updated=later))
    shop.put(order("OLD", "AWAITING_SHIPMENT", T0 - timedelta(days=5)))
    syncer = Syncer(service, shop.client_for(), clock=lambda: CLOCK)

    report = syncer.run_once(since=T0)

    assert (report.seen, report.changed, report.seeded) == (2, 1, 1)
    known = store.load("KNOWN")
    assert known is not None
    assert known.status is OrderStatus.AWAITING_COLLECTION
    assert {line.tracking_number for line in known.lines} == {"1Z-K"}
    assert store.load("NEW") is not None
    assert store.load("OLD") is None
    assert syncer.watermark("") == CLOCK
    searches = shop.calls_to("/order/202309/orders/search")
    assert searches[0]["update_time_ge"] == seconds(T0)
    assert searches[0]["update_time_lt"] == seconds(CLOCK)


def test_sync_starts_an_overlap_before_the_watermark(store: SqliteStore, shop: FakeShop) -> None:
    """The next window starts `overlap` before the last one ended: nothing at the edge
    is missed, and what is seen twice is the same input, kept once."""
    service, _reader = live(store, shop)
    syncer = Syncer(service, shop.client_for(), clock=lambda: CLOCK, overlap=timedelta(minutes=5))
    syncer.run_once(since=T0)
    syncer.run_once()
    second = shop.calls_to("/order/202309/orders/search")[-1]
    assert second["update_time_ge"] == seconds(CLOCK - timedelta(minutes=5))


def test_the_readers_telemetry_counts_each_job_as_the_store_ended_it(
    store: SqliteStore, shop: FakeShop
) -> None:
    """done, retried and dead read jobs are counted as the store has them; each call to
    TikTok is timed, the one that failed too."""
    metrics = Metrics()
    service = OrderService(store, clock=lambda: CLOCK, reads=True, telemetry=Telemetry(metrics))
    reader = Reader(service, shop.client_for(), clock=lambda: CLOCK)
    shop.put(order("O1", "AWAITING_SHIPMENT", T0))
    service.webhook(status("O1", "AWAITING_SHIPMENT", T0))
    service.webhook(status("O9", "AWAITING_SHIPMENT", T0))  # TikTok does not return it
    shop.fail_next.append(httpx.Response(429, json={"code": 0, "message": "busy"}))
    reader.run_once()  # the one call is refused: both jobs retried
    later = Reader(service, shop.client_for(), clock=lambda: CLOCK + timedelta(hours=1))
    later.run_once()

    def counted(name: str) -> dict[tuple[str, ...], float]:
        return {
            tuple(v for _, v in sorted(s.labels.items())): s.value
            for family in metrics.registry.collect()
            for s in family.samples
            if s.name == name
        }

    assert counted("order_lifecycle_read_attempts_total") == {
        ("order_detail", "retried"): 2.0,
        ("order_detail", "done"): 1.0,
        ("order_detail", "dead"): 1.0,
    }
    assert len(store.reads(ReadStatus.DONE)) == len(store.reads(ReadStatus.DEAD)) == 1
    calls = counted("order_lifecycle_partner_call_duration_seconds_count")
    assert calls == {("order_detail", "tiktok_shop"): 2.0}
