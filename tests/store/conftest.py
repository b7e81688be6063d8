"""Store fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL comes from `ORDER_LIFECYCLE_TEST_POSTGRES` (a DSN; `scripts/test.sh`
starts a private server and sets it). Each test gets its own schema. Without
the variable a plain `pytest` skips the PostgreSQL half and says why; under
`scripts/test.sh` (`ORDER_LIFECYCLE_TEST_POSTGRES_REQUIRED`) a missing
server fails instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from adapters.store import SqliteStore, Store, open_store

POSTGRES = os.environ.get("ORDER_LIFECYCLE_TEST_POSTGRES", "")
REQUIRED = bool(os.environ.get("ORDER_LIFECYCLE_TEST_POSTGRES_REQUIRED"))
BACKENDS = ["sqlite", "postgres"]


def postgres_or_skip() -> str:
    if POSTGRES:
        return POSTGRES
    if REQUIRED:
        pytest.fail("ORDER_LIFECYCLE_TEST_POSTGRES is required under scripts/test.sh")
    pytest.skip(
        "PostgreSQL not configured: set ORDER_LIFECYCLE_TEST_POSTGRES to a DSN,"
        " or run bash scripts/test.sh, which starts one"
    )


def with_schema(dsn: str, schema: str) -> str:
    separator = "&" if "?" in dsn else "?"
    return f"{dsn}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """A database URL for an empty store, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
        return
    dsn = postgres_or_skip()
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
