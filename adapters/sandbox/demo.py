"""`order-lifecycle demo`: the live loop, end to end, against the local partner fakes.

It starts every partner fake on 127.0.0.1 (`adapters.sandbox.local_partners`)
and gives the fake TikTok Shop the orders of the bundled sample
(`adapters/sandbox/samples/demo.jsonl`, made by `scripts/make_demo_sample.py`)
for its order book. The store (a fresh SQLite file) holds none of them: it
learns each order the way a real shop's store does. The sample's TikTok
webhooks arrive signed, about orders the store has never seen, and wait in
the inbox; a `Reader` reads what they lack (Get Order Detail, Search
Cancellations, Search Returns) from the fake over real HTTP and applies
them; the sample's OMS commands and clock ticks apply as they come, and a
`Dispatcher` delivers the effects over HTTP, so that the fake's order book
moves when the seller ships or cancels, as TikTok's does. Under `policy` (the
default: a retail shop that reports to neither TikTok feed) it prints a
table of the orders, the reads and the partner calls made. Exit status 0
when every effect was delivered, 1 when any is left as a dead letter.

The fake TikTok Shop lives on the sample's clock: the webhooks of November
2026 and the order times it answers with must agree, or every webhook after
a read would be stale. Its book follows the sample's webhooks (the carrier's
and TikTok's own moves, the buyers' requests) before each reaches the
store, as TikTok's own state does before it notifies.

When reads run: before an input about an order that has inputs waiting
(so that one order's inputs apply in arrival order), before each tick (so
that timers see every order), and at the end. Inputs about orders placed
around the same time are read together, in one Get Order Detail call.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import attrs
import httpx
from attrs import define, field, frozen

from adapters.partners.tiktok_shop import webhook_signature
from adapters.sandbox.local_partners import SANDBOX_CREDENTIALS, LocalPartners, local_partners
from adapters.service import Dispatcher, OrderService, Reader, ReadReport, Result, replay
from adapters.service import parse_time as _parse_time
from adapters.store import InputOutcome, OutboxStatus, ReadKind, SqliteStore
from adapters.wiring import build_executors, tiktok_clients
from lifecycle import DEFAULT_POLICY, Policy

__all__ = ["SAMPLE", "run_demo", "sample_lines"]

SAMPLE = "demo.jsonl"

#: Ids in request paths, replaced by their names so that calls group by endpoint.
_PATH_IDS = (
    (re.compile(r"(/packages/)[^/]+"), r"\1{package_id}"),
    (re.compile(r"(/cancellations/)(?!search)[^/]+"), r"\1{cancel_id}"),
    (re.compile(r"(/returns/)(?!search)[^/]+"), r"\1{return_id}"),
    (re.compile(r"(/delivery_options/)[^/]+"), r"\1{id}"),
    (re.compile(r"(/orders/)(?!search)[^/]+$"), r"\1{order_no}"),
)

#: How far along its life an order status is: the fake's book never moves back
#: (a late report of an earlier status leaves it where it is).
_PROGRESS = {
    "UNPAID": 0,
    "ON_HOLD": 1,
    "AWAITING_SHIPMENT": 2,
    "PARTIALLY_SHIPPING": 3,
    "AWAITING_COLLECTION": 4,
    "IN_TRANSIT": 5,
    "DELIVERED": 6,
    "COMPLETED": 7,
    "CANCELLED": 8,
}


def sample_lines() -> list[str]:
    """The bundled sample, one input per line."""
    sample = resources.files("adapters.sandbox").joinpath("samples", SAMPLE)
    text = sample.read_text(encoding="utf-8")
    return text.splitlines()


def _endpoint(path: str) -> str:
    for pattern, name in _PATH_IDS:
        path = pattern.sub(name, path)
    return path


@define
class _SampleClock:
    """The sample's time: the time of the line being fed, never going back."""

    now: datetime = datetime(1970, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return self.now.timestamp()

    def reach(self, moment: datetime | None) -> None:
        if moment is not None and moment > self.now:
            self.now = moment


@frozen
class _Oms(OrderService):
    """The sample shop's OMS: its own data (a stay in `extensions`, for Sync Order
    Information) joins an order when TikTok's order detail of it first arrives.
    TikTok's order object carries none of it."""

    oms_data: Mapping[str, Mapping[str, Any]] = field(factory=dict)

    def seed(
        self,
        detail: Mapping[str, Any],
        *,
        shop_id: str | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> Result:
        if extensions is None:
            extensions = self.oms_data.get(str(detail.get("id")))
        return super().seed(detail, shop_id=shop_id, extensions=extensions)


@define
class _Tally:
    """What feeding the sample did, beside what the store keeps."""

    ticks: int = 0
    timer_changes: int = 0
    lines_of: dict[int, int] = field(factory=dict)  # inbox id -> sample line
    reads: ReadReport = field(factory=ReadReport)
    delivered: int = 0


def _line_time(raw: Mapping[str, Any]) -> datetime | None:
    if "order_detail" in raw:
        created = raw["order_detail"].get("create_time")
        return datetime.fromtimestamp(created, UTC) if isinstance(created, int) else None
    if "command" in raw:
        return _parse_time(raw.get("at"), "at")
    if "tick" in raw:
        return _parse_time(raw["tick"], "tick")
    # A webhook reports a change made at its `update_time` (or `create_time`), a few
    # seconds before it was sent: the fake's book must date the change the same.
    data = raw.get("data")
    changed = None
    if isinstance(data, Mapping):
        changed = data.get("update_time", data.get("create_time"))
    stamp = changed if isinstance(changed, int) else raw.get("timestamp")
    return datetime.fromtimestamp(stamp, UTC) if isinstance(stamp, int) else None


def _follow(partners: LocalPartners, webhook: Mapping[str, Any]) -> None:
    """Move the fake's book as TikTok's own state moved before it sent `webhook`."""
    book = partners.tiktok_shop
    data = webhook.get("data")
    if not isinstance(data, Mapping):
        return
    with book.lock:
        order_id = str(data.get("order_id"))
        if webhook.get("type") == 1 and order_id in book.orders:
            status = data.get("order_status")
            current = book.orders[order_id].get("status")
            if status in _PROGRESS and _PROGRESS[str(status)] > _PROGRESS.get(str(current), -1):
                book.set_status(order_id, str(status))
        elif webhook.get("type") == 11:
            cancel_id, status = str(data.get("cancel_id")), str(data.get("cancel_status"))
            held = book.cancellations.get(cancel_id)
            if held is None:
                book.add_cancellation(
                    {
                        "cancel_id": cancel_id,
                        "order_id": order_id,
                        "cancel_status": status,
                        "role": data.get("cancellations_role", "BUYER"),
                        "create_time": data.get("create_time"),
                        "update_time": data.get("create_time"),
                    },
                    notify=False,
                )
            elif held["cancel_status"] != status:
                book.set_cancellation_status(cancel_id, status)
        elif webhook.get("type") == 12:
            return_id, status = str(data.get("return_id")), str(data.get("return_status"))
            found = book.returns.get(return_id)
            if found is None:
                book.add_return(
                    {
                        "return_id": return_id,
                        "order_id": order_id,
                        "return_status": status,
                        "return_type": data.get("return_type", "RETURN_AND_REFUND"),
                        "role": data.get("return_role", "BUYER"),
                        "create_time": data.get("create_time"),
                        "update_time": data.get("update_time"),
                    },
                    notify=False,
                )
            elif found["return_status"] != status:
                book.set_return_status(return_id, status)


def _order_of(raw: Mapping[str, Any]) -> str | None:
    data = raw.get("data")
    order_id = data.get("order_id") if isinstance(data, Mapping) else raw.get("order_id")
    return None if order_id is None else str(order_id)


def run_demo(db_file: Path, out: TextIO, err: TextIO, policy: Policy = DEFAULT_POLICY) -> int:
    # The OMS side too: every OMS action is pushed, signed, to the sandbox's OMS.
    policy = attrs.evolve(policy, push_oms_actions=True)
    lines = sample_lines()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    clock = _SampleClock()
    with local_partners() as partners, httpx.Client(timeout=30) as http:
        out.write(f"sandbox: every partner fake listening on {partners.url}\n")
        book = partners.tiktok_shop
        # The requests are signed on the wall clock; the book keeps the sample's time.
        book.clock = clock.seconds
        book.max_skew = 10**10
        oms_data: dict[str, Mapping[str, Any]] = {}
        for text in lines:
            raw = json.loads(text) if text.strip() else {}
            if "order_detail" in raw:
                book.add_order(raw["order_detail"])
                if raw.get("extensions"):
                    oms_data[str(raw["order_detail"]["id"])] = raw["extensions"]
        out.write(
            f"TikTok Shop (fake) holds the sample's {len(book.orders)} orders;"
            " the store holds none of them\n"
        )
        store = SqliteStore(db_file)
        try:
            tally, dead = _live(store, partners, http, clock, lines, oms_data, policy)
            _orders_table(store, out)
            _oms_table(store, partners, out)
            _summary(store, partners, tally, db_file, out)
            _calls_table(partners.calls(), out)
            out.write(
                f"\ndispatched {tally.delivered} effects over HTTP; {len(dead)} dead letters\n"
            )
            for entry in dead:
                out.write(f"  dead: {entry.kind} {entry.order_id}: {entry.last_error}\n")
            out.write(f"\nlook closer: order-lifecycle show ORDER_ID --db sqlite:///{db_file}\n")
        finally:
            store.close()
    return 1 if dead else 0


def _live(
    store: SqliteStore,
    partners: LocalPartners,
    http: httpx.Client,
    clock: _SampleClock,
    lines: list[str],
    oms_data: Mapping[str, Mapping[str, Any]],
    policy: Policy,
) -> tuple[_Tally, list[Any]]:
    """Feed the sample's webhooks, commands and ticks through the live loop."""
    creds = SANDBOX_CREDENTIALS
    app_key, app_secret = creds["tiktok_app_key"], creds["tiktok_app_secret"]
    settings = partners.settings()
    assert settings.tiktok_shop is not None
    secrets = list(settings.secrets())
    service = _Oms(
        store,
        policy,
        clock=clock,
        app_key=app_key,
        app_secret=app_secret,
        reads=True,
        oms_data=oms_data,
    )
    client_for = tiktok_clients(
        settings.tiktok_shop, http, settings.retry, store=store, register_secret=secrets.append
    )
    reader = Reader(service, client_for, clock=clock, secrets=tuple(secrets))
    dispatcher = Dispatcher(
        store, build_executors(settings, http), clock=clock, secrets=settings.secrets()
    )
    tally = _Tally()

    def settle() -> None:
        tally.reads = tally.reads + reader.drain()
        tally.delivered += dispatcher.drain().done

    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        raw = json.loads(text)
        if "order_detail" in raw:
            continue  # TikTok's, in the fake's book: the store learns it by reading
        clock.reach(_line_time(raw))
        order_id = _order_of(raw)
        if "tick" in raw or (order_id is not None and store.waiting(order_id)):
            settle()
        if "type" in raw:
            _follow(partners, raw)
            body = text.encode()
            signature = {"Authorization": webhook_signature(body, app_key, app_secret)}
            results: tuple[Result, ...] = (service.webhook(body, signature),)
        else:
            report = replay(service, [text])
            if "tick" in raw:
                outcomes = report.outcomes()
                tally.ticks += 1
                tally.timer_changes += outcomes["timer changes"]
                continue
            results = ()
            for entry in store.inbox(order_id)[-1:]:  # the command just kept
                tally.lines_of[entry.id] = number
            if "command" in raw:
                tally.delivered += dispatcher.drain().done  # the seller's calls reach TikTok
        for result in results:
            if result.inbox_id is not None:
                tally.lines_of[result.inbox_id] = number
    settle()
    return tally, store.outbox(status=OutboxStatus.DEAD)


def _summary(
    store: SqliteStore, partners: LocalPartners, tally: _Tally, db_file: Path, out: TextIO
) -> None:
    entries = store.inbox()
    fed = [e for e in entries if e.kind in ("webhook", "command")]
    answers = [e for e in entries if e.kind not in ("webhook", "command")]
    final = Counter(e.outcome.value for e in fed if e.outcome is not None)
    kinds = Counter(e.kind for e in fed)
    out.write(
        f"\nfed {len(fed)} inputs from the bundled sample into {db_file}"
        f" ({kinds['webhook']} signed webhooks, {kinds['command']} OMS commands)"
        f" and {tally.ticks} ticks ({tally.timer_changes} timer changes): "
        + ", ".join(f"{n} {name}" for name, n in sorted(final.items()))
        + "\n"
    )
    waited = [e for e in fed if e.waits_for is not None]  # kept once it applied
    brought = sum(e.outcome is InputOutcome.DUPLICATE for e in waited)
    out.write(
        f"  {len(waited)} of them waited for what TikTok had to be asked first (an order"
        " the store had never seen, a cancellation's or return's lines, the parcels a"
        f" status implies); for {brought} of those the read had already brought the"
        " change (duplicate)\n"
    )
    for entry in entries:
        if entry.outcome is InputOutcome.REJECTED and entry.kind in ("webhook", "command"):
            line = tally.lines_of.get(entry.id)
            where = f"line {line}" if line is not None else f"inbox {entry.id}"
            out.write(
                f"  rejected {where} ({entry.order_id}): {entry.error_type}: {entry.reason}\n"
            )
    reads = tally.reads
    jobs = Counter(job.kind for job in store.reads())
    asked = (
        (ReadKind.ORDER_DETAIL, "order details"),
        (ReadKind.CANCELLATION, "cancellations"),
        (ReadKind.RETURN, "returns"),
    )
    out.write(
        f"\nreads: {reads.done} done ("
        + ", ".join(f"{jobs[kind]} {name}" for kind, name in asked)
        + f") in {reads.calls} calls to TikTok Shop, {reads.retried} retried, {reads.dead} dead;"
        f" {len(answers)} answers kept in the inbox; inputs still waiting:"
        f" {len(store.waiting())}\n"
    )


def _orders_table(store: SqliteStore, out: TextIO) -> None:
    out.write(f"\n{'order':<20}{'status':<21}{'version':>7}{'effects':>9}  path\n")
    for summary in store.orders():
        order = store.load(summary.order_id)
        assert order is not None
        events = [t.event for t in store.history(summary.order_id)]
        path = " > ".join(_compact(events))
        if order.cancelled_after_shipped:
            path += " (after shipped)"
        done = Counter(
            e.kind for e in store.outbox(summary.order_id) if e.status is OutboxStatus.DONE
        )
        out.write(
            f"{summary.order_id:<20}{summary.status:<21}{summary.version:>7}"
            f"{sum(done.values()):>9}  {path}\n"
        )


#: OMS actions shown with the lines they concern (the others concern every open line).
_WITH_LINES = frozenset({"stop_fulfilment", "release_inventory", "expect_return", "refund_issued"})


def _oms_table(store: SqliteStore, partners: LocalPartners, out: TextIO) -> None:
    """The OMS actions each order produced (the change feed), as the sandbox OMS took them."""
    produced: dict[str, list[str]] = {}
    count = 0
    for change in store.changes(limit=1_000_000):
        for action in change.actions:
            count += 1
            shown = action.what
            if action.what in _WITH_LINES:
                shown += f"({','.join(line.line_item_id for line in action.lines)})"
            produced.setdefault(change.order_id, []).append(shown)
    oms = partners.oms
    out.write(
        f"\nOMS actions: {count} produced, {len(oms.applied)} taken by the sandbox OMS"
        f" ({len(oms.received)} deliveries, signatures checked, {oms.refused} refused)\n"
    )
    out.write(f"{'order':<20}actions\n")
    for order_id, actions in produced.items():
        out.write(f"{order_id:<20}{' > '.join(_compact(actions))}\n")


def _compact(events: list[str]) -> list[str]:
    """Events with repeats folded: ship, ship -> ship x2."""
    folded: list[str] = []
    for event in events:
        if folded and folded[-1].split(" x")[0] == event:
            count = int(folded[-1].split(" x")[1]) + 1 if " x" in folded[-1] else 2
            folded[-1] = f"{event} x{count}"
        else:
            folded.append(event)
    return folded


def _calls_table(calls: Counter[tuple[str, str, str]], out: TextIO) -> None:
    grouped: Counter[tuple[str, str, str]] = Counter()
    for (partner, method, path), count in calls.items():
        grouped[(partner, method, _endpoint(path))] += count
    out.write(f"\n{'partner':<31}{'call':<72}{'count':>5}\n")
    for (partner, method, path), count in sorted(grouped.items()):
        out.write(f"{partner:<31}{method + ' ' + path:<72}{count:>5}\n")
