"""The adapter's public face, and the core's independence from it."""

from __future__ import annotations

import subprocess
import sys

import adapters.partners.tiktok_shop as tiktok_shop


def isort_style(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions: the order ruff keeps `__all__` in."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_and_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(tiktok_shop) if not name.startswith("_")}
    modules = {"annotations"} | {
        name for name, value in vars(tiktok_shop).items() if type(value) is type(sys)
    }
    assert sorted(tiktok_shop.__all__, key=isort_style) == tiktok_shop.__all__
    assert set(tiktok_shop.__all__) == public - modules


def test_the_lifecycle_core_does_not_import_the_adapter_or_httpx() -> None:
    code = (
        "import sys, lifecycle\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('adapters', 'httpx', 'stamina')]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
