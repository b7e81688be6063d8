"""The SQLite backend: the embedded default (stdlib `sqlite3`, WAL).

Several processes may share one database file: every write transaction
starts with `BEGIN IMMEDIATE`, so writers queue on SQLite's lock (up to
`busy_timeout`) instead of failing half way, and WAL lets readers go on
meanwhile: a call that only reads starts a deferred transaction, which
takes no write lock and never queues behind a writer. Times are stored as
UTC ISO-8601 text, which sorts as time does. A file that cannot be opened is
reported as `CannotOpenStore` naming its path; with `create=False` a missing
file is `StoreNotFound` and is not created.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.errors import (
    CannotOpenStore,
    StoreError,
    StoreFailed,
    StoreNotFound,
    StoreUnavailable,
)

from ._schema import migrations
from ._shard import shard_of
from ._sql import Cursor, Executor, SqlStore

#: SQLite's `synchronous` levels (https://www.sqlite.org/pragma.html#pragma_synchronous).
SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")

_HAS_STORE = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"


def _utc_text(moment: datetime) -> str:
    if moment.utcoffset() is None:
        raise ValueError(f"times must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _shown(path: str) -> str:
    return path if path == ":memory:" else os.path.abspath(path)


def _why(path: str, error: sqlite3.Error) -> str:
    """SQLite's reason, with what it leaves out ("unable to open database file": why?)."""
    reason = str(error)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return f"{reason} (it is a folder)"
    if not os.path.isdir(folder):
        return f"{reason} (the folder {folder} does not exist)"
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        return f"{reason} (no permission to write there)"
    return reason


class SqliteStore(SqlStore):
    """The store in a SQLite file (or `:memory:`), migrated on open.

    One connection per store object, shared by its threads under a lock;
    open one store per process. `create=False` opens only a store that exists
    (to read it): a missing file is `StoreNotFound`, and no file is made.

    `synchronous` is SQLite's `PRAGMA synchronous`, with WAL: `FULL` (the
    default) syncs the log at every commit, so a committed transaction (a
    webhook answered 200, an effect marked done) survives a power loss or an
    OS crash; `NORMAL` syncs only at checkpoints, so the last transactions
    before a power loss may be lost (never corrupted), while a crash of the
    process alone loses nothing. `open_store` reads it from the URL:
    `sqlite:///orders.db?synchronous=NORMAL`.
    """

    MIGRATIONS: Sequence[tuple[int, Sequence[str]]] = migrations(
        {"time": "TEXT", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "ref": "INTEGER"},
        "sqlite",
    )

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        busy_timeout: float = 30.0,
        create: bool = True,
        synchronous: str = "FULL",
    ) -> None:
        self.path = str(path)
        self.synchronous = synchronous.upper()
        if self.synchronous not in SYNCHRONOUS:
            raise StoreError(
                f"synchronous must be one of {', '.join(SYNCHRONOUS)}, got {synchronous!r}"
            )
        self._where = f"SQLite file {_shown(self.path)}"
        self._lock = threading.RLock()
        self._depth = 0
        if not create and self.path != ":memory:" and not os.path.exists(self.path):
            raise StoreNotFound(self._where, "the file does not exist")
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise CannotOpenStore(self._where, _why(self.path, error)) from error
        # The shard rule of `work --workers N`, the same function in SQL as in Python.
        self._conn.create_function("order_shard", 2, shard_of, deterministic=True)
        try:
            if not create and self._conn.execute(_HAS_STORE).fetchone() is None:
                # Before the pragmas below, which would write to a file that is no store.
                raise StoreNotFound(self._where, "it has no schema_version table")
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={self.synchronous}")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self.migrate(create=create)
        except sqlite3.Error as error:
            self._conn.close()
            raise CannotOpenStore(self._where, _why(self.path, error)) from error
        except StoreFailed as error:  # the migrations run in `_transaction`
            self._conn.close()
            raise CannotOpenStore(self._where, error.reason) from error.__cause__
        except BaseException:
            self._conn.close()
            raise

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    @contextmanager
    def _transaction(self) -> Iterator[Executor]:
        # Inside another transaction of this store (a `batch`), a savepoint: an
        # error undoes this call alone, and the outer transaction commits the rest.
        # A driver error (a locked or vanished file, a full disk) leaves as the
        # store's own `StoreFailed` (`StoreUnavailable` when out of reach).
        try:
            with self._locked_transaction() as execute:
                yield execute
        except sqlite3.Error as error:
            raise self._failure(error) from error

    def _failure(self, error: sqlite3.Error) -> StoreFailed:
        """A driver error as the store's own: `StoreUnavailable` when the file is out of reach."""
        kind = StoreUnavailable if isinstance(error, sqlite3.OperationalError) else StoreFailed
        return kind(self._where, _why(self.path, error))

    @contextmanager
    def _one_write(self) -> Iterator[Executor]:
        # Inside a batch: no savepoint, since a statement that fails undoes itself
        # (SQLite's statement journal) and the batch's transaction goes on.
        with self._lock:
            if not self._depth:
                with self._transaction() as execute:
                    yield execute
                return
            try:
                conn = self._conn

                def execute(sql: str, params: Sequence[Any] = ()) -> Cursor:
                    return conn.execute(sql, tuple(params))

                yield execute
            except sqlite3.Error as error:
                raise self._failure(error) from error

    @contextmanager
    def _reading(self) -> Iterator[Executor]:
        # A deferred transaction takes no write lock: under WAL it reads a snapshot
        # while another process writes, instead of queueing on `BEGIN IMMEDIATE`
        # (up to `busy_timeout`). Inside a transaction of this store (a `batch`)
        # the read joins it: it sees the batch's writes, and has nothing to undo.
        try:
            with self._lock:
                conn = self._conn

                def execute(sql: str, params: Sequence[Any] = ()) -> Cursor:
                    return conn.execute(sql, tuple(params))

                if self._depth:
                    yield execute
                    return
                conn.execute("BEGIN DEFERRED")
                try:
                    yield execute
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        except sqlite3.Error as error:
            raise self._failure(error) from error

    @contextmanager
    def _locked_transaction(self) -> Iterator[Executor]:
        with self._lock:
            conn = self._conn
            depth = self._depth
            begin, commit, undo = (
                ("BEGIN IMMEDIATE", "COMMIT", ("ROLLBACK",))
                if depth == 0
                else (
                    f"SAVEPOINT s{depth}",
                    f"RELEASE s{depth}",
                    (f"ROLLBACK TO s{depth}", f"RELEASE s{depth}"),
                )
            )
            conn.execute(begin)
            self._depth = depth + 1

            def execute(sql: str, params: Sequence[Any] = ()) -> Cursor:
                return conn.execute(sql, tuple(params))

            try:
                yield execute
            except BaseException:
                for statement in undo:
                    conn.execute(statement)
                raise
            else:
                conn.execute(commit)
            finally:
                self._depth = depth

    def _many(self, execute: Executor, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        with self._lock:  # inside the batch's transaction, on its one connection
            return self._conn.executemany(sql, rows).rowcount

    def _ts(self, moment: datetime) -> str:
        return _utc_text(moment)

    def _dt(self, value: Any) -> datetime:
        return datetime.fromisoformat(str(value))

    def _lock_migrations(self, execute: Executor) -> None:
        return  # BEGIN IMMEDIATE already serialises writers

    def _has_store(self, execute: Executor) -> bool:
        return execute(_HAS_STORE).fetchone() is not None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
