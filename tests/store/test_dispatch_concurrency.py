"""The dispatcher with several calls in flight: the order of each order's calls to one
partner, the calls really in flight together, the lease kept and fenced, the OMS's own
function called from one thread at a time, and one transaction per group of settlements."""

from __future__ import annotations

import io
import itertools
import threading
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from adapters.entrypoints.cli import main
from adapters.errors import RetryableError
from adapters.partners.oms import OmsCallable
from adapters.sandbox.local_partners import local_partners, sandbox_settings
from adapters.service import Backoff, Dispatcher, EffectContext, OrderService, Telemetry
from adapters.store import OutboxStatus, Settlement, Store, channel_of, open_store
from adapters.wiring import KEEPALIVE_EXPIRY, http_limits, tiktok_clients
from lifecycle import Effect, Policy
from tests.factories import T0, at
from tests.store.helpers import SHOP, seed_detail, seller, status_webhook

NOW = T0 + timedelta(days=30)
#: a guard against a hang, never reached when the code under test works
GUARD = 30


def _orders(store: Store, count: int) -> list[str]:
    """`count` orders, each with several effects on its OMS channel and on SFCC's."""
    service = OrderService(store, Policy(push_oms_actions=True), clock=lambda: at(hours=4))
    ids = [f"O{n:03}" for n in range(count)]
    for order_id in ids:
        service.seed(seed_detail(order_id, lines=2), shop_id=SHOP)
        service.webhook(status_webhook(order_id, "ON_HOLD", T0))
        service.tick(at(hours=1))
        service.command(seller(order_id, "cancel", at(hours=2)))
    return ids


class Recorder:
    """Every partner at once: records each call's arrival, fails some the first time,
    and counts the calls in flight."""

    def __init__(self, fail: set[tuple[str, str]] = frozenset(), barrier: int = 0) -> None:
        self.lock = threading.Lock()
        # order, channel, (version, kind), whether it went through
        self.arrivals: list[tuple[str, str, tuple[int, str], bool]] = []
        self.fail = set(fail)
        self.in_flight = 0
        self.most = 0
        self.threads: set[int] = set()
        # The first `barrier` calls wait for each other: they pass only if all are in flight.
        self.barrier = threading.Barrier(barrier) if barrier else None
        self.waited = 0

    def __call__(self, effect: Effect, context: EffectContext) -> Mapping[str, str] | None:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.threads.add(threading.get_ident())
            wait = self.barrier is not None and self.waited < self.barrier.parties
            self.waited += wait
        try:
            if wait:
                assert self.barrier is not None
                self.barrier.wait(timeout=GUARD)
            key = (effect.order_id, effect.kind)
            with self.lock:
                failing = key in self.fail
                self.fail.discard(key)
                self.arrivals.append(
                    (
                        effect.order_id,
                        channel_of(effect.kind),
                        (effect.version, effect.kind),
                        not failing,
                    )
                )
            if failing:
                raise RetryableError("partner", "busy", status=503)
            return None
        finally:
            with self.lock:
                self.in_flight -= 1


def _dispatcher(store: Store, recorder: Recorder, concurrency: int) -> Dispatcher:
    kinds = {entry.kind for entry in store.outbox()}
    return Dispatcher(
        store,
        dict.fromkeys(kinds, recorder),
        clock=lambda: NOW,
        backoff=Backoff(timedelta(0), spread=0),  # a retry is due at once
        concurrency=concurrency,
    )


def test_each_orders_calls_to_one_partner_arrive_in_order_with_failures_under_concurrency(
    store: Store,
) -> None:
    """Many orders, eight calls in flight, and the first try of some effects failing: each
    order's calls to one partner still arrive one after the other in the order the
    lifecycle produced them, and none before the failed one before it went through."""
    ids = _orders(store, 24)
    entries = store.outbox()
    kinds = {(e.order_id, e.kind) for e in entries}
    fail = {key for n, key in enumerate(sorted(kinds)) if n % 3 == 0}
    recorder = Recorder(fail)
    report = _dispatcher(store, recorder, 8).drain()

    assert report.done == len(entries)
    assert report.retried == len(fail)
    assert all(e.status is OutboxStatus.DONE for e in store.outbox())
    lanes: dict[tuple[str, str], list[tuple[tuple[int, str], bool]]] = defaultdict(list)
    for order_id, channel, made, ok in recorder.arrivals:
        lanes[order_id, channel].append((made, ok))
    produced: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: e.id):
        produced[entry.order_id, entry.channel].append((entry.version, entry.kind))
    assert {order for order, _ in lanes} == set(ids)
    for lane, calls in lanes.items():
        # Delivered in the order produced; a failed call is repeated before the next goes.
        assert [made for made, ok in calls if ok] == produced[lane], lane
        for (made, ok), (following, _) in itertools.pairwise(calls):
            assert ok or following == made, (lane, calls)
    assert max(len(v) for v in produced.values()) >= 2  # some lanes hold several effects


def test_the_calls_of_different_orders_are_really_in_flight_together(store: Store) -> None:
    """With `concurrency=4`, the first four calls wait for each other at a barrier: they
    pass only because four calls are in flight at once, never more than four."""
    _orders(store, 12)
    recorder = Recorder(barrier=4)
    report = _dispatcher(store, recorder, 4).drain()
    assert report.done == len(store.outbox())
    assert report.dead == 0
    assert recorder.most == 4
    assert len(recorder.threads) > 1


def test_one_call_at_a_time_runs_on_the_calling_thread(store: Store) -> None:
    """`concurrency=1` is the strict mode: one call after the other, on the caller's thread."""
    _orders(store, 6)
    recorder = Recorder()
    report = _dispatcher(store, recorder, 1).drain()
    assert report.done == len(store.outbox())
    assert recorder.most == 1
    assert recorder.threads == {threading.get_ident()}


def test_concurrency_below_one_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Dispatcher(store, {}, concurrency=0)


class Renewals(Telemetry):
    def __init__(self) -> None:
        super().__init__()
        self.renewed = threading.Event()

    def lease_renewed(self, queue: str, count: int) -> None:
        if count:
            self.renewed.set()


def test_the_lease_is_renewed_while_a_slow_call_is_in_flight(store: Store) -> None:
    """A call that outlives half the lease: the dispatcher renews the lease of the batch
    while the call is still in flight (the call waits until it has), and the delivery
    is then recorded under the lease it still holds."""
    _orders(store, 2)
    lease = timedelta(seconds=0.2)
    now = [NOW]
    telemetry = Renewals()
    renewed_in_flight: list[bool] = []
    first = threading.Lock()

    def slow(effect: Effect, context: EffectContext) -> None:
        if first.acquire(blocking=False):  # the first call only; it stays acquired
            now[0] += lease  # past the lease: only a renewal keeps the effects ours
            renewed_in_flight.append(telemetry.renewed.wait(timeout=GUARD))

    kinds = {entry.kind for entry in store.outbox()}
    dispatcher = Dispatcher(
        store,
        dict.fromkeys(kinds, slow),
        clock=lambda: now[0],
        lease=lease,
        concurrency=4,
        telemetry=telemetry,
    )
    report = dispatcher.run_once()
    assert renewed_in_flight == [True]
    assert report.lost == 0
    assert report.done == report.handled > 1


def test_a_concurrent_dispatcher_whose_lease_was_taken_over_sends_and_settles_nothing(
    store: Store,
) -> None:
    """Fenced leases with calls in flight: a dispatcher stalls past its lease right after
    claiming; a second takes the effects over. The first, with four calls allowed in
    flight, sends none of them and its settlement of none is accepted."""
    _orders(store, 3)
    sent: list[tuple[str, int]] = []

    def record(effect: Effect, context: EffectContext) -> None:
        sent.append((effect.order_id, effect.version))

    executors = dict.fromkeys({entry.kind for entry in store.outbox()}, record)
    lease = timedelta(minutes=5)
    second = Dispatcher(store, executors, clock=lambda: NOW + 3 * lease, lease=lease)
    taken_over = []
    ticks = iter([NOW])

    def stalled() -> datetime:
        moment = next(ticks, None)
        if moment is not None:
            return moment  # the claim
        if not taken_over:
            taken_over.append(second.run_once())  # meanwhile, past the lease
        return NOW + 3 * lease

    first = Dispatcher(store, executors, clock=stalled, lease=lease, concurrency=4)
    report = first.run_once()
    [other] = taken_over
    assert other.done >= 3
    assert (report.done, report.lost) == (0, other.done)
    assert len(set(sent)) == len(sent) == other.done, "no effect was sent twice"


def test_a_settlement_for_a_lease_taken_over_is_refused_and_the_rest_are_kept(
    store: Store,
) -> None:
    """`Store.settle` records each effect only if the claim still holds it, all in one
    transaction, and keeps what a delivered one gave back."""
    _orders(store, 2)
    first = store.claim(NOW, 10, timedelta(minutes=5))
    [a, b, *_] = first
    token = a.lease_token or ""
    again = store.claim(NOW + timedelta(minutes=10), 1, timedelta(minutes=5))  # takes `a` over
    assert [e.id for e in again] == [a.id]
    held = store.settle(
        [
            Settlement(a.id, OutboxStatus.DONE, NOW),
            Settlement(b.id, OutboxStatus.DONE, NOW, refs={"sfcc_order_no": "N1"}),
        ],
        token=token,
    )
    assert held == [False, True]
    rows = {e.id: e for e in store.outbox()}
    assert rows[a.id].status is OutboxStatus.IN_FLIGHT
    assert rows[b.id].status is OutboxStatus.DONE
    assert store.refs(b.order_id) == {"sfcc_order_no": "N1"}
    [c] = [e for e in first if e.id not in (a.id, b.id)][:1]
    later = NOW + timedelta(minutes=1)
    assert store.settle([Settlement(c.id, OutboxStatus.PENDING, later, "busy")], token=token)
    retried = {e.id: e for e in store.outbox()}[c.id]
    assert (retried.status, retried.next_attempt_at, retried.last_error) == (
        OutboxStatus.PENDING,
        later,
        "busy",
    )


def test_the_oms_function_is_called_from_one_thread_at_a_time(store: Store) -> None:
    """`OmsCallable` serialises its calls, whatever the dispatcher's concurrency: six
    threads call it together and the OMS's function is never entered twice at once."""
    _orders(store, 1)
    [action, *_] = [e.effect for e in store.outbox() if e.channel == "oms"]
    inside, most = [0], [0]
    lock = threading.Lock()
    start = threading.Barrier(6)

    def handle(action: object) -> None:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        threading.Event().wait(0.001)  # let another thread in, if it could come in
        with lock:
            inside[0] -= 1

    oms = OmsCallable(handle)

    def call() -> None:
        start.wait(timeout=GUARD)
        for _ in range(20):
            oms(action, None)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=GUARD)
    assert most[0] == 1


def test_the_dispatch_command_takes_a_concurrency_and_refuses_less_than_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dispatch --concurrency 4` delivers a replayed store's effects to the sandbox;
    `--concurrency 0` is a usage error naming the flag."""
    db = f"sqlite:///{tmp_path}/orders.db"
    store = open_store(db)
    try:
        ids = _orders(store, 6)
        expected = len(store.outbox())
    finally:
        store.close()
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as refused:
        main(["dispatch", "--once", "--concurrency", "0", "--db", db], out, err)
    assert refused.value.code == 2
    assert "argument --concurrency: '0' is not a whole number of at least 1" in (
        capsys.readouterr().err
    )
    with local_partners() as partners:
        for order_id in ids:
            partners.know({"order_detail": seed_detail(order_id, lines=2)})
        sandbox = ["--sandbox", partners.url]
        out = io.StringIO()
        code = main(["dispatch", "--once", *sandbox, "--concurrency", "4", "--db", db], out, err)
    assert f"delivered {expected}, retrying 0, dead letters 0" in out.getvalue(), err.getvalue()
    assert code == 0


def test_the_dispatchers_http_pool_keeps_a_connection_for_each_call_in_flight() -> None:
    """`http_limits`: per partner, a kept-alive connection for every call in flight, kept
    longer than the pause between polls; never fewer than httpx's own defaults."""
    settings = sandbox_settings("http://127.0.0.1:9")
    partners = sum(
        section is not None
        for section in (
            settings.tiktok_shop,
            settings.sfcc,
            settings.sync_order_info,
            settings.events_api,
            settings.oms,
        )
    )
    limits = http_limits(settings, 16)
    assert limits.max_keepalive_connections == 16 * partners
    assert limits.max_connections is not None
    assert limits.max_connections >= 16 * partners
    assert limits.keepalive_expiry == KEEPALIVE_EXPIRY > 5.0  # the default poll interval
    assert http_limits(settings).max_keepalive_connections == 20


def test_threads_asking_for_a_shops_client_at_once_share_one() -> None:
    """`tiktok_clients`: eight threads ask for one shop's client together and get the same
    one, so one auth holds the shop's tokens (a refresh is never lost to a twin)."""
    settings = sandbox_settings("http://127.0.0.1:9")
    assert settings.tiktok_shop is not None
    with httpx.Client() as http:
        client_for = tiktok_clients(settings.tiktok_shop, http, settings.retry)
        start = threading.Barrier(8)
        got: list[object] = []

        def ask() -> None:
            start.wait(timeout=GUARD)
            got.append(client_for("7000000000000000001"))

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=GUARD)
    assert len(got) == 8
    assert len({id(client) for client in got}) == 1
