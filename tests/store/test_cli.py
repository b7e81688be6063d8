"""The `order-lifecycle` command line: replay, allowed, history, tick, dispatch, diagram,
sandbox and the demo, run as a user runs them."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tomllib
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from adapters.entrypoints.cli import (
    GraphvizMissing,
    _duration,
    _Progress,
    diagram,
    main,
)
from adapters.errors import SettingsError
from adapters.sandbox.demo import sample_lines
from adapters.settings import load_partners
from adapters.store import open_store
from lifecycle import TABLE
from tests.factories import T0
from tests.store.helpers import seed_detail, status_webhook

ROOT = Path(__file__).resolve().parents[2]
ORDER = "576461413038785752"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def write_inputs(path: Path) -> Path:
    lines = [
        json.dumps({"order_detail": seed_detail(ORDER), "shop_id": "S1"}),
        status_webhook(ORDER, "ON_HOLD", T0).decode(),
        status_webhook(ORDER, "ON_HOLD", T0).decode(),
        "{this is not json",
        json.dumps({"tick": "2026-11-20T10:31:00Z"}),
        json.dumps(
            {
                "command": "ship",
                "order_id": ORDER,
                "initiator": "SELLER",
                "at": "2026-11-20T12:00:00+00:00",
                "tracking_number": "1Z999",
                "shipping_provider_name": "UPS",
                "line_item_ids": ["L1"],
            }
        ),
        json.dumps(
            {
                "command": "cancel",
                "order_id": ORDER,
                "initiator": "SELLER",
                "at": "2026-11-20T13:00:00Z",
                "bogus": 1,
            }
        ),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_replay_json_prints_one_object_per_order_with_the_documented_keys(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path / "in.jsonl")
    code, out, err = run("replay", str(inputs), "--db", f"sqlite:///{tmp_path}/x.db", "--json")
    assert code == 1  # a line was rejected
    [document] = [json.loads(line) for line in out.splitlines()]
    assert list(document) == [
        "order_id",
        "status",
        "cancelled_after_shipped",
        "history",
        "effects",
        "rejected",
        "waiting",
    ]
    assert document["waiting"] == []
    assert document["status"] == "PARTIALLY_SHIPPING"
    assert document["cancelled_after_shipped"] is False
    assert [h["event"] for h in document["history"]] == ["pay", "release_hold", "ship"]
    assert set(document["history"][0]) == {"event", "from", "to", "initiator", "at"}
    assert document["history"][2]["from"] == "AWAITING_SHIPMENT"
    effects = document["effects"]
    assert [e["kind"] for e in effects] == [
        "CreateSfccOrder",
        "UpdateSfccShipping",
        "ShipTikTokPackage",
    ]
    assert effects[2]["tracking_number"] == "1Z999"
    assert effects[2]["line_item_ids"] == ["L1"]
    [rejected] = document["rejected"]
    assert rejected["line"] == 7
    assert rejected["error_type"] == "InvalidParameters"
    assert "bogus" in rejected["reason"]
    assert "line 4: BadLine: not JSON" in err
    assert err.endswith("order-lifecycle replay: 2 inputs were rejected (exit status 1)\n")


def test_replay_summary_counts_statuses_effects_and_rejections(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path / "in.jsonl")
    code, out, _ = run("replay", str(inputs), "--db", f"sqlite:///{tmp_path}/x.db")
    assert code == 1
    assert "1 duplicate" in out
    assert "PARTIALLY_SHIPPING" in out
    assert "ShipTikTokPackage" in out
    assert "inputs rejected (2)" in out
    assert out.endswith("\nexit status 1: 2 inputs were rejected\n")
    # Replaying the same file again changes nothing: every input is a duplicate.
    _, again, _ = run("replay", str(inputs), "--db", f"sqlite:///{tmp_path}/x.db", "--json")
    assert json.loads(again)["history"][-1]["event"] == "ship"


def test_a_terminal_summary_lists_twenty_rejections_and_json_gives_all(tmp_path: Path) -> None:
    """25 bad lines: 20 listed, then how many more; --json leaves none out (on stderr)."""
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(f"[{n}]\n" for n in range(25)))
    code, out, err = run("replay", str(inputs), "--db", f"sqlite:///{tmp_path}/x.db")
    assert code == 1
    listed = [line for line in out.splitlines() if line.startswith("  line ")]
    assert [line.split(":")[0] for line in listed] == [f"  line {n}" for n in range(1, 21)]
    assert "\n  ... and 5 more (--json for all)\n" in out
    assert out.endswith("exit status 1: 25 inputs were rejected\n")
    assert err.count("(skipped)") == 20
    assert "... more bad lines are skipped" in err
    code, out, err = run("replay", str(inputs), "--db", f"sqlite:///{tmp_path}/x.db", "--json")
    assert (code, out) == (1, "")
    assert err.count("(skipped)") == 25


def test_orders_by_status_counts_the_stored_orders_and_apart_those_never_stored(
    tmp_path: Path,
) -> None:
    """A webhook about an order never seeded names it, but it has no status to count:
    it waits for the order's detail, and the summary says so, per order."""
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(
        json.dumps({"order_detail": seed_detail(ORDER)})
        + "\n"
        + status_webhook("576461413000000099", "ON_HOLD", T0).decode()
        + "\n"
    )
    code, out, _ = run("replay", str(inputs), "--db", f"sqlite:///{tmp_path}/x.db")
    assert code == 0
    assert "\norders by status (1 orders)\n  UNPAID                    1\n" in out
    assert "\n  (not in the store)        1\n" in out
    assert "\ninputs still waiting (1)\n  order 576461413000000099: 1," in out
    assert "UnknownOrder" not in out


def test_a_webhook_before_its_orders_detail_applies_once_the_detail_is_read(
    tmp_path: Path,
) -> None:
    """A replay whose webhook comes first: it waits, the detail line seeds the order,
    the webhook applies; nothing is rejected and nothing stays waiting."""
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(
        status_webhook(ORDER, "ON_HOLD", T0).decode()
        + "\n"
        + json.dumps({"order_detail": seed_detail(ORDER)})
        + "\n"
    )
    db = f"sqlite:///{tmp_path}/x.db"
    code, out, _ = run("replay", str(inputs), "--db", db, "--json")
    assert code == 0
    [document] = [json.loads(line) for line in out.splitlines()]
    assert document["status"] == "ON_HOLD"
    assert document["rejected"] == []
    assert document["waiting"] == []
    assert [h["event"] for h in document["history"]] == ["pay"]
    code, out, _ = run("show", ORDER, "--db", db, "--json")
    shown = json.loads(out)
    assert code == 0
    assert {k: shown[k] for k in document} == document
    assert [line["line_item_id"] for line in shown["lines"]] == ["L1", "L2"]


def test_a_whole_get_order_detail_response_seeds_each_of_its_orders(tmp_path: Path) -> None:
    """A response line, bare or as the order_detail, seeds every order in `data.orders`."""
    response = {
        "code": 0,
        "message": "Success",
        "request_id": "202611201000",
        "data": {"orders": [seed_detail("A1"), seed_detail("A2")]},
    }
    wrapped = {"code": 0, "data": {"orders": [seed_detail("B1")]}}
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(
        json.dumps(response)
        + "\n"
        + json.dumps({"order_detail": wrapped, "shop_id": "S7"})
        + "\n"
        + json.dumps(response)  # the same orders again: duplicates, nothing new
        + "\n"
    )
    code, out, err = run("replay", str(inputs), "--db", f"sqlite:///{tmp_path}/x.db", "--json")
    assert (code, err) == (0, "")
    assert [json.loads(line)["order_id"] for line in out.splitlines()] == ["A1", "A2", "B1"]
    with open_store(f"sqlite:///{tmp_path}/x.db") as store:
        assert [store.load(o).shop_id for o in ("A1", "B1")] == [None, "S7"]  # type: ignore[union-attr]
    _, summary, _ = run("replay", str(inputs), "--db", f"sqlite:///{tmp_path}/y.db")
    assert summary.startswith("5 inputs: 3 applied, 2 duplicate\n")  # each order is an input


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"code": 36009003, "message": "Internal error", "data": {}}, "code 36009003"),
        ({"code": 0, "data": {"orders": {"id": "A1"}}}, "needs data.orders, a list"),
        ({"code": 0, "data": {"orders": [seed_detail("A1"), "A2"]}}, r"data.orders\[1\]"),
        (
            {"order_detail": {"code": 0, "data": {"orders": []}}, "extensions": {"a": 1}},
            "extensions belong to one order",
        ),
    ],
)
def test_a_response_that_is_not_a_successful_list_of_orders_is_a_bad_line(
    tmp_path: Path, line: dict[str, object], message: str
) -> None:
    """No order of such a line is seeded, and the message names what is wrong."""
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(json.dumps(line) + "\n")
    code, out, err = run("replay", str(inputs), "--db", f"sqlite:///{tmp_path}/x.db", "--json")
    assert (code, out) == (1, "")
    assert re.search(f"line 1: BadLine: .*{message}", err), err


def test_replay_lines_name_initiator_and_origin_in_any_case(tmp_path: Path) -> None:
    """`"initiator": "seller"` is SELLER, as `allowed --initiator seller` is; spellings dedupe."""
    cancel = {
        "command": "cancel",
        "order_id": ORDER,
        "at": "2026-11-20T09:40:00Z",
        "reason": "out of stock",
    }
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(
        "\n".join(
            [
                json.dumps({"order_detail": seed_detail(ORDER), "shop_id": "S1"}),
                status_webhook(ORDER, "ON_HOLD", T0).decode(),
                json.dumps({**cancel, "initiator": "seller", "origin": "oms"}),
                json.dumps({**cancel, "initiator": "SELLER", "origin": "OMS"}),
                json.dumps({**cancel, "initiator": "robot"}),
            ]
        )
        + "\n"
    )
    code, out, err = run("replay", str(inputs), "--db", f"sqlite:///{tmp_path}/x.db", "--json")
    assert code == 1  # the robot
    [document] = [json.loads(line) for line in out.splitlines()]
    assert document["status"] == "CANCELLED"
    assert document["history"][-1]["initiator"] == "SELLER"
    assert document["rejected"] == []
    assert "line 5: BadLine: unknown initiator 'robot'; expected one of BUYER, SELLER" in err
    _, summary, _ = run("replay", str(inputs), "--db", f"sqlite:///{tmp_path}/y.db")
    assert "1 duplicate" in summary


class Terminal(io.StringIO):
    """What the progress bar writes to when stderr is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_shows_count_rate_and_time_left_redrawn_at_most_every_interval() -> None:
    now = [100.0]
    terminal = Terminal()
    progress = _Progress(400, terminal, clock=lambda: now[0], interval=0.5, columns=100)
    progress(1)  # the first line starts the clock
    for done, at in ((2, 100.2), (100, 102.0), (101, 102.1), (200, 104.0)):
        now[0] = at
        progress(done)
    frames = terminal.getvalue().split("\r")[1:]
    assert [frame.split("] ")[1] for frame in frames] == [
        "1/400 0 lines/s, ?:?? left\x1b[K",
        "100/400 50 lines/s, 0:06 left\x1b[K",  # 2 and 101 came too soon after a redraw
        "200/400 50 lines/s, 0:04 left\x1b[K",
    ]
    assert frames[2].startswith("[" + "#" * 20 + "." * 20 + "] ")
    progress.note("line 7: BadLine: not JSON (skipped)\n")
    now[0] = 108.0
    progress(400)  # the last line is always drawn
    progress.close()
    tail = terminal.getvalue().split("\r")[4:]
    assert tail[0] == "\x1b[Kline 7: BadLine: not JSON (skipped)\n"
    assert tail[1].endswith("200/400 50 lines/s, 0:04 left\x1b[K")  # the bar, drawn again
    assert tail[-1].endswith("400/400 50 lines/s, took 0:08\x1b[K\n")


def test_no_progress_is_drawn_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    """Piped output stays as parsable as before: messages only, no carriage returns."""
    piped = io.StringIO()
    progress = _Progress(10, piped)
    progress(10)
    progress.note("line 1: BadLine: x (skipped)\n")
    progress.close()
    assert piped.getvalue() == "line 1: BadLine: x (skipped)\n"
    inputs = write_inputs(tmp_path / "in.jsonl")
    _, out, err = run("replay", str(inputs), "--db", f"sqlite:///{tmp_path}/x.db")
    assert "\r" not in err + out
    assert err.startswith("line 4: BadLine: not JSON")


def test_replay_on_a_terminal_draws_the_bar_on_stderr_around_the_bad_lines(
    tmp_path: Path,
) -> None:
    inputs = write_inputs(tmp_path / "in.jsonl")
    out, terminal = io.StringIO(), Terminal()
    main(["replay", str(inputs), "--db", f"sqlite:///{tmp_path}/x.db"], out, terminal)
    assert "\r\x1b[Kline 4: BadLine: not JSON" in terminal.getvalue()
    assert re.search(r"\] 7/7 [\d,]+ lines/s, took 0:\d\d\x1b\[K\n$", terminal.getvalue())
    assert out.getvalue().startswith("7 inputs: ")


def test_durations_read_as_hours_minutes_and_seconds() -> None:
    assert [_duration(s) for s in (None, 0, 59.4, 61, 3600 * 2 + 5)] == [
        "?:??",
        "0:00",
        "0:59",
        "1:01",
        "2:00:05",
    ]


def test_allowed_history_and_tick_read_the_same_database(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/x.db"
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(
        json.dumps({"order_detail": seed_detail(ORDER), "shop_id": "S1"})
        + "\n"
        + status_webhook(ORDER, "ON_HOLD", T0).decode()
        + "\n"
    )
    assert run("replay", str(inputs), "--db", db)[0] == 0  # nothing rejected
    code, out, _ = run(
        "allowed", ORDER, "--initiator", "seller", "--db", db, "--now", "2026-11-20T09:40:00Z"
    )
    assert code == 0
    assert "ON_HOLD" in out
    assert "seller   may cancel" in out
    assert "not release_hold: seller cannot release_hold: order is ON_HOLD" in out
    code, out, _ = run("tick", "--now", "2026-11-20T10:31:00+00:00", "--db", db)
    assert (code, out.splitlines()[0]) == (0, f"{ORDER}: version 2: CreateSfccOrder")
    code, out, _ = run("history", ORDER, "--db", db)
    assert code == 0
    assert "release_hold" in out
    assert "CreateSfccOrder" in out
    code, _, err = run("history", "missing", "--db", db)
    assert code == 2
    assert "order missing is not in the store" in err


def test_dispatch_needs_to_know_where_the_partners_are(tmp_path: Path) -> None:
    code, _, err = run("dispatch", "--once", "--db", f"sqlite:///{tmp_path}/x.db")
    assert code == 2
    assert "--partners FILE.json" in err
    partners = tmp_path / "partners.json"
    partners.write_text(json.dumps({"sfcc": {"base_url": "https://x", "site_id": "s"}}))
    code, _, err = run(
        "dispatch", "--once", "--partners", str(partners), "--db", f"sqlite:///{tmp_path}/x.db"
    )
    assert code == 2
    assert "bad partner settings" in err


def test_a_partners_file_with_an_sfcc_section_loads_its_durations_as_config_files_give_them(
    tmp_path: Path,
) -> None:
    """SfccSettings has a timedelta (`token_margin`): the partners file could not name SFCC."""
    sfcc = {"base_url": "https://x.example", "site_id": "S", "client_id": "c", "client_secret": "s"}
    path = tmp_path / "partners.json"
    path.write_text(json.dumps({"sfcc": sfcc}))
    loaded = load_partners(path).sfcc
    assert loaded is not None
    assert loaded.token_margin == timedelta(seconds=60)
    path.write_text(json.dumps({"sfcc": {**sfcc, "token_margin": "2m"}}))
    assert load_partners(path).sfcc.token_margin == timedelta(minutes=2)  # type: ignore[union-attr]
    path.write_text(json.dumps({"sfcc": {**sfcc, "token_margin": "soon"}}))
    with pytest.raises(SettingsError, match="bad partner settings"):
        load_partners(path)


def test_diagram_is_drawn_from_the_compiled_machine() -> None:
    mermaid = diagram("mermaid")
    assert mermaid.startswith("stateDiagram-v2\n    [*] --> UNPAID\n")
    edges = dict(re.findall(r"^    (\w+ --> \w+): (.+)$", mermaid, re.MULTILINE))
    for (source, event), entries in TABLE.items():
        for entry in entries:
            if entry.target is not source:  # events that keep the status are not drawn
                assert event in edges[f"{source.value} --> {entry.target.value}"].split(", ")
    dot = diagram("dot")
    assert dot.startswith("digraph OrderLifecycle {")
    assert 'ON_HOLD -> AWAITING_SHIPMENT [label="release_hold"]' in dot


def test_svg_without_graphviz_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(GraphvizMissing, match="apt-get install graphviz"):
        diagram("svg")
    code, out, err = run("diagram", "--format", "svg")
    assert (code, out) == (2, "")
    assert "GraphvizMissing" in err


def test_the_console_script_is_declared_and_python_m_works() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["order-lifecycle"] == "adapters.entrypoints.cli:main"
    result = subprocess.run(
        [sys.executable, "-m", "adapters", "--help"], capture_output=True, text=True, check=True
    )
    for command in (
        "replay",
        "allowed",
        "history",
        "changes",
        "dispatch",
        "tick",
        "diagram",
        "sandbox",
        "demo",
    ):
        assert command in result.stdout


def test_the_sandbox_command_serves_every_partner_on_one_local_port() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters", "sandbox", "--seconds", "60"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("sandbox listening on http://127.0.0.1:")
        url = first.split()[-1]
        token = httpx.post(
            url + "/dwsso/oauth2/access_token",
            data={"grant_type": "client_credentials"},
            auth=("sandbox-client", "sandbox-secret"),
        )
        assert token.json()["token_type"] == "Bearer"
        unsigned = httpx.get(url + "/order/202309/orders", params={"ids": "1"})
        assert unsigned.json()["message"] == "invalid app_key"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_the_bundled_sample_covers_every_path_of_the_rules() -> None:
    lines = [json.loads(line) for line in sample_lines()]
    webhooks = [line for line in lines if "type" in line]
    assert all({"type", "shop_id", "timestamp", "data"} <= line.keys() for line in webhooks)
    assert len({line["order_detail"]["id"] for line in lines if "order_detail" in line}) >= 40
    assert {line["command"] for line in lines if "command" in line} >= {
        "ship",
        "cancel",
        "approve_cancellation",
        "reject_cancellation",
        "approve_return",
    }
    made = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_demo_sample.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert "wrote" in made.stdout
    assert sample_lines() == [json.dumps(line, separators=(",", ":")) for line in lines]


def test_demo_runs_the_live_loop_against_the_sandbox_with_no_dead_letters(tmp_path: Path) -> None:
    """The demo's store learns every order by reading the fake TikTok Shop: webhooks about
    unknown orders wait, the reader's answers apply them, every effect is delivered."""
    result = subprocess.run(
        [sys.executable, "-m", "adapters", "demo"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "; 0 dead letters" in out
    assert "holds the sample's 44 orders; the store holds none of them" in out
    # First seen ON_HOLD (TikTok's answer to the first read): no `pay` in the store.
    # The buyer cancels in the hold: no partner call, only the OMS's three actions.
    assert re.search(r"CANCELLED +1 +3  cancel\n", out), "the buyer cancels in the hold"
    # The OMS side: every action produced was pushed, signed, and taken once.
    oms = re.search(
        r"OMS actions: (\d+) produced, (\d+) taken by the sandbox OMS .* 0 refused", out
    )
    assert oms is not None, out
    assert oms[1] == oms[2]
    assert "reserve_inventory > stop_fulfilment(00000701) > release_inventory(00000701)\n" in out
    assert "expect_return(00003701,00003702) > refund_issued(00003701,00003702) > close" in out
    assert "OMS (sandbox)                  POST /sandbox/oms/actions" in out
    for path in (
        "release_hold > request_cancellation > approve_cancellation",
        "request_cancellation > reject_cancellation > ship",
        "release_hold > cancel",  # seller, TikTok fraud, SLA
        "request_cancellation > cancel",  # the seller cancels with a request pending
        "cancel (after shipped)",
        "ship x2",
        "request_return > approve_return > ship_return > receive_return > refund > complete",
    ):
        assert path in out, path
    for call in (
        "OrderCreate-Social",
        "/ship",
        "/cancellations/{cancel_id}/approve",
        "GET /order/202309/orders",
        "/cancellations/search",
        "/returns/search",
    ):
        assert call in out, call
    reads = re.search(
        r"reads: (\d+) done \(.*\) in (\d+) calls .* 0 dead;.*still waiting: 0\n", out
    )
    assert reads is not None, out
    assert int(reads[1]) > int(reads[2]), "reads of orders placed together are batched"
    waited = re.search(r"\n  (\d+) of them waited for what TikTok had to be asked", out)
    assert waited is not None
    assert int(waited[1]) >= 44, "every order's first webhook waited"
    # A retail shop reports to neither TikTok feed unless its policy says so.
    assert "sync_order_info" not in out
    assert "event/track" not in out
    assert "UnknownValue" in out
    store = open_store(f"sqlite:///{tmp_path}/order-lifecycle-demo.db")
    try:
        details = [e for e in store.inbox() if e.kind == "order_detail"]
        read = [job for job in store.reads() if job.kind.value == "order_detail"]
        assert len(store.orders()) == 44
        # Every order detail in the store is an answer of Get Order Detail, none seeded by hand.
        assert {e.order_id for e in details} == {job.target for job in read}
        assert all(job.status.value == "done" for job in store.reads())
        assert store.waiting() == []
    finally:
        store.close()
    assert (tmp_path / "order-lifecycle-demo.db").exists()
    history = subprocess.run(
        [
            sys.executable,
            "-m",
            "adapters",
            "history",
            "576461413000000001",
            "--db",
            "sqlite:///order-lifecycle-demo.db",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert "sfcc_order_no" in history.stdout
