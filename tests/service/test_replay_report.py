"""`ReplayReport` keeps the orders a replay touched on disk, each once, in first-touch order.

Its memory does not grow with the orders: the ids live in a private temporary
SQLite database. What it answers is what a list of first touches would.
"""

from __future__ import annotations

import tracemalloc

from adapters.service import LineResult, ReplayReport, Result
from adapters.store import InputOutcome


def _line(number: int, order_id: str) -> LineResult:
    return LineResult(number, "webhook", (Result(InputOutcome.APPLIED, order_id),))


def test_orders_touched_are_listed_once_in_first_touch_order_past_the_recent_cache() -> None:
    report = ReplayReport()
    ids = [f"O{n}" for n in range(6_000)]  # more than the ids it keeps in memory
    for number, order_id in enumerate([*ids, *reversed(ids), "O3"], start=1):
        report.add(_line(number, order_id))
    assert report.order_ids == ids
    assert list(report.iter_order_ids()) == ids
    assert report.orders_touched == 6_000
    assert report.touched("O0")
    assert report.touched("O5999")
    assert not report.touched("O6000")
    assert report.outcomes() == {"applied": 12_001}
    assert report.inputs == 12_001


def test_the_report_does_not_hold_the_orders_touched_in_memory() -> None:
    """Ten times the orders, about the same Python memory (the ids are on disk)."""

    def held(count: int) -> int:
        tracemalloc.start()
        report = ReplayReport()
        for number in range(count):
            report.add(_line(number, f"5764614130{number:08d}"))
        size = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del report
        return size

    small, large = held(5_000), held(50_000)
    assert large < small * 1.5
