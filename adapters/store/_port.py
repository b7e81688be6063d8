"""The store port: what the service and the dispatcher need from a durable store.

Two backends implement it (`SqliteStore`, `PostgresStore`) and pass one
shared test suite. The tables:

* ``orders``: the current order (serialised with the store's converter), its
  status, its version and the moment its next timer falls due (indexed, so
  `tick` never scans every order);
* ``transitions``: the append-only history, one row per version;
* ``inbox``: every input as received, stored before it is processed, with
  its outcome (applied, duplicate, stale, rejected) and the reason;
* ``outbox``: the effects to carry out, written in the same transaction as the
  transition that asked for them, with their delivery state;
* ``order_snapshots``: the order as it was at each version that asked for
  effects, kept once per version (not per effect) until the last of them is
  done; an outbox row names its order's version;
* ``external_refs``: what partners gave back that later calls need (the SFCC
  ``order_no``);
* ``reads``: the reads of TikTok that inputs wait for (an order's detail, a
  cancellation, a return), leased, retried and parked like the outbox's
  effects, one pending job per thing to read;
* ``marks``: named values the loops keep between runs (the catch-up's
  watermark);
* ``changes``: the change feed, every committed transition (and each order's
  first sighting) with its OMS actions, in commit order under a gap-free
  cursor (`Store.changes`, docs/store.md);
* ``schema_version``: the migrations applied.

Errors: the `StoreError` branch of the shell's one tree (`adapters.errors`):
`VersionConflict` (another writer changed the order first: read again, retry),
`AlreadyProcessed` (a racing duplicate), `SchemaTooNew`, `CannotOpenStore`
(the message names where, never a password) and its `StoreNotFound`, and
`TooManyConflicts`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol

from attrs import field, frozen

from adapters.routing import partner_of
from lifecycle import Effect, HistoryRecord, OmsAction, Order

from ._shard import Shard


class InputOutcome(enum.StrEnum):
    """What became of one input."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    REJECTED = "rejected"
    #: it needs something TikTok must be asked first (`InboxEntry.waits_for`);
    #: it is applied, in arrival order, once that is known
    WAITING = "waiting"
    #: a correctly signed webhook of a type the library does not use
    IGNORED = "ignored"
    #: applying it failed `attempts` times with an unexpected error: parked with
    #: the error, so that the inputs behind it go on; `redrive_inputs` puts it back
    DEAD = "dead"


class OutboxStatus(enum.StrEnum):
    """Where one effect's delivery stands."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    DEAD = "dead"


class ReadKind(enum.StrEnum):
    """What a read job asks TikTok for."""

    ORDER_DETAIL = "order_detail"  # Get Order Detail, by order id
    CANCELLATION = "cancellation"  # Search Cancellations, by cancel id
    RETURN = "return"  # Search Returns, by return id


class ReadStatus(enum.StrEnum):
    """Where one read job stands."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    DEAD = "dead"


def waits_for(kind: ReadKind, target: str) -> str:
    """The key an input waiting for a read of `target` is kept under."""
    return f"{kind.value}:{target}"


class ReceiptState(enum.StrEnum):
    """What the inbox knew of an input when it arrived."""

    NEW = "new"  # first time: process it
    PENDING = "pending"  # seen, but never finished (a crash): process it again
    DONE = "done"  # seen and finished: a duplicate


def channel_of(kind: str) -> str:
    """The outbox channel of an effect kind: its partner (`adapters.routing`).

    Effects of one order and one channel are delivered in the order they
    were produced.
    """
    return partner_of(kind).value


@frozen
class Receipt:
    """The inbox entry of an input, and whether it needs processing."""

    inbox_id: int
    state: ReceiptState
    outcome: InputOutcome | None = None


@frozen
class InboxEntry:
    id: int
    kind: str
    dedup_key: str
    payload: str
    received_at: datetime
    order_id: str | None
    outcome: InputOutcome | None
    reason: str
    error_type: str
    duplicate_of: int | None
    waits_for: str | None = None
    attempts: int = 0
    #: how many times the same input arrived again after it was finished
    repeats: int = 0


@frozen
class ReadRequest:
    """A read an input needs: `kind` of `target` in the shop `shop_id` ('' if unknown)."""

    kind: ReadKind
    shop_id: str
    target: str


@frozen
class ReadJob:
    """One read job, as claimed: `lease_token` fences its completion."""

    id: int
    kind: ReadKind
    shop_id: str
    target: str
    status: ReadStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str
    created_at: datetime
    lease_token: str | None = None

    @property
    def waits_for(self) -> str:
        return waits_for(self.kind, self.target)


@frozen
class Transition:
    """One row of the append-only history."""

    order_id: str
    version: int
    event: str
    source: str
    target: str
    initiator: str
    origin: str
    at: datetime
    reason: str
    params: Mapping[str, Any] = field(factory=dict)


@frozen
class OutboxEntry:
    """One effect to deliver, with the order as it was when the effect was asked for.

    The row keeps the order's version; the order at that version is read from
    its snapshot, kept once per version while an effect of it is pending, in
    flight or dead. A claimed effect always has it; in a listing an effect that
    is done may have `order` `None`, its version's snapshot let go.
    """

    id: int
    order_id: str
    version: int
    kind: str
    channel: str
    idempotency_key: str
    effect: Effect
    order: Order | None
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str
    created_at: datetime
    #: the token of the claim that holds the lease (`None` when not claimed)
    lease_token: str | None = None


@frozen
class Settlement:
    """What became of one claimed effect, for `Store.settle`: delivered (`DONE`, with
    what the partner gave back), to be tried again at `at` (`PENDING`) or parked as a
    dead letter (`DEAD`) with its secret-free `error`."""

    entry_id: int
    status: OutboxStatus
    #: when it was delivered or parked, or when it falls due again
    at: datetime
    error: str = ""
    refs: Mapping[str, str] = field(factory=dict)


@frozen
class OrderSummary:
    order_id: str
    status: str
    version: int
    next_timer_at: datetime | None
    updated_at: datetime | None


@frozen
class Change:
    """One transaction: the order's next state, its new history and effects, the input's fate.

    `expected_version` is the version the change was computed from (`None`
    for an order not stored yet); the write fails with `VersionConflict`
    when the stored order is not at that version. `steps` holds the order
    after each transition of the change, so each effect is kept with the
    order as it was when the effect was asked for (default: `order`).
    """

    order: Order
    expected_version: int | None
    records: tuple[HistoryRecord, ...]
    effects: tuple[Effect, ...]
    next_timer_at: datetime | None
    inbox_id: int | None = None
    outcome: InputOutcome = InputOutcome.APPLIED
    reason: str = ""
    steps: tuple[Order, ...] = ()
    #: what the OMS must do, per version (the lifecycle's `Outcome.actions`), for
    #: the change feed; those of an order first seen carry its version before
    #: `records`
    actions: tuple[OmsAction, ...] = ()

    def order_at(self, version: int) -> Order:
        """The order as it was right after the transition to `version`."""
        for step in self.steps:
            if step.version == version:
                return step
        return self.order


@frozen
class Mark:
    """A value the loops keep between runs (`Store.mark`), with when it was last set."""

    name: str
    value: str
    updated_at: datetime


@frozen
class Backlog:
    """The work waiting for the loops at one moment, counted by the store.

    `effects_pending` counts each channel's effects not finished (pending or in
    flight), `effects_due` those a dispatcher may claim now, and
    `oldest_due_effect` the due time of each channel's longest-waiting one.
    """

    pending_inputs: int
    oldest_pending_input: datetime | None
    effects_pending: Mapping[str, int] = field(factory=dict)
    effects_due: Mapping[str, int] = field(factory=dict)
    oldest_due_effect: Mapping[str, datetime] = field(factory=dict)


@frozen
class Overview:
    """Everything `order-lifecycle status` shows, counted in SQL (no row is loaded).

    `inputs` maps an inbox outcome (`"pending"` for none yet) to its count,
    `repeats` the redeliveries of finished inputs; `effects` maps a channel to
    its counts by `OutboxStatus`; `reads` a `ReadStatus` to its count; `orders`
    an order status to its count; `timers_due` the orders whose next timer
    has fallen due.
    """

    backlog: Backlog
    inputs: Mapping[str, int]
    repeats: int
    oldest_waiting_input: datetime | None
    effects: Mapping[str, Mapping[str, int]]
    reads: Mapping[str, int]
    reads_due: int
    oldest_due_read: datetime | None
    marks: tuple[Mark, ...]
    orders: Mapping[str, int]
    timers_due: int
    oldest_due_timer: datetime | None


#: The `event` of the feed's row for an order stored for the first time.
FIRST_SEEN = "first_seen"


@frozen
class FeedChange:
    """One row of the change feed: a committed transition and what the OMS must do.

    `cursor` numbers the rows in commit order, 1, 2, 3, ... with no hole; a
    reader that asks for the rows after the last cursor it kept never misses
    one. `event` is the lifecycle's event, or `first_seen` for an order stored
    for the first time (then `source` is its status then, like `target`).
    """

    cursor: int
    order_id: str
    version: int
    event: str
    source: str
    target: str
    initiator: str
    origin: str
    at: datetime
    actions: tuple[OmsAction, ...] = ()


class Store(Protocol):
    """A durable store of orders, history, inbox, outbox and external references."""

    def schema_version(self) -> int: ...

    def receive(
        self, kind: str, dedup_key: str, payload: str, received_at: datetime, order_id: str | None
    ) -> Receipt:
        """Keep an input before it is processed; say whether it was seen already.

        A repeat of a finished input keeps nothing new: it is counted on the
        first one's row (`InboxEntry.repeats`), whose id the receipt carries.
        """
        ...

    def finish(
        self,
        inbox_id: int,
        outcome: InputOutcome,
        reason: str = "",
        error_type: str = "",
        waits_for: str | None = None,
    ) -> bool:
        """Record an input's outcome when nothing else changes; False if it already had one.

        `waits_for` goes with `WAITING`: the key of what the input waits for.
        """
        ...

    def pending(
        self, kind: str | None, limit: int = 100, *, shard: Shard | None = None
    ) -> list[InboxEntry]:
        """Inputs (of `kind`, or of every kind) not processed yet, oldest first.

        With `shard`, only those of its orders (`Shard.owns`; shard 0 also
        takes those of no order), chosen in SQL.
        """
        ...

    def fail(self, inbox_id: int, error_type: str, reason: str, limit: int) -> bool:
        """Count a failed attempt at an unfinished input; park it (`DEAD`) at `limit`.

        True when this attempt parked it.
        """
        ...

    def redrive_inputs(self, ids: Sequence[int] | None = None) -> int:
        """Parked inputs (all, or these) back to unprocessed with fresh attempts; how many."""
        ...

    def wake(self, waits_for: str) -> list[InboxEntry]:
        """Inputs waiting for `waits_for` back to unprocessed: those, oldest first."""
        ...

    def waiting(self, order_id: str | None = None) -> list[InboxEntry]:
        """Inputs still waiting (for one order, or all), oldest first."""
        ...

    def parked(self, order_id: str | None = None) -> list[InboxEntry]:
        """Inputs parked as dead (for one order, or all), oldest first."""
        ...

    def request_reads(self, requests: Sequence[ReadRequest], now: datetime) -> int:
        """Queue read jobs, one pending job per read at most; how many were new."""
        ...

    def claim_reads(self, now: datetime, limit: int, lease: timedelta) -> list[ReadJob]:
        """Take due read jobs, leased until `now + lease` under a fresh lease token."""
        ...

    def finish_read(self, job_id: int, token: str, now: datetime) -> bool:
        """Mark a read done, if this claim still holds its lease; False otherwise."""
        ...

    def retry_read(self, job_id: int, token: str, error: str, at: datetime) -> bool: ...

    def bury_read(self, job_id: int, token: str, error: str, now: datetime) -> bool:
        """Park a read as dead with its (secret-free) error; its inputs keep waiting."""
        ...

    def redrive_reads(self, now: datetime, ids: Sequence[int] | None = None) -> int:
        """Dead reads (all, or these) back to pending with fresh attempts; how many."""
        ...

    def reads(self, status: ReadStatus | None = None) -> list[ReadJob]: ...

    def mark(self, name: str) -> str | None:
        """A value the loops keep between runs (a watermark), or `None`."""
        ...

    def set_mark(self, name: str, value: str, now: datetime) -> None: ...

    def webhook_shop(self, order_id: str) -> str | None:
        """The `shop_id` of the earliest webhook about `order_id` in the inbox, if any.

        TikTok's order detail does not name its shop; a webhook's envelope does.
        """
        ...

    def load(self, order_id: str) -> Order | None: ...

    def version(self, order_id: str) -> int | None:
        """The stored order's version, without reading the order (a cache's check)."""
        ...

    def effect_counts(self, order_ids: Sequence[str]) -> dict[str, int]:
        """How many effects of each kind these orders have (for summaries)."""
        ...

    def status_counts(self, order_ids: Sequence[str]) -> dict[str, int]:
        """How many of these orders are in each status (for summaries)."""
        ...

    def batch(self) -> AbstractContextManager[None]:
        """Every call inside in one transaction, each a savepoint in it (for replays)."""
        ...

    def commit(self, change: Change, now: datetime) -> None:
        """Write order, history, outbox and the input's outcome in one transaction."""
        ...

    def due_orders(
        self, now: datetime, limit: int = 500, *, shard: Shard | None = None
    ) -> list[str]:
        """Orders whose next timer is due at `now`, earliest first (indexed); with
        `shard`, only its own."""
        ...

    def orders(self) -> list[OrderSummary]: ...

    def history(self, order_id: str) -> list[Transition]: ...

    def changes(self, after: int = 0, limit: int = 500) -> list[FeedChange]:
        """The change feed: up to `limit` rows with a cursor above `after`, in commit order.

        Gap-free: a row committed later never gets a cursor at or below one a
        reader has already seen.
        """
        ...

    def inbox(self, order_id: str | None = None) -> list[InboxEntry]: ...

    def outbox(
        self, order_id: str | None = None, status: OutboxStatus | None = None
    ) -> list[OutboxEntry]: ...

    def claim(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxEntry]:
        """Take due effects for delivery (each order's channel in order), leased until
        `now + lease` under one fresh lease token for the batch: a crashed worker's
        effects fall due again when its lease ends, and it can complete none of them
        after another worker claimed them."""
        ...

    def holds(self, entry_id: int, token: str, now: datetime) -> bool:
        """Whether the claim with `token` still holds the lease on the effect at `now`."""
        ...

    def renew(self, token: str, until: datetime) -> int:
        """Extend the lease of every effect the claim with `token` still holds; how many."""
        ...

    def complete(
        self, entry_id: int, now: datetime, refs: Mapping[str, str], *, token: str
    ) -> bool:
        """Mark an effect delivered and keep what the partner gave back, atomically,
        if the claim with `token` still holds it; False when it lost the lease."""
        ...

    def retry_later(self, entry_id: int, error: str, at: datetime, *, token: str) -> bool: ...

    def bury(self, entry_id: int, error: str, now: datetime, *, token: str) -> bool:
        """Park an effect as a dead letter with its (secret-free) error."""
        ...

    def settle(self, settlements: Sequence[Settlement], *, token: str) -> list[bool]:
        """Record what became of several effects of the claim with `token`, in one
        transaction and one statement each (`complete`, `retry_later` and `bury` in
        one); for each, whether the claim still held it."""
        ...

    def redrive(self, now: datetime, ids: Sequence[int] | None = None) -> int:
        """Dead letters (all, or these) back to pending with fresh attempts; how many."""
        ...

    def refs(self, order_id: str) -> dict[str, str]: ...

    def backlog(self, now: datetime) -> Backlog:
        """Inputs not processed yet and effects not delivered yet at `now`, counted."""
        ...

    def overview(self, now: datetime) -> Overview:
        """The counts `order-lifecycle status` shows, at `now`, in one transaction."""
        ...

    def close(self) -> None: ...
