"""Small helpers every floor of the shell shares; they import nothing of ours.

On the errors' floor (see tests/test_architecture.py), so the partners, the
store and the services may all use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import FunctionType, MappingProxyType
from typing import Any

import attrs

__all__ = ["frozen_mapping", "publish"]


def frozen_mapping(value: Mapping[Any, Any]) -> Mapping[Any, Any]:
    """A read-only copy of `value`: an attrs converter for mapping fields of frozen classes."""
    return MappingProxyType(dict(value))


def publish(package: str, namespace: Mapping[str, Any]) -> None:
    """Show the public path `package` on what its `__all__` takes from its private modules.

    As httpx sets `__module__` on its public names: a repr, a traceback or the
    API docs say `adapters.http.Call`, not `adapters.http._outbound.Call`. An
    attrs class's annotations are resolved first, while its own module can
    still resolve them (cattrs and `attrs.fields` then see real types).
    """
    for name in namespace["__all__"]:
        value = namespace[name]
        module = getattr(value, "__module__", None)
        if not isinstance(value, type | FunctionType) or not isinstance(module, str):
            continue
        if not module.startswith(f"{package}._"):
            continue
        if isinstance(value, type) and attrs.has(value):
            attrs.resolve_types(value)
        value.__module__ = package
