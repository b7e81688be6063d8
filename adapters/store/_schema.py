"""The store's schema, written once; each backend fills in its column types.

`migrations(types, engine)` gives the `(version, statements)` list both
backends apply, with `{time}` (a moment), `{serial}` (an auto-numbered
primary key) and `{ref}` (a column that refers to a serial key) replaced by
the backend's own types, and the few statements written in each engine's own
dialect (a trigger) added where they belong. A database remembers the versions
it has; a migration is never edited once released, only followed by a new one.
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

#: An outbox row keeps its order's version, not a copy of the order: the order
#: as it was at a version that asked for effects is kept once, in
#: `order_snapshots`, however many effects that version asked for (the
#: history cannot rebuild an order: it keeps events, not state). The bodies
#: the outbox rows held move there, one per (order, version) still needed
#: (bodies of one version are equal); the rest go with the column.
_SCHEMA_5 = (
    """CREATE TABLE order_snapshots (
        order_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (order_id, version)
    )""",
    """INSERT INTO order_snapshots (order_id, version, body)
        SELECT order_id, version, MIN(order_body) FROM outbox
        WHERE status IN ('pending', 'in_flight', 'dead') GROUP BY order_id, version""",
    "ALTER TABLE outbox DROP COLUMN order_body",
)

#: A snapshot is let go when the last effect of its (order, version) is done:
#: when no outbox row of it is pending, in flight or dead (a dead letter may
#: be redriven, so it keeps its snapshot). A trigger does it inside the
#: statement that marks the effect done: no statement more per effect, and
#: none left behind by a dispatcher that stops between two statements.
#: PostgreSQL's takes the snapshot's row lock first, so that two effects of
#: one version done at once cannot each see the other still in flight.
_LET_GO_5: Mapping[str, Sequence[str]] = {
    "sqlite": (
        """CREATE TRIGGER outbox_done_lets_go_of_snapshot
        AFTER UPDATE OF status ON outbox
        WHEN NEW.status = 'done' AND OLD.status <> 'done'
        BEGIN
            DELETE FROM order_snapshots
            WHERE order_id = NEW.order_id AND version = NEW.version
            AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.order_id = NEW.order_id
                AND o.version = NEW.version AND o.status IN ('pending', 'in_flight', 'dead'));
        END""",
    ),
    "postgresql": (
        """CREATE FUNCTION outbox_done_lets_go_of_snapshot() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM 1 FROM order_snapshots
            WHERE order_id = NEW.order_id AND version = NEW.version FOR UPDATE;
            DELETE FROM order_snapshots
            WHERE order_id = NEW.order_id AND version = NEW.version
            AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.order_id = NEW.order_id
                AND o.version = NEW.version AND o.status IN ('pending', 'in_flight', 'dead'));
            RETURN NULL;
        END
        $$""",
        """CREATE TRIGGER outbox_done_lets_go_of_snapshot
        AFTER UPDATE OF status ON outbox FOR EACH ROW
        WHEN (NEW.status = 'done' AND OLD.status <> 'done')
        EXECUTE FUNCTION outbox_done_lets_go_of_snapshot()""",
    ),
}

_MIGRATIONS: Sequence[tuple[int, Sequence[str]]] = (
    (1, _SCHEMA_1),
    (2, _SCHEMA_2),
    (3, _SCHEMA_3),
    (4, _SCHEMA_4),
    (5, _SCHEMA_5),
)

#: Each engine's own statements, run after the shared ones of their version.
_BY_ENGINE: Mapping[int, Mapping[str, Sequence[str]]] = {5: _LET_GO_5}


def migrations(types: Mapping[str, str], engine: str) -> Sequence[tuple[int, Sequence[str]]]:
    """The migrations with the backend's column types and its own statements filled in.

    `engine` is `"sqlite"` or `"postgresql"`.
    """
    return tuple(
        (
            version,
            tuple(statement.format(**types) for statement in statements)
            + tuple(_BY_ENGINE.get(version, {}).get(engine, ())),
        )
        for version, statements in _MIGRATIONS
    )
