"""The command line where a new user first trips: stores that are missing or cannot be
opened, a bad `--now`, a missing extra, and partner retries during `dispatch`."""

from __future__ import annotations

import argparse
import io
import json
import logging
import re
import sys
from pathlib import Path

import pytest
import stamina

from adapters.entrypoints.cli import NOW_HELP, _parser, main
from tests.factories import T0
from tests.store.helpers import seed_detail, status_webhook
from tests.store.test_opening import PASSWORD, closed_port

ROOT = Path(__file__).resolve().parents[2]
ORDER = "576461413038785752"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def commands_with(option: str) -> dict[str, argparse.ArgumentParser]:
    """Every subcommand of `order-lifecycle` that takes `option`."""
    subparsers = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {
        name: sub
        for name, sub in subparsers.choices.items()
        if any(option in action.option_strings for action in sub._actions)
    }


def positionals(sub: argparse.ArgumentParser) -> list[str]:
    return ["X" for a in sub._actions if not a.option_strings and a.dest != "help"]


@pytest.mark.parametrize("command", ["history", "allowed"])
def test_read_only_commands_in_an_empty_folder_create_no_store(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`history` and `allowed` with the default database, where there is none: one line
    naming the file they looked for, exit status 2, and the folder stays empty."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ORDER_LIFECYCLE_DB", raising=False)
    code, out, err = run(command, ORDER)
    assert (code, out) == (2, "")
    assert err.startswith(f"order-lifecycle {command}: StoreNotFound: no store in SQLite file")
    assert str(tmp_path / "order-lifecycle.db") in err
    assert "creates none" in err
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_read_only_commands_read_a_store_that_exists(tmp_path: Path) -> None:
    """The refusal is only for missing stores: once replay made one, history reads it."""
    db = f"sqlite:///{tmp_path}/orders.db"
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(
        json.dumps({"order_detail": seed_detail(ORDER), "shop_id": "S1"})
        + "\n"
        + status_webhook(ORDER, "ON_HOLD", T0).decode()
        + "\n"
    )
    assert run("replay", str(inputs), "--db", db)[0] == 0
    code, out, _ = run("history", ORDER, "--db", db)
    assert code == 0
    assert out.startswith(f"order {ORDER}: ON_HOLD, version 1\n")


def test_a_sqlite_path_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    """Not SQLite's bare `unable to open database file`: which file, and why."""
    path = tmp_path / "no-such-folder" / "orders.db"
    code, _, err = run("tick", "--db", f"sqlite:///{path}")
    assert code == 2
    assert err == (
        f"order-lifecycle tick: CannotOpenStore: cannot open SQLite file {path}:"
        f" unable to open database file (the folder {path.parent} does not exist)\n"
    )


@pytest.mark.parametrize("command", ["history", "tick", "dispatch"])
def test_an_unreachable_postgresql_is_one_line_with_host_and_port(command: str) -> None:
    """No pool retrying for 30 s and no psycopg blocks: one line, the server named, no
    password; the same for commands that read and commands that write."""
    port = closed_port()
    args = [command, *(["X"] if command == "history" else [])]
    if command == "dispatch":
        args += ["--once", "--sandbox", f"http://127.0.0.1:{closed_port()}"]
    code, out, err = run(*args, "--db", f"postgresql://oms:{PASSWORD}@127.0.0.1:{port}/oms")
    assert (code, out) == (2, "")
    assert err == (
        f"order-lifecycle {command}: CannotOpenStore: cannot open PostgreSQL at"
        f" 127.0.0.1:{port}: Connection refused\n"
    )


def test_every_command_with_now_explains_it_and_refuses_a_bad_one_by_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--now yesterday` is a BadTime that says what a good value looks like, before any
    store is opened, on each command that has `--now`; each one's help says the format."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ORDER_LIFECYCLE_DB", raising=False)
    assert "ISO-8601 time with a zone" in NOW_HELP
    commands = commands_with("--now")
    assert {"allowed", "tick"} <= set(commands)
    for name, sub in commands.items():
        [now] = [a for a in sub._actions if "--now" in a.option_strings]
        assert now.help == NOW_HELP
        for value, problem in [
            ("yesterday", "is not an ISO-8601 time"),
            ("2026-11-20T10:00", "has no zone"),
        ]:
            code, out, err = run(name, *positionals(sub), "--now", value)
            assert (code, out) == (2, ""), name
            assert err == (
                f"order-lifecycle {name}: BadTime: --now {value!r} {problem}: give an ISO-8601"
                " time with a zone, such as 2026-11-20T09:30:00Z or 2026-11-20T10:30:00+01:00\n"
            )
    assert list(tmp_path.iterdir()) == []


def test_serve_without_uvicorn_names_the_install_command_that_works_from_a_checkout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The package is not on any registry: the hint is pip's editable install of the extra."""
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # `import uvicorn` raises ImportError
    code, _, err = run("serve")
    assert code == 2
    assert "python -m pip install -e '.[serve]'" in err
    assert "tiktok-order-lifecycle[serve]" not in err


def test_dispatch_says_each_partner_retry_in_one_readable_line(tmp_path: Path) -> None:
    """stamina's bare `stamina.retry_scheduled` lines are replaced, while dispatch runs, by
    one line per retry through the `adapters.retry` logger, beside the effect's one line;
    stamina's hooks and the logger are as they were afterwards."""
    db = f"sqlite:///{tmp_path}/orders.db"
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(
        json.dumps({"order_detail": seed_detail(ORDER), "shop_id": "S1"})
        + "\n"
        + status_webhook(ORDER, "ON_HOLD", T0).decode()
        + "\n"
        + json.dumps({"tick": "2026-11-20T10:31:00Z"})
        + "\n"
    )
    assert run("replay", str(inputs), "--db", db)[0] == 0
    hooks = stamina.instrumentation.get_on_retry_hooks()
    logger = logging.getLogger("adapters")
    handlers, level = list(logger.handlers), logger.level
    nowhere = f"http://127.0.0.1:{closed_port()}"
    code, out, err = run(
        "dispatch", "--once", "--sandbox", nowhere, "--max-attempts", "1", "--db", db
    )
    assert code == 1
    assert "dead letters 1" in out
    assert "stamina" not in err
    lines = err.splitlines()
    retries = [line for line in lines if " adapters.effects " not in line]
    assert retries
    for line in retries:
        assert re.fullmatch(
            r"\S+ \S+ adapters\.retry RetryableError: sfcc: connection failed: ConnectError;"
            r" retry \d+ in \d+\.\d\d s",
            line,
        ), line
    # Then the effect's own line, once, when its attempt ended.
    [effect] = [line for line in lines if " adapters.effects " in line]
    assert " kind=CreateSfccOrder outcome=dead attempt=1 error_type=RetryableError " in effect
    assert stamina.instrumentation.get_on_retry_hooks() == hooks
    assert (logger.handlers, logger.level) == (handlers, level)


def console_example(page: str, command: str) -> list[str]:
    """The output lines a page's ```console block shows under `$ command`."""
    text = (ROOT / "docs" / page).read_text()
    block = re.search(rf"```console\n\$ {re.escape(command)}\n(.*?)```", text, re.DOTALL)
    assert block is not None, f"{page} shows no `$ {command}`"
    return block.group(1).splitlines()


def shown_as(example: list[str], real: list[str]) -> bool:
    """Whether `example` is `real` with runs of lines cut to `...` (head and tail kept)."""
    pattern = "".join(
        r"(?:.*\n)*?" if line.strip() == "..." else re.escape(line) + r"\n" for line in example
    )
    return re.fullmatch(pattern, "".join(f"{line}\n" for line in real)) is not None


def test_the_documented_diagram_is_the_commands_real_output() -> None:
    """docs/cli.md's `order-lifecycle diagram` example, `...` aside, is what it prints:
    no guards in brackets, which the command does not draw."""
    code, out, _ = run("diagram")
    assert code == 0
    example = console_example("cli.md", "order-lifecycle diagram")
    assert any(line.strip() == "..." for line in example)
    assert shown_as(example, out.splitlines())
    assert not shown_as(
        ["stateDiagram-v2", "    UNPAID --> ON_HOLD : pay [x]", "..."], out.splitlines()
    )


def test_serve_answers_without_waiting_for_nagle() -> None:
    """asyncio sets TCP_NODELAY only on sockets made with the TCP protocol named; the
    socket `serve` hands uvicorn must be one, or every answer (headers, then body)
    waits for the client's delayed acknowledgement."""
    import asyncio
    import socket

    from adapters.entrypoints.cli import listening_socket

    sock = listening_socket("127.0.0.1", 0, 8)
    port = sock.getsockname()[1]
    seen: list[int] = []

    async def main() -> None:
        accepted = asyncio.Event()

        class Note(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                peer = transport.get_extra_info("socket")
                seen.append(peer.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                accepted.set()

        server = await asyncio.get_running_loop().create_server(Note, sock=sock)
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.wait_for(accepted.wait(), 10)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    assert seen
    assert seen[0] != 0
