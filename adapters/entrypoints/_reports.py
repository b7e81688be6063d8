"""What the commands print about stored orders: replay summaries and order documents.

The command line's report formatting, apart from its argument parsing and
command functions (`adapters.entrypoints.cli`): `order_document` is one stored
order as `show --json` and `replay --json` print it, `order_documents` the
orders a replay touched, `replay_summary` the terminal summary of a replay
and `show_text` the terminal form of `show`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import islice
from typing import Any, TextIO

from adapters.service import ReplayReport
from adapters.store import InputOutcome, Store, effect_to_dict
from lifecycle import OrderStatus

__all__ = [
    "REPLAY_KEYS",
    "REPLAY_SHOWN_REJECTIONS",
    "order_document",
    "order_documents",
    "rejected_inputs",
    "replay_summary",
    "show_text",
]

#: Rejected inputs a replay lists on the terminal; `--json` gives every one.
REPLAY_SHOWN_REJECTIONS = 20

REPLAY_KEYS = ("order_id", "status", "cancelled_after_shipped", "history", "effects", "rejected")


def order_documents(store: Store, report: ReplayReport) -> list[dict[str, Any]]:
    """One JSON object per order the replay touched (`order_document` without its
    lines), with the inputs of the replay it rejected, by line, and those waiting."""
    rejected: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line, order_id, error_type, reason in report.rejected():
        if order_id is not None:
            rejected[order_id].append({"line": line, "error_type": error_type, "reason": reason})
    replay_keys = (*REPLAY_KEYS, "waiting")
    documents = []
    for order_id in report.iter_order_ids():
        document = order_document(store, order_id, rejected.get(order_id, []))
        documents.append({key: document[key] for key in replay_keys})
    return documents


def replay_summary(store: Store, report: ReplayReport, out: TextIO) -> None:
    """Outcomes, the stored orders the replay touched by status, effects, rejections.

    Statuses are counted from the orders as stored; an order some input named
    but the store does not hold (its seeding was rejected) is counted apart.
    """
    # Counted a chunk of orders at a time: the ids are read from disk, never all held.
    statuses: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    ids = report.iter_order_ids()
    while chunk := list(islice(ids, 5_000)):
        statuses.update(store.status_counts(chunk))
        kinds.update(store.effect_counts(chunk))
    touched = report.orders_touched
    outcomes = report.outcomes()
    out.write(f"{report.inputs} inputs: ")
    out.write(", ".join(f"{count} {name}" for name, count in sorted(outcomes.items())) + "\n")
    stored = sum(statuses.values())
    out.write(f"\norders by status ({stored} orders)\n")
    for status in OrderStatus:
        if statuses[status.value]:
            out.write(f"  {status.value:<22}{statuses[status.value]:>5}\n")
    if touched > stored:
        out.write(f"  {'(not in the store)':<22}{touched - stored:>5}\n")
    out.write(f"\neffects by kind ({sum(kinds.values())} effects)\n")
    for kind, count in sorted(kinds.items()):
        out.write(f"  {kind:<28}{count:>5}\n")
    waiting: Counter[str] = Counter(
        entry.order_id or "-"
        for entry in store.waiting()
        if entry.order_id is not None and report.touched(entry.order_id)
    )
    if waiting:
        out.write(f"\ninputs still waiting ({sum(waiting.values())})\n")
        for order_id, count in waiting.most_common(REPLAY_SHOWN_REJECTIONS):
            out.write(f"  order {order_id}: {count}, for its order detail or a read\n")
        if len(waiting) > REPLAY_SHOWN_REJECTIONS:
            more = len(waiting) - REPLAY_SHOWN_REJECTIONS
            out.write(f"  ... and {more} more orders (--json for all)\n")
    rejected = report.rejected()
    out.write(f"\ninputs rejected ({len(rejected)})\n")
    for line, rejected_id, error_type, reason in rejected[:REPLAY_SHOWN_REJECTIONS]:
        out.write(f"  line {line}: {rejected_id or '-'}: {error_type}: {reason}\n")
    if len(rejected) > REPLAY_SHOWN_REJECTIONS:
        more = len(rejected) - REPLAY_SHOWN_REJECTIONS
        out.write(f"  ... and {more} more (--json for all)\n")
    if rejected:
        out.write(f"\nexit status 1: {rejected_inputs(rejected)}\n")


def rejected_inputs(rejected: Sequence[object]) -> str:
    count = len(rejected)
    return f"{count} input{'s were' if count != 1 else ' was'} rejected"


def order_document(
    store: Store, order_id: str, rejected: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One stored order as `show --json` and `replay --json` print it.

    `rejected` lists the order's rejected inputs (by default, every one the
    inbox holds, by inbox id); `waiting` the inputs still waiting on it.
    """
    order = store.load(order_id)
    if rejected is None:
        rejected = [
            {"inbox_id": e.id, "kind": e.kind, "error_type": e.error_type, "reason": e.reason}
            for e in store.inbox(order_id)
            if e.outcome is InputOutcome.REJECTED
        ]
    return {
        "order_id": order_id,
        "status": None if order is None else order.status.value,
        "cancelled_after_shipped": None if order is None else order.cancelled_after_shipped,
        "history": [
            {
                "event": t.event,
                "from": t.source,
                "to": t.target,
                "initiator": t.initiator,
                "at": t.at.isoformat(),
            }
            for t in store.history(order_id)
        ],
        "effects": [effect_to_dict(e.effect) for e in store.outbox(order_id)],
        "rejected": rejected,
        "lines": [
            {
                "line_item_id": line.line_item_id,
                "status": line.status.value,
                "package_id": line.package_id,
                "tracking_number": line.tracking_number,
                "shipping_provider_name": line.shipping_provider_name,
            }
            for line in (order.lines if order is not None else ())
        ],
        "waiting": [
            {
                "inbox_id": e.id,
                "kind": e.kind,
                "waits_for": e.waits_for,
                "reason": e.reason,
                "received_at": e.received_at.isoformat(),
            }
            for e in store.waiting(order_id)
        ],
    }


def show_text(document: dict[str, Any]) -> str:
    """`show`'s terminal form of an `order_document`: status, lines with parcels, waits."""
    text = [f"order {document['order_id']}: {document['status'] or 'not seeded yet'}\n"]
    for line in document["lines"]:
        parcel = " ".join(
            f"{key}={line[key]}"
            for key in ("package_id", "tracking_number", "shipping_provider_name")
            if line[key]
        )
        text.append(f"  line {line['line_item_id']}: {line['status']}  {parcel}\n")
    for entry in document["waiting"]:
        text.append(f"  waiting: inbox {entry['inbox_id']} ({entry['kind']}): {entry['reason']}\n")
    return "".join(text)
