"""`adapters.settings`: the one loader that turns a settings table into a `Policy`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.partners.events_api import EventsApiSettings
from adapters.settings import (
    CONFIG_ENV,
    SettingsError,
    check_reporting,
    choose_policy,
    parse_duration,
    policy_from_mapping,
    read_policy,
)
from adapters.wiring import PartnerSettings
from lifecycle import DEFAULT_POLICY, OrderStatus, Policy

#: A value for each Policy field that differs from its default, as a file gives it.
SETTABLE: dict[str, tuple[Any, Any]] = {
    "hold": ("0s", timedelta(0)),
    "cancellation_auto_approval": ("24h", timedelta(hours=24)),
    "ship_by": ("7d", timedelta(days=7)),
    "completion_after_delivery": (600, timedelta(minutes=10)),
    "seller_partial_cancel": (True, True),
    "report_sync_order_info": (True, True),
    "report_events_api": (True, True),
    "sync_order_statuses": (["AWAITING_SHIPMENT"], frozenset({OrderStatus.AWAITING_SHIPMENT})),
    "tiktok_event_statuses": ([], frozenset()),
    "push_oms_actions": (True, True),
    "clock_skew": ("5m", timedelta(minutes=5)),
}


def test_every_policy_field_can_be_set_by_name() -> None:
    """A new Policy field must be settable from a file too (or this test names it)."""
    assert set(SETTABLE) == {field.name for field in attrs.fields(Policy)}
    for key, (raw, value) in SETTABLE.items():
        policy = policy_from_mapping({key: raw})
        assert getattr(policy, key) == value, key
        assert getattr(policy, key) != getattr(DEFAULT_POLICY, key), key
        others = {f.name for f in attrs.fields(Policy)} - {key}
        assert all(getattr(policy, n) == getattr(DEFAULT_POLICY, n) for n in others), key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (3600, timedelta(hours=1)),
        (0.5, timedelta(milliseconds=500)),
        (0, timedelta(0)),
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        ("48h", timedelta(hours=48)),
        ("1.5h", timedelta(minutes=90)),
        ("15d", timedelta(days=15)),
        (" 2 d ", timedelta(days=2)),
    ],
)
def test_durations_are_seconds_or_a_number_and_a_unit(raw: object, expected: timedelta) -> None:
    assert parse_duration(raw) == expected


@pytest.mark.parametrize(
    "raw", ["1 hour", "1h30m", "-1h", "3600", "h", "", -5, True, float("inf"), float("nan"), [1]]
)
def test_a_bad_duration_is_refused_naming_the_key(raw: object) -> None:
    with pytest.raises(SettingsError, match=r"^cfg\.toml: policy\.ship_by: .*duration"):
        policy_from_mapping({"ship_by": raw}, "cfg.toml: policy")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"hodl": "1h"}, r"policy\.hodl: unknown setting; known: cancellation_auto_approval, "),
        ({"report_events_api": "yes"}, r"policy\.report_events_api: 'yes' is not a switch"),
        ({"report_events_api": 1}, r"policy\.report_events_api: 1 is not a switch"),
        (
            {"sync_order_statuses": ["SHIPPED"]},
            r"policy\.sync_order_statuses: unknown order status 'SHIPPED'; expected"
            r" some of UNPAID, ",
        ),
        (
            {"tiktok_event_statuses": ["completed"]},
            r"policy\.tiktok_event_statuses: unknown order status 'completed'",
        ),
        (
            {"tiktok_event_statuses": "COMPLETED"},
            r"policy\.tiktok_event_statuses: 'COMPLETED' is not a list of lifecycle statuses",
        ),
        (
            {"sync_order_statuses": {"COMPLETED": "COMPLETE_ORDER"}},
            r"policy\.sync_order_statuses: \{'COMPLETED': 'COMPLETE_ORDER'\} is not a list",
        ),
        ({"tiktok_events": ["COMPLETED"]}, r"policy\.tiktok_events: unknown setting"),
    ],
)
def test_a_bad_setting_is_one_clear_error_naming_the_key(
    table: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError, match="^" + message):
        policy_from_mapping(table)


def test_a_status_set_given_replaces_the_default_one() -> None:
    policy = policy_from_mapping({"sync_order_statuses": ["CANCELLED"]})
    assert policy.sync_order_statuses == frozenset({OrderStatus.CANCELLED})
    assert policy.tiktok_event_statuses == DEFAULT_POLICY.tiktok_event_statuses


_TOML = """
[policy]
report_events_api = true
hold = "1h"
ship_by = 1296000
seller_partial_cancel = true
sync_order_statuses = ["CANCELLED"]
tiktok_event_statuses = ["COMPLETED", "DELIVERED"]
"""


def test_a_toml_config_sets_the_policy_from_its_policy_table(tmp_path: Path) -> None:
    path = tmp_path / "lifecycle.toml"
    path.write_text(_TOML)
    assert read_policy(path) == Policy(
        report_events_api=True,
        hold=timedelta(hours=1),
        ship_by=timedelta(days=15),
        seller_partial_cancel=True,
        sync_order_statuses={OrderStatus.CANCELLED},
        tiktok_event_statuses={OrderStatus.COMPLETED, OrderStatus.DELIVERED},
    )


def test_a_toml_config_without_a_policy_table_sets_none(tmp_path: Path) -> None:
    path = tmp_path / "empty.toml"
    path.write_text("# nothing yet\n")
    assert read_policy(path) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[polcy]\nhold = 1\n", r"empty\.toml: polcy: unknown section; a config file has \["),
        ("hold = 1\n", r"empty\.toml: hold: unknown section"),
        ("[policy\n", r"empty\.toml is not TOML: "),
        ('[policy]\nhold = "soon"\n', r"empty\.toml: policy\.hold: 'soon' is not a duration"),
        ("policy = 3\n", r"empty\.toml: policy: 3 is not a table of settings"),
    ],
)
def test_a_bad_toml_config_is_refused_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "empty.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=message):
        read_policy(path)


def test_the_partners_file_policy_goes_through_the_same_loader(tmp_path: Path) -> None:
    path = tmp_path / "partners.json"
    path.write_text(json.dumps({"sfcc": {}, "policy": {"report_events_api": True, "hold": "2h"}}))
    assert read_policy(path) == Policy(report_events_api=True, hold=timedelta(hours=2))
    path.write_text(json.dumps({"policy": {"hold": "2 hours"}}))
    with pytest.raises(SettingsError, match=r"partners\.json: policy\.hold: '2 hours' is not a"):
        read_policy(path)
    path.write_text(json.dumps({"sfcc": {}}))
    assert read_policy(path) is None
    named_oddly = tmp_path / "partners.conf"
    named_oddly.write_text(json.dumps({"policy": {"report_events_api": True}}))
    assert read_policy(named_oddly, partners=True) == Policy(report_events_api=True)


def test_a_missing_file_is_a_settings_error_saying_where_the_name_came_from(
    tmp_path: Path,
) -> None:
    missing = str(tmp_path / "nope.toml")
    with pytest.raises(SettingsError, match=r"cannot read .*nope\.toml: No such file"):
        choose_policy(missing, environ={})
    with pytest.raises(SettingsError, match=rf"nope\.toml \(\${CONFIG_ENV}\): No such file"):
        choose_policy(None, environ={CONFIG_ENV: missing})


def test_the_flag_wins_over_the_environment_and_an_empty_flag_means_none(
    tmp_path: Path,
) -> None:
    flag, env = tmp_path / "flag.toml", tmp_path / "env.toml"
    flag.write_text("[policy]\nreport_events_api = true\n")
    env.write_text("[policy]\nreport_sync_order_info = true\n")
    environ = {CONFIG_ENV: str(env)}
    assert choose_policy(str(flag), environ=environ) == Policy(report_events_api=True)
    assert choose_policy(None, environ=environ) == Policy(report_sync_order_info=True)
    assert choose_policy("", environ=environ) is DEFAULT_POLICY
    assert choose_policy(None, environ={}) is DEFAULT_POLICY


def test_config_and_partners_file_must_agree_when_both_set_the_policy(tmp_path: Path) -> None:
    config, partners = tmp_path / "c.toml", tmp_path / "p.json"
    config.write_text("[policy]\nreport_events_api = true\nhold = 3600\n")
    partners.write_text(json.dumps({"policy": {"report_events_api": True, "hold": "1h"}}))
    assert choose_policy(str(config), str(partners), environ={}) == Policy(report_events_api=True)
    partners.write_text(json.dumps({"policy": {"report_events_api": False, "hold": "2h"}}))
    with pytest.raises(SettingsError, match=r"disagree on hold, report_events_api; keep it in"):
        choose_policy(str(config), str(partners), environ={})
    partners.write_text(json.dumps({"sfcc": {}}))  # sets no policy: the config's stands
    assert choose_policy(str(config), str(partners), environ={}) == Policy(report_events_api=True)
    assert choose_policy(None, str(config.with_name("p.json")), environ={}) is DEFAULT_POLICY


def test_a_policy_reporting_to_a_feed_no_partner_setting_configures_is_refused() -> None:
    events = EventsApiSettings(access_token="t", event_source_id="E")
    check_reporting(Policy(), PartnerSettings())
    check_reporting(Policy(report_events_api=True), PartnerSettings(events_api=events))
    with pytest.raises(SettingsError, match=r"reports to the Events API \(report_events_api"):
        check_reporting(Policy(report_events_api=True), PartnerSettings())
    with pytest.raises(SettingsError, match=r"no sync_order_info section"):
        check_reporting(Policy(report_sync_order_info=True), PartnerSettings(events_api=events))


_STATUS_SETS = st.frozensets(st.sampled_from(list(OrderStatus)), max_size=4)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    seconds = st.integers(min_value=0, max_value=10**8)
    return Policy(
        hold=timedelta(seconds=draw(seconds)),
        cancellation_auto_approval=timedelta(seconds=draw(seconds)),
        ship_by=timedelta(seconds=draw(seconds)),
        completion_after_delivery=timedelta(seconds=draw(seconds)),
        seller_partial_cancel=draw(st.booleans()),
        report_sync_order_info=draw(st.booleans()),
        report_events_api=draw(st.booleans()),
        sync_order_statuses=draw(_STATUS_SETS),
        tiktok_event_statuses=draw(_STATUS_SETS),
    )


def _as_table(policy: Policy, unit: str) -> dict[str, Any]:
    """The policy as a settings file writes it, durations in `unit` where they divide."""
    scale = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    table: dict[str, Any] = {}
    for field in attrs.fields(Policy):
        value = getattr(policy, field.name)
        if isinstance(value, timedelta):
            seconds = int(value.total_seconds())
            table[field.name] = f"{seconds // scale}{unit}" if seconds % scale == 0 else seconds
        elif isinstance(value, bool | str):
            table[field.name] = value
        else:
            table[field.name] = sorted(status.value for status in value)
    return table


@given(policies(), st.sampled_from("smhd"))
def test_a_policy_written_as_a_table_reads_back_the_same(policy: Policy, unit: str) -> None:
    assert policy_from_mapping(_as_table(policy, unit)) == policy


def test_the_tiktok_reason_codes_and_vocabulary_load_from_the_partners_file(
    tmp_path: Path,
) -> None:
    """Reason-code maps and `TikTokVocabulary` are settings a partners file can give."""
    from adapters.settings import load_partners
    from lifecycle import Initiator, ReturnStatus

    path = tmp_path / "partners.json"
    path.write_text(
        json.dumps(
            {
                "tiktok_shop": {
                    "app_key": "k",
                    "app_secret": "s",
                    "shop_cipher": "c",
                    "access_token": "a",
                    "refresh_token": "r",
                    "settings": {
                        "cancel_reason_codes": {"no stock": "ecom_order_x"},
                        "vocabulary": {
                            "roles": {"BUYER": "BUYER", "TIKTOK": "PLATFORM"},
                            "return_goals": {"RETURN_X": "REJECTED", "PROPOSAL": None},
                            "shipped_display_statuses": ["SHIPPED"],
                        },
                    },
                }
            }
        )
    )
    partners = load_partners(path)
    assert partners.tiktok_shop is not None
    settings = partners.tiktok_shop.settings
    assert settings.cancel_reason_codes == {"no stock": "ecom_order_x"}
    assert settings.vocabulary.roles["TIKTOK"] is Initiator.PLATFORM
    assert settings.vocabulary.return_goals == {"RETURN_X": ReturnStatus.REJECTED, "PROPOSAL": None}
    assert settings.vocabulary.shipped_display_statuses == frozenset({"SHIPPED"})
