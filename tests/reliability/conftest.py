"""The reliability suite: load, faults, concurrency, bad input and secrets, with figures.

Every test here carries the `reliability` marker (`pytest -m reliability`
runs the suite alone). The default is a short, seeded run that fits in CI;
`RELIABILITY_FULL=1` runs the full one (see docs/reliability.md).
`RELIABILITY_SEED` changes the seed. Each test records its figures with the
`figures` fixture; they are printed at the end of the run, after the test
summary, so the CI log shows them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.reliability._procs import Processes
from tests.store.conftest import postgres_dsn, with_schema

FULL = os.environ.get("RELIABILITY_FULL") == "1"
SEED = int(os.environ.get("RELIABILITY_SEED", "20261123"))
BACKENDS = ["sqlite", "postgres"]
_HERE = Path(__file__).parent
_FIGURES: list[tuple[str, dict[str, Any]]] = []


def scale(ci: int, full: int) -> int:
    """A count for the short (CI) run or the full one."""
    return full if FULL else ci


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.reliability)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    mode = "full (RELIABILITY_FULL=1)" if FULL else "short (CI)"
    terminalreporter.section(f"reliability figures, {mode} run, seed {SEED}")
    for name, values in _FIGURES:
        terminalreporter.write_line(name)
        for key, value in values.items():
            terminalreporter.write_line(f"    {key:<38} {value}")


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Callable[..., None]]:
    """Record figures for this test: `figures(inputs=..., losses=0, ...)`."""
    recorded: dict[str, Any] = {}
    yield recorded.update
    if recorded:
        _FIGURES.append((request.node.nodeid.split("::", 1)[-1], recorded))


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Starts subprocesses; every one is stopped at the end, whatever happened."""
    group = Processes(tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """`database(backend)`: the URL of a new, empty database on that backend."""
    schemas: list[tuple[str, str]] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path}/{uuid.uuid4().hex[:8]}.db"
        dsn = postgres_dsn()
        schema = f"r_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        schemas.append((dsn, schema))
        return with_schema(dsn, schema)

    yield make
    for dsn, schema in schemas:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
