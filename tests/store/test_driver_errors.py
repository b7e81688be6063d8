"""A driver error inside a store call leaves as the store's own error, never raw.

Callers (the command line, the webhook app, the workers) catch `StoreError`
and ask `is_unavailable`; neither needs to import `sqlite3` or `psycopg`.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.errors import AdapterError
from adapters.store import SqliteStore, StoreFailed, StoreUnavailable, is_unavailable

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def test_a_locked_sqlite_file_is_store_unavailable_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.db"
    store = SqliteStore(path, busy_timeout=0.01)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable) as caught:
            store.set_mark("watermark", "1", NOW)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert isinstance(caught.value, AdapterError)
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert str(path) in str(caught.value)
    assert "locked" in caught.value.reason
    assert is_unavailable(caught.value)
    store.set_mark("watermark", "1", NOW)  # the store works again once the lock is gone
    assert store.mark("watermark") == "1"
    store.close()


def test_a_sqlite_reader_does_not_queue_behind_another_process_writing(tmp_path: Path) -> None:
    """Reads start deferred transactions: under WAL they read while a writer holds the lock."""
    path = tmp_path / "orders.db"
    store = SqliteStore(path, busy_timeout=0.01)
    store.set_mark("watermark", "1", NOW)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE marks SET value = '2'")
    try:
        assert store.mark("watermark") == "1"  # the last committed value, at once
        assert store.load("O1") is None
        assert store.pending(None) == []
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    store.close()


def test_a_closed_store_is_store_failed_and_not_taken_for_unavailable(tmp_path: Path) -> None:
    """A closed connection is a bug of the caller's, not an outage: the input is charged."""
    store = SqliteStore(tmp_path / "orders.db")
    store.close()
    with pytest.raises(StoreFailed) as caught:
        store.load("O1")
    assert not isinstance(caught.value, StoreUnavailable)
    assert isinstance(caught.value.__cause__, sqlite3.ProgrammingError)
    assert not is_unavailable(caught.value)
