"""What every reliability test checks at its end, and the figures it reports."""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any

from adapters.partners.events_api import EVENT_NAMES
from adapters.sandbox.local_partners import LocalPartners
from adapters.service import OrderService
from adapters.store import OutboxStatus, Store
from lifecycle import Order
from tests.reliability.workload import EXTENSIONS, POLICY, OrderPlan, expected
from tests.store.helpers import SHOP, projection


def seed(store: Store, plans: list[OrderPlan]) -> None:
    """Store every order as Get Order Detail gives it (the OMS does this before webhooks)."""
    service = OrderService(store, POLICY)
    for plan in plans:
        service.seed(plan.detail, shop_id=SHOP, extensions=EXTENSIONS)


def settled(store: Store) -> bool:
    """No webhook waits for the worker and no effect for the dispatcher (a dead
    letter counts as settled: the checks after it name it)."""
    if store.pending("webhook", 1):
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
    store: Store, plans: list[OrderPlan], *, in_order: bool = True
) -> dict[str, Any]:
    """Each order is what applying its webhooks in order in memory gives; no history gap.

    With `in_order=False` (racing workers may apply one order's webhooks out of
    order, which TikTok's own deliveries do too) only the state must agree:
    the path there may differ, and with it the history and the effects.
    """
    wrong, gaps, keys = [], [], set()
    statuses: Counter[str] = Counter()
    for plan in plans:
        order, effects = expected(plan)
        keys |= {effect.idempotency_key for effect in effects}
        stored = store.load(plan.order_id)
        assert stored is not None
        statuses[stored.status.value] += 1
        if in_order:
            same = projection(stored) == projection(order)
        else:
            same = _state(stored) == _state(order)
        if not same:
            wrong.append(plan.order_id)
        versions = [t.version for t in store.history(plan.order_id)]
        if versions != list(range(1, stored.version + 1)):
            gaps.append(plan.order_id)
    assert not wrong, f"{len(wrong)} orders differ from the in-memory lifecycle: {wrong[:5]}"
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


def sqlite_integrity(url: str) -> str:
    if not url.startswith("sqlite:///"):
        return "n/a (PostgreSQL)"
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    assert result == "ok"
    return str(result)
