"""Timing and reporting shared by the benchmarks: medians, ratios, tables.

Every figure is reported as a ratio to a reference measured in the same run,
because these machines are noisy; absolute times are for information.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    name: str
    seconds: float  # median seconds per operation
    unit: str = "op"


def per_op(
    function: Callable[[], object],
    *,
    number: int,
    repeat: int,
    setup: Callable[[], Callable[[], object]] | None = None,
) -> float:
    """Median seconds per call of `function` over `repeat` runs of `number` calls.

    With `setup`, each run times a fresh function that `setup` returns (built
    outside the timing), so state that grows with every call, such as an
    order's history, stays as small as in real use.
    """
    function()  # warm caches and lazy imports
    runs = []
    for _ in range(repeat):
        if setup is not None:
            function = setup()
        start = time.perf_counter()
        for _ in range(number):
            function()
        runs.append((time.perf_counter() - start) / number)
    return statistics.median(runs)


def human(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.2f} us"
    return f"{seconds * 1e9:.0f} ns"


def table(title: str, rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = [f"\n## {title}\n", "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append(line)
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"
