"""Store fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL comes from `ORDER_LIFECYCLE_TEST_POSTGRES` (a DSN; `scripts/test.sh`
starts a private server and sets it). Each test gets its own schema. Without
the variable the PostgreSQL half fails and says how to run it: both backends
are part of the suite, never skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from adapters.store import SqliteStore, Store, open_store

POSTGRES = os.environ.get("ORDER_LIFECYCLE_TEST_POSTGRES", "")
BACKENDS = ["sqlite", "postgres"]


def postgres_dsn() -> str:
    """The PostgreSQL the tests use; its absence fails them, it never skips them."""
    if not POSTGRES:
        pytest.fail(
            "PostgreSQL not configured: run the tests with bash scripts/test.sh, which starts"
            " one, or set ORDER_LIFECYCLE_TEST_POSTGRES to a DSN"
        )
    return POSTGRES


def with_schema(dsn: str, schema: str) -> str:
    separator = "&" if "?" in dsn else "?"
    return f"{dsn}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """A database URL for an empty store, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
        return
    dsn = postgres_dsn()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(dsn, schema)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def memory_store() -> Iterator[SqliteStore]:
    opened = SqliteStore(":memory:")
    try:
        yield opened
    finally:
        opened.close()
