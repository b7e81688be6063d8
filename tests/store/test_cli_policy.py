"""The command line sets the lifecycle policy: `--config FILE.toml`, `$ORDER_LIFECYCLE_CONFIG`,
and the partners file's `"policy"`; a plain retail shop's orders end with no dead letter."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from adapters.entrypoints.cli import main
from adapters.partners.tiktok_shop import webhook_signature
from adapters.sandbox.demo import sample_lines
from adapters.sandbox.local_partners import local_partners
from adapters.service import OrderService
from adapters.settings import CONFIG_ENV
from adapters.store import OutboxStatus, open_store
from tests.factories import T0
from tests.store.helpers import SHOP, seed_detail, status_webhook

ORDER = "576461413038785752"
LIFECYCLE_COMMANDS = ("replay", "allowed", "tick", "work", "serve", "dispatch", "demo")
REPORT_SYNC = "[policy]\nreport_sync_order_info = true\n"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def config(tmp_path: Path, text: str, name: str = "lifecycle.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def cancelled_inputs(tmp_path: Path) -> str:
    """An order paid, then cancelled by the seller in the hold: the end Sync Order
    Information would hear of."""
    path = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"order_detail": seed_detail(ORDER), "shop_id": SHOP}),
        status_webhook(ORDER, "ON_HOLD", T0).decode(),
        json.dumps(
            {
                "command": "cancel",
                "order_id": ORDER,
                "initiator": "SELLER",
                "at": (T0 + timedelta(minutes=20)).isoformat(),
            }
        ),
    ]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def kinds_after_replay(*argv: str) -> list[str]:
    code, out, err = run("replay", *argv, "--json")
    assert code == 0, err
    [document] = [json.loads(line) for line in out.splitlines()]
    return [effect["kind"] for effect in document["effects"]]


@pytest.mark.parametrize("command", LIFECYCLE_COMMANDS)
def test_every_command_that_applies_the_lifecycle_takes_config(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "--config FILE.toml" in capsys.readouterr().out


def test_replay_reports_to_sync_order_info_only_when_the_config_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    inputs = cancelled_inputs(tmp_path)
    assert kinds_after_replay(inputs, "--db", f"sqlite:///{tmp_path}/a.db") == ["CancelTikTokOrder"]
    reporting = config(tmp_path, REPORT_SYNC)
    assert kinds_after_replay(
        inputs, "--db", f"sqlite:///{tmp_path}/b.db", "--config", reporting
    ) == ["CancelTikTokOrder", "SyncOrderInfo"]
    # The environment names the file when --config does not; --config '' means none.
    monkeypatch.setenv(CONFIG_ENV, reporting)
    assert "SyncOrderInfo" in kinds_after_replay(inputs, "--db", f"sqlite:///{tmp_path}/c.db")
    assert kinds_after_replay(inputs, "--db", f"sqlite:///{tmp_path}/d.db", "--config", "") == [
        "CancelTikTokOrder"
    ]


def test_allowed_and_tick_judge_under_the_configured_windows(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/x.db"
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(
        json.dumps({"order_detail": seed_detail(ORDER), "shop_id": SHOP})
        + "\n"
        + status_webhook(ORDER, "ON_HOLD", T0).decode()
        + "\n"
    )
    assert run("replay", str(inputs), "--db", db)[0] == 0
    short, long = (
        config(tmp_path, '[policy]\nhold = "10m"\n'),
        config(tmp_path, '[policy]\nhold = "2h"\n', "long.toml"),
    )
    asked = ("allowed", ORDER, "--now", "2026-11-20T09:45:00Z", "--db", db)
    assert "platform may cancel\n" in run(*asked)[1]
    assert "platform may release_hold, cancel\n" in run(*asked, "--config", short)[1]
    at = ("tick", "--now", "2026-11-20T10:31:00Z", "--db", db)
    assert run(*at, "--config", long)[1].endswith(
        "0 orders had timers due at 2026-11-20T10:31:00+00:00\n"
    )
    code, out, _ = run(*at)
    assert (code, out.splitlines()[0]) == (0, f"{ORDER}: version 2: CreateSfccOrder")


def _signed(body: bytes) -> dict[str, str]:
    return {"Authorization": webhook_signature(body, "key", "secret")}


def _cancelled_by_tiktok(sent: datetime) -> bytes:
    """TikTok cancels the order (fraud), in an envelope signed at `sent`."""
    envelope = json.loads(status_webhook(ORDER, "CANCELLED", T0 + timedelta(hours=2)))
    envelope["timestamp"] = int(sent.timestamp())
    return json.dumps(envelope).encode()


def test_work_applies_the_inbox_under_the_configured_policy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    store = open_store(url)
    try:
        intake = OrderService(
            store, clock=lambda: T0 + timedelta(hours=3), app_key="key", app_secret="secret"
        )
        intake.seed(seed_detail(ORDER), shop_id=SHOP)
        body = _cancelled_by_tiktok(T0 + timedelta(hours=3))
        assert not intake.accept_webhook(body, _signed(body)).duplicate
        code, out, err = run(
            "work", "--once", "--db", url, "--config", config(tmp_path, REPORT_SYNC)
        )
        assert (code, out) == (0, "processed 1 inputs: 1 applied\ninputs waiting: 0\n"), err
        assert [e.kind for e in store.outbox(ORDER)] == ["SyncOrderInfo"]
    finally:
        store.close()


def test_serve_inline_applies_each_webhook_under_the_configured_policy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    store = open_store(url)
    OrderService(store).seed(seed_detail(ORDER), shop_id=SHOP)
    store.close()
    env = {
        "PATH": "/usr/bin:/bin",
        "TIKTOK_APP_KEY": "key",
        "TIKTOK_APP_SECRET": "secret",
        CONFIG_ENV: config(tmp_path, REPORT_SYNC),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adapters",
            "serve",
            "--inline",
            "--port",
            "0",
            "--seconds",
            "60",
            "--db",
            url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        listening = re.search(r"listening on (http://\S+)", first)
        assert listening, first + (process.stderr.read() if process.stderr else "")
        body = _cancelled_by_tiktok(datetime.now(UTC))
        answer = httpx.post(listening.group(1), content=body, headers=_signed(body))
        assert answer.status_code == 200, answer.text
    finally:
        process.terminate()
        process.communicate(timeout=30)
    store = open_store(url)
    try:
        assert [e.kind for e in store.outbox(ORDER)] == ["SyncOrderInfo"]
    finally:
        store.close()


@pytest.mark.parametrize("command", LIFECYCLE_COMMANDS)
def test_a_bad_config_is_one_line_naming_the_key_exit_2_before_the_database_is_touched(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOK_APP_KEY", "key")
    monkeypatch.setenv("TIKTOK_APP_SECRET", "secret")
    monkeypatch.chdir(tmp_path)
    bad = config(tmp_path, '[policy]\nreport_events_api = true\nship_by = "two weeks"\n')
    argv = {
        "replay": ["replay", cancelled_inputs(tmp_path)],
        "allowed": ["allowed", ORDER],
        "dispatch": ["dispatch", "--once", "--sandbox", "http://127.0.0.1:9"],
        "demo": ["demo", "--db-file", "demo.db"],
    }.get(command, [command])
    db = [] if command == "demo" else ["--db", "sqlite:///x.db"]
    code, out, err = run(*argv, *db, "--config", bad)
    assert (code, out) == (2, "")
    assert err == (
        f"order-lifecycle {command}: SettingsError: {bad}: policy.ship_by: 'two weeks' is not"
        " a duration; give seconds as a number (3600) or a number and a unit s, m, h, d"
        ' ("30m", "48h", "15d")\n'
    )
    assert not list(tmp_path.glob("*.db"))


def test_dispatch_reads_the_partners_files_policy_and_refuses_reports_it_cannot_deliver(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path}/x.db"
    partners = tmp_path / "partners.json"
    sfcc = {"base_url": "https://x.example", "site_id": "S", "client_id": "c", "client_secret": "s"}
    partners.write_text(json.dumps({"sfcc": sfcc, "policy": {"report_events_api": True}}))
    code, _, err = run("dispatch", "--once", "--partners", str(partners), "--db", db)
    assert code == 2
    assert err == (
        "order-lifecycle dispatch: SettingsError: the policy reports to the Events API"
        " (report_events_api = true) but the partner settings have no events_api section\n"
    )
    # The same file's policy can serve the lifecycle commands too (--config FILE.json).
    assert "SyncOrderInfo" not in kinds_after_replay(
        cancelled_inputs(tmp_path), "--db", db, "--config", str(partners)
    )
    # A config file and the partners file that disagree: refused, not guessed.
    code, _, err = run(
        "dispatch",
        "--once",
        "--partners",
        str(partners),
        "--db",
        db,
        "--config",
        config(tmp_path, REPORT_SYNC),
    )
    assert code == 2
    assert "both set the policy and disagree on report_sync_order_info, report_events_api" in err


def _retail_sample(tmp_path: Path) -> tuple[Path, list[str]]:
    """The bundled sample as a plain retail OMS sends it: no hotel stay anywhere."""
    lines = []
    for text in sample_lines():
        line = json.loads(text)
        line.pop("extensions", None)
        lines.append(json.dumps(line))
    path = tmp_path / "retail.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, lines


def test_a_plain_retail_sample_replayed_and_dispatched_ends_with_no_dead_letter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's check: retail orders never reach Sync Order Information by default."""
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    sample, lines = _retail_sample(tmp_path)
    db = f"sqlite:///{tmp_path}/retail.db"
    with local_partners() as partners:
        for text in lines:
            partners.know(json.loads(text))
        replayed = run("replay", str(sample), "--db", db)
        assert replayed[0] == 1, "the sample's one deliberate bad status is rejected"
        assert "\ninputs rejected (1)\n" in replayed[1]
        assert "'AWAITING_PICKUP'" in replayed[1]
        code, out, err = run("dispatch", "--once", "--sandbox", partners.url, "--db", db)
        assert code == 0, out + err
        assert out.endswith("dead letters 0 (dead letters in the store: 0)\n")
        assert not partners.reporting.order_infos


def test_a_retail_shop_that_opts_into_sync_order_info_gets_the_stay_it_lacks_refused(
    tmp_path: Path,
) -> None:
    """Opting in is the shop's choice, and the feed still wants a hotel stay."""
    sample, lines = _retail_sample(tmp_path)
    db = f"sqlite:///{tmp_path}/retail.db"
    with local_partners() as partners:
        for text in lines:
            partners.know(json.loads(text))
        replayed = run("replay", str(sample), "--db", db, "--config", config(tmp_path, REPORT_SYNC))
        assert replayed[0] == 1
        assert "\ninputs rejected (1)\n" in replayed[1]
        code, _, _ = run(
            "dispatch", "--once", "--sandbox", partners.url, "--db", db, "--max-attempts", "1"
        )
    assert code == 1
    store = open_store(db)
    try:
        dead = store.outbox(status=OutboxStatus.DEAD)
    finally:
        store.close()
    assert dead
    assert {entry.kind for entry in dead} == {"SyncOrderInfo"}
    assert all("extra.length_of_stay: missing" in entry.last_error for entry in dead)


def test_the_demo_runs_under_the_configured_policy(tmp_path: Path) -> None:
    reporting = config(tmp_path, "[policy]\nreport_events_api = true\n")
    result = subprocess.run(
        [sys.executable, "-m", "adapters", "demo", "--config", reporting],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TikTok Events API" in result.stdout
    assert "sync_order_info" not in result.stdout
    assert "; 0 dead letters\n" in result.stdout
