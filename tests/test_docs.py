"""The docs are generated from the machine and name only rules that exist."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from lifecycle import EVENTS, TABLE, OrderMachine, OrderStatus, _diagram
from lifecycle._rules import GUARDS

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import mkdocs_hooks  # noqa: E402


def test_every_generated_section_is_filled_and_names_exist() -> None:
    """No page keeps a marker after rendering, and an unknown marker fails loudly."""
    for page in (ROOT / "docs").glob("**/*.md"):
        assert "<!-- generated:" not in mkdocs_hooks.render(page.read_text()), page
    with pytest.raises(KeyError, match="unknown generated section"):
        mkdocs_hooks.render("<!-- generated: nonsense -->")


def test_diagram_draws_every_state_and_every_status_changing_transition() -> None:
    """The diagram is the machine's: its states and its transitions, nothing else."""
    machine_states = {OrderStatus(state.value) for state in OrderMachine.states}
    assert machine_states == set(OrderStatus)
    drawn = _diagram.mermaid()
    edges = set(re.findall(r"^\s+(\w+) --> (\w+): (.+)$", drawn, re.MULTILINE))
    expected = set()
    for state in OrderMachine.states:
        for transition in state.transitions:
            if transition.target is not state:
                expected.add((state.value, transition.target.value))
    assert {(source, target) for source, target, _ in edges} == expected
    for status in OrderStatus:
        assert status in drawn
    for source, target, events in edges:
        for event in events.split(", "):
            entries = TABLE[(OrderStatus(source), event)]
            assert OrderStatus(target) in {entry.target for entry in entries}


def test_transition_table_has_one_row_per_state_and_event_of_the_machine() -> None:
    rows = _diagram.rows()
    assert {(row.source, row.event) for row in rows} == set(TABLE)
    machine_events = {
        event.id for state in OrderMachine.states for t in state.transitions for event in t.events
    }
    assert machine_events == set(EVENTS)
    table = _diagram.transition_table()
    assert table.count("\n") == len(TABLE) + 1
    for row in rows:
        assert row.initiators, f"nobody may {row.event} in {row.source}"


def test_transition_table_reports_who_may_act_as_the_rules_say() -> None:
    rows = {(row.source, row.event): row for row in _diagram.rows()}
    assert rows[(OrderStatus.AWAITING_COLLECTION, "cancel")].initiators == ("PLATFORM",)
    assert rows[(OrderStatus.ON_HOLD, "cancel")].initiators == ("BUYER", "SELLER", "PLATFORM")
    assert rows[(OrderStatus.DELIVERED, "reject_return")].initiators == (
        "SELLER (as reported by TikTok)",
        "PLATFORM",
    )
    assert "ShipTikTokPackage" in rows[(OrderStatus.AWAITING_SHIPMENT, "ship")].effects


def test_rules_page_names_every_guard_and_only_real_ones() -> None:
    page = (ROOT / "docs" / "rules.md").read_text()
    named = set(re.findall(r"`([a-z_]+)`", page))
    guards = {guard.__name__ for guard in GUARDS}
    assert guards <= named, guards - named
    rule_like = {name for name in named if name.startswith(("only_", "buyer_", "seller_"))}
    assert rule_like <= guards | set(EVENTS), rule_like - guards
