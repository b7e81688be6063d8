"""Benchmarks of the pure core: allowed actions, applying events, memory per order."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench._harness import human, per_op, table, verdict
from bench.shapes import Slot, bare_machine_class, dict_fsm, transitions_machine
from lifecycle import (
    Initiator,
    Order,
    OrderLifecycle,
    OrderLine,
    OrderStatus,
    Origin,
    allowed_events,
    apply,
)

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
SELLER, BUYER, PLATFORM = Initiator.SELLER, Initiator.BUYER, Initiator.PLATFORM


def new_order(number: int = 0, lines: int = 2) -> Order:
    return Order(
        order_id=f"5764614130{number:08d}",
        shop_id="7494049642642441621",
        currency="USD",
        created_at=T0,
        lines=[
            OrderLine(
                f"L{i}",
                sku_id=f"17{i}",
                seller_sku=f"MUG-{i}",
                product_name="Mug",
                sale_price=Decimal("12.50"),
                original_price=Decimal("15.00"),
            )
            for i in range(1, lines + 1)
        ],
        sub_total=Decimal("25.00"),
        total_amount=Decimal("25.00"),
    )


#: An order's usual path, as (event, initiator, origin, hours after payment, params).
PATH: tuple[tuple[str, Initiator, Origin | None, float, dict[str, Any]], ...] = (
    ("pay", BUYER, None, 0, {}),
    ("release_hold", PLATFORM, None, 1, {}),
    ("ship", SELLER, None, 5, {"tracking_number": "1Z999", "shipping_provider_name": "UPS"}),
    ("collect", PLATFORM, Origin.TIKTOK, 8, {}),
    ("deliver", PLATFORM, Origin.TIKTOK, 60, {}),
    ("complete", PLATFORM, None, 24 * 20, {}),
)


def released_order() -> Order:
    order = new_order()
    for event, who, origin, hours, params in PATH[:2]:
        order = apply(
            order, event, initiator=who, origin=origin, now=T0 + timedelta(hours=hours), **params
        ).order
    return order


def bench_allowed(quick: bool) -> tuple[str, list[tuple[str, bool]]]:
    number, repeat = (2_000, 3) if quick else (20_000, 7)
    order = released_order()
    now = T0 + timedelta(hours=2)
    lifecycle = OrderLifecycle(order)
    bare_class = bare_machine_class()
    bare = bare_class(model=Slot(OrderStatus.AWAITING_SHIPMENT))
    fsm = dict_fsm()
    allowed_by_state = {
        state: tuple(e for (s, e) in fsm if s == state) for state in {s for s, _ in fsm}
    }

    results = {
        "OrderLifecycle.allowed(SELLER) (kept answer)": per_op(
            lambda: lifecycle.allowed(SELLER, now=now), number=number, repeat=repeat
        ),
        "allowed_events(order, SELLER) (rules evaluated)": per_op(
            lambda: allowed_events(order, SELLER, now=now), number=number // 10, repeat=repeat
        ),
        "ref: bare python-statemachine allowed_events (existing instance)": per_op(
            lambda: bare.allowed_events, number=number // 10, repeat=repeat
        ),
        "ref: bare python-statemachine create + allowed_events": per_op(
            lambda: bare_class(model=Slot(OrderStatus.AWAITING_SHIPMENT)).allowed_events,
            number=max(number // 200, 10),
            repeat=repeat,
        ),
        "ref: dict lookup": per_op(
            lambda: allowed_by_state["AWAITING_SHIPMENT"], number=number * 10, repeat=repeat
        ),
    }
    kept = results["OrderLifecycle.allowed(SELLER) (kept answer)"]
    dict_ref = results["ref: dict lookup"]
    bare_ref = results["ref: bare python-statemachine allowed_events (existing instance)"]
    rows = [
        (name, human(s), f"{s / dict_ref:.1f}x dict", f"{bare_ref / s:.1f}x faster than bare")
        for name, s in results.items()
    ]
    checks = [
        ("allowed within 10x of a dict lookup", kept <= 10 * dict_ref),
        ("allowed at least 5x faster than bare allowed_events", bare_ref >= 5 * kept),
    ]
    text = table(
        "Allowed actions of one order",
        rows + [(c, verdict(ok), "", "") for c, ok in checks],
        ("what", "median per call", "vs dict lookup", "vs bare allowed_events"),
    )
    return text, checks


_FRESH = new_order()


def _our_path() -> None:
    order = _FRESH  # immutable: every run starts from the same unpaid order
    for event, who, origin, hours, params in PATH:
        order = apply(
            order, event, initiator=who, origin=origin, now=T0 + timedelta(hours=hours), **params
        ).order


def bench_apply(quick: bool) -> tuple[str, list[tuple[str, bool]]]:
    number, repeat = (300, 3) if quick else (3_000, 7)
    steps = len(PATH)
    events = [event for event, *_ in PATH]

    model = Slot()
    machine = transitions_machine(model)

    def transitions_path() -> None:
        machine.set_state(OrderStatus.UNPAID.value)
        for event in events:
            model.trigger(event)  # type: ignore[attr-defined]

    fsm = dict_fsm()

    def dict_path() -> None:
        state = OrderStatus.UNPAID.value
        for event in events:
            state = fsm[(state, event)]

    # Existing instances, a self-transition pair, for send against bare send. Each run
    # starts from a fresh lifecycle so the history stays the length of a real order's.
    now = T0 + timedelta(hours=2)
    released = released_order()

    def fresh_send_pair() -> Callable[[], None]:
        lifecycle = OrderLifecycle(released)
        lifecycle.send("request_cancellation", initiator=BUYER, now=now, cancel_id="C0")

        def pair() -> None:
            lifecycle.send("withdraw_cancellation", initiator=BUYER, now=now)
            lifecycle.send("request_cancellation", initiator=BUYER, now=now, cancel_id="C1")

        return pair

    our_send_pair = fresh_send_pair()
    send_runs = (10, 5) if quick else (10, 60)

    bare = bare_machine_class()(model=Slot(OrderStatus.AWAITING_SHIPMENT))

    def bare_send_pair() -> None:
        bare.send("withdraw_cancellation")
        bare.send("request_cancellation")

    results = {
        "fast path apply (guards, state, history, effects)": per_op(
            _our_path, number=number, repeat=repeat
        )
        / steps,
        "ref: transitions trigger": per_op(transitions_path, number=number, repeat=repeat) / steps,
        "ref: dict FSM": per_op(dict_path, number=number * 20, repeat=repeat) / steps,
        "OrderLifecycle.send (existing instance)": per_op(
            our_send_pair, number=send_runs[0], repeat=send_runs[1], setup=fresh_send_pair
        )
        / 2,
        "ref: bare python-statemachine send (existing instance)": per_op(
            bare_send_pair, number=send_runs[0], repeat=send_runs[1]
        )
        / 2,
    }
    fast = results["fast path apply (guards, state, history, effects)"]
    trans = results["ref: transitions trigger"]
    send = results["OrderLifecycle.send (existing instance)"]
    bare_send = results["ref: bare python-statemachine send (existing instance)"]
    rows = [
        (name, human(s), f"{s / trans:.2f}x transitions", f"{s / bare_send:.2f}x bare send")
        for name, s in results.items()
    ]
    checks = [
        ("fast path faster than transitions", fast < trans),
        ("OrderLifecycle.send no more than 1.5x bare send", send <= 1.5 * bare_send),
    ]
    text = table(
        "Apply one event",
        rows + [(c, verdict(ok), "", "") for c, ok in checks],
        ("what", "median per event", "vs transitions", "vs bare send"),
    )
    return text, checks


def _measure(build: Any, count: int) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = build(count)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return (after - before) / count


def bench_memory(quick: bool) -> tuple[str, list[tuple[str, bool]]]:
    count = 10_000 if quick else 100_000
    template = released_order()

    def ours(n: int) -> list[Order]:
        # Distinct ids, as real orders have; lines and history as after release.
        return [
            apply(
                apply(new_order(i), "pay", initiator=BUYER, now=T0).order,
                "release_hold",
                initiator=PLATFORM,
                now=T0 + timedelta(hours=1),
            ).order
            for i in range(n)
        ]

    bare_class = bare_machine_class()

    def bare(n: int) -> list[Any]:
        return [bare_class(model=Slot(OrderStatus.AWAITING_SHIPMENT)) for _ in range(min(n, 2_000))]

    ours_bytes = _measure(ours, count)
    bare_bytes = _measure(bare, count if count <= 2_000 else 2_000)
    del template
    rows = [
        (
            f"Order after release (2 lines, 2 history records), {count:,} loaded",
            f"{ours_bytes:,.0f} B",
            f"{ours_bytes / bare_bytes:.3f}x",
        ),
        (
            "ref: one bare python-statemachine instance per order (2,000 loaded)",
            f"{bare_bytes:,.0f} B",
            "1x",
        ),
    ]
    checks = [("at most 2 KiB per order", ours_bytes <= 2048)]
    text = table(
        "Memory per order",
        rows + [(c, verdict(ok), "") for c, ok in checks],
        ("what", "bytes per order", "vs bare machine"),
    )
    return text, checks
