"""Small helpers every floor of the shell shares; they import nothing of ours.

On the errors' floor (see tests/test_architecture.py), so the partners, the
store and the services may all use them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import FunctionType, MappingProxyType
from typing import Any

import attrs

__all__ = ["frozen_mapping", "publish", "resolve_attrs_types"]


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
