"""Every Python block in the README and docs runs, so the examples cannot drift from the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _blocks() -> list[tuple[str, str]]:
    found = []
    for document in DOCUMENTS:
        for number, match in enumerate(BLOCK.finditer(document.read_text()), start=1):
            found.append((f"{document.relative_to(ROOT)}#{number}", match.group(1)))
    return found


@pytest.mark.parametrize(("where", "code"), _blocks(), ids=[w for w, _ in _blocks()])
def test_documented_python_runs(where: str, code: str) -> None:
    """Each documented example runs without error."""
    exec(compile(code, where, "exec"), {"__name__": "__doc_example__"})


def test_readme_output_block_is_what_the_example_prints() -> None:
    """The README's printed output is the first example's real output."""
    readme = (ROOT / "README.md").read_text()
    code = BLOCK.search(readme)
    assert code is not None
    shown = re.search(r"This prints:\n\n```text\n(.*?)```", readme, re.DOTALL)
    assert shown is not None
    result = subprocess.run(
        [sys.executable, "-c", code.group(1)], capture_output=True, text=True, check=True
    )
    assert result.stdout == shown.group(1)


def test_quickstart_example_is_linked_and_completes_an_order() -> None:
    """examples/quickstart.py, which the README links and Getting started names, runs
    to a completed order, through every step it announces."""
    readme = (ROOT / "README.md").read_text()
    assert "[`examples/quickstart.py`](examples/quickstart.py)" in readme
    assert "`examples/quickstart.py`" in (ROOT / "docs" / "index.md").read_text()
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    steps = re.findall(r"^== .*: order is (\w+)$", result.stdout, re.MULTILINE)
    assert steps == [
        "ON_HOLD",
        "AWAITING_SHIPMENT",
        "AWAITING_COLLECTION",
        "IN_TRANSIT",
        "DELIVERED",
        "COMPLETED",
    ]
