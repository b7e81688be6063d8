"""Timing and reporting shared by the benchmarks: medians, ratios, tables.

Every figure is reported as a ratio to a reference measured in the same run,
because these machines are noisy; absolute times are for information. `paired`
alternates a candidate with its reference round by round and reports the
ratio of each round: a burst of load on a shared machine slows both halves of
a round alike, so the paired ratios stay steady where two separate medians
(one timed minutes after the other) swing by 2x.
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


@dataclass(frozen=True)
class Paired:
    """A candidate against its reference, timed in alternating rounds."""

    candidate: float  # median seconds per operation of the candidate
    reference: float  # median seconds per operation of the reference
    ratios: tuple[float, ...]  # candidate / reference, one per round

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)

    def spread(self) -> str:
        """`min / median / max` of the paired ratios."""
        return f"{min(self.ratios):.2f} / {self.median:.2f} / {max(self.ratios):.2f}x"


def _timed(function: Callable[[], object], number: int) -> float:
    """CPU seconds per call: time spent descheduled (other jobs on the box) is not counted."""
    start = time.process_time()
    for _ in range(number):
        function()
    return (time.process_time() - start) / number


def paired(
    candidate: Callable[[], object],
    reference: Callable[[], object],
    *,
    number: int,
    rounds: int,
    setup: Callable[[], tuple[Callable[[], object], Callable[[], object]]] | None = None,
) -> Paired:
    """Time `candidate` and `reference` in `rounds` alternating rounds of `number` calls.

    Each round times both, the one that goes first alternating, and keeps the
    ratio of the two. Both are timed in this process's CPU time, so a round in
    which the process waited for a core counts only the work it did. With
    `setup`, each round times a fresh (candidate, reference) pair that `setup`
    builds outside the timing, so state that grows with every call stays as
    small as in real use.
    """
    if setup is not None:
        candidate, reference = setup()
    candidate(), reference()  # warm caches and lazy imports
    ours, theirs, ratios = [], [], []
    for round_ in range(rounds):
        if setup is not None:
            candidate, reference = setup()
        if round_ % 2:
            theirs_now = _timed(reference, number)
            ours_now = _timed(candidate, number)
        else:
            ours_now = _timed(candidate, number)
            theirs_now = _timed(reference, number)
        ours.append(ours_now)
        theirs.append(theirs_now)
        ratios.append(ours_now / theirs_now)
    return Paired(statistics.median(ours), statistics.median(theirs), tuple(ratios))


def paired_runs(
    candidate: Callable[[], float], reference: Callable[[], float], *, rounds: int
) -> Paired:
    """`paired` for runs that time themselves (a process, a drain): each returns seconds."""
    ours, theirs, ratios = [], [], []
    for round_ in range(rounds):
        if round_ % 2:
            theirs_now = reference()
            ours_now = candidate()
        else:
            ours_now = candidate()
            theirs_now = reference()
        ours.append(ours_now)
        theirs.append(theirs_now)
        ratios.append(ours_now / theirs_now)
    return Paired(statistics.median(ours), statistics.median(theirs), tuple(ratios))


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
