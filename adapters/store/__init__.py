"""The durable store: orders, history, inbox, outbox and partner references.

`open_store(url)` opens `sqlite:///path.db`, `sqlite:///:memory:` or
`postgresql://...`; `SqliteStore` and `PostgresStore` implement the `Store`
port with the same behaviour. See docs/store.md.
"""

from __future__ import annotations

from pathlib import Path as _Path
from urllib.parse import parse_qs as _parse_qs

from adapters._util import publish as _publish
from adapters.errors import (
    AlreadyProcessed,
    CannotOpenStore,
    SchemaTooNew,
    StoreError,
    StoreFailed,
    StoreNotFound,
    StoreUnavailable,
    VersionConflict,
)

from ._codec import (
    CONVERTER,
    effect_from_dict,
    effect_to_dict,
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
    Store,
    Transition,
    channel_of,
    waits_for,
)
from ._postgres import PostgresStore
from ._shard import Shard, shard_of
from ._sqlite import SqliteStore


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database is out of reach (not the input's fault).

    A worker stops on such an error, leaving its input pending; any other error
    while applying an input is the input's, counted against it.
    """
    import sqlite3

    import psycopg

    unavailable = (
        CannotOpenStore,
        StoreUnavailable,
        sqlite3.OperationalError,
        psycopg.OperationalError,
        psycopg.InterfaceError,
    )
    return isinstance(error, unavailable)


__all__ = [
    "CONVERTER",
    "DEFAULT_URL",
    "FIRST_SEEN",
    "AlreadyProcessed",
    "Backlog",
    "CannotOpenStore",
    "Change",
    "FeedChange",
    "InboxEntry",
    "InputOutcome",
    "Mark",
    "OrderSummary",
    "OutboxEntry",
    "OutboxStatus",
    "Overview",
    "PostgresStore",
    "ReadJob",
    "ReadKind",
    "ReadRequest",
    "ReadStatus",
    "Receipt",
    "ReceiptState",
    "SchemaTooNew",
    "Settlement",
    "Shard",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreFailed",
    "StoreNotFound",
    "StoreUnavailable",
    "Transition",
    "VersionConflict",
    "channel_of",
    "effect_from_dict",
    "effect_to_dict",
    "is_unavailable",
    "open_store",
    "order_from_json",
    "order_to_json",
    "shard_of",
    "waits_for",
]

#: The default database: a SQLite file in the working directory.
DEFAULT_URL = "sqlite:///order-lifecycle.db"


def open_store(url: str = DEFAULT_URL, *, create: bool = True) -> SqliteStore | PostgresStore:
    """Open (and migrate) the store a URL names.

    `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`,
    `sqlite:///:memory:`, or a PostgreSQL URL (`postgresql://user@host/db`).
    A SQLite URL may end in `?synchronous=NORMAL` (or `OFF`, `FULL`, `EXTRA`;
    default `FULL`: see `SqliteStore`).
    A bare file path is taken as a SQLite file. With `create=False` (to read
    only) a store that does not exist yet is `StoreNotFound`, and none is
    created; a database that cannot be opened or reached is `CannotOpenStore`,
    naming the file or the host and port.
    """
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url, create=create)
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        if not path.startswith("/"):
            raise StoreError(f"a SQLite URL is sqlite:///path.db, got {url!r}")
        path, _, query = path[1:].partition("?")
        if not path:
            raise StoreError(f"no database file in {url!r}; use sqlite:///path.db")
        options = _parse_qs(query, keep_blank_values=True) if query else {}
        unknown = sorted(set(options) - {"synchronous"})
        if unknown or any(len(values) != 1 for values in options.values()):
            raise StoreError(
                f"a SQLite URL takes one option, synchronous (sqlite:///path.db?synchronous=FULL);"
                f" got {', '.join(unknown) or 'it twice'}"
            )
        return SqliteStore(path, create=create, synchronous=options.get("synchronous", ["FULL"])[0])
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise StoreError(
            f"unknown database scheme {scheme!r}; use sqlite:///path.db or postgresql://..."
        )
    return SqliteStore(_Path(url), create=create)


_publish(__name__, globals())
