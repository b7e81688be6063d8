"""The folders draw the architecture, and imports point down it only.

Floors, from the ground up: the pure core (`lifecycle`); the shell's shared
errors and HTTP plumbing; the partners and the store, side by side and blind
to each other; the application services; the wiring; the sandbox of fakes;
the entry points. A module may import its own floor and the floors below
the ones its row allows, nothing else. Read from the source, so a lazy
import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Which layers each layer may import (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "lifecycle": frozenset(),
    "errors": frozenset(),
    "http": frozenset({"errors"}),
    "routing": frozenset({"lifecycle"}),
    "partners": frozenset({"lifecycle", "errors", "http", "routing"}),
    "store": frozenset({"lifecycle", "errors", "routing"}),
    "service": frozenset({"lifecycle", "errors", "http", "routing", "partners", "store"}),
    "wiring": frozenset({"lifecycle", "errors", "http", "routing", "partners", "store", "service"}),
    # The settings files (the `[policy]` table, the partners file's policy) sit on
    # the wiring's floor: they read what the wiring builds from.
    "settings": frozenset(
        {"lifecycle", "errors", "http", "routing", "partners", "store", "service", "wiring"}
    ),
    "sandbox": frozenset(
        {
            "lifecycle",
            "errors",
            "http",
            "routing",
            "partners",
            "store",
            "service",
            "wiring",
            "settings",
        }
    ),
    "entrypoints": frozenset(
        {
            "lifecycle",
            "errors",
            "http",
            "routing",
            "partners",
            "store",
            "service",
            "wiring",
            "settings",
            "sandbox",
        }
    ),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "lifecycle":
        return "lifecycle"
    if parts[0] != "adapters" or len(parts) == 1:
        return None
    if parts[1] == "_util":  # helpers that import nothing of ours: the errors' floor
        return "errors"
    return "entrypoints" if parts[1] == "__main__" else parts[1]


def _imports(path: Path) -> set[str]:
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                found.add(".".join([*base, *([node.module] if node.module else [])]))
            else:
                found.add(node.module or "")
    return found


SOURCES = sorted(path for top in ("lifecycle", "adapters") for path in (ROOT / top).rglob("*.py"))


def test_every_module_lives_on_a_known_floor() -> None:
    """A new top-level module of `adapters` must be given its place in the table."""
    unknown = {
        _module_name(path)
        for path in SOURCES
        if _layer(_module_name(path)) not in ALLOWED and _module_name(path) != "adapters"
    }
    assert not unknown


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: _module_name(p))
def test_imports_point_down_the_floors_only(path: Path) -> None:
    """lifecycle imports nothing of adapters; partners and store ignore each other and
    the services; only the wiring, the sandbox and the entry points see everything."""
    module = _module_name(path)
    layer = _layer(module)
    if layer is None:
        return
    wrong = sorted(
        imported
        for imported in _imports(path)
        if (other := _layer(imported)) is not None
        and other != layer
        and other not in ALLOWED[layer]
    )
    assert not wrong, f"{module} ({layer}) imports {wrong}"


def test_relative_imports_are_resolved_to_their_modules() -> None:
    """The check reads `from ._client import ...` as the module it names, so a
    relative import cannot slip past the rules."""
    init = ROOT / "adapters" / "partners" / "tiktok_shop" / "__init__.py"
    assert "adapters.partners.tiktok_shop._client" in _imports(init)
    assert _layer("adapters.store._sql") == "store"
    assert _layer("adapters.__main__") == "entrypoints"


def test_the_sandbox_checks_sync_order_info_with_its_own_rules() -> None:
    """The fake endpoint must not borrow the adapter's validator: a rule the adapter gets
    wrong would then be wrong in the check meant to catch it."""
    validators = {
        "order_info_problems",
        "validate_order_info",
        "MANDATORY",
        "MANDATORY_ON_COMPLETE",
    }
    borrowed = sorted(
        f"{_module_name(path)}: {alias.name}"
        for path in sorted((ROOT / "adapters" / "sandbox").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and "sync_order_info" in (node.module or "")
        for alias in node.names
        if alias.name in validators
    )
    assert not borrowed
