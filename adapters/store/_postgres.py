"""The PostgreSQL backend: psycopg 3 with a connection pool, for many workers on many machines.

Transactions run at READ COMMITTED; an order is only updated where its
version is the expected one, so concurrent writers of one order never lose an
update (the loser retries from a fresh read). Dispatchers claim outbox rows
with `FOR UPDATE SKIP LOCKED`, so several of them share the work without
waiting on each other. Migrations take a transaction-scoped advisory lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from ._schema import migrations
from ._sql import Cursor, Executor, SqlStore

#: Arbitrary, fixed: the advisory lock key that serialises this library's migrations.
_MIGRATION_LOCK = 5_318_008_415


def _executor(conn: psycopg.Connection[Any]) -> Executor:
    def execute(sql: str, params: Sequence[Any] = ()) -> Cursor:
        return conn.execute(sql.replace("?", "%s"), tuple(params))

    return execute


class PostgresStore(SqlStore):
    """The store in PostgreSQL, migrated on open. `dsn` is a libpq URL or key=value string."""

    MIGRATIONS: Sequence[tuple[int, Sequence[str]]] = migrations(
        {"time": "TIMESTAMPTZ", "serial": "BIGSERIAL PRIMARY KEY", "ref": "BIGINT"}
    )
    CLAIM_LOCK = " FOR UPDATE OF o SKIP LOCKED"

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 4) -> None:
        self._dsn = dsn
        self._local = threading.local()
        self._pool = ConnectionPool(
            dsn, min_size=min_size, max_size=max_size, open=True, kwargs={"autocommit": False}
        )
        try:
            self.migrate()
        except BaseException:
            self._pool.close()  # a refused database must not leave the pool's threads behind
            raise

    def __repr__(self) -> str:
        # The DSN may hold a password: show only where the database is.
        info = psycopg.conninfo.conninfo_to_dict(self._dsn)
        return f"PostgresStore(host={info.get('host')!r}, dbname={info.get('dbname')!r})"

    @contextmanager
    def _transaction(self) -> Iterator[Executor]:
        # Inside another transaction of this store on this thread (a `batch`), the
        # same connection and a savepoint, so the outer transaction commits the rest.
        current = getattr(self._local, "conn", None)
        if current is not None:
            with current.transaction():
                yield _executor(current)
            return
        with self._pool.connection() as conn, conn.transaction():
            self._local.conn = conn
            try:
                yield _executor(conn)
            finally:
                self._local.conn = None

    def _ts(self, moment: datetime) -> datetime:
        if moment.utcoffset() is None:
            raise ValueError(f"times must be timezone-aware, got {moment!r}")
        return moment

    def _dt(self, value: Any) -> datetime:
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return datetime.fromisoformat(str(value))

    def _lock_migrations(self, execute: Executor) -> None:
        execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    def close(self) -> None:
        self._pool.close()
