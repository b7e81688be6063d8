"""The store's schema, written once; each backend fills in its column types.

`migrations(types)` gives the `(version, statements)` list both backends
apply, with `{time}` (a moment), `{serial}` (an auto-numbered primary key)
and `{ref}` (a column that refers to a serial key) replaced by the
backend's own types. A database remembers the versions it has; a migration
is never edited once released, only followed by a new one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

_SCHEMA_1 = (
    """CREATE TABLE orders (
        order_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        version INTEGER NOT NULL,
        body TEXT NOT NULL,
        next_timer_at {time},
        updated_at {time}
    )""",
    "CREATE INDEX orders_next_timer_at ON orders (next_timer_at) WHERE next_timer_at IS NOT NULL",
    """CREATE TABLE transitions (
        order_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        event TEXT NOT NULL,
        source TEXT NOT NULL,
        target TEXT NOT NULL,
        initiator TEXT NOT NULL,
        origin TEXT NOT NULL,
        at {time} NOT NULL,
        reason TEXT NOT NULL,
        params TEXT NOT NULL,
        PRIMARY KEY (order_id, version)
    )""",
    """CREATE TABLE inbox (
        id {serial},
        kind TEXT NOT NULL,
        dedup_key TEXT NOT NULL,
        payload TEXT NOT NULL,
        received_at {time} NOT NULL,
        order_id TEXT,
        outcome TEXT,
        reason TEXT NOT NULL DEFAULT '',
        error_type TEXT NOT NULL DEFAULT '',
        duplicate_of {ref} REFERENCES inbox (id)
    )""",
    "CREATE UNIQUE INDEX inbox_first_of_key ON inbox (dedup_key) WHERE duplicate_of IS NULL",
    "CREATE INDEX inbox_order ON inbox (order_id)",
    """CREATE TABLE outbox (
        id {serial},
        order_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        kind TEXT NOT NULL,
        channel TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        effect TEXT NOT NULL,
        order_body TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at {time} NOT NULL,
        last_error TEXT NOT NULL,
        created_at {time} NOT NULL,
        done_at {time}
    )""",
    "CREATE INDEX outbox_due ON outbox (status, next_attempt_at)",
    "CREATE INDEX outbox_order_channel ON outbox (order_id, channel, id)",
    """CREATE TABLE external_refs (
        order_id TEXT NOT NULL,
        system TEXT NOT NULL,
        ref TEXT NOT NULL,
        updated_at {time} NOT NULL,
        PRIMARY KEY (order_id, system)
    )""",
)

#: The webhook worker asks for unprocessed inputs of one kind, oldest first.
_SCHEMA_2 = ("CREATE INDEX inbox_pending ON inbox (kind, id) WHERE outcome IS NULL",)

#: Live sync: inputs that wait for what TikTok must be asked first, inputs
#: parked after failing again and again (poison), the read
#: jobs that ask it (leased, retried, parked like the outbox's effects; one
#: pending job per thing to read), and the catch-up's watermarks.
_SCHEMA_3 = (
    "ALTER TABLE inbox ADD COLUMN waits_for TEXT",
    # Failed attempts at applying an input; past a limit it is parked (`dead`).
    "ALTER TABLE inbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
    # Repeats of a finished input are counted on its row, never kept again.
    "ALTER TABLE inbox ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX inbox_waiting ON inbox (waits_for, id) WHERE outcome = 'waiting'",
    "CREATE INDEX inbox_parked ON inbox (id) WHERE outcome = 'dead'",
    """CREATE TABLE reads (
        id {serial},
        kind TEXT NOT NULL,
        shop_id TEXT NOT NULL,
        target TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at {time} NOT NULL,
        lease_token TEXT,
        last_error TEXT NOT NULL DEFAULT '',
        created_at {time} NOT NULL,
        done_at {time}
    )""",
    # A claim of effects holds its lease under a token: only the holder may
    # complete them, and it renews the lease while its batch runs.
    "ALTER TABLE outbox ADD COLUMN lease_token TEXT",
    "CREATE UNIQUE INDEX reads_one_pending ON reads (kind, shop_id, target)"
    " WHERE status = 'pending'",
    "CREATE INDEX reads_due ON reads (status, next_attempt_at)",
    """CREATE TABLE marks (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at {time} NOT NULL
    )""",
)

#: The change feed (`Store.changes`): one row per committed transition (and per
#: order first seen) with the OMS actions it asked for, numbered in commit order
#: by `seq`, the feed's cursor. `seq` is given under the writers' lock (SQLite's
#: BEGIN IMMEDIATE, PostgreSQL's advisory lock) as the highest plus one, so the
#: cursors of committed rows run 1, 2, 3, ... with no hole and none commits
#: behind a reader. History from before this migration is numbered in the order
#: it happened, without actions (they were not kept then).
_SCHEMA_4 = (
    """CREATE TABLE changes (
        seq BIGINT PRIMARY KEY,
        order_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        event TEXT NOT NULL,
        source TEXT NOT NULL,
        target TEXT NOT NULL,
        initiator TEXT NOT NULL,
        origin TEXT NOT NULL,
        at {time} NOT NULL,
        actions TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX changes_order_version ON changes (order_id, version)",
    """INSERT INTO changes (seq, order_id, version, event, source, target, initiator, origin,
        at, actions)
        SELECT ROW_NUMBER() OVER (ORDER BY at, order_id, version), order_id, version, event,
        source, target, initiator, origin, at, '[]' FROM transitions""",
)

_MIGRATIONS: Sequence[tuple[int, Sequence[str]]] = (
    (1, _SCHEMA_1),
    (2, _SCHEMA_2),
    (3, _SCHEMA_3),
    (4, _SCHEMA_4),
)


def migrations(types: Mapping[str, str]) -> Sequence[tuple[int, Sequence[str]]]:
    """The migrations with the backend's column types filled in."""
    return tuple(
        (version, tuple(statement.format(**types) for statement in statements))
        for version, statements in _MIGRATIONS
    )
