"""`order-lifecycle changes`: the change feed as text or JSON Lines, from a cursor on."""

from __future__ import annotations

import io
import json
from pathlib import Path

from adapters.entrypoints.cli import main
from tests.factories import T0
from tests.store.helpers import seed_detail, status_webhook

ORDER = "576461413038785752"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def _replayed(tmp_path: Path) -> str:
    """A scenario replayed: paid, the hold over, then the buyer cancels one line of two."""
    lines = [
        {"order_detail": seed_detail(ORDER), "shop_id": "S1"},
        json.loads(status_webhook(ORDER, "ON_HOLD", T0)),
        {"tick": "2026-11-20T10:31:00Z"},
        {"command": "request_cancellation", "order_id": ORDER, "initiator": "BUYER"}
        | {"at": "2026-11-20T11:00:00Z", "cancel_id": "C1", "line_item_ids": ["L1"]},
        {"command": "approve_cancellation", "order_id": ORDER, "initiator": "SELLER"}
        | {"at": "2026-11-20T11:05:00Z", "origin": "TIKTOK"},
    ]
    path = tmp_path / "inputs.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    db = f"sqlite:///{tmp_path / 'store.db'}"
    code, _, err = run("replay", str(path), "--db", db)
    assert code == 0, err
    return db


def test_changes_json_lists_each_transition_with_its_actions_in_commit_order(
    tmp_path: Path,
) -> None:
    db = _replayed(tmp_path)
    code, out, _ = run("changes", "--json", "--db", db)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["cursor"] for row in rows] == [1, 2, 3, 4, 5]
    assert list(rows[0]) == [
        "cursor",
        "order_id",
        "version",
        "event",
        "source",
        "target",
        "initiator",
        "origin",
        "at",
        "actions",
    ]
    assert [(row["event"], [a["what"] for a in row["actions"]]) for row in rows] == [
        ("first_seen", []),
        ("pay", ["reserve_inventory"]),
        ("release_hold", ["release_for_fulfilment"]),
        ("request_cancellation", []),
        ("approve_cancellation", ["stop_fulfilment", "release_inventory"]),
    ]
    stop, release = rows[4]["actions"]
    assert [line["line_item_id"] for line in stop["lines"]] == ["L1"]
    assert [line["line_item_id"] for line in release["lines"]] == ["L1"]
    assert stop["idempotency_key"] != release["idempotency_key"]
    assert release["lines"][0]["quantity"] == 1
    assert stop["return_id"] is None
    assert rows[1]["at"] == "2026-11-20T09:30:00+00:00"


def test_changes_after_a_cursor_and_as_text(tmp_path: Path) -> None:
    db = _replayed(tmp_path)
    code, out, _ = run("changes", "--after", "3", "--db", db)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("#4 ")
    assert "approve_cancellation" in lines[1]
    assert "stop_fulfilment L1; release_inventory L1" in lines[1]


def test_changes_refuses_bad_arguments_and_a_missing_store(tmp_path: Path) -> None:
    db = _replayed(tmp_path)
    code, _, err = run("changes", "--after", "-1", "--db", db)
    assert code == 2
    assert "--after is a cursor, 0 or more; got -1" in err
    code, _, err = run("changes", "--follow", "--interval", "0", "--db", db)
    assert code == 2
    assert "--interval" in err
    code, _, err = run("changes", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert code == 2
    assert "StoreNotFound" in err


def test_changes_follow_stops_after_its_time_with_everything_printed(tmp_path: Path) -> None:
    db = _replayed(tmp_path)
    code, out, _ = run("changes", "--follow", "--interval", "0.01", "--seconds", "0.2", "--db", db)
    assert code == 0
    assert len(out.splitlines()) == 5
