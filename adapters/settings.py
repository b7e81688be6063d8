"""The settings files: the lifecycle `Policy` (`--config`, the partners file) and the partners.

One loader, `policy_from_mapping`, turns a table of `Policy` fields by name
into a `Policy`, whichever file the table comes from:

- a TOML config file (`--config FILE.toml`, or `$ORDER_LIFECYCLE_CONFIG`): its
  `[policy]` table;
- a partners JSON file (`dispatch --partners FILE.json`, or `--config
  FILE.json`): its `"policy"` object, with the same keys.

Values: a duration is a number of seconds or a string of a number and a unit
(`"90s"`, `"30m"`, `"48h"`, `"15d"`); a switch is `true` or `false`; a set
of statuses (`sync_order_statuses`, `tiktok_event_statuses`) is a list of
lifecycle `OrderStatus` names, and replaces the default set. The partners'
names for those statuses are the partner settings' (`order_statuses` of
`sync_order_info`, `event_names` of `events_api`). Policy values are never
read from the environment: they are not secrets.

Anything wrong (an unknown key, a bad value, an unknown status) raises
`SettingsError`, whose message names the file and the key.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
import types
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import cattrs
from cattrs.errors import StructureHandlerNotFoundError as StructureError

from adapters.errors import SettingsError
from adapters.partners.events_api import EventsApiSettings
from adapters.partners.oms import OmsSettings
from adapters.partners.sfcc import SfccSettings
from adapters.partners.sync_order_info import SyncOrderInfoSettings
from adapters.partners.tiktok_shop import TikTokShopSettings
from adapters.wiring import PartnerSettings, ShopCredentials, TikTokShopPartner
from lifecycle import DEFAULT_POLICY, OrderStatus, Policy

__all__ = [
    "CONFIG_ENV",
    "SettingsError",
    "check_reporting",
    "choose_policy",
    "load_partners",
    "parse_duration",
    "policy_from_mapping",
    "read_policy",
]

#: Where the command line looks for a config file when `--config` is not given.
CONFIG_ENV = "ORDER_LIFECYCLE_CONFIG"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_DURATION_FORM = (
    'seconds as a number (3600) or a number and a unit s, m, h, d ("30m", "48h", "15d")'
)


class _Bad(ValueError):
    """A value is wrong; the loader adds where it was."""


def parse_duration(value: object) -> timedelta:
    """`3600`, `0.5`, `"90s"`, `"30m"`, `"48h"` or `"15d"` as a `timedelta`.

    Raises `ValueError` saying what is accepted; `policy_from_mapping` turns it
    into a `SettingsError` naming the key.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Bad(f"{value!r} is not a duration; give {_DURATION_FORM}")
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if match is None:
            raise _Bad(f"{value!r} is not a duration; give {_DURATION_FORM}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise _Bad(f"{value!r} is not a duration: it must be finite and not negative")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise _Bad(f"{value!r} is longer than any duration Python can hold") from None


def _switch(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"{value!r} is not a switch; give true or false")
    return value


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{value!r} is not a name; give a non-empty string")
    return value


_STATUSES = ", ".join(status.value for status in OrderStatus)


def _status_set(value: object) -> frozenset[OrderStatus]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise _Bad(f"{value!r} is not a list of lifecycle statuses ({_STATUSES})")
    statuses = set()
    for item in value:
        if item not in OrderStatus.__members__:
            raise _Bad(f"unknown order status {item!r}; expected some of {_STATUSES}")
        statuses.add(OrderStatus[item])
    return frozenset(statuses)


#: How a value of each `Policy` field's type is read.
_READERS: dict[object, Callable[[object], Any]] = {
    timedelta: parse_duration,
    bool: _switch,
    str: _name,
    frozenset[OrderStatus]: _status_set,
}
# `lifecycle` resolved the field types when it gave `Policy` its public module path.
_HINTS = {field.name: field.type for field in attrs.fields(Policy)}
#: Each setting's reader; a new `Policy` field of a new type fails here, not silently.
_SETTINGS: dict[str, Callable[[object], Any]] = {
    field.name: _READERS[_HINTS[field.name]] for field in attrs.fields(Policy)
}


def policy_from_mapping(values: Mapping[str, Any], where: str = "policy") -> Policy:
    """A `Policy` from a table of its fields by name; `where` prefixes every error.

    Fields not given keep their defaults. Raises `SettingsError` naming the key
    (`where.key`, or `where.key.STATUS` inside a status map).
    """
    if not isinstance(values, Mapping):
        raise SettingsError(f"{where}: {values!r} is not a table of settings")
    policy = DEFAULT_POLICY
    for key, raw in values.items():
        read = _SETTINGS.get(key)
        if read is None:
            raise SettingsError(
                f"{where}.{key}: unknown setting; known: {', '.join(sorted(_SETTINGS))}"
            )
        try:
            value = read(raw)
        except _Bad as error:
            path = ".".join((where, key, *error.args[1:]))
            raise SettingsError(f"{path}: {error.args[0]}") from None
        try:
            policy = attrs.evolve(policy, **{key: value})
        except ValueError as error:  # the Policy's own validators
            raise SettingsError(f"{where}.{key}: {str(error).removeprefix(key + ' ')}") from None
    return policy


def _read_text(path: Path, source: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise SettingsError(f"cannot read {path}{source}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{path}{source} is not UTF-8 text") from None


def read_policy(path: Path, *, partners: bool = False, source: str = "") -> Policy | None:
    """The policy a settings file sets, or `None` when it sets none.

    A partners file (`partners=True`, or any `FILE.json`) is JSON: its
    `"policy"` object (the partner sections are `dispatch`'s). Any other file
    is TOML: its `[policy]` table, and no other table (a misspelt `[polcy]`
    would otherwise change nothing). `source` says where the path came from,
    for the error messages.
    """
    text = _read_text(path, source)
    if partners or path.suffix.lower() == ".json":
        try:
            raw = json.loads(text)
        except ValueError as error:
            raise SettingsError(f"{path}{source} is not JSON: {error}") from None
        if not isinstance(raw, dict):
            raise SettingsError(f"{path}{source}: a partners file is one JSON object")
        if "policy" not in raw:
            return None
        return policy_from_mapping(raw["policy"], f"{path}: policy")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}{source} is not TOML: {error}") from None
    unknown = sorted(set(document) - {"policy"})
    if unknown:
        raise SettingsError(f"{path}: {unknown[0]}: unknown section; a config file has [policy]")
    if "policy" not in document:
        return None
    return policy_from_mapping(document["policy"], f"{path}: policy")


def _differences(one: Policy, other: Policy) -> list[str]:
    return [
        field.name
        for field in attrs.fields(Policy)
        if getattr(one, field.name) != getattr(other, field.name)
    ]


def choose_policy(
    config: str | None,
    partners: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Policy:
    """The policy a command runs under.

    From `config` (`--config`; an empty string means none), else
    `$ORDER_LIFECYCLE_CONFIG`; and from the `"policy"` object of the
    `partners` file, when given. Neither sets one: `DEFAULT_POLICY`. Both set
    one: they must agree, or `SettingsError` names the settings that differ
    (which one should win is not guessed).
    """
    found: list[tuple[str, Policy]] = []
    sources: Sequence[tuple[str | None, bool, str]] = (
        (config, False, "")
        if config is not None
        else (environ.get(CONFIG_ENV) or None, False, f" (${CONFIG_ENV})"),
        (partners, True, ""),
    )
    for name, is_partners, source in sources:
        if name:
            policy = read_policy(Path(name), partners=is_partners, source=source)
            if policy is not None:
                found.append((name, policy))
    if not found:
        return DEFAULT_POLICY
    (first, policy), *others = found
    for other, theirs in others:
        differ = _differences(policy, theirs)
        if differ:
            raise SettingsError(
                f"{first} and {other} both set the policy and disagree on"
                f" {', '.join(differ)}; keep it in one of them"
            )
    return policy


_FEEDS = (
    ("report_sync_order_info", "sync_order_info", "Sync Order Information"),
    ("report_events_api", "events_api", "the Events API"),
    ("push_oms_actions", "oms", "the OMS"),
)


def check_reporting(policy: Policy, partners: PartnerSettings) -> None:
    """Refuse a policy that reports to a feed the partner settings do not configure:
    every such report could only become a dead letter."""
    for switch, section, feed in _FEEDS:
        if getattr(policy, switch) and getattr(partners, section) is None:
            raise SettingsError(
                f"the policy reports to {feed} ({switch} = true) but the partner"
                f" settings have no {section} section"
            )


# --- the partners file ---------------------------------------------------------------------


def _from_env(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("env:"):
        name = value.removeprefix("env:")
        if name not in os.environ:
            raise SettingsError(f"the partners file names ${name}, which is not set")
        return os.environ[name]
    if isinstance(value, dict):
        return {key: _from_env(item) for key, item in value.items()}
    return value


_PLAIN = (str, int, float, bool, type(None))


def _plain_union(type_: Any) -> bool:
    """`str | int` and the like: JSON gives the value as it is."""
    if type(type_) is not types.UnionType:
        return False
    return all(arg in _PLAIN for arg in type_.__args__)


def load_partners(path: Path) -> PartnerSettings:
    """Partner settings from a JSON file; a value `"env:NAME"` is read from `$NAME`.

    A file that cannot be read, is not JSON, names an unset variable or holds
    settings the partners refuse raises `SettingsError` naming the file.
    """
    try:
        raw = _from_env(json.loads(path.read_text(encoding="utf-8")))
    except OSError as error:
        raise SettingsError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise SettingsError(f"{path} is not JSON: {error}") from None
    conv = cattrs.Converter()
    conv.register_structure_hook_func(_plain_union, lambda value, _type: value)
    # `SfccSettings.token_margin`: seconds or "60s", as durations are in config files.
    conv.register_structure_hook(timedelta, lambda value, _type: parse_duration(value))
    try:
        tiktok = None
        if "tiktok_shop" in raw:
            fields = dict(raw["tiktok_shop"])
            settings = conv.structure(fields.pop("settings", {}), TikTokShopSettings)
            shops = {
                str(shop_id): conv.structure(shop, ShopCredentials)
                for shop_id, shop in dict(fields.pop("shops", {})).items()
            }
            tiktok = TikTokShopPartner(settings=settings, shops=shops, **fields)
        return PartnerSettings(
            tiktok_shop=tiktok,
            sfcc=conv.structure(raw["sfcc"], SfccSettings) if "sfcc" in raw else None,
            sync_order_info=conv.structure(raw["sync_order_info"], SyncOrderInfoSettings)
            if "sync_order_info" in raw
            else None,
            events_api=conv.structure(raw["events_api"], EventsApiSettings)
            if "events_api" in raw
            else None,
            oms=conv.structure(raw["oms"], OmsSettings) if "oms" in raw else None,
        )
    except (TypeError, ValueError, KeyError, cattrs.BaseValidationError, StructureError) as error:
        raise SettingsError(
            f"{path}: bad partner settings: {type(error).__name__}: {error}"
        ) from None
