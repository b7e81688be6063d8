"""Opening a store: what a database that cannot be reached or opened says, and how a
read-only open (`create=False`) refuses to create a store where there is none."""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

import psycopg
import pytest

from adapters.store import (
    CannotOpenStore,
    PostgresStore,
    SqliteStore,
    StoreNotFound,
    open_store,
)
from adapters.store._postgres import _reason
from tests.store.conftest import postgres_dsn

PASSWORD = "pa55-w0rd-never-shown"


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then let go)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def pool_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if "pool" in t.name}


def test_an_unreachable_postgresql_is_one_line_naming_host_and_port_never_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A closed port is refused at once, by one direct connection: the error names
    `127.0.0.1:PORT`, holds one line, no password, and no pool was left trying."""
    port = closed_port()
    before = pool_threads()
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CannotOpenStore) as raised:
        open_store(f"postgresql://oms:{PASSWORD}@127.0.0.1:{port}/oms")
    error = raised.value
    assert error.where == f"PostgreSQL at 127.0.0.1:{port}"
    assert str(error) == f"cannot open PostgreSQL at 127.0.0.1:{port}: Connection refused"
    assert PASSWORD not in repr(error)
    assert not [r for r in caplog.records if r.name.startswith("psycopg")]
    assert pool_threads() <= before


def test_a_refused_login_names_the_server_and_what_postgresql_said() -> None:
    """A server that answers but refuses the role: the reason is PostgreSQL's own, on one line."""
    info = psycopg.conninfo.conninfo_to_dict(postgres_dsn())
    dsn = psycopg.conninfo.make_conninfo(
        postgres_dsn(), user="no_such_role_here", password=PASSWORD
    )
    with pytest.raises(CannotOpenStore) as raised:
        PostgresStore(dsn)
    message = str(raised.value)
    assert f"{info['host']}:{info['port']}" in message
    assert 'role "no_such_role_here" does not exist' in message
    assert PASSWORD not in message
    assert "\n" not in message


def test_a_password_libpq_echoes_is_blanked_from_the_reason() -> None:
    """Should libpq ever quote the password (a mistyped option), the reason blanks it."""
    error = psycopg.OperationalError(
        f'connection failed: invalid integer value "{PASSWORD}" for connection option "port"\n'
        "\tmore detail"
    )
    assert _reason(error, PASSWORD) == 'invalid integer value "***" for connection option "port"'


def test_a_dsn_that_does_not_parse_is_refused_without_quoting_it() -> None:
    """libpq's parse errors quote the string they choke on: the message does not."""
    with pytest.raises(CannotOpenStore) as raised:
        PostgresStore(f"postgresql://oms:{PASSWORD}@127.0.0.1:5432/oms?not_an_option=1")
    assert PASSWORD not in str(raised.value)
    assert "not a PostgreSQL URL" in str(raised.value)


def test_reading_a_database_without_a_store_creates_none(store_url: str) -> None:
    """`create=False` on an empty database (file, schema) is StoreNotFound and creates nothing;
    once a store exists there, the same read-only open works."""
    with pytest.raises(StoreNotFound, match=r"^no store in "):
        open_store(store_url, create=False)
    if store_url.startswith("sqlite"):
        assert not Path(store_url.removeprefix("sqlite:///")).exists()
    else:
        with psycopg.connect(store_url) as conn:
            found = conn.execute("SELECT to_regclass('schema_version')").fetchone()
        assert found == (None,)
    open_store(store_url).close()
    store = open_store(store_url, create=False)
    try:
        assert store.schema_version() == 5
    finally:
        store.close()


def test_a_missing_sqlite_file_opened_to_read_is_named_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "order-lifecycle.db"
    with pytest.raises(StoreNotFound) as raised:
        SqliteStore(path, create=False)
    assert str(raised.value) == f"no store in SQLite file {path}: the file does not exist"
    assert list(tmp_path.iterdir()) == []


def test_a_sqlite_file_that_holds_no_store_is_left_untouched_by_a_read(tmp_path: Path) -> None:
    """An SQLite database of something else is refused before any pragma writes to it."""
    path = tmp_path / "other.db"
    path.write_bytes(b"")
    with pytest.raises(StoreNotFound, match="no schema_version table"):
        SqliteStore(path, create=False)
    assert path.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


@pytest.mark.parametrize(
    ("make", "hint"),
    [
        (lambda tmp: tmp / "no-such-folder" / "orders.db", "(the folder {tmp}/no-such-folder"),
        (lambda tmp: tmp, "(it is a folder)"),
        (lambda tmp: _not_sqlite(tmp / "notes.db"), "file is not a database"),
    ],
    ids=["missing-folder", "a-folder", "not-sqlite"],
)
def test_a_sqlite_path_that_cannot_be_opened_is_named_with_why(
    tmp_path: Path, make: object, hint: str
) -> None:
    """SQLite says `unable to open database file`; the error adds which file and why."""
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(CannotOpenStore) as raised:
        open_store(f"sqlite:///{path}")
    assert str(raised.value).startswith(f"cannot open SQLite file {path}: ")
    assert hint.format(tmp=tmp_path) in str(raised.value)


def _not_sqlite(path: Path) -> Path:
    path.write_text("these are notes, not a database\n" * 20)
    return path


def _synchronous(store: SqliteStore) -> int:
    with store._transaction() as execute:
        row = execute("PRAGMA synchronous").fetchone()
    return int(row[0])


def test_sqlite_syncs_every_commit_by_default_and_the_url_can_say_normal(tmp_path: Path) -> None:
    """FULL (2) unless asked: a webhook answered 200 survives a power loss; NORMAL (1)
    is a choice made in the URL."""
    full = open_store(f"sqlite:///{tmp_path}/a.db")
    normal = open_store(f"sqlite:///{tmp_path}/b.db?synchronous=normal")
    try:
        assert isinstance(full, SqliteStore)
        assert isinstance(normal, SqliteStore)
        assert (full.synchronous, _synchronous(full)) == ("FULL", 2)
        assert (normal.synchronous, _synchronous(normal)) == ("NORMAL", 1)
        assert normal.path == f"{tmp_path}/b.db"
    finally:
        full.close()
        normal.close()


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("synchronous=SOMETIMES", "SOMETIMES"),
        ("sync=FULL", "sync"),
        ("synchronous=FULL&synchronous=OFF", "twice"),
    ],
)
def test_a_bad_sqlite_url_option_is_a_store_error_naming_it(
    tmp_path: Path, query: str, named: str
) -> None:
    from adapters.errors import StoreError

    with pytest.raises(StoreError, match=named):
        open_store(f"sqlite:///{tmp_path}/c.db?{query}")
    assert not (tmp_path / "c.db").exists()
