"""MkDocs hook: fill the generated sections of the docs from the code at build time.

A page marks a section with `<!-- generated: NAME -->`; NAME is one of
`GENERATORS`. An unknown NAME fails the build, so a typo cannot leave a hole.
The lifecycle diagram is written as inline SVG (`doc_diagram`), so the site
draws it with no script and no network.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lifecycle import _diagram

sys.path.insert(0, str(Path(__file__).resolve().parent))
import doc_diagram  # beside this file, found once the line above ran
import doc_examples

GENERATORS: dict[str, Callable[[], str]] = {
    "diagram": lambda: f'<div class="lifecycle-diagram">\n{doc_diagram.svg()}\n</div>',
    "transition_table": _diagram.transition_table,
    "return_table": _diagram.return_table,
    "sync_order_info_payloads": doc_examples.sync_order_info,
    "events_api_payloads": doc_examples.events_api,
    "sfcc_payloads": doc_examples.sfcc,
}
MARKER = re.compile(r"<!-- generated: (\w+) -->")


def render(markdown: str) -> str:
    """`markdown` with every generated section filled in."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise KeyError(f"unknown generated section {name!r}; known: {', '.join(GENERATORS)}")
        return GENERATORS[name]()

    return MARKER.sub(fill, markdown)


def on_page_markdown(markdown: str, **_kwargs: Any) -> str:
    return render(markdown)
