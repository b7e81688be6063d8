"""What every reliability test checks at its end, and the figures it reports."""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any

from adapters.partners.events_api import EVENT_NAMES
from adapters.sandbox.local_partners import LocalPartners
from adapters.service import OrderService
from adapters.store import OutboxStatus, ReadKind, ReadStatus, Store
from lifecycle import Order, Policy
from tests.reliability.workload import EXTENSIONS, POLICY, OrderPlan, expected
from tests.store.helpers import SHOP, projection


def seed(store: Store, plans: list[OrderPlan]) -> None:
    """Store every order as Get Order Detail gives it (the OMS does this before webhooks)."""
    service = OrderService(store, POLICY)
    for plan in plans:
        service.seed(plan.detail, shop_id=SHOP, extensions=EXTENSIONS)


def settled(store: Store, *, reads: bool = False) -> bool:
    """No webhook waits for the worker and no effect for the dispatcher (a dead
    letter counts as settled: the checks after it name it); with `reads`, no
    input waits for a read and no read job is due or in flight either."""
    if store.pending("webhook", 1):
        return False
    if reads and (
        store.pending(None, 1)
        or store.waiting()
        or store.reads(ReadStatus.PENDING)
        or store.reads(ReadStatus.IN_FLIGHT)
    ):
        return False
    busy = (OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT)
    return not any(store.outbox(status=status) for status in busy)


def inbox_is_complete(store: Store, plans: list[OrderPlan]) -> dict[str, Any]:
    """Every webhook sent is in the inbox once as input, with an outcome."""
    sent = {f"tiktok:{w.order_id}-{i}" for p in plans for i, w in enumerate(p.webhooks)}
    entries = [e for e in store.inbox() if e.kind == "webhook"]
    first = [e for e in entries if e.duplicate_of is None]
    keys = Counter(e.dedup_key for e in first)
    assert set(keys) == sent, f"lost: {len(sent - set(keys))}, unexpected: {set(keys) - sent}"
    assert max(keys.values()) == 1
    unfinished = [e.id for e in first if e.outcome is None]
    assert not unfinished, f"{len(unfinished)} webhooks never processed"
    outcomes = Counter(e.outcome.value for e in first if e.outcome is not None)
    assert outcomes["rejected"] == 0, [e.reason for e in first if e.outcome == "rejected"][:3]
    return {
        "webhooks in the inbox (lost)": f"{len(first)} of {len(sent)} ({len(sent) - len(first)})",
        "outcomes": ", ".join(f"{n} {name}" for name, n in sorted(outcomes.items())),
        "repeats noted as duplicates": len(entries) - len(first),
    }


def orders_match_memory(
    store: Store, plans: list[OrderPlan], *, in_order: bool = True, policy: Policy = POLICY
) -> dict[str, Any]:
    """Each order is what applying its webhooks in order in memory gives; no history gap.

    With `in_order=False` (racing workers may apply one order's webhooks out of
    order, which TikTok's own deliveries do too) only the state must agree:
    the path there may differ, and with it the history and the effects.
    """
    wrong, gaps, keys = [], [], set()
    statuses: Counter[str] = Counter()
    for plan in plans:
        order, effects = expected(plan, policy)
        keys |= {effect.idempotency_key for effect in effects}
        stored = store.load(plan.order_id)
        assert stored is not None
        statuses[stored.status.value] += 1
        if in_order:
            same = projection(stored) == projection(order)
        else:
            same = _state(stored) == _state(order)
        if not same:
            wrong.append((plan.order_id, projection(stored), projection(order)))
        versions = [t.version for t in store.history(plan.order_id)]
        if versions != list(range(1, stored.version + 1)):
            gaps.append(plan.order_id)
    assert not wrong, (
        f"{len(wrong)} orders differ from the in-memory lifecycle:"
        f" {[order_id for order_id, _, _ in wrong[:5]]}; the first as stored and in memory:"
        f" {wrong[0][1]} / {wrong[0][2]}"
    )
    assert not gaps, f"{len(gaps)} orders have a gap in their history: {gaps[:5]}"
    outbox = [e.idempotency_key for e in store.outbox()]
    assert len(outbox) == len(set(outbox)), "an effect was enqueued twice"
    if in_order:
        assert set(outbox) == keys, f"missing {len(keys - set(outbox))}, extra {set(outbox) - keys}"
    return {
        "orders (as in memory / history gaps)": f"{len(plans)} ({len(plans) - len(wrong)} / 0)",
        "orders by status": ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())),
        "effects expected / enqueued": f"{len(keys)} / {len(outbox)}",
    }


def _state(order: Order) -> tuple[Any, ...]:
    return (
        order.status,
        tuple(line.status for line in order.lines),
        order.cancelled_after_shipped,
        order.version == len(order.history),
    )


def effects_reached_the_sandbox(store: Store, partners: LocalPartners) -> dict[str, Any]:
    """Every effect done, each applied by the partner once per idempotency key."""
    rows = store.outbox()
    not_done = Counter(e.status.value for e in rows if e.status is not OutboxStatus.DONE)
    assert not not_done, (
        f"effects not delivered: {dict(not_done)}: "
        + "; ".join(e.last_error for e in rows if e.status is OutboxStatus.DEAD)[:500]
    )
    kinds = Counter(e.kind for e in rows)
    creates = {e.order_id for e in rows if e.kind == "CreateSfccOrder"}
    assert set(partners.sfcc.by_external_id) == creates
    assert len(partners.sfcc.orders) == kinds["CreateSfccOrder"]  # one SFCC order per key
    events = {
        f"{e.order_id}-{EVENT_NAMES[e.effect.status]}"  # type: ignore[attr-defined]
        for e in rows
        if e.kind == "ReportTikTokEvent"
    }
    seen = {event_id for (_, _, event_id) in partners.reporting.seen_event_ids}
    assert seen == events  # each event id applied; TikTok dedupes repeats by it
    infos = Counter(i["order_id"] for i in partners.reporting.order_infos)
    wanted = Counter(e.order_id for e in rows if e.kind == "SyncOrderInfo")
    assert all(infos[order] >= n for order, n in wanted.items()), "a SyncOrderInfo never arrived"
    redelivered = sum(infos.values()) - sum(wanted.values()) + partners.reporting.duplicates
    return {
        "effects delivered (lost)": f"{len(rows)} ({sum(not_done.values())})",
        "applied twice per idempotency key": 0,
        "redelivered, absorbed by the partner": redelivered,
    }


def read_on_first_sight(
    store: Store, partners: LocalPartners, plans: list[OrderPlan]
) -> dict[str, Any]:
    """Every order was read from TikTok (the store held none), no read died, nothing
    waits; the figures of the fetch path."""
    done = store.reads(ReadStatus.DONE)
    dead = store.reads(ReadStatus.DEAD)
    assert not dead, [job.last_error for job in dead][:3]
    assert not store.waiting(), f"{len(store.waiting())} inputs still waiting"
    details = [job for job in done if job.kind is ReadKind.ORDER_DETAIL]
    assert {job.target for job in details} >= {plan.order_id for plan in plans}
    calls = Counter(request.path for request in partners.server.requests())
    detail_calls = calls["/order/202309/orders"]
    webhooks = [e for e in store.inbox() if e.kind == "webhook" and e.duplicate_of is None]
    waited = sum(e.waits_for is not None for e in webhooks)
    by_kind = Counter(job.kind.value for job in done)
    return {
        "reads done (dead)": f"{len(done)} ({len(dead)}): "
        + ", ".join(f"{n} {kind}" for kind, n in sorted(by_kind.items())),
        "Get Order Detail calls (reads a call)": f"{detail_calls}"
        f" ({len(details) / max(detail_calls, 1):.1f})",
        "Search Cancellations calls": calls["/return_refund/202309/cancellations/search"],
        "webhooks that waited for a read": f"{waited} of {len(webhooks)}",
    }


def sqlite_integrity(url: str) -> str:
    if not url.startswith("sqlite:///"):
        return "n/a (PostgreSQL)"
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    assert result == "ok"
    return str(result)
