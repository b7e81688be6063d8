"""The core's public face: exactly what `__all__` lists, and an import that touches nothing."""

from __future__ import annotations
import __future__

import subprocess
import sys
import types

import pytest

import adapters.partners.tiktok_shop
import adapters.sandbox
import adapters.store
import lifecycle


@pytest.mark.parametrize(
    "package", [lifecycle, adapters.store, adapters.sandbox, adapters.partners.tiktok_shop], ids=str
)
def test_all_lists_exactly_the_public_names(package: types.ModuleType) -> None:
    exported = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType | __future__._Feature)
    }
    lazy = {"OrderMachine"} if package is lifecycle else set()
    assert set(package.__all__) == exported | lazy
    assert len(set(package.__all__)) == len(package.__all__)
    for name in package.__all__:
        assert getattr(package, name) is not None


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
