"""The core's public face: exactly what `__all__` lists, and an import that touches nothing."""

from __future__ import annotations
import __future__

import subprocess
import sys
import types

import pytest

import adapters.errors
import adapters.http
import adapters.partners.events_api
import adapters.partners.oms
import adapters.partners.sfcc
import adapters.partners.sync_order_info
import adapters.partners.tiktok_shop
import adapters.sandbox
import adapters.service
import adapters.store
import adapters.wiring
import lifecycle
import lifecycle.errors

#: Every public package and module: users import from these, and reprs show them.
PUBLIC = [
    lifecycle,
    lifecycle.errors,
    adapters.errors,
    adapters.http,
    adapters.store,
    adapters.service,
    adapters.partners.events_api,
    adapters.partners.oms,
    adapters.partners.sfcc,
    adapters.partners.sync_order_info,
    adapters.partners.tiktok_shop,
    adapters.wiring,
    adapters.sandbox,
]
PUBLIC_NAMES = {package.__name__ for package in PUBLIC}


def _exported(package: types.ModuleType) -> set[str]:
    """What a package offers: its public names, less the modules and what it only imported
    to build with (a public module such as `adapters.wiring` imports more than it offers)."""
    names = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType | __future__._Feature)
    }
    if package.__name__ in ("adapters.wiring", "adapters.errors", "lifecycle.errors"):
        # Modules, not packages: they offer what they define, their constants, and
        # what they re-export from another public package (`wiring.UnknownShop`).
        def offered(name: str) -> bool:
            value = vars(package)[name]
            home = getattr(value, "__module__", None)
            if home == package.__name__:
                return True
            listed = name in package.__all__
            return listed and (not isinstance(value, type) or home in PUBLIC_NAMES)

        names = {name for name in names if offered(name)}
    return names


@pytest.mark.parametrize("package", PUBLIC, ids=lambda p: p.__name__)
def test_all_lists_exactly_the_public_names(package: types.ModuleType) -> None:
    lazy = {"OrderMachine"} if package is lifecycle else set()
    assert set(package.__all__) == _exported(package) | lazy
    assert len(set(package.__all__)) == len(package.__all__)
    assert list(package.__all__) == sorted(package.__all__, key=lambda n: (not n.isupper(), n))
    for name in package.__all__:
        assert getattr(package, name) is not None


@pytest.mark.parametrize("package", PUBLIC, ids=lambda p: p.__name__)
def test_exported_classes_and_functions_show_their_public_module(
    package: types.ModuleType,
) -> None:
    """As httpx does: `repr(adapters.http.Call)` names `adapters.http`, never a private
    `_outbound`; a name re-exported from another public package keeps that one's path."""
    wrong = {}
    for name in package.__all__:
        value = getattr(package, name)
        if not isinstance(value, type | types.FunctionType):
            continue
        if value.__module__ != package.__name__ and value.__module__ not in PUBLIC_NAMES:
            wrong[name] = value.__module__
    assert wrong == {}


def test_a_repr_shows_the_public_path() -> None:
    """The reprs users see in tracebacks and logs name the module they import from."""
    assert repr(adapters.http.Call) == "<class 'adapters.http.Call'>"
    assert repr(lifecycle.Order) == "<class 'lifecycle.Order'>"
    assert repr(adapters.store.StoreError) == "<class 'adapters.errors.StoreError'>"


def test_importing_the_core_loads_no_io_module() -> None:
    """A fresh interpreter that imports lifecycle has no network, disk-database or shell module."""
    probe = (
        "import sys, lifecycle\n"
        "loaded = [m for m in ('httpx', 'sqlite3', 'socket', 'ssl', 'asyncio', 'psycopg',"
        " 'adapters', 'urllib.request', 'http.client') if m in sys.modules]\n"
        "print(','.join(loaded))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_lifecycle_never_imports_the_shell() -> None:
    """Dependencies point inward: no module of the core names adapters."""
    from pathlib import Path

    core = Path(lifecycle.__file__).parent
    for source in core.glob("*.py"):
        text = source.read_text()
        assert "import adapters" not in text, source
        assert "from adapters" not in text, source
