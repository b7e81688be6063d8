"""`Store.overview` and `Store.backlog`: the counts `status` and the metrics show, counted
in SQL, agree with the rows themselves, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from adapters.service import OrderService
from adapters.store import InputOutcome, OutboxStatus, ReadKind, ReadRequest, Store
from tests.factories import T0
from tests.store.helpers import SHOP, seed_detail, seller, status_webhook

ORDER = "576461413038785752"
HELD = "576461413038785753"
CLOCK = T0 + timedelta(hours=3)  # the service's clock: the outbox rows are due from here
LEASE = timedelta(minutes=5)


def filled(store: Store) -> None:
    """Inputs of every outcome, effects on two channels, reads, a mark and a due timer."""
    service = OrderService(store, clock=lambda: CLOCK)
    service.seed(seed_detail(ORDER), shop_id=SHOP)
    service.webhook(status_webhook(ORDER, "ON_HOLD", T0))
    service.webhook(status_webhook(ORDER, "ON_HOLD", T0))  # a redelivery: a repeat
    service.webhook(status_webhook(ORDER, "NO_SUCH_STATUS", T0))  # rejected
    service.tick(T0 + timedelta(hours=2))  # the hold ends: SFCC's order is created
    shipped_at = T0 + timedelta(hours=2, minutes=30)
    service.command(
        seller(
            ORDER,
            "ship",
            shipped_at,
            line_item_ids=("L1",),
            tracking_number="1Z9",
            shipping_provider_name="UPS",
        )
    )
    store.receive("command", "k-pending", "{}", T0 + timedelta(hours=1), ORDER)
    dead = store.receive("command", "k-dead", "{}", T0, ORDER)
    store.fail(dead.inbox_id, "KeyError", "'at'", 1)
    waiting = store.receive("webhook", "k-waiting", "{}", T0 + timedelta(minutes=30), "O2")
    store.finish(waiting.inbox_id, InputOutcome.WAITING, "", "", "order_detail:O2")
    [first, *_] = store.claim(CLOCK, 1, LEASE)
    store.bury(first.id, "RejectedError: no (attempt 1)", CLOCK, token=first.lease_token or "")
    store.request_reads([ReadRequest(ReadKind.ORDER_DETAIL, SHOP, "O2")], T0)
    store.request_reads([ReadRequest(ReadKind.RETURN, SHOP, "R1")], CLOCK + timedelta(hours=1))
    [job] = store.claim_reads(T0, 1, LEASE)
    store.bury_read(job.id, job.lease_token or "", "NotReturned: gone (attempt 1)", T0)
    store.request_reads([ReadRequest(ReadKind.ORDER_DETAIL, SHOP, "O3")], T0 + timedelta(hours=1))
    store.set_mark("sync.watermark:S1", CLOCK.isoformat(), CLOCK)
    service.seed(seed_detail(HELD), shop_id=SHOP)
    service.webhook(status_webhook(HELD, "ON_HOLD", T0))  # its hold ends at T0 + 1 h


def test_the_overview_counts_what_the_rows_hold(store: Store) -> None:
    """Each count of the overview equals the count of the rows it summarises."""
    filled(store)
    now = CLOCK + timedelta(minutes=10)
    view = store.overview(now)

    inbox = store.inbox()
    assert view.inputs == Counter(e.outcome.value if e.outcome else "pending" for e in inbox)
    assert view.inputs["pending"] == 1
    assert view.inputs[InputOutcome.APPLIED.value] == 5
    assert view.inputs[InputOutcome.DEAD.value] == 1
    assert view.inputs[InputOutcome.REJECTED.value] == 1
    assert view.inputs[InputOutcome.WAITING.value] == 1
    assert view.repeats == sum(e.repeats for e in inbox) == 1
    assert view.backlog.pending_inputs == 1
    assert view.backlog.oldest_pending_input == T0 + timedelta(hours=1)
    assert view.oldest_waiting_input == T0 + timedelta(minutes=30)

    outbox = store.outbox()
    by_channel: dict[str, Counter[str]] = {}
    for entry in outbox:
        by_channel.setdefault(entry.channel, Counter())[entry.status.value] += 1
    assert view.effects == by_channel
    assert sum(c[OutboxStatus.DEAD.value] for c in by_channel.values()) == 1
    unfinished = Counter(e.channel for e in outbox if e.status is OutboxStatus.PENDING)
    assert view.backlog.effects_pending == unfinished
    assert view.backlog.effects_due == unfinished  # every one was due at CLOCK
    assert set(view.backlog.oldest_due_effect.values()) == {CLOCK}

    assert view.reads == Counter(job.status.value for job in store.reads())
    assert view.reads == {"dead": 1, "pending": 2}
    assert view.reads_due == 1  # the return's read falls due only after `now`
    assert view.oldest_due_read == T0 + timedelta(hours=1)

    [mark] = view.marks
    assert (mark.name, mark.value, mark.updated_at) == (
        "sync.watermark:S1",
        CLOCK.isoformat(),
        CLOCK,
    )
    assert view.orders == Counter(o.status for o in store.orders())
    assert view.timers_due == len(store.due_orders(now)) == 1
    [held] = [o for o in store.orders() if o.order_id == HELD]
    assert view.oldest_due_timer == held.next_timer_at


def test_nothing_is_due_before_its_time(store: Store) -> None:
    """Before the effects' due time, they are pending but not due; no timer is due at T0."""
    filled(store)
    before = CLOCK - timedelta(seconds=1)
    backlog = store.backlog(before)
    assert sum(backlog.effects_pending.values()) > 0
    assert set(backlog.effects_due.values()) == {0}
    assert backlog.oldest_due_effect == {}
    assert store.overview(T0).timers_due == 0


def test_an_empty_store_counts_nothing(store: Store) -> None:
    """No rows: empty maps, zero counts and no oldest anything (never an error)."""
    view = store.overview(T0)
    assert (view.inputs, view.effects, view.reads, view.orders, view.marks) == ({}, {}, {}, {}, ())
    assert (view.backlog.pending_inputs, view.backlog.oldest_pending_input) == (0, None)
    assert (view.timers_due, view.oldest_due_timer, view.reads_due) == (0, None, 0)
