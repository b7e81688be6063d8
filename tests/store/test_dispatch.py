"""The dispatcher: delivery, retries with backoff, dead letters, re-drive, and the real wiring."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import httpx

from adapters.errors import RejectedError, RetryableError
from adapters.sandbox.local_partners import local_partners
from adapters.service import (
    SFCC_ORDER_NO,
    Backoff,
    Dispatcher,
    DispatchReport,
    EffectContext,
    OrderService,
)
from adapters.store import OutboxStatus, Store
from adapters.wiring import build_executors
from lifecycle import Effect
from tests.factories import REPORTING, T0, at
from tests.store.helpers import cancel_webhook, seed_detail, seller, status_webhook

ORDER = "576461413038785752"
NOW = T0 + timedelta(days=30)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now


def _fill(store: Store, *, approve: bool = True) -> OrderService:
    svc = OrderService(store, policy=REPORTING, clock=lambda: NOW)
    svc.seed(seed_detail(ORDER), shop_id="7494049642642441621")
    svc.webhook(status_webhook(ORDER, "ON_HOLD", T0))
    svc.tick(at(hours=1))
    svc.webhook(cancel_webhook(ORDER, "CANCELLATION_REQUEST_PENDING", "C1", at(hours=2)))
    if approve:
        svc.command(seller(ORDER, "approve_cancellation", at(hours=3), cancel_id="C1"))
    return svc


def test_backoff_grows_and_is_capped() -> None:
    backoff = Backoff(timedelta(seconds=10), 2.0, timedelta(seconds=60), spread=0)
    assert [backoff.delay(n).total_seconds() for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]
    spread = Backoff(timedelta(seconds=10), spread=0.5)
    assert timedelta(seconds=10) <= spread.delay(1, seed=7) <= timedelta(seconds=15)


def test_retryable_failures_retry_with_backoff_then_become_dead_letters(store: Store) -> None:
    _fill(store, approve=False)
    clock = Clock()
    calls: list[str] = []

    def flaky(effect: Effect, context: EffectContext) -> Mapping[str, str] | None:
        calls.append(effect.kind)
        raise RetryableError("sfcc", "busy, token=s3cr3t", status=503)

    dispatcher = Dispatcher(
        store,
        {"CreateSfccOrder": flaky},
        clock=clock,
        max_attempts=3,
        backoff=Backoff(timedelta(seconds=10), spread=0),
        secrets=["s3cr3t"],
    )
    assert dispatcher.run_once().retried == 1
    assert dispatcher.run_once().handled == 0  # not due before the backoff ends
    clock.now += timedelta(seconds=10)
    assert dispatcher.run_once().retried == 1
    clock.now += timedelta(seconds=20)
    assert dispatcher.run_once().dead == 1
    [dead] = store.outbox(status=OutboxStatus.DEAD)
    assert calls == ["CreateSfccOrder"] * 3
    assert "s3cr3t" not in dead.last_error
    assert dead.last_error.startswith("RetryableError: sfcc: busy, token=***")
    assert dispatcher.redrive() == 1
    assert store.outbox(ORDER)[0].status is OutboxStatus.PENDING


def test_rejected_and_unwired_effects_are_parked_and_others_go_on(store: Store) -> None:
    _fill(store)
    delivered: list[str] = []

    def refuse(effect: Effect, context: EffectContext) -> None:
        raise RejectedError("tiktok_shop", "cancellation is not pending", code=36009004)

    def ok(effect: Effect, context: EffectContext) -> Mapping[str, str]:
        delivered.append(effect.kind)
        return {SFCC_ORDER_NO: "0001"} if effect.kind == "CreateSfccOrder" else {}

    dispatcher = Dispatcher(
        store,
        {"CreateSfccOrder": ok, "UpdateSfccOrderStatus": ok, "ApproveTikTokCancellation": refuse},
        clock=Clock(),
    )
    report = dispatcher.drain()
    assert (report.done, report.dead) == (2, 2)
    assert delivered == ["CreateSfccOrder", "UpdateSfccOrderStatus"]
    dead = {e.kind: e.last_error for e in store.outbox(status=OutboxStatus.DEAD)}
    assert dead["ApproveTikTokCancellation"].startswith("RejectedError: tiktok_shop")
    assert dead["SyncOrderInfo"].startswith("NoExecutor: dispatcher: no executor")
    assert store.refs(ORDER) == {SFCC_ORDER_NO: "0001"}


def test_the_sandbox_learns_every_order_of_a_replayed_get_order_detail_response() -> None:
    """A response line teaches the fake TikTok Shop each of its orders, as a replay seeds them."""
    response = {"code": 0, "data": {"orders": [seed_detail("A1"), seed_detail("A2")]}}
    with local_partners() as partners:
        partners.know(response)
        partners.know({"order_detail": {"code": 0, "data": {"orders": [seed_detail("B1")]}}})
        assert sorted(partners.tiktok_shop.orders) == ["A1", "A2", "B1"]


def test_the_wired_adapters_deliver_every_effect_to_the_sandbox_over_http(store: Store) -> None:
    svc = _fill(store, approve=False)
    svc.command(seller(ORDER, "reject_cancellation", at(hours=3), cancel_id="C1"))
    svc.command(
        seller(
            ORDER,
            "ship",
            at(hours=4),
            tracking_number="1Z999",
            package_id="P1",
            shipping_provider_id="SP1",
        )
    )
    with local_partners() as partners, httpx.Client(timeout=10) as http:
        detail = seed_detail(ORDER)
        for item in detail["line_items"]:
            item["package_id"] = "P1"
        partners.know({"order_detail": detail})
        partners.know(
            {
                "type": 11,
                "data": {
                    "order_id": ORDER,
                    "cancel_id": "C1",
                    "cancel_status": "CANCELLATION_REQUEST_PENDING",
                },
            }
        )
        settings = partners.settings()
        dispatcher = Dispatcher(
            store, build_executors(settings, http), clock=Clock(), secrets=settings.secrets()
        )
        report = dispatcher.drain()
        assert report.dead == 0, store.outbox(status=OutboxStatus.DEAD)
        assert dict(report.kinds) == {
            "CreateSfccOrder": 1,
            "RejectTikTokCancellation": 1,
            "UpdateSfccShipping": 1,
            "ShipTikTokPackage": 1,
        }
        assert partners.tiktok_shop.shipments["P1"]["tracking_number"] == "1Z999"
        assert partners.tiktok_shop.applied == [f"{ORDER}-4-RejectTikTokCancellation"]
        order_no = store.refs(ORDER)[SFCC_ORDER_NO]
        assert partners.sfcc.orders[order_no]["shipping_status"] == "shipped"
        # Delivering the shipment again (a crash before it was marked done) is harmless.
        [ship] = [e for e in store.outbox(ORDER) if e.kind == "ShipTikTokPackage"]
        executors = build_executors(settings, http)
        executors["ShipTikTokPackage"](ship.effect, EffectContext(ship.order, {}))
    assert "sandbox-app-secret" not in repr(settings)


def test_a_dispatcher_whose_batch_outlived_its_lease_sends_nothing_twice(store: Store) -> None:
    """Fenced leases: a dispatcher stalls past its lease right after claiming; a second one
    takes the effects over and delivers them. The stalled one then holds none of them and
    sends none: every effect reaches its partner exactly once."""
    svc = OrderService(store, clock=lambda: T0)
    svc.seed(seed_detail(ORDER), shop_id="S1")
    svc.webhook(status_webhook(ORDER, "ON_HOLD", T0))
    svc.tick(at(hours=1))  # the hold ends: CreateSfccOrder
    svc.command(seller(ORDER, "cancel", at(hours=2)))  # SFCC and TikTok Shop hear of it
    sent: list[tuple[str, int]] = []

    def record(effect: Effect, context: EffectContext) -> None:
        sent.append((effect.kind, effect.version))

    executors = dict.fromkeys({entry.kind for entry in store.outbox()}, record)
    lease = timedelta(minutes=5)
    second = Dispatcher(store, executors, clock=lambda: T0 + 3 * lease, lease=lease)
    taken_over: list[DispatchReport] = []
    ticks = iter([T0])

    def stalled() -> datetime:
        moment = next(ticks, None)
        if moment is not None:
            return moment  # the claim
        if not taken_over:
            taken_over.append(second.run_once())  # meanwhile, past the lease
        return T0 + 3 * lease

    first = Dispatcher(store, executors, clock=stalled, lease=lease)
    report = first.run_once()

    [other] = taken_over
    assert other.done >= 2
    assert (report.done, report.lost) == (0, other.done)
    done = [e for e in store.outbox() if e.status is OutboxStatus.DONE]
    assert sorted(sent) == sorted((e.kind, e.version) for e in done)
    assert len(set(sent)) == len(sent), "no effect was sent twice"
