"""The SQL both backends share; each backend supplies connections, times and its dialect.

Statements are written with `?` placeholders; the PostgreSQL backend turns
them into `%s`. Every write that belongs to one input happens inside one
transaction (`_transaction`), and the order row is only ever updated where
its version is the one the change was computed from (optimistic concurrency).
"""

from __future__ import annotations

import json
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from typing import Any, Protocol

from adapters.errors import (
    AlreadyProcessed,
    SchemaTooNew,
    StoreError,
    StoreNotFound,
    VersionConflict,
)
from lifecycle import Effect, OmsAction, Order

from ._codec import (
    effect_from_dict,
    effect_from_json,
    effect_to_dict,
    effect_to_json,
    order_from_json,
    order_to_json,
)
from ._port import (
    FIRST_SEEN,
    Backlog,
    Change,
    FeedChange,
    InboxEntry,
    InputOutcome,
    Mark,
    OrderSummary,
    OutboxEntry,
    OutboxStatus,
    Overview,
    ReadJob,
    ReadKind,
    ReadRequest,
    ReadStatus,
    Receipt,
    ReceiptState,
    Settlement,
    Transition,
    channel_of,
)
from ._shard import Shard

#: Errors kept in the outbox are cut to this many characters.
MAX_ERROR = 1000
#: One row of the change feed, its cursor the highest so far plus one (under the feed's lock).
_FEED_INSERT = (
    "INSERT INTO changes (seq, order_id, version, event, source, target, initiator,"
    " origin, at, actions) SELECT COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?"
    " FROM changes"
)


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Executor(Protocol):
    def __call__(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...


class SqlStore(ABC):
    """The store's logic over any DB-API-like connection; subclasses pick the engine."""

    #: `(version, statements)` in order; each backend lists its own DDL.
    MIGRATIONS: Sequence[tuple[int, Sequence[str]]] = ()
    #: Appended to the claim query (PostgreSQL: row locks that other workers skip).
    CLAIM_LOCK = ""
    #: `shard_of` in this backend's SQL, of `{column}`, the shard count its parameter
    SHARD_SQL = "order_shard({column}, ?)"

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Executor]:
        """A transaction that holds the write lock from its start, committed on exit."""

    def _one_write(self) -> AbstractContextManager[Executor]:
        """A transaction for a call that writes with one statement at most (on any path).

        By default `_transaction`. SQLite undoes a failed statement itself and
        keeps the transaction going, so inside a batch such a call needs no
        savepoint of its own (two statements fewer per input of a replay).
        """
        return self._transaction()

    def _reading(self) -> AbstractContextManager[Executor]:
        """A transaction that only reads. By default `_transaction`; SQLite reads
        in a deferred one, so that a reader never queues behind a writer's lock."""
        return self._transaction()

    def _reading_one(self) -> AbstractContextManager[Executor]:
        """One statement that only reads (a statement is consistent by itself). By
        default `_reading`; PostgreSQL runs it as its own transaction, one round
        trip instead of three (the dispatcher's per-effect lease check and refs)."""
        return self._reading()

    @abstractmethod
    def _ts(self, moment: datetime) -> Any:
        """A time as the engine stores it."""

    @abstractmethod
    def _dt(self, value: Any) -> datetime:
        """A stored time back as an aware datetime."""

    @abstractmethod
    def _lock_migrations(self, execute: Executor) -> None:
        """Serialise concurrent migrations."""

    @abstractmethod
    def _has_store(self, execute: Executor) -> bool:
        """Whether the database already holds a store (its `schema_version` table)."""

    @abstractmethod
    def close(self) -> None: ...

    #: Where the database is, for messages: never a password.
    _where: str = "the database"

    # ------------------------------------------------------------------ schema

    def migrate(self, *, create: bool = True) -> int:
        """Apply the forward migrations this database lacks; the version it is at now.

        With `create=False`, a database that holds no store yet is refused
        (`StoreNotFound`) rather than given one.
        """
        latest = max(version for version, _ in self.MIGRATIONS)
        with self._transaction() as execute:
            self._lock_migrations(execute)
            if not create and not self._has_store(execute):
                raise StoreNotFound(self._where, "it has no schema_version table")
            execute(
                "CREATE TABLE IF NOT EXISTS schema_version"
                " (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            current = execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            if current > latest:
                raise SchemaTooNew(
                    f"the database is at schema version {current}; this library knows"
                    f" up to {latest}: upgrade the library"
                )
            for version, statements in self.MIGRATIONS:
                if version <= current:
                    continue
                for statement in statements:
                    execute(statement)
                execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (version, datetime.now().astimezone().isoformat()),
                )
            return latest

    def schema_version(self) -> int:
        with self._reading() as execute:
            return int(execute("SELECT MAX(version) FROM schema_version").fetchone()[0])

    # ------------------------------------------------------------------ inbox

    def receive(
        self, kind: str, dedup_key: str, payload: str, received_at: datetime, order_id: str | None
    ) -> Receipt:
        # One write on every path: the insert, or else the count of a repeat.
        with self._one_write() as execute:
            row = execute(
                "INSERT INTO inbox (kind, dedup_key, payload, received_at, order_id)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (dedup_key) WHERE duplicate_of IS NULL DO NOTHING RETURNING id",
                (kind, dedup_key, payload, self._ts(received_at), order_id),
            ).fetchone()
            if row is not None:
                return Receipt(int(row[0]), ReceiptState.NEW)
            first_id, outcome = execute(
                "SELECT id, outcome FROM inbox WHERE dedup_key = ? AND duplicate_of IS NULL",
                (dedup_key,),
            ).fetchone()
            if outcome is None:
                return Receipt(int(first_id), ReceiptState.PENDING)
            # A repeat of a finished input stores nothing new: it is counted on
            # the kept row (TikTok redelivers, a replay runs twice).
            execute("UPDATE inbox SET repeats = repeats + 1 WHERE id = ?", (first_id,))
            return Receipt(int(first_id), ReceiptState.DONE, InputOutcome(outcome))

    def finish(
        self,
        inbox_id: int,
        outcome: InputOutcome,
        reason: str = "",
        error_type: str = "",
        waits_for: str | None = None,
    ) -> bool:
        with self._transaction() as execute:
            return self._finish(execute, inbox_id, outcome, reason, error_type, None, waits_for)

    @staticmethod
    def _finish(
        execute: Executor,
        inbox_id: int,
        outcome: InputOutcome,
        reason: str,
        error_type: str,
        order_id: str | None = None,
        waits_for: str | None = None,
    ) -> bool:
        # A woken input keeps the key it waited for: the service reads it to
        # know the input has waited once (see `OrderService`).
        cursor = execute(
            "UPDATE inbox SET outcome = ?, reason = ?, error_type = ?,"
            " order_id = COALESCE(order_id, ?), waits_for = COALESCE(?, waits_for)"
            " WHERE id = ? AND outcome IS NULL",
            (outcome.value, reason, error_type, order_id, waits_for, inbox_id),
        )
        return cursor.rowcount == 1

    def fail(self, inbox_id: int, error_type: str, reason: str, limit: int) -> bool:
        with self._transaction() as execute:
            row = execute(
                "UPDATE inbox SET attempts = attempts + 1, error_type = ?, reason = ?,"
                " outcome = CASE WHEN attempts + 1 >= ? THEN ? ELSE NULL END"
                " WHERE id = ? AND outcome IS NULL RETURNING outcome",
                (error_type, reason[:MAX_ERROR], limit, InputOutcome.DEAD.value, inbox_id),
            ).fetchone()
        return row is not None and row[0] == InputOutcome.DEAD.value

    def redrive_inputs(self, ids: Sequence[int] | None = None) -> int:
        sql = "UPDATE inbox SET outcome = NULL, attempts = 0 WHERE outcome = ?"
        params: list[Any] = [InputOutcome.DEAD.value]
        if ids is not None:
            if not ids:
                return 0
            sql += f" AND id IN ({', '.join('?' for _ in ids)})"
            params.extend(ids)
        with self._transaction() as execute:
            return execute(sql, params).rowcount

    def wake(self, waits_for: str) -> list[InboxEntry]:
        with self._transaction() as execute:
            rows = execute(
                "UPDATE inbox SET outcome = NULL, reason = '' WHERE waits_for = ?"
                f" AND outcome = ? RETURNING {self._INBOX_COLUMNS}",
                (waits_for, InputOutcome.WAITING.value),
            ).fetchall()
        return sorted(self._inbox_entries(rows), key=lambda entry: entry.id)

    def waiting(self, order_id: str | None = None) -> list[InboxEntry]:
        return self._with_outcome(InputOutcome.WAITING, order_id)

    def parked(self, order_id: str | None = None) -> list[InboxEntry]:
        return self._with_outcome(InputOutcome.DEAD, order_id)

    def _with_outcome(self, outcome: InputOutcome, order_id: str | None) -> list[InboxEntry]:
        sql = f"SELECT {self._INBOX_COLUMNS} FROM inbox WHERE outcome = ?"
        params: list[Any] = [outcome.value]
        if order_id is not None:
            sql += " AND order_id = ?"
            params.append(order_id)
        with self._reading() as execute:
            rows = execute(sql + " ORDER BY id", params).fetchall()
        return self._inbox_entries(rows)

    _INBOX_COLUMNS = (
        "id, kind, dedup_key, payload, received_at, order_id, outcome, reason,"
        " error_type, duplicate_of, waits_for, attempts, repeats"
    )

    def inbox(self, order_id: str | None = None) -> list[InboxEntry]:
        sql = f"SELECT {self._INBOX_COLUMNS} FROM inbox"
        params: tuple[Any, ...] = ()
        if order_id is not None:
            sql += " WHERE order_id = ?"
            params = (order_id,)
        with self._reading() as execute:
            rows = execute(sql + " ORDER BY id", params).fetchall()
        return self._inbox_entries(rows)

    def _in_shard(self, shard: Shard | None) -> tuple[str, list[Any]]:
        """The condition (` AND ...`) and its parameters that keep a query to `shard`'s
        orders; nothing for no shard or a single one."""
        if shard is None or shard.count <= 1:
            return "", []
        return f" AND {self.SHARD_SQL.format(column='order_id')} = ?", [shard.count, shard.index]

    def pending(
        self, kind: str | None, limit: int = 100, *, shard: Shard | None = None
    ) -> list[InboxEntry]:
        sql = f"SELECT {self._INBOX_COLUMNS} FROM inbox WHERE outcome IS NULL"
        params: list[Any] = []
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        # In SQL, not after the read: a shard whose inputs all lie past the
        # oldest `limit` pending ones of other shards still gets them.
        where, shard_params = self._in_shard(shard)
        sql += where
        params += shard_params
        with self._reading() as execute:
            rows = execute(sql + " ORDER BY id LIMIT ?", [*params, limit]).fetchall()
        return self._inbox_entries(rows)

    def webhook_shop(self, order_id: str) -> str | None:
        """The `shop_id` of the earliest webhook about `order_id` in the inbox (indexed).

        Any webhook counts, whatever its outcome: one that arrived before its
        order was seeded was rejected, yet its envelope still names the shop.
        A payload that is not an envelope with a shop is passed over.
        """
        with self._reading() as execute:
            rows = execute(
                "SELECT payload FROM inbox WHERE order_id = ? AND kind = 'webhook'"
                " AND duplicate_of IS NULL ORDER BY id",
                (order_id,),
            ).fetchall()
        for (payload,) in rows:
            try:
                envelope = json.loads(payload)
            except ValueError:
                continue
            shop = envelope.get("shop_id") if isinstance(envelope, dict) else None
            if isinstance(shop, int) and not isinstance(shop, bool):
                shop = str(shop)
            if isinstance(shop, str) and shop:
                return shop
        return None

    def _inbox_entries(self, rows: list[Any]) -> list[InboxEntry]:
        return [
            InboxEntry(
                id=int(r[0]),
                kind=r[1],
                dedup_key=r[2],
                payload=r[3],
                received_at=self._dt(r[4]),
                order_id=r[5],
                outcome=None if r[6] is None else InputOutcome(r[6]),
                reason=r[7],
                error_type=r[8],
                duplicate_of=r[9],
                waits_for=r[10],
                attempts=int(r[11]),
                repeats=int(r[12]),
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ orders

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make every store call inside one transaction (each call a savepoint in it).

        For replays: one commit per batch instead of one per call. What the
        batch wrote is kept only when it ends; a crash inside it loses the
        whole batch, which a replay then redoes (its inputs are deduplicated).
        """
        batches = self._open_batches()
        thread = threading.get_ident()
        if thread in batches:  # a batch inside a batch is part of it
            with self._transaction():
                yield
            return
        with self._transaction() as execute:
            bodies = batches[thread] = _Bodies()
            try:
                yield
                self._write_snapshots(execute, bodies)
                self._write_bodies(execute, bodies)
            finally:
                del batches[thread]

    def _open_batches(self) -> dict[int, _Bodies]:
        """The batches open on this store, by thread (each thread has its own transaction)."""
        batches: dict[int, _Bodies] | None = self.__dict__.get("_batches")
        if batches is None:
            batches = self.__dict__.setdefault("_batches", {})
        return batches

    def _bodies(self) -> _Bodies | None:
        """The current thread's open batch, if any."""
        batches = self.__dict__.get("_batches")
        return batches.get(threading.get_ident()) if batches else None

    def _write_bodies(self, execute: Executor, bodies: _Bodies) -> None:
        """Write the body of every order the batch changed, once each, as it stands now,
        then the batch's feed rows under the feed's lock (`_record_changes`)."""
        rows = [
            (bodies.body(order), order.order_id, order.version) for order in bodies.orders.values()
        ]
        sql = "UPDATE orders SET body = ? WHERE order_id = ? AND version = ?"
        if rows and self._many(execute, sql, rows) != len(rows):
            # The batch holds every row it changed: nothing else can have moved one.
            raise StoreError(f"{self._where}: an order changed in this batch was changed again")
        if bodies.feed:
            self._lock_changes(execute)
            self._many(execute, _FEED_INSERT, bodies.feed)

    @staticmethod
    def _snapshot_sql(rows: int) -> str:
        """The insert of `rows` snapshots; a version already kept stays as it is."""
        return (
            "INSERT INTO order_snapshots (order_id, version, body) VALUES "
            + ", ".join(["(?, ?, ?)"] * rows)
            + " ON CONFLICT (order_id, version) DO NOTHING"
        )

    def _write_snapshots(self, execute: Executor, bodies: _Bodies) -> None:
        """Keep the orders the batch's effects were asked at, once per (order, version).

        The batch's outbox rows name them; nothing reads them before the batch
        commits but this thread, whose reads of the outbox write them first.
        """
        rows = [(key[0], key[1], bodies.body(order)) for key, order in bodies.snapshots.items()]
        bodies.snapshots.clear()
        if rows:
            self._many(execute, self._snapshot_sql(1), rows)

    def _unwritten_snapshots(self) -> None:
        """In a batch, write the snapshots it has not written yet (before reading the outbox)."""
        bodies = self._bodies()
        if bodies is not None and bodies.snapshots:
            with self._transaction() as execute:
                self._write_snapshots(execute, bodies)

    def _many(self, execute: Executor, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """One statement for many rows (backends pipeline it); the rows it changed."""
        return sum(execute(sql, row).rowcount for row in rows)

    def version(self, order_id: str) -> int | None:
        """The stored order's version, without reading the order itself."""
        bodies = self._bodies()
        if bodies is not None and order_id in bodies.orders:
            # Changed in this batch, whose transaction holds the row: it cannot move.
            return bodies.orders[order_id].version
        with self._reading() as execute:
            row = execute("SELECT version FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        return None if row is None else int(row[0])

    def load(self, order_id: str) -> Order | None:
        bodies = self._bodies()
        if bodies is not None and order_id in bodies.orders:
            return bodies.orders[order_id]  # changed in this batch: its body is written at the end
        with self._reading() as execute:
            row = execute("SELECT body FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        return None if row is None else order_from_json(row[0])

    def commit(self, change: Change, now: datetime) -> None:
        order = change.order
        # Inside a batch an order's body is written once, when the batch ends: the
        # order moves several times in one batch, and serialising it is the cost.
        bodies = self._bodies()
        deferred = bodies is not None and change.expected_version is not None
        serialise = order_to_json if bodies is None else bodies.body
        body = "" if deferred else serialise(order)
        timer = None if change.next_timer_at is None else self._ts(change.next_timer_at)
        updated = None if order.updated_at is None else self._ts(order.updated_at)
        with self._transaction() as execute:
            if deferred:
                cursor = execute(
                    "UPDATE orders SET status = ?, version = ?, next_timer_at = ?,"
                    " updated_at = ? WHERE order_id = ? AND version = ?",
                    (
                        order.status.value,
                        order.version,
                        timer,
                        updated,
                        order.order_id,
                        change.expected_version,
                    ),
                )
            elif change.expected_version is None:
                cursor = execute(
                    "INSERT INTO orders (order_id, status, version, body, next_timer_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING",
                    (order.order_id, order.status.value, order.version, body, timer, updated),
                )
            else:
                cursor = execute(
                    "UPDATE orders SET status = ?, version = ?, body = ?, next_timer_at = ?,"
                    " updated_at = ? WHERE order_id = ? AND version = ?",
                    (
                        order.status.value,
                        order.version,
                        body,
                        timer,
                        updated,
                        order.order_id,
                        change.expected_version,
                    ),
                )
            if cursor.rowcount != 1:
                raise VersionConflict(order.order_id, change.expected_version)
            first = order.version - len(change.records) + 1
            for version, record in enumerate(change.records, start=first):
                execute(
                    "INSERT INTO transitions (order_id, version, event, source, target,"
                    " initiator, origin, at, reason, params)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        order.order_id,
                        version,
                        record.event,
                        record.source.value,
                        record.target.value,
                        record.initiator.value,
                        record.origin.value,
                        self._ts(record.at),
                        record.reason,
                        json.dumps(_jsonable(record.params), sort_keys=True),
                    ),
                )
            self._record_changes(execute, change, first)
            # The order as each effect's version left it, kept once per version (in
            # a batch, when the batch ends: one statement for all its snapshots).
            snapshots = {
                (effect.order_id, effect.version): change.order_at(effect.version)
                for effect in change.effects
            }
            if change.effects:
                self._enqueue(execute, change.effects, now)
            if snapshots and bodies is None:
                self._keep_snapshots(execute, snapshots, order, body)
            if change.inbox_id is not None and not self._finish(
                execute,
                change.inbox_id,
                change.outcome,
                change.reason,
                "",
                order.order_id,
            ):
                raise AlreadyProcessed(change.inbox_id)
        if bodies is not None:
            bodies.orders[order.order_id] = order
            bodies.snapshots.update(snapshots)
            bodies.feed += bodies.staged  # this change's feed rows, now that it holds

    def _keep_snapshots(
        self,
        execute: Executor,
        snapshots: Mapping[tuple[str, int], Order],
        order: Order,
        body: str,
    ) -> None:
        """One statement for a commit's snapshots, outside a batch (the order's body reused)."""
        rows: list[Any] = []
        for (order_id, version), at_version in snapshots.items():
            text = body if at_version is order else order_to_json(at_version)
            rows += (order_id, version, text)
        execute(self._snapshot_sql(len(snapshots)), rows)

    # ------------------------------------------------------------------ the change feed

    def _lock_changes(self, execute: Executor) -> None:
        """Hold the feed's writer lock until the transaction ends (SQLite: already held)."""
        return

    def _record_changes(self, execute: Executor, change: Change, first: int) -> None:
        """One feed row per transition of `change` (and one for an order first seen).

        The cursor is the highest so far plus one, taken under the writers'
        lock that the transaction then holds until it commits: a row with a
        smaller cursor is always visible before one with a larger cursor is.
        Inside a batch the rows wait for the batch's end (`_write_bodies`), so
        the lock is held only while they are written and the batch commits,
        not for the whole batch: writers on other connections (the other
        workers of `replay --workers N`) go on meanwhile.
        """
        order = change.order
        bodies = self._bodies()
        if bodies is not None:
            bodies.staged = []  # a change that failed after staging left its rows
        rows: list[tuple[Any, ...]] = []
        if change.expected_version is None:
            seen = change.records[0].source.value if change.records else order.status.value
            at = change.records[0].at if change.records else order.updated_at or order.created_at
            rows.append((first - 1, FIRST_SEEN, seen, seen, "PLATFORM", "TIKTOK", at))
        for version, record in enumerate(change.records, start=first):
            rows.append(
                (
                    version,
                    record.event,
                    record.source.value,
                    record.target.value,
                    record.initiator.value,
                    record.origin.value,
                    record.at,
                )
            )
        if not rows:
            return
        actions: dict[int, list[dict[str, Any]]] = {}
        for action in change.actions:
            actions.setdefault(action.version, []).append(effect_to_dict(action))
        feed = [
            (
                order.order_id,
                version,
                event,
                source,
                target,
                initiator,
                origin,
                self._ts(at),
                json.dumps(actions.get(version, []), separators=(",", ":"), sort_keys=True),
            )
            for version, event, source, target, initiator, origin, at in rows
        ]
        if bodies is not None:
            bodies.staged = feed  # kept by `commit` once the change holds
            return
        self._lock_changes(execute)
        for row in feed:
            execute(_FEED_INSERT, row)

    def changes(self, after: int = 0, limit: int = 500) -> list[FeedChange]:
        with self._reading() as execute:
            rows = execute(
                "SELECT seq, order_id, version, event, source, target, initiator, origin, at,"
                " actions FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [
            FeedChange(
                cursor=int(r[0]),
                order_id=r[1],
                version=int(r[2]),
                event=r[3],
                source=r[4],
                target=r[5],
                initiator=r[6],
                origin=r[7],
                at=self._dt(r[8]),
                actions=tuple(_oms_action(raw) for raw in json.loads(r[9])),
            )
            for r in rows
        ]

    def _enqueue(self, execute: Executor, effects: Sequence[Effect], now: datetime) -> None:
        """One statement for a commit's effects, each row naming its order's version."""
        at = self._ts(now)
        rows: list[Any] = []
        for effect in effects:
            rows += (
                effect.order_id,
                effect.version,
                effect.kind,
                channel_of(effect.kind),
                effect.idempotency_key,
                effect_to_json(effect),
                OutboxStatus.PENDING.value,
                at,
                at,
            )
        execute(
            "INSERT INTO outbox (order_id, version, kind, channel, idempotency_key, effect,"
            " status, attempts, next_attempt_at, last_error, created_at) VALUES"
            + ", ".join(["(?, ?, ?, ?, ?, ?, ?, 0, ?, '', ?)"] * len(effects)),
            rows,
        )

    def due_orders(
        self, now: datetime, limit: int = 500, *, shard: Shard | None = None
    ) -> list[str]:
        where, shard_params = self._in_shard(shard)
        params = [self._ts(now), *shard_params]
        with self._reading() as execute:
            rows = execute(
                "SELECT order_id FROM orders WHERE next_timer_at IS NOT NULL"
                f" AND next_timer_at <= ?{where} ORDER BY next_timer_at, order_id LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [r[0] for r in rows]

    def orders(self) -> list[OrderSummary]:
        with self._reading() as execute:
            rows = execute(
                "SELECT order_id, status, version, next_timer_at, updated_at FROM orders"
                " ORDER BY order_id"
            ).fetchall()
        return [
            OrderSummary(
                order_id=r[0],
                status=r[1],
                version=int(r[2]),
                next_timer_at=None if r[3] is None else self._dt(r[3]),
                updated_at=None if r[4] is None else self._dt(r[4]),
            )
            for r in rows
        ]

    def history(self, order_id: str) -> list[Transition]:
        with self._reading() as execute:
            rows = execute(
                "SELECT order_id, version, event, source, target, initiator, origin, at,"
                " reason, params FROM transitions WHERE order_id = ? ORDER BY version",
                (order_id,),
            ).fetchall()
        return [
            Transition(
                order_id=r[0],
                version=int(r[1]),
                event=r[2],
                source=r[3],
                target=r[4],
                initiator=r[5],
                origin=r[6],
                at=self._dt(r[7]),
                reason=r[8],
                params=json.loads(r[9]),
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ outbox

    _OUTBOX_COLUMNS = (
        "id, order_id, version, kind, channel, idempotency_key, effect, status,"
        " attempts, next_attempt_at, last_error, created_at, lease_token"
    )
    #: The same, from `outbox o`, with the body of its order's snapshot (`NULL` once let go).
    _OUTBOX_JOINED = (
        ", ".join(f"o.{column.strip()}" for column in _OUTBOX_COLUMNS.split(","))
        + ", s.body FROM outbox o LEFT JOIN order_snapshots s"
        " ON s.order_id = o.order_id AND s.version = o.version"
    )

    def _entry(self, r: Any, order: Order | None) -> OutboxEntry:
        return OutboxEntry(
            id=int(r[0]),
            order_id=r[1],
            version=int(r[2]),
            kind=r[3],
            channel=r[4],
            idempotency_key=r[5],
            effect=effect_from_json(r[6]),
            order=order,
            status=OutboxStatus(r[7]),
            attempts=int(r[8]),
            next_attempt_at=self._dt(r[9]),
            last_error=r[10],
            created_at=self._dt(r[11]),
            lease_token=r[12],
        )

    def effect_counts(self, order_ids: Sequence[str]) -> dict[str, int]:
        """How many effects of each kind these orders have, without reading them."""
        return self._count_by("outbox", "kind", order_ids)

    def status_counts(self, order_ids: Sequence[str]) -> dict[str, int]:
        """How many of these orders are in each status, without reading them."""
        return self._count_by("orders", "status", order_ids)

    def _count_by(self, table: str, column: str, order_ids: Sequence[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self._reading() as execute:
            for start in range(0, len(order_ids), 500):
                chunk = order_ids[start : start + 500]
                rows = execute(
                    f"SELECT {column}, COUNT(*) FROM {table} WHERE order_id IN"
                    f" ({', '.join('?' * len(chunk))}) GROUP BY {column}",
                    chunk,
                ).fetchall()
                for value, count in rows:
                    counts[value] = counts.get(value, 0) + int(count)
        return counts

    def outbox(
        self, order_id: str | None = None, status: OutboxStatus | None = None
    ) -> list[OutboxEntry]:
        where, params = [], []
        if order_id is not None:
            where.append("o.order_id = ?")
            params.append(order_id)
        if status is not None:
            where.append("o.status = ?")
            params.append(status.value)
        sql = f"SELECT {self._OUTBOX_JOINED}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        self._unwritten_snapshots()
        with self._reading() as execute:
            rows = execute(sql + " ORDER BY o.id", params).fetchall()
        orders = _Snapshots()
        return [self._entry(r[:-1], orders.order(r[1], r[2], r[-1])) for r in rows]

    def claim(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxEntry]:
        active = (OutboxStatus.PENDING.value, OutboxStatus.IN_FLIGHT.value)
        token = secrets.token_hex(8)
        self._unwritten_snapshots()
        with self._transaction() as execute:
            rows = execute(
                "SELECT o.id, o.order_id, o.version, s.body FROM outbox o"
                " LEFT JOIN order_snapshots s ON s.order_id = o.order_id AND s.version = o.version"
                " WHERE o.status IN (?, ?) AND o.next_attempt_at <= ?"
                " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.order_id = o.order_id"
                " AND p.channel = o.channel AND p.id < o.id AND p.status IN (?, ?))"
                f" ORDER BY o.id LIMIT ?{self.CLAIM_LOCK}",
                (*active, self._ts(now), *active, limit),
            ).fetchall()
            orders = _Snapshots()
            claimed = []
            for entry_id, order_id, version, body in rows:
                row = execute(
                    "UPDATE outbox SET status = ?, attempts = attempts + 1, next_attempt_at = ?,"
                    f" lease_token = ? WHERE id = ? RETURNING {self._OUTBOX_COLUMNS}",
                    (OutboxStatus.IN_FLIGHT.value, self._ts(now + lease), token, entry_id),
                ).fetchone()
                claimed.append(self._entry(row, orders.order(order_id, version, body)))
        return claimed

    def holds(self, entry_id: int, token: str, now: datetime) -> bool:
        with self._reading_one() as execute:
            row = execute(
                "SELECT 1 FROM outbox WHERE id = ? AND status = ? AND lease_token = ?"
                " AND next_attempt_at > ?",
                (entry_id, OutboxStatus.IN_FLIGHT.value, token, self._ts(now)),
            ).fetchone()
        return row is not None

    def renew(self, token: str, until: datetime) -> int:
        with self._transaction() as execute:
            return execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE lease_token = ? AND status = ?",
                (self._ts(until), token, OutboxStatus.IN_FLIGHT.value),
            ).rowcount

    def complete(
        self, entry_id: int, now: datetime, refs: Mapping[str, str], *, token: str
    ) -> bool:
        done = Settlement(entry_id, OutboxStatus.DONE, now, refs=refs)
        return self.settle([done], token=token)[0]

    def settle(self, settlements: Sequence[Settlement], *, token: str) -> list[bool]:
        held = []
        with self._transaction() as execute:
            for done in settlements:
                when = "next_attempt_at" if done.status is OutboxStatus.PENDING else "done_at"
                row = execute(
                    f"UPDATE outbox SET status = ?, last_error = ?, {when} = ?, lease_token = NULL"
                    " WHERE id = ? AND status = ? AND lease_token = ? RETURNING order_id",
                    (
                        done.status.value,
                        done.error[:MAX_ERROR],
                        self._ts(done.at),
                        done.entry_id,
                        OutboxStatus.IN_FLIGHT.value,
                        token,
                    ),
                ).fetchone()
                held.append(row is not None)  # else another claim took it over
                for system, ref in done.refs.items() if row is not None else ():
                    execute(
                        "INSERT INTO external_refs (order_id, system, ref, updated_at)"
                        " VALUES (?, ?, ?, ?) ON CONFLICT (order_id, system)"
                        " DO UPDATE SET ref = excluded.ref, updated_at = excluded.updated_at",
                        (row[0], system, ref, self._ts(done.at)),
                    )
        return held

    def retry_later(self, entry_id: int, error: str, at: datetime, *, token: str) -> bool:
        return self.settle([Settlement(entry_id, OutboxStatus.PENDING, at, error)], token=token)[0]

    def bury(self, entry_id: int, error: str, now: datetime, *, token: str) -> bool:
        return self.settle([Settlement(entry_id, OutboxStatus.DEAD, now, error)], token=token)[0]

    def redrive(self, now: datetime, ids: Sequence[int] | None = None) -> int:
        sql = (
            "UPDATE outbox SET status = ?, attempts = 0, next_attempt_at = ?, done_at = NULL"
            " WHERE status = ?"
        )
        params: list[Any] = [OutboxStatus.PENDING.value, self._ts(now), OutboxStatus.DEAD.value]
        if ids is not None:
            if not ids:
                return 0
            sql += f" AND id IN ({', '.join('?' for _ in ids)})"
            params.extend(ids)
        with self._transaction() as execute:
            return execute(sql, params).rowcount

    # ------------------------------------------------------------------ reads

    _READ_COLUMNS = (
        "id, kind, shop_id, target, status, attempts, next_attempt_at, last_error,"
        " created_at, lease_token"
    )

    def _read(self, r: Any) -> ReadJob:
        return ReadJob(
            id=int(r[0]),
            kind=ReadKind(r[1]),
            shop_id=r[2],
            target=r[3],
            status=ReadStatus(r[4]),
            attempts=int(r[5]),
            next_attempt_at=self._dt(r[6]),
            last_error=r[7],
            created_at=self._dt(r[8]),
            lease_token=r[9],
        )

    def request_reads(self, requests: Sequence[ReadRequest], now: datetime) -> int:
        added = 0
        with self._transaction() as execute:
            for request in requests:
                added += execute(
                    "INSERT INTO reads (kind, shop_id, target, status, attempts,"
                    " next_attempt_at, last_error, created_at) VALUES (?, ?, ?, ?, 0, ?, '', ?)"
                    " ON CONFLICT (kind, shop_id, target) WHERE status = 'pending' DO NOTHING",
                    (
                        request.kind.value,
                        request.shop_id,
                        request.target,
                        ReadStatus.PENDING.value,
                        self._ts(now),
                        self._ts(now),
                    ),
                ).rowcount
        return added

    def claim_reads(self, now: datetime, limit: int, lease: timedelta) -> list[ReadJob]:
        active = (ReadStatus.PENDING.value, ReadStatus.IN_FLIGHT.value)
        with self._transaction() as execute:
            rows = execute(
                "SELECT id FROM reads o WHERE o.status IN (?, ?) AND o.next_attempt_at <= ?"
                f" ORDER BY o.id LIMIT ?{self.CLAIM_LOCK}",
                (*active, self._ts(now), limit),
            ).fetchall()
            claimed = []
            for (job_id,) in rows:
                row = execute(
                    "UPDATE reads SET status = ?, attempts = attempts + 1, next_attempt_at = ?,"
                    f" lease_token = ? WHERE id = ? RETURNING {self._READ_COLUMNS}",
                    (
                        ReadStatus.IN_FLIGHT.value,
                        self._ts(now + lease),
                        secrets.token_hex(8),
                        job_id,
                    ),
                ).fetchone()
                claimed.append(self._read(row))
        return claimed

    def _end_read(
        self, job_id: int, token: str, status: ReadStatus, error: str, at: datetime
    ) -> bool:
        done = status in (ReadStatus.DONE, ReadStatus.DEAD)
        with self._transaction() as execute:
            return (
                execute(
                    "UPDATE reads SET status = ?, last_error = ?, lease_token = NULL,"
                    f" {'done_at' if done else 'next_attempt_at'} = ?"
                    " WHERE id = ? AND status = ? AND lease_token = ?",
                    (
                        status.value,
                        error[:MAX_ERROR],
                        self._ts(at),
                        job_id,
                        ReadStatus.IN_FLIGHT.value,
                        token,
                    ),
                ).rowcount
                == 1
            )

    def finish_read(self, job_id: int, token: str, now: datetime) -> bool:
        return self._end_read(job_id, token, ReadStatus.DONE, "", now)

    def retry_read(self, job_id: int, token: str, error: str, at: datetime) -> bool:
        return self._end_read(job_id, token, ReadStatus.PENDING, error, at)

    def bury_read(self, job_id: int, token: str, error: str, now: datetime) -> bool:
        return self._end_read(job_id, token, ReadStatus.DEAD, error, now)

    def redrive_reads(self, now: datetime, ids: Sequence[int] | None = None) -> int:
        sql = (
            "UPDATE reads SET status = ?, attempts = 0, next_attempt_at = ?, done_at = NULL"
            " WHERE status = ? AND NOT EXISTS (SELECT 1 FROM reads p WHERE p.status = ?"
            " AND p.kind = reads.kind AND p.shop_id = reads.shop_id AND p.target = reads.target)"
        )
        params: list[Any] = [
            ReadStatus.PENDING.value,
            self._ts(now),
            ReadStatus.DEAD.value,
            ReadStatus.PENDING.value,
        ]
        if ids is not None:
            if not ids:
                return 0
            sql += f" AND id IN ({', '.join('?' for _ in ids)})"
            params.extend(ids)
        with self._transaction() as execute:
            return execute(sql, params).rowcount

    def reads(self, status: ReadStatus | None = None) -> list[ReadJob]:
        sql = f"SELECT {self._READ_COLUMNS} FROM reads"
        params: tuple[Any, ...] = ()
        if status is not None:
            sql += " WHERE status = ?"
            params = (status.value,)
        with self._reading() as execute:
            rows = execute(sql + " ORDER BY id", params).fetchall()
        return [self._read(r) for r in rows]

    # ------------------------------------------------------------------ marks

    def mark(self, name: str) -> str | None:
        with self._reading() as execute:
            row = execute("SELECT value FROM marks WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_mark(self, name: str, value: str, now: datetime) -> None:
        with self._transaction() as execute:
            execute(
                "INSERT INTO marks (name, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (name, value, self._ts(now)),
            )

    def refs(self, order_id: str) -> dict[str, str]:
        with self._reading_one() as execute:
            rows = execute(
                "SELECT system, ref FROM external_refs WHERE order_id = ?", (order_id,)
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    # ------------------------------------------------------------------ operations

    def backlog(self, now: datetime) -> Backlog:
        with self._transaction() as execute:
            return self._backlog(execute, now)

    def _backlog(self, execute: Executor, now: datetime) -> Backlog:
        pending, oldest = execute(
            "SELECT COUNT(*), MIN(received_at) FROM inbox WHERE outcome IS NULL"
        ).fetchone()
        rows = execute(
            "SELECT channel, COUNT(*), SUM(CASE WHEN next_attempt_at <= ? THEN 1 ELSE 0 END),"
            " MIN(CASE WHEN next_attempt_at <= ? THEN next_attempt_at END)"
            " FROM outbox WHERE status IN (?, ?) GROUP BY channel ORDER BY channel",
            (
                self._ts(now),
                self._ts(now),
                OutboxStatus.PENDING.value,
                OutboxStatus.IN_FLIGHT.value,
            ),
        ).fetchall()
        return Backlog(
            pending_inputs=int(pending),
            oldest_pending_input=None if oldest is None else self._dt(oldest),
            effects_pending={r[0]: int(r[1]) for r in rows},
            effects_due={r[0]: int(r[2] or 0) for r in rows},
            oldest_due_effect={r[0]: self._dt(r[3]) for r in rows if r[3] is not None},
        )

    def overview(self, now: datetime) -> Overview:
        at = self._ts(now)
        with self._transaction() as execute:
            backlog = self._backlog(execute, now)
            inputs = execute(
                "SELECT COALESCE(outcome, 'pending'), COUNT(*), COALESCE(SUM(repeats), 0)"
                " FROM inbox GROUP BY COALESCE(outcome, 'pending')"
            ).fetchall()
            (waiting,) = execute(
                "SELECT MIN(received_at) FROM inbox WHERE outcome = ?",
                (InputOutcome.WAITING.value,),
            ).fetchone()
            effects: dict[str, dict[str, int]] = {}
            for channel, status, count in execute(
                "SELECT channel, status, COUNT(*) FROM outbox GROUP BY channel, status"
            ).fetchall():
                effects.setdefault(channel, {})[status] = int(count)
            reads = execute("SELECT status, COUNT(*) FROM reads GROUP BY status").fetchall()
            reads_due, oldest_read = execute(
                "SELECT COUNT(*), MIN(next_attempt_at) FROM reads WHERE status IN (?, ?)"
                " AND next_attempt_at <= ?",
                (ReadStatus.PENDING.value, ReadStatus.IN_FLIGHT.value, at),
            ).fetchone()
            marks = execute("SELECT name, value, updated_at FROM marks ORDER BY name").fetchall()
            orders = execute("SELECT status, COUNT(*) FROM orders GROUP BY status").fetchall()
            timers, oldest_timer = execute(
                "SELECT COUNT(*), MIN(next_timer_at) FROM orders WHERE next_timer_at IS NOT NULL"
                " AND next_timer_at <= ?",
                (at,),
            ).fetchone()
        return Overview(
            backlog=backlog,
            inputs={r[0]: int(r[1]) for r in inputs},
            repeats=sum(int(r[2]) for r in inputs),
            oldest_waiting_input=None if waiting is None else self._dt(waiting),
            effects=effects,
            reads={r[0]: int(r[1]) for r in reads},
            reads_due=int(reads_due),
            oldest_due_read=None if oldest_read is None else self._dt(oldest_read),
            marks=tuple(Mark(r[0], str(r[1]), self._dt(r[2])) for r in marks),
            orders={r[0]: int(r[1]) for r in orders},
            timers_due=int(timers),
            oldest_due_timer=None if oldest_timer is None else self._dt(oldest_timer),
        )

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _oms_action(raw: Mapping[str, Any]) -> OmsAction:
    action = effect_from_dict(raw)
    assert isinstance(action, OmsAction)
    return action


class _Bodies:
    """What a batch keeps: the orders it changed, the snapshots its effects need, and
    the bodies it serialised, by version.

    An effect's snapshot and the order's own body at the batch's end are often
    the same order at the same version: it is serialised once.
    """

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        #: the order at each (order, version) that asked for effects, not written yet
        self.snapshots: dict[tuple[str, int], Order] = {}
        self._texts: dict[tuple[str, int], str] = {}
        #: the change feed's rows of the batch's changes, written at its end
        self.feed: list[tuple[Any, ...]] = []
        #: those of the change being written, until it holds
        self.staged: list[tuple[Any, ...]] = []

    def body(self, order: Order) -> str:
        key = (order.order_id, order.version)
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = order_to_json(order)
        return text


class _Snapshots:
    """Snapshots decoded once per (order, version) while one call reads many outbox rows."""

    def __init__(self) -> None:
        self._orders: dict[tuple[str, int], Order] = {}

    def order(self, order_id: str, version: int, body: str | None) -> Order | None:
        if body is None:
            return None
        key = (order_id, int(version))
        found = self._orders.get(key)
        if found is None:
            found = self._orders[key] = order_from_json(body)
        return found


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
