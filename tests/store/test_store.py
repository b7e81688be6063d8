"""The shared store suite: every test runs on SQLite and on PostgreSQL (see conftest)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.errors import InvalidSignature
from adapters.partners.tiktok_shop import webhook_signature
from adapters.service import OrderService
from adapters.store import (
    Change,
    InputOutcome,
    OutboxStatus,
    PostgresStore,
    ReceiptState,
    SchemaTooNew,
    SqliteStore,
    Store,
    StoreError,
    VersionConflict,
    effect_from_dict,
    effect_to_dict,
    open_store,
    order_from_json,
    order_to_json,
)
from lifecycle import (
    ApproveTikTokCancellation,
    CreateSfccOrder,
    ExpectReturn,
    Initiator,
    OmsLine,
    OrderStatus,
    Origin,
    ShipTikTokPackage,
    apply,
)
from tests.factories import REPORTING, T0, at, delivered, new_order, paid, released, shipped
from tests.store.helpers import (
    SHOP,
    cancel_webhook,
    projection,
    seed_detail,
    seller,
    status_webhook,
)

ORDER = "576461413038785752"
NOW = T0 + timedelta(days=30)  # the service's wall clock in these tests


def service(store: Store, **kwargs: object) -> OrderService:
    return OrderService(store, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def seeded(store: Store, **kwargs: object) -> OrderService:
    svc = service(store, **kwargs)
    assert svc.seed(seed_detail(ORDER), shop_id="S1").outcome is InputOutcome.APPLIED
    return svc


# --------------------------------------------------------------------------- schema


def test_a_new_store_is_migrated_to_the_latest_schema_and_reopening_keeps_it(
    store_url: str,
) -> None:
    first = open_store(store_url)
    assert first.schema_version() == 5
    first.close()
    again = open_store(store_url)
    assert again.schema_version() == 5
    again.close()


def test_a_database_of_the_previous_schema_is_migrated_keeping_its_inputs(
    store_url: str,
) -> None:
    """A store made before live sync (schema 2) gains the read jobs and keeps its inbox."""
    sqlite = store_url.startswith("sqlite:///")
    latest: type[SqliteStore | PostgresStore] = SqliteStore if sqlite else PostgresStore

    class Previous(latest):  # type: ignore[misc,valid-type]
        MIGRATIONS = latest.MIGRATIONS[:2]

    old = Previous(store_url.removeprefix("sqlite:///") if sqlite else store_url)
    assert old.schema_version() == 2
    receipt = old.receive("webhook", "k1", "{}", T0, "O1")
    old.close()
    upgraded = open_store(store_url)
    try:
        assert upgraded.schema_version() == 5
        [kept] = upgraded.inbox("O1")
        assert (kept.id, kept.waits_for) == (receipt.inbox_id, None)
        assert upgraded.reads() == []
    finally:
        upgraded.close()


def test_a_database_from_a_newer_library_is_refused(store: Store, store_url: str) -> None:
    assert hasattr(store, "_transaction")
    with store._transaction() as execute:
        execute("INSERT INTO schema_version (version, applied_at) VALUES (99, 'later')")
    with pytest.raises(SchemaTooNew, match="schema version 99"):
        open_store(store_url)


def test_unknown_database_urls_are_refused_by_name() -> None:
    with pytest.raises(StoreError, match="unknown database scheme 'mysql'"):
        open_store("mysql://localhost/db")
    with pytest.raises(StoreError, match=r"sqlite:///path\.db"):
        open_store("sqlite://relative.db")


# --------------------------------------------------------------------------- codec


@given(st.sampled_from([paid, released, shipped, delivered]), st.integers(1, 3))
def test_orders_and_effects_round_trip_through_the_store_converter(builder, lines) -> None:  # type: ignore[no-untyped-def]
    order = builder(lines).order
    order = attrs.evolve(order, extensions={"stay": {"nights": 2}, "tags": ["a", "b"]})
    assert order_from_json(order_to_json(order)) == order
    unknown_shop = attrs.evolve(order, shop_id=None)
    assert order_from_json(order_to_json(unknown_shop)) == unknown_shop
    outcome = (
        apply(order, "complete", initiator=Initiator.PLATFORM, now=at(days=40))
        if (order.status is OrderStatus.DELIVERED)
        else None
    )
    effects = [
        CreateSfccOrder(order.order_id, 2),
        ShipTikTokPackage(order.order_id, 3, ("L1",), "1Z", package_id="P1"),
        *(outcome.effects if outcome else ()),
        *(outcome.actions if outcome else ()),
        ExpectReturn(order.order_id, 4, (OmsLine("L1", "SKU1", "MUG-1", 2),), return_id="R1"),
    ]
    for effect in effects:
        assert effect_from_dict(json.loads(json.dumps(effect_to_dict(effect)))) == effect


def test_decoded_orders_share_equal_small_values_and_keep_each_amount_exact() -> None:
    """Two orders decoded from the store hold one object per equal amount, time, event
    name, SKU, currency and extension key; an amount written "12.5" stays "12.5", not
    the "12.50" another order shares; empty history parameters are one shared mapping."""
    order = attrs.evolve(delivered().order, extensions={"stay": {"nights": 2}})
    body = order_to_json(order)
    first, second = order_from_json(body), order_from_json(body)
    assert first == order
    assert second == order
    assert first.lines[0].sale_price is second.lines[0].sale_price
    assert first.currency is second.currency
    assert first.lines[0].sku_id is second.lines[0].sku_id
    assert first.history[0].event is second.history[0].event
    assert first.history[0].at is first.paid_at
    assert not first.history[0].params
    assert first.history[0].params is second.history[1].params
    (key,) = first.extensions
    (other_key,) = second.extensions
    assert key is other_key
    odd = attrs.evolve(
        order, lines=[attrs.evolve(order.lines[0], sale_price=Decimal("12.5")), *order.lines[1:]]
    )
    decoded = order_from_json(order_to_json(odd)).lines[0].sale_price
    assert str(decoded) == "12.5"
    assert str(order_from_json(body).lines[0].sale_price) == "12.50"


def test_extensions_that_are_not_json_are_refused_before_anything_is_written(
    store: Store,
) -> None:
    order = attrs.evolve(new_order(), extensions={"when": object()})
    with pytest.raises(StoreError, match="extensions must hold JSON"):
        store.commit(Change(order, None, (), (), None), NOW)
    assert store.load(order.order_id) is None


# --------------------------------------------------------------------------- orders


def test_a_change_writes_order_history_and_outbox_together(store: Store) -> None:
    svc = seeded(store)
    svc.webhook(status_webhook(ORDER, "ON_HOLD", T0))
    result = svc.tick(at(hours=1))[0]
    assert [e.kind for e in result.effects] == ["CreateSfccOrder"]
    order = store.load(ORDER)
    assert order is not None
    assert order.status is OrderStatus.AWAITING_SHIPMENT
    assert order.version == 2 == len(store.history(ORDER))
    assert [t.event for t in store.history(ORDER)] == ["pay", "release_hold"]
    assert [t.version for t in store.history(ORDER)] == [1, 2]
    [entry] = store.outbox(ORDER)
    assert entry.idempotency_key == f"{ORDER}-2-CreateSfccOrder"
    assert entry.status is OutboxStatus.PENDING
    assert entry.order.version == 2


def test_a_write_from_a_stale_read_is_refused_and_changes_nothing(store: Store) -> None:
    svc = seeded(store)
    svc.webhook(status_webhook(ORDER, "ON_HOLD", T0))
    stale = store.load(ORDER)
    assert stale is not None
    svc.tick(at(hours=1))
    outcome = apply(stale, "cancel", initiator=Initiator.BUYER, now=T0)
    with pytest.raises(VersionConflict, match="expected it at version 1"):
        store.commit(
            Change(outcome.order, stale.version, outcome.order.history[1:], outcome.effects, None),
            NOW,
        )
    current = store.load(ORDER)
    assert current is not None
    assert current.status is OrderStatus.AWAITING_SHIPMENT
    assert len(store.history(ORDER)) == 2
    assert [e.kind for e in store.outbox(ORDER)] == ["CreateSfccOrder"]


def test_a_batch_commits_once_and_a_failing_call_inside_undoes_only_itself(store: Store) -> None:
    """Inside `batch`, each call is a savepoint: a conflict undoes that call, the rest stays."""
    first, second = new_order(order_id="B1"), new_order(order_id="B2")
    with store.batch():
        store.commit(Change(first, None, (), (), None), NOW)
        with pytest.raises(VersionConflict):
            store.commit(Change(first, None, (), (), None), NOW)  # stored already
        store.commit(Change(second, None, (), (), None), NOW)
        assert store.version("B2") == 0
    assert (store.version("B1"), store.version("B2"), store.version("nope")) == (0, 0, None)


def test_a_batch_writes_each_order_body_once_and_reads_its_own_changes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside `batch` an order moved three times is serialised once, at the end.

    `load` inside the batch answers the order as the batch left it, the outbox
    row's snapshot is the order at its effect's version (here the last one, so
    one text serves both), and after the batch the stored body is the last
    order, at the stored version.
    """
    from adapters.store import _sql

    serialised: list[tuple[str, int]] = []
    real = _sql.order_to_json

    def counting(order: object) -> str:
        serialised.append((order.order_id, order.version))  # type: ignore[attr-defined]
        return real(order)  # type: ignore[arg-type]

    monkeypatch.setattr(_sql, "order_to_json", counting)
    unpaid = new_order(order_id="B4")
    store.commit(Change(unpaid, None, (), (), None), NOW)
    on_hold = apply(unpaid, "pay", initiator=Initiator.BUYER, now=T0)
    released_ = apply(on_hold.order, "release_hold", initiator=Initiator.PLATFORM, now=at(hours=1))
    serialised.clear()
    with store.batch():
        store.commit(Change(on_hold.order, 0, on_hold.order.history, (), None), NOW)
        assert store.load("B4") == on_hold.order
        store.commit(
            Change(released_.order, 1, released_.order.history[1:], released_.effects, None), NOW
        )
        assert store.load("B4") == released_.order
        assert store.version("B4") == 2
        assert serialised == []  # the snapshot and the body wait for the batch's end
    assert serialised == [("B4", 2)]  # the effect's snapshot and the body: one text
    assert store.version("B4") == 2
    assert store.load("B4") == released_.order
    assert [entry.order for entry in store.outbox("B4")] == [released_.order]
    assert [t.version for t in store.history("B4")] == [1, 2]


def test_a_batch_that_fails_as_a_whole_keeps_nothing(store: Store) -> None:
    class Boom(Exception):
        pass

    def write_then_fail() -> None:
        with store.batch():
            store.commit(Change(new_order(order_id="B3"), None, (), (), None), NOW)
            raise Boom

    with pytest.raises(Boom):
        write_then_fail()
    assert store.load("B3") is None


def test_effect_counts_count_kinds_of_the_given_orders_only(store: Store) -> None:
    svc = seeded(store)
    svc.webhook(status_webhook(ORDER, "ON_HOLD", T0))
    svc.tick(at(hours=1))
    assert store.effect_counts([ORDER]) == {"CreateSfccOrder": 1}
    assert store.effect_counts(["someone-else"]) == {}


def test_the_order_cache_never_hides_another_writers_change(store_url: str) -> None:
    """A kept order is used only while the stored version equals its own."""
    mine, theirs = open_store(store_url), open_store(store_url)
    try:
        cached = OrderService(mine, clock=lambda: NOW, order_cache=10)
        other = OrderService(theirs, clock=lambda: NOW)
        cached.seed(seed_detail(ORDER), shop_id="shop")
        cached.webhook(status_webhook(ORDER, "ON_HOLD", T0))  # kept at version 1
        other.tick(at(hours=1))  # released by someone else: version 2
        result = cached.command(seller(ORDER, "cancel", at(hours=2)))
        assert result.outcome is InputOutcome.APPLIED
        order = mine.load(ORDER)
        assert order is not None
        assert order.status is OrderStatus.CANCELLED
        assert [t.event for t in mine.history(ORDER)] == ["pay", "release_hold", "cancel"]
    finally:
        mine.close()
        theirs.close()


def test_storing_an_order_twice_as_new_is_a_conflict(store: Store) -> None:
    order = new_order()
    store.commit(Change(order, None, (), (), None), NOW)
    with pytest.raises(VersionConflict, match="not to exist yet"):
        store.commit(Change(order, None, (), (), None), NOW)


def test_due_orders_come_from_the_timer_column(store: Store) -> None:
    svc = seeded(store)
    svc.seed(seed_detail("O2"), shop_id="S1")
    svc.webhook(status_webhook(ORDER, "ON_HOLD", T0))
    svc.webhook(status_webhook("O2", "ON_HOLD", at(hours=2)))
    assert store.due_orders(T0 + timedelta(minutes=59)) == []
    assert store.due_orders(at(hours=1)) == [ORDER]
    assert store.due_orders(at(hours=3)) == [ORDER, "O2"]
    assert [o.next_timer_at for o in store.orders()] == [at(hours=1), at(hours=3)]


# --------------------------------------------------------------------------- inbox


def test_an_input_is_kept_before_processing_and_a_repeat_is_recorded_as_duplicate(
    store: Store,
) -> None:
    first = store.receive("webhook", "k1", "{}", NOW, ORDER)
    assert first.state is ReceiptState.NEW
    assert store.receive("webhook", "k1", "{}", NOW, ORDER).state is ReceiptState.PENDING
    assert store.finish(first.inbox_id, InputOutcome.STALE, "old news")
    assert not store.finish(first.inbox_id, InputOutcome.APPLIED)
    again = store.receive("webhook", "k1", "{}", NOW, ORDER)
    assert again.state is ReceiptState.DONE
    assert again.outcome is InputOutcome.STALE
    assert again.inbox_id == first.inbox_id
    [kept] = store.inbox(ORDER)
    assert (kept.outcome, kept.repeats) == (InputOutcome.STALE, 1)


def test_a_repeated_input_stores_nothing_new_and_is_counted_on_the_kept_row(
    store: Store,
) -> None:
    """The same signed webhook posted 2,000 times is one inbox row, its repeats counted."""
    svc = seeded(store)
    body = status_webhook(ORDER, "ON_HOLD", T0, notification="n-1")
    results = [svc.webhook(body) for _ in range(2000)]
    assert results[0].outcome is InputOutcome.APPLIED
    assert {r.outcome for r in results[1:]} == {InputOutcome.DUPLICATE}
    webhooks = [e for e in store.inbox(ORDER) if e.kind == "webhook"]
    assert [(e.dedup_key, e.repeats) for e in webhooks] == [("tiktok:n-1", 1999)]


def test_webhooks_are_deduplicated_by_tiktok_notification_id(store: Store) -> None:
    svc = seeded(store)
    body = status_webhook(ORDER, "ON_HOLD", T0, notification="7327")
    assert svc.webhook(body).outcome is InputOutcome.APPLIED
    again = svc.webhook(body.replace(b'"timestamp"', b'"timestamp" ').replace(b"  ", b" "))
    assert again.outcome is InputOutcome.DUPLICATE
    assert store.inbox(ORDER)[-1].dedup_key == "tiktok:7327"
    assert len(store.history(ORDER)) == 1


def test_stale_duplicate_and_rejected_inputs_are_recorded_and_change_nothing(
    store: Store,
) -> None:
    svc = seeded(store)
    svc.webhook(status_webhook(ORDER, "AWAITING_SHIPMENT", at(hours=1)))
    before = store.load(ORDER)
    results = [
        svc.webhook(status_webhook(ORDER, "ON_HOLD", T0)),
        svc.webhook(status_webhook(ORDER, "AWAITING_SHIPMENT", at(hours=2))),
        svc.webhook(status_webhook(ORDER, "AWAITING_PICKUP", at(hours=3))),
        svc.webhook(b"{not json"),
        svc.command(seller(ORDER, "complete", at(hours=3))),
        svc.command(seller("nobody", "ship", at(hours=3))),
    ]
    assert [(r.outcome, r.error_type) for r in results] == [
        (InputOutcome.STALE, "StaleObservation"),
        (InputOutcome.DUPLICATE, ""),
        (InputOutcome.REJECTED, "UnknownValue"),
        (InputOutcome.REJECTED, "MalformedPayload"),
        (InputOutcome.REJECTED, "IllegalTransition"),
        (InputOutcome.WAITING, ""),
    ]
    assert "AWAITING_PICKUP" in results[2].reason
    assert store.load(ORDER) == before
    assert len(store.history(ORDER)) == 2
    assert all(e.outcome is not None for e in store.inbox())


def test_a_forged_webhook_raises_and_nothing_is_stored(store: Store) -> None:
    svc = seeded(store)
    svc = attrs.evolve(svc, app_key="key", app_secret="secret")
    body = status_webhook(ORDER, "ON_HOLD", T0)
    inbox = len(store.inbox())
    with pytest.raises(InvalidSignature):
        svc.webhook(body, headers={"Authorization": "0" * 64})
    assert len(store.inbox()) == inbox
    good = {"Authorization": webhook_signature(body, "key", "secret")}
    assert svc.webhook(body, headers=good).outcome is InputOutcome.APPLIED
    assert "secret" not in repr(svc)


def test_an_input_left_unfinished_by_a_crash_is_processed_on_redelivery(store: Store) -> None:
    svc = seeded(store)
    body = status_webhook(ORDER, "ON_HOLD", T0)
    crashed = store.receive("webhook", "sha256:x", body.decode(), NOW, ORDER)
    assert crashed.state is ReceiptState.NEW
    # The same notification delivered again finds the unfinished entry and finishes it.
    with store._transaction() as execute:  # type: ignore[attr-defined]
        execute("UPDATE inbox SET dedup_key = ? WHERE id = ?", (_key(svc, body), crashed.inbox_id))
    result = svc.webhook(body)
    assert result.outcome is InputOutcome.APPLIED
    assert result.inbox_id == crashed.inbox_id


def _key(svc: OrderService, body: bytes) -> str:
    from adapters.service import content_key

    return content_key(json.loads(body))


def test_seed_reread_brings_a_stored_order_to_the_reported_status(store: Store) -> None:
    svc = seeded(store)
    order = store.load(ORDER)
    assert order is not None
    later = attrs.evolve(
        order, status=OrderStatus.AWAITING_SHIPMENT, paid_at=T0, updated_at=at(hours=1)
    )
    from adapters.partners.tiktok_shop import detail_from_order

    result = svc.seed(detail_from_order(later), shop_id="S1")
    assert result.outcome is InputOutcome.APPLIED
    assert [t.event for t in store.history(ORDER)] == ["pay", "release_hold"]
    assert all(t.origin == Origin.TIKTOK.value for t in store.history(ORDER))


def test_an_order_detail_takes_its_shop_from_the_line_else_the_service(store: Store) -> None:
    """The shop beside the detail wins; the service's `shop_id` fills in when there is none."""
    svc = service(store, shop_id="S9")
    svc.seed(seed_detail(ORDER), shop_id="S1")
    svc.seed(seed_detail("other"))
    assert [store.load(o).shop_id for o in (ORDER, "other")] == ["S1", "S9"]  # type: ignore[union-attr]


def test_an_order_detail_without_a_shop_takes_the_shop_of_a_webhook_about_it(
    store: Store,
) -> None:
    """A webhook that came before its order was seeded (waiting then) names the shop."""
    svc = service(store)
    early = svc.webhook(status_webhook(ORDER, "ON_HOLD", T0))
    assert early.outcome is InputOutcome.WAITING
    assert svc.seed(seed_detail(ORDER)).outcome is InputOutcome.APPLIED
    assert svc.seed(seed_detail("other")).outcome is InputOutcome.APPLIED
    assert store.load(ORDER).shop_id == SHOP  # type: ignore[union-attr]
    assert store.load("other").shop_id is None  # type: ignore[union-attr]


def test_webhook_shop_passes_over_payloads_that_name_no_shop(store: Store) -> None:
    store.receive("webhook", "k1", "{not json", NOW, ORDER)
    store.receive("webhook", "k2", json.dumps({"type": 1, "shop_id": ""}), NOW, ORDER)
    store.receive("order_detail", "k3", json.dumps({"shop_id": "not a webhook"}), NOW, ORDER)
    assert store.webhook_shop(ORDER) is None
    store.receive("webhook", "k4", status_webhook(ORDER, "ON_HOLD", T0).decode(), NOW, ORDER)
    store.receive("webhook", "k5", json.dumps({"shop_id": "later"}), NOW, ORDER)
    assert store.webhook_shop(ORDER) == SHOP
    assert store.webhook_shop("other") is None


def test_an_order_kept_without_a_shop_takes_it_from_the_next_input_that_changes_it(
    store: Store,
) -> None:
    """A webhook's envelope, or a re-read with a shop, fills in the shop the order lacked."""
    svc = service(store)
    svc.seed(seed_detail(ORDER))
    svc.seed(seed_detail("other"))
    assert store.load(ORDER).shop_id is None  # type: ignore[union-attr]
    assert svc.webhook(status_webhook(ORDER, "ON_HOLD", T0)).outcome is InputOutcome.APPLIED
    assert store.load(ORDER).shop_id == SHOP  # type: ignore[union-attr]
    later = {**seed_detail("other"), "status": "ON_HOLD", "update_time": int(T0.timestamp())}
    assert svc.seed(later, shop_id="S1").outcome is InputOutcome.APPLIED
    assert store.load("other").status is OrderStatus.ON_HOLD  # type: ignore[union-attr]
    assert store.load("other").shop_id == "S1"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- outbox


def _released_with_request(store: Store) -> OrderService:
    """A shop that reports to TikTok: the cancellation also goes to Sync Order Information."""
    svc = seeded(store, policy=REPORTING)
    svc.webhook(status_webhook(ORDER, "ON_HOLD", T0))
    svc.tick(at(hours=1))
    svc.webhook(cancel_webhook(ORDER, "CANCELLATION_REQUEST_PENDING", "C1", at(hours=2)))
    svc.command(seller(ORDER, "approve_cancellation", at(hours=3), cancel_id="C1"))
    return svc


def test_claims_follow_each_orders_channel_in_order_and_lease_the_rows(store: Store) -> None:
    _released_with_request(store)
    kinds = [e.kind for e in store.outbox(ORDER)]
    assert kinds == [
        "CreateSfccOrder",
        "UpdateSfccOrderStatus",
        "ApproveTikTokCancellation",
        "SyncOrderInfo",
    ]
    claimed = store.claim(NOW, 10, timedelta(minutes=5))
    # SFCC's update waits for SFCC's create; other partners go at once.
    assert [e.kind for e in claimed] == [
        "CreateSfccOrder",
        "ApproveTikTokCancellation",
        "SyncOrderInfo",
    ]
    assert all(e.status is OutboxStatus.IN_FLIGHT and e.attempts == 1 for e in claimed)
    assert store.claim(NOW, 10, timedelta(minutes=5)) == []
    assert store.complete(
        claimed[0].id, NOW, {"sfcc_order_no": "00001"}, token=claimed[0].lease_token or ""
    )
    [update] = store.claim(NOW, 10, timedelta(minutes=5))
    assert update.kind == "UpdateSfccOrderStatus"
    assert store.refs(ORDER) == {"sfcc_order_no": "00001"}
    # A crashed worker's lease runs out: its rows fall due again.
    again = store.claim(NOW + timedelta(minutes=6), 10, timedelta(minutes=5))
    assert sorted(e.kind for e in again) == sorted(
        ["ApproveTikTokCancellation", "SyncOrderInfo", "UpdateSfccOrderStatus"]
    )
    assert all(e.attempts == 2 for e in again)


def test_retry_later_bury_and_redrive(store: Store) -> None:
    _released_with_request(store)
    lease = timedelta(minutes=5)
    first, *_ = store.claim(NOW, 1, lease)
    token = first.lease_token or ""
    assert store.retry_later(
        first.id, "RetryableError: busy", NOW + timedelta(minutes=1), token=token
    )
    assert store.claim(NOW, 1, lease)[0].id != first.id  # not due yet; the next one is
    [entry] = [e for e in store.outbox() if e.id == first.id]
    assert entry.status is OutboxStatus.PENDING
    assert entry.last_error == "RetryableError: busy"
    [retry] = [e for e in store.claim(NOW + timedelta(minutes=2), 10, lease) if e.id == first.id]
    assert store.bury(retry.id, "RejectedError: no", NOW, token=retry.lease_token or "")
    dead = store.outbox(status=OutboxStatus.DEAD)
    assert [(e.id, e.last_error) for e in dead] == [(first.id, "RejectedError: no")]
    assert store.redrive(NOW, [999_999]) == 0
    assert store.redrive(NOW) == 1
    [back] = [e for e in store.outbox() if e.id == first.id]
    assert (back.status, back.attempts) == (OutboxStatus.PENDING, 0)


def test_a_late_completion_after_another_worker_finished_changes_nothing(store: Store) -> None:
    _released_with_request(store)
    [entry] = store.claim(NOW, 1, timedelta(minutes=5))
    token = entry.lease_token or ""
    assert store.complete(entry.id, NOW, {}, token=token)
    assert not store.bury(entry.id, "late", NOW, token=token)
    assert not store.retry_later(entry.id, "late", NOW, token=token)
    [done] = [e for e in store.outbox() if e.id == entry.id]
    assert done.status is OutboxStatus.DONE
    assert done.last_error == ""


def test_a_claim_whose_lease_was_taken_over_can_complete_nothing(store: Store) -> None:
    """Fenced leases: after another claim took an effect over, the stale claim neither
    holds it, nor completes, retries or buries it; the new claim does."""
    _released_with_request(store)
    lease = timedelta(minutes=5)
    [stale] = store.claim(NOW, 1, lease)
    assert store.holds(stale.id, stale.lease_token or "", NOW)
    [fresh] = store.claim(NOW + lease, 1, lease)
    assert fresh.id == stale.id
    assert fresh.lease_token != stale.lease_token
    old, new = stale.lease_token or "", fresh.lease_token or ""
    assert not store.holds(stale.id, old, NOW + lease)
    assert not store.complete(stale.id, NOW + lease, {}, token=old)
    assert not store.retry_later(stale.id, "x", NOW + lease, token=old)
    assert not store.bury(stale.id, "x", NOW + lease, token=old)
    assert store.renew(old, NOW + 2 * lease) == 0
    assert store.renew(new, NOW + 3 * lease) == 1
    assert store.holds(fresh.id, new, NOW + 2 * lease)
    assert store.complete(fresh.id, NOW + lease, {}, token=new)


def test_effects_carry_the_order_as_it_was_when_they_were_asked_for(store: Store) -> None:
    _released_with_request(store)
    by_kind = {e.kind: e for e in store.outbox(ORDER)}
    assert by_kind["CreateSfccOrder"].order.status is OrderStatus.AWAITING_SHIPMENT
    assert by_kind["SyncOrderInfo"].order.status is OrderStatus.CANCELLED
    approve = by_kind["ApproveTikTokCancellation"].effect
    assert isinstance(approve, ApproveTikTokCancellation)
    assert approve.cancel_id == "C1"


def test_history_and_version_agree_for_every_order(store: Store) -> None:
    svc = _released_with_request(store)
    svc.tick(at(days=40))
    for summary in store.orders():
        history = store.history(summary.order_id)
        assert [t.version for t in history] == list(range(1, summary.version + 1))
        order = store.load(summary.order_id)
        assert order is not None
        assert projection(order)[2] == tuple(
            (t.event, t.source, t.target, t.initiator, t.origin) for t in history
        )


def test_pending_lists_unprocessed_inputs_of_one_kind_oldest_first(store: Store) -> None:
    first = store.receive("webhook", "w1", "{}", NOW, ORDER)
    second = store.receive("webhook", "w2", "{}", NOW, ORDER)
    store.receive("command", "c1", "{}", NOW, ORDER)
    assert [e.id for e in store.pending("webhook")] == [first.inbox_id, second.inbox_id]
    assert [e.id for e in store.pending("webhook", limit=1)] == [first.inbox_id]
    store.finish(first.inbox_id, InputOutcome.APPLIED)
    store.receive("webhook", "w1", "{}", NOW, ORDER)  # a repeat is noted, never pending
    assert [e.id for e in store.pending("webhook")] == [second.inbox_id]
    assert [e.kind for e in store.pending("command")] == ["command"]


def test_replaying_in_batches_gives_what_replaying_input_by_input_gives(tmp_path: object) -> None:
    """Batches change when the store commits, never what it ends up holding."""
    from adapters.sandbox.demo import sample_lines
    from adapters.service import replay

    lines = sample_lines()
    stores = [SqliteStore(f"{tmp_path}/one.db"), SqliteStore(f"{tmp_path}/batched.db")]
    try:
        reports = [
            replay(OrderService(stores[0]), lines, batch_size=1),
            replay(OrderService(stores[1], order_cache=100), lines, batch_size=50),
        ]
        assert reports[0].outcomes() == reports[1].outcomes()
        assert reports[0].rejected() == reports[1].rejected()
        one, batched = ([(o.order_id, o.status, o.version) for o in s.orders()] for s in stores)
        assert one == batched
        assert [e.idempotency_key for e in stores[0].outbox()] == [
            e.idempotency_key for e in stores[1].outbox()
        ]
    finally:
        for store in stores:
            store.close()


def test_a_sqlite_batch_receives_inputs_without_a_savepoint_each(tmp_path: object) -> None:
    """A receive writes one statement, which SQLite undoes itself if it fails: no savepoint.

    A commit (several writes) still takes one, so a conflict undoes it alone.
    """
    store = SqliteStore(f"{tmp_path}/savepoints.db")
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    try:
        with store.batch():
            first = store.receive("webhook", "k1", "{}", NOW, "B5")
            again = store.receive("webhook", "k1", "{}", NOW, "B5")
            store.commit(Change(new_order(order_id="B5"), None, (), (), None), NOW)
    finally:
        store._conn.set_trace_callback(None)
    assert again == attrs.evolve(first, state=ReceiptState.PENDING)
    savepoints = [s for s in statements if s.startswith("SAVEPOINT")]
    assert savepoints == ["SAVEPOINT s1"]  # the commit's, none for the receives
    assert store.version("B5") == 0
    assert [entry.dedup_key for entry in store.inbox()] == ["k1"]
    store.close()
