"""Small helpers every floor of the shell shares; they import nothing of ours.

On the errors' floor (see tests/test_architecture.py), so the partners, the
store and the services may all use them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from types import FunctionType, MappingProxyType
from typing import Any

import attrs

__all__ = [
    "frozen_mapping",
    "publish",
    "resolve_attrs_types",
    "shared_amount",
    "shared_keys",
    "shared_text",
    "shared_time",
]


def frozen_mapping(value: Mapping[Any, Any]) -> Mapping[Any, Any]:
    """A read-only copy of `value`: an attrs converter for mapping fields of frozen classes."""
    return MappingProxyType(dict(value))


def publish(package: str, namespace: Mapping[str, Any]) -> None:
    """Show the public path `package` on what its `__all__` takes from its private modules.

    As httpx sets `__module__` on its public names: a repr, a traceback or the
    API docs say `adapters.http.Call`, not `adapters.http._outbound.Call`.
    First the annotations of every attrs class of the package's private
    modules are resolved, while each class's own module (and its bases')
    can still resolve them: cattrs and `attrs.fields` then see real types.
    """
    resolve_attrs_types(package)
    for name in namespace["__all__"]:
        value = namespace[name]
        if not isinstance(value, type | FunctionType):
            continue
        if str(getattr(value, "__module__", "")).startswith(f"{package}._"):
            value.__module__ = package


def resolve_attrs_types(package: str) -> None:
    """Resolve the string annotations of every attrs class in `package`'s private modules."""
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith(f"{package}._"):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, type) and value.__module__ == module_name and attrs.has(value):
                attrs.resolve_types(value)


# --------------------------------------------------------------------------- shared values
#
# A decoder makes a new object for every value it reads, so a thousand decoded
# orders hold a thousand `Decimal("12.50")` and a thousand copies of "ship". The
# values are immutable: the decoders below hand out one object per distinct
# value instead. The caches are bounded, so a stream of distinct values costs a
# fixed amount, never a growing one.

#: How many distinct amounts the decoders keep to share: prices and totals repeat
#: across a shop's orders.
SHARED_AMOUNTS = 1024
#: How many distinct times: enough for the times of the order being decoded, which
#: repeat within it; times rarely repeat across orders, so keeping more would
#: only hold memory.
SHARED_TIMES = 64


@lru_cache(maxsize=SHARED_AMOUNTS, typed=True)
def shared_amount(value: str | int) -> Decimal:
    """`Decimal(value)`, one object per distinct text (`"12.5"` and `"12.50"` stay apart).

    Raises what `Decimal` raises for a text that is not a number.
    """
    return Decimal(value)


@lru_cache(maxsize=SHARED_TIMES)
def shared_time(text: str) -> datetime:
    """`datetime.fromisoformat(text)`, one object per distinct text.

    An order's times repeat (its `paid_at` is its payment record's time, its
    `updated_at` its last record's), so one decoded order shares them as a
    live one does. A UTC offset comes back as the one `datetime.UTC`.
    """
    return datetime.fromisoformat(text)


def shared_text(value: str) -> str:
    """`value` as the one interned copy, for short texts that repeat across values.

    For event names, statuses, SKUs, product names, currencies and mapping
    keys: not for ids or personal data, which are distinct per order (interning
    them would only add an entry to the interpreter's table).
    """
    return sys.intern(value) if type(value) is str else value


def shared_keys(value: Any) -> Any:
    """Decoded JSON with the keys of every object in it interned (the values left as they are)."""
    if isinstance(value, dict):
        return {
            sys.intern(key) if type(key) is str else key: shared_keys(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [shared_keys(item) for item in value]
    return value
