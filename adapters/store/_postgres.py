"""The PostgreSQL backend: psycopg 3 with a connection pool, for many workers on many machines.

Transactions run at READ COMMITTED; an order is only updated where its
version is the expected one, so concurrent writers of one order never lose an
update (the loser retries from a fresh read). Dispatchers claim outbox rows
with `FOR UPDATE SKIP LOCKED`, so several of them share the work without
waiting on each other. Migrations take a transaction-scoped advisory lock.

Opening connects once, directly and with a `connect_timeout` (default
`CONNECT_TIMEOUT` seconds), before the pool starts: a server that cannot be
reached is one `CannotOpenStore` naming its host and port at once, not a pool
that retries in the background until its own timeout.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from adapters.errors import CannotOpenStore, StoreFailed, StoreUnavailable

from ._schema import migrations
from ._shard import SHARD_SQL
from ._sql import Cursor, Executor, SqlStore

#: Seconds to wait for the server when neither the DSN nor $PGCONNECT_TIMEOUT says.
CONNECT_TIMEOUT = 5

#: Arbitrary, fixed: the advisory lock key that serialises this library's migrations.
_MIGRATION_LOCK = 5_318_008_415
#: Arbitrary, fixed: the advisory lock key under which feed cursors are given out.
_CHANGES_LOCK = 5_318_008_416


def _executor(conn: psycopg.Connection[Any]) -> Executor:
    def execute(sql: str, params: Sequence[Any] = ()) -> Cursor:
        return conn.execute(sql.replace("?", "%s"), tuple(params))

    return execute


def _where(info: dict[str, Any]) -> str:
    """The servers a DSN names, as `host:port` (libpq's defaults filled in), never more."""
    hosts = str(info.get("host") or os.environ.get("PGHOST") or "").split(",")
    ports = str(info.get("port") or os.environ.get("PGPORT") or "5432").split(",")
    if len(ports) == 1:  # as libpq: one port serves every host
        ports = ports * len(hosts)
    shown = []
    for host, port in zip(hosts, ports, strict=False):
        if not host or host.startswith("/"):
            shown.append(
                f"the Unix socket in {host}, port {port}"
                if host
                else f"the default Unix socket, port {port}"
            )
        else:
            shown.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    return "PostgreSQL at " + ", ".join(shown)


#: libpq's preamble to the reason itself, which the message already says (host, port).
_PREAMBLE = re.compile(
    r"^(?:connection (?:failed|is bad): )?"
    r"(?:connection to server (?:at \"[^\"]*\", port \d+|on socket \"[^\"]*\") failed: )?"
)


def _reason(error: psycopg.Error, password: str | None) -> str:
    """libpq's first line, without the preamble, and blanking a password it might echo."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    reason = " ".join(_PREAMBLE.sub("", lines[0]).split())
    return reason.replace(password, "***") if password else reason


class PostgresStore(SqlStore):
    """The store in PostgreSQL, migrated on open. `dsn` is a libpq URL or key=value string.

    `create=False` opens only a database that already holds a store (to read
    it): one without is `StoreNotFound`, and nothing is created in it.
    """

    MIGRATIONS: Sequence[tuple[int, Sequence[str]]] = migrations(
        {"time": "TIMESTAMPTZ", "serial": "BIGSERIAL PRIMARY KEY", "ref": "BIGINT"},
        "postgresql",
    )
    CLAIM_LOCK = " FOR UPDATE OF o SKIP LOCKED"
    SHARD_SQL = SHARD_SQL

    def __init__(
        self, dsn: str, *, min_size: int = 1, max_size: int = 4, create: bool = True
    ) -> None:
        self._dsn = dsn
        self._local = threading.local()
        try:
            info = psycopg.conninfo.conninfo_to_dict(dsn)
        except psycopg.Error:
            # libpq's parse error may quote the string, password and all: say less.
            raise CannotOpenStore(
                "PostgreSQL", "the DSN is not a PostgreSQL URL or key=value string"
            ) from None
        self._where = _where(info)
        kwargs: dict[str, Any] = {"autocommit": False}
        if "connect_timeout" not in info and not os.environ.get("PGCONNECT_TIMEOUT"):
            kwargs["connect_timeout"] = CONNECT_TIMEOUT
        try:
            psycopg.connect(dsn, **kwargs).close()
        except psycopg.Error as error:
            password = info.get("password")
            reason = _reason(error, str(password) if password else None)
            raise CannotOpenStore(self._where, reason) from error
        self._pool = ConnectionPool(
            dsn, min_size=min_size, max_size=max_size, open=True, kwargs=kwargs
        )
        try:
            self.migrate(create=create)
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
        # A driver error (a lost connection, a pool timeout, a refused statement)
        # leaves as the store's own `StoreFailed` / `StoreUnavailable`, any password blanked.
        current = getattr(self._local, "conn", None)
        try:
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
        except psycopg.Error as error:
            raise self._failure(error) from error

    def _failure(self, error: psycopg.Error) -> StoreFailed:
        password = psycopg.conninfo.conninfo_to_dict(self._dsn).get("password")
        reason = _reason(error, str(password) if password else None)
        unavailable = isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)
        kind = StoreUnavailable if unavailable else StoreFailed
        return kind(self._where, reason)

    @contextmanager
    def _reading(self) -> Iterator[Executor]:
        # Inside a batch a read joins its transaction without a savepoint: it has
        # nothing to undo, and a savepoint and its release are two round trips.
        current = getattr(self._local, "conn", None)
        if current is None:
            with self._transaction() as execute:
                yield execute
            return
        try:
            yield _executor(current)
        except psycopg.Error as error:
            raise self._failure(error) from error

    @contextmanager
    def _reading_one(self) -> Iterator[Executor]:
        # Outside a batch, the statement is its own transaction (autocommit): no
        # BEGIN and COMMIT around it. Inside one, it joins the batch's transaction.
        if getattr(self._local, "conn", None) is not None:
            with self._reading() as execute:
                yield execute
            return
        try:
            with self._pool.connection() as conn:
                conn.autocommit = True
                try:
                    yield _executor(conn)
                finally:
                    conn.autocommit = False
        except psycopg.Error as error:
            raise self._failure(error) from error

    def _many(self, execute: Executor, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        # On the batch's own connection: psycopg pipelines `executemany`.
        with self._local.conn.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), rows)
            return int(cursor.rowcount)

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

    def _lock_changes(self, execute: Executor) -> None:
        # Held to the end of the transaction: cursors are given out in commit order,
        # so no reader ever sees a cursor before a smaller one has committed.
        execute("SELECT pg_advisory_xact_lock(?)", (_CHANGES_LOCK,))

    def _has_store(self, execute: Executor) -> bool:
        return bool(execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0])

    def close(self) -> None:
        self._pool.close()
