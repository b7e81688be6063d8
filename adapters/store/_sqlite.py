"""The SQLite backend: the embedded default (stdlib `sqlite3`, WAL).

Several processes may share one database file: every write transaction
starts with `BEGIN IMMEDIATE`, so writers queue on SQLite's lock (up to
`busy_timeout`) instead of failing half way, and WAL lets readers go on
meanwhile. Times are stored as UTC ISO-8601 text, which sorts as time does.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._schema import migrations
from ._sql import Cursor, Executor, SqlStore


def _utc_text(moment: datetime) -> str:
    if moment.utcoffset() is None:
        raise ValueError(f"times must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class SqliteStore(SqlStore):
    """The store in a SQLite file (or `:memory:`), migrated on open.

    One connection per store object, shared by its threads under a lock;
    open one store per process.
    """

    MIGRATIONS: Sequence[tuple[int, Sequence[str]]] = migrations(
        {"time": "TEXT", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "ref": "INTEGER"}
    )

    def __init__(self, path: str | Path = ":memory:", *, busy_timeout: float = 30.0) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._depth = 0
        self._conn = sqlite3.connect(
            self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        try:
            self.migrate()
        except BaseException:
            self._conn.close()
            raise

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    @contextmanager
    def _transaction(self) -> Iterator[Executor]:
        # Inside another transaction of this store (a `batch`), a savepoint: an
        # error undoes this call alone, and the outer transaction commits the rest.
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

    def _ts(self, moment: datetime) -> str:
        return _utc_text(moment)

    def _dt(self, value: Any) -> datetime:
        return datetime.fromisoformat(str(value))

    def _lock_migrations(self, execute: Executor) -> None:
        return  # BEGIN IMMEDIATE already serialises writers

    def close(self) -> None:
        with self._lock:
            self._conn.close()
