"""A driver error inside a store call leaves as the store's own error, never raw.

Callers (the command line, the webhook app, the workers) catch `StoreError`
and ask `is_unavailable`; neither needs to import `sqlite3` or `psycopg`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from adapters.errors import AdapterError
from adapters.store import SqliteStore, StoreFailed, StoreUnavailable, is_unavailable


def test_a_locked_sqlite_file_is_store_unavailable_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.db"
    store = SqliteStore(path, busy_timeout=0.01)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable) as caught:
            store.load("O1")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert isinstance(caught.value, AdapterError)
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert str(path) in str(caught.value)
    assert "locked" in caught.value.reason
    assert is_unavailable(caught.value)
    assert store.load("O1") is None  # the store works again once the lock is gone
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
