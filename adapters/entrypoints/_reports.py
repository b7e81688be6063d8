"""What the commands print about stored orders: replay summaries and order documents.

The command line's report formatting, apart from its argument parsing and
command functions (`adapters.entrypoints.cli`): `order_document` is one stored
order as `show --json` and `replay --json` print it, `order_documents` the
orders a replay touched, `replay_summary` the terminal summary of a replay,
`show_text` the terminal form of `show`, and `status_document` /
`status_text` what `status` prints, `dead_document` / `dead_text` what `dead`
lists.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any, TextIO

from adapters.partners.oms import action_document
from adapters.service import WATERMARK_PREFIX, ReplayReport
from adapters.store import (
    FeedChange,
    InputOutcome,
    OutboxStatus,
    Overview,
    ReadStatus,
    Store,
    effect_to_dict,
)
from lifecycle import OrderStatus

__all__ = [
    "DEAD_KINDS",
    "REPLAY_KEYS",
    "REPLAY_SHOWN_REJECTIONS",
    "STATUS_BREACHED",
    "STATUS_THRESHOLDS",
    "change_document",
    "change_text",
    "dead_document",
    "dead_text",
    "order_document",
    "order_documents",
    "rejected_inputs",
    "replay_summary",
    "show_text",
    "status_document",
    "status_text",
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


# --------------------------------------------------------------------------- status

#: `status`'s exit status when a threshold is passed (0 within all, 2 an error).
STATUS_BREACHED = 3

#: `status`'s thresholds: the JSON name of each, and what it bounds.
STATUS_THRESHOLDS = {
    "max_pending_age": "the oldest pending input's age, in seconds",
    "max_dead": "dead inputs, dead letters and dead read jobs, together",
    "max_due_age": "the oldest due effect's or read job's age, in seconds",
    "max_timer_age": "the oldest due timer's age, in seconds",
    "max_watermark_age": "the age of each catch-up watermark, in seconds (none is a breach)",
}


def _age(now: datetime, moment: datetime | None) -> float | None:
    """Seconds from `moment` to `now` (never below zero), or `None` for no moment."""
    if moment is None:
        return None
    return round(max((now - moment).total_seconds(), 0.0), 3)


def status_document(
    view: Overview, now: datetime, thresholds: Mapping[str, float | None]
) -> dict[str, Any]:
    """`status --json`: the store's counts at `now`, the thresholds set and those passed.

    Every key is documented in docs/cli.md; counts list every known status,
    zeros included, so a reader can rely on the keys.
    """
    backlog = view.backlog
    inputs = {"pending": 0, **{outcome.value: 0 for outcome in InputOutcome}}
    inputs.update(view.inputs)
    partners: dict[str, dict[str, Any]] = {}
    for channel in sorted(set(view.effects) | set(backlog.effects_pending)):
        counts = {status.value: 0 for status in OutboxStatus}
        counts.update(view.effects.get(channel, {}))
        oldest = backlog.oldest_due_effect.get(channel)
        partners[channel] = {
            **counts,
            "due": backlog.effects_due.get(channel, 0),
            "oldest_due_age_seconds": _age(now, oldest),
        }
    due_ages = [p["oldest_due_age_seconds"] for p in partners.values()]
    reads = {status.value: 0 for status in ReadStatus}
    reads.update(view.reads)
    orders = {status.value: 0 for status in OrderStatus}
    orders.update(view.orders)
    watermarks = [
        {
            "shop_id": mark.name.removeprefix(WATERMARK_PREFIX),
            "value": mark.value,
            "updated_at": mark.updated_at.isoformat(),
            "age_seconds": _age(now, mark.updated_at),
        }
        for mark in view.marks
        if mark.name.startswith(WATERMARK_PREFIX)
    ]
    document: dict[str, Any] = {
        "now": now.isoformat(),
        "inputs": {
            "by_outcome": inputs,
            "repeats": view.repeats,
            "oldest_pending_age_seconds": _age(now, backlog.oldest_pending_input),
            "oldest_waiting_age_seconds": _age(now, view.oldest_waiting_input),
        },
        "effects": {
            "by_partner": partners,
            "due": sum(p["due"] for p in partners.values()),
            "dead": sum(p[OutboxStatus.DEAD.value] for p in partners.values()),
            "oldest_due_age_seconds": max(
                (age for age in due_ages if age is not None), default=None
            ),
        },
        "reads": {
            "by_status": reads,
            "due": view.reads_due,
            "oldest_due_age_seconds": _age(now, view.oldest_due_read),
        },
        "watermarks": watermarks,
        "orders": {"by_status": orders, "total": sum(orders.values())},
        "timers": {
            "due": view.timers_due,
            "oldest_due_age_seconds": _age(now, view.oldest_due_timer),
        },
        "dead": inputs[InputOutcome.DEAD.value]
        + sum(p[OutboxStatus.DEAD.value] for p in partners.values())
        + reads[ReadStatus.DEAD.value],
    }
    limits = {name: limit for name, limit in thresholds.items() if limit is not None}
    document["thresholds"] = limits
    document["breaches"] = _breaches(document, limits)
    return document


def _breaches(document: dict[str, Any], limits: Mapping[str, float]) -> list[dict[str, Any]]:
    """Each threshold passed: its name, the value found, the limit and a sentence."""
    found: list[dict[str, Any]] = []

    def past(name: str, value: float | None, what: str, seconds: bool = True) -> None:
        limit = limits.get(name)
        if limit is None or value is None or value <= limit:
            return
        shown = (_seconds(value), _seconds(limit)) if seconds else (f"{value:g}", f"{limit:g}")
        found.append(
            {
                "threshold": name,
                "value": value,
                "limit": limit,
                "message": f"{what} is {shown[0]}, past --{name.replace('_', '-')} {shown[1]}",
            }
        )

    inputs, effects, reads = document["inputs"], document["effects"], document["reads"]
    past("max_pending_age", inputs["oldest_pending_age_seconds"], "the oldest pending input's age")
    past("max_dead", document["dead"], "the count of the dead (inputs, effects, reads)", False)
    past("max_due_age", effects["oldest_due_age_seconds"], "the oldest due effect's age")
    past("max_due_age", reads["oldest_due_age_seconds"], "the oldest due read job's age")
    past(
        "max_timer_age", document["timers"]["oldest_due_age_seconds"], "the oldest due timer's age"
    )
    if "max_watermark_age" in limits:
        if not document["watermarks"]:
            found.append(
                {
                    "threshold": "max_watermark_age",
                    "value": None,
                    "limit": limits["max_watermark_age"],
                    "message": "no catch-up watermark is kept: sync has never run on this store",
                }
            )
        for mark in document["watermarks"]:
            past(
                "max_watermark_age",
                mark["age_seconds"],
                f"the watermark of shop {mark['shop_id']}'s age",
            )
    return found


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} s"


def status_text(document: dict[str, Any]) -> str:
    """`status`'s terminal form of a `status_document`."""
    inputs, effects, reads = document["inputs"], document["effects"], document["reads"]
    counts = ", ".join(f"{n} {name}" for name, n in inputs["by_outcome"].items())
    text = [
        f"status at {document['now']}\n",
        f"inputs: {counts}; {inputs['repeats']} repeats\n",
        f"  oldest pending: {_seconds(inputs['oldest_pending_age_seconds'])},"
        f" oldest waiting: {_seconds(inputs['oldest_waiting_age_seconds'])}\n",
    ]
    columns = [status.value for status in OutboxStatus] + ["due"]
    text.append("effects by partner:  " + "".join(f"{c:>10}" for c in columns) + "  oldest due\n")
    for partner, row in effects["by_partner"].items():
        cells = "".join(f"{row[c]:>10}" for c in columns)
        text.append(f"  {partner:<19}{cells}  {_seconds(row['oldest_due_age_seconds'])}\n")
    if not effects["by_partner"]:
        text.append("  (none)\n")
    read_counts = ", ".join(f"{n} {name}" for name, n in reads["by_status"].items())
    text.append(
        f"reads: {read_counts}; {reads['due']} due,"
        f" oldest due {_seconds(reads['oldest_due_age_seconds'])}\n"
    )
    for mark in document["watermarks"]:
        text.append(
            f"watermark of shop {mark['shop_id']}: {mark['value']}"
            f" (set {_seconds(mark['age_seconds'])} ago)\n"
        )
    if not document["watermarks"]:
        text.append("watermark: none (sync has not run)\n")
    orders = document["orders"]
    shown = ", ".join(f"{n} {status}" for status, n in orders["by_status"].items() if n)
    text.append(f"orders: {orders['total']}{': ' + shown if shown else ''}\n")
    timers = document["timers"]
    text.append(
        f"timers due: {timers['due']}, oldest {_seconds(timers['oldest_due_age_seconds'])}\n"
    )
    text.append(f"dead: {document['dead']} (order-lifecycle dead lists them)\n")
    for breach in document["breaches"]:
        text.append(f"BREACH {breach['threshold']}: {breach['message']}\n")
    if document["thresholds"] and not document["breaches"]:
        text.append("within every threshold\n")
    return "".join(text)


# --------------------------------------------------------------------------- dead

#: What `dead --kind` selects: parked inputs, dead letters, dead read jobs.
DEAD_KINDS = ("inputs", "effects", "reads")


def _error_type(stored: str) -> str:
    """The type name an error kept in the store starts with (`Type: message (attempt n)`)."""
    head, colon, _ = stored.partition(": ")
    return head if colon and head.isidentifier() else ""


def dead_document(store: Store, kinds: Sequence[str] = DEAD_KINDS) -> dict[str, Any]:
    """`dead --json`: each dead thing of `kinds` with its id and its typed error.

    Payloads are never shown (they hold the buyer's data); the errors were
    stripped of secrets when they were kept.
    """
    document: dict[str, Any] = {}
    if "inputs" in kinds:
        document["inputs"] = [
            {
                "id": e.id,
                "kind": e.kind,
                "order_id": e.order_id,
                "error_type": e.error_type,
                "reason": e.reason,
                "attempts": e.attempts,
                "received_at": e.received_at.isoformat(),
            }
            for e in store.parked()
        ]
    if "effects" in kinds:
        document["effects"] = [
            {
                "id": e.id,
                "partner": e.channel,
                "kind": e.kind,
                "order_id": e.order_id,
                "idempotency_key": e.idempotency_key,
                "attempts": e.attempts,
                "error_type": _error_type(e.last_error),
                "last_error": e.last_error,
                "created_at": e.created_at.isoformat(),
            }
            for e in store.outbox(status=OutboxStatus.DEAD)
        ]
    if "reads" in kinds:
        document["reads"] = [
            {
                "id": job.id,
                "kind": job.kind.value,
                "shop_id": job.shop_id,
                "target": job.target,
                "attempts": job.attempts,
                "error_type": _error_type(job.last_error),
                "last_error": job.last_error,
                "created_at": job.created_at.isoformat(),
            }
            for job in store.reads(ReadStatus.DEAD)
        ]
    return document


def dead_text(document: dict[str, Any]) -> str:
    """`dead`'s terminal form of a `dead_document`: one line per dead thing, by id."""
    text = []
    if "inputs" in document:
        text.append(f"dead inputs ({len(document['inputs'])})\n")
        for e in document["inputs"]:
            text.append(
                f"  {e['id']:>6}  {e['kind']:<20} order {e['order_id'] or '-'}"
                f"  attempts {e['attempts']}  {e['error_type']}: {e['reason']}\n"
            )
    if "effects" in document:
        text.append(f"dead letters ({len(document['effects'])})\n")
        for e in document["effects"]:
            text.append(
                f"  {e['id']:>6}  {e['partner']:<16}{e['kind']:<28} order {e['order_id']}"
                f"  key {e['idempotency_key']}  attempts {e['attempts']}  {e['last_error']}\n"
            )
    if "reads" in document:
        text.append(f"dead reads ({len(document['reads'])})\n")
        for job in document["reads"]:
            shop = f" of shop {job['shop_id']}" if job["shop_id"] else ""
            text.append(
                f"  {job['id']:>6}  {job['kind']:<20} {job['target']}{shop}"
                f"  attempts {job['attempts']}  {job['last_error']}\n"
            )
    return "".join(text)


def change_document(change: FeedChange) -> dict[str, Any]:
    """One row of the change feed as `changes --json` prints it (docs/cli.md)."""
    return {
        "cursor": change.cursor,
        "order_id": change.order_id,
        "version": change.version,
        "event": change.event,
        "source": change.source,
        "target": change.target,
        "initiator": change.initiator,
        "origin": change.origin,
        "at": change.at.astimezone(UTC).isoformat(),
        "actions": [action_document(action) for action in change.actions],
    }


def change_text(change: FeedChange) -> str:
    """One row of the change feed as one readable line."""
    moved = (
        change.target if change.source == change.target else f"{change.source} -> {change.target}"
    )
    actions = "; ".join(
        f"{action.what} {','.join(line.line_item_id for line in action.lines) or '-'}"
        + (f" (return {action.return_id})" if action.return_id else "")
        for action in change.actions
    )
    return (
        f"#{change.cursor} {change.at.astimezone(UTC).isoformat()} order {change.order_id}"
        f" v{change.version} {change.event} {moved} by {change.initiator} ({change.origin})"
        f": {actions or 'no OMS action'}"
    )
