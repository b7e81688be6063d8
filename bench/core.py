"""Benchmarks of the pure core: allowed actions, applying events, memory per order."""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from adapters._util import shared_keys
from adapters.partners.tiktok_shop import order_from_detail
from adapters.sandbox.demo import sample_lines
from adapters.store import order_from_json, order_to_json
from bench._harness import human, paired, per_op, table, verdict
from bench.shapes import (
    Slot,
    bare_machine_class,
    dict_fsm,
    guarded_transitions_ship,
    transitions_machine,
)
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


def _delivered_order(number: int) -> Order:
    """Order `number` after the usual path up to delivery: five records, its own values."""
    order = new_order(number)
    start = T0 + timedelta(seconds=number)
    for event, who, origin, hours, params in PATH[:5]:
        if event == "ship":
            params = {"tracking_number": f"1Z{number:010d}", "shipping_provider_name": "UPS"}
        order = apply(
            order, event, initiator=who, origin=origin, now=start + timedelta(hours=hours), **params
        ).order
    return order


def _sample_details() -> list[str]:
    """The order detail lines of the bundled demo sample (TikTok 202309 order objects)."""
    return [line for line in sample_lines() if '"order_detail"' in line]


def _sample_delivered(number: int, details: list[str]) -> Order:
    """A realistic order: sample order `number % len(details)` as a replay holds it.

    Read from its own JSON text, as each order detail is, so its ids, buyer,
    address and OMS extensions are its own objects; given its own order id,
    times and tracking number; decoded as the service decodes an order detail
    (`order_from_detail`, extension keys shared), then taken along the usual
    path up to delivery: five records.
    """
    raw = json.loads(details[number % len(details)])
    detail = raw["order_detail"]
    detail["id"] = f"5764614130{number:08d}"
    detail["create_time"] += number
    order = order_from_detail(detail, shop_id=raw.get("shop_id"))
    order = attrs.evolve(order, extensions=shared_keys(raw.get("extensions") or {}))
    start = order.created_at + timedelta(minutes=5)
    for event, who, origin, hours, params in PATH[:5]:
        if event == "ship":
            params = {"tracking_number": f"1Z{number:010d}", "shipping_provider_name": "UPS"}
        order = apply(
            order, event, initiator=who, origin=origin, now=start + timedelta(hours=hours), **params
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
    dict_ref = results["ref: dict lookup"]
    bare_ref = results["ref: bare python-statemachine allowed_events (existing instance)"]
    # The targets, from rounds that alternate the kept answer with each reference.
    rounds = 5 if quick else 15

    def ask() -> object:
        return lifecycle.allowed(SELLER, now=now)

    versus_dict = paired(
        ask, lambda: allowed_by_state["AWAITING_SHIPMENT"], number=number, rounds=rounds
    )
    versus_bare = paired(ask, lambda: bare.allowed_events, number=number // 10, rounds=rounds)
    rows = [
        (name, human(s), f"{s / dict_ref:.1f}x dict", f"{bare_ref / s:.1f}x faster than bare")
        for name, s in results.items()
    ]
    rows += [
        ("kept answer vs dict lookup, paired rounds", "", versus_dict.spread(), "<= 10x"),
        ("kept answer vs bare allowed_events, paired rounds", "", versus_bare.spread(), "<= 0.2x"),
    ]
    checks = [
        ("allowed within 10x of a dict lookup", versus_dict.median <= 10),
        ("allowed at least 5x faster than bare allowed_events", versus_bare.median <= 0.2),
    ]
    text = table(
        "Allowed actions of one order",
        rows + [(c, verdict(ok), "", "") for c, ok in checks],
        ("what", "median per call", "vs dict lookup", "vs bare allowed_events / target"),
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
    number, rounds = (200, 5) if quick else (2_000, 15)
    steps = len(PATH)
    events = [event for event, *_ in PATH]

    # One shipment: our fast path against `transitions` with guards and a history callback.
    released = released_order()
    shipped_at = T0 + timedelta(hours=5)
    ship_params = {"tracking_number": "1Z999", "shipping_provider_name": "UPS"}

    def our_ship() -> None:
        apply(released, "ship", initiator=SELLER, now=shipped_at, **ship_params)

    def fresh_ship_pair() -> tuple[Callable[[], None], Callable[[], None]]:
        shipment, _ = guarded_transitions_ship()

        def their_ship() -> None:
            shipment.state = OrderStatus.AWAITING_SHIPMENT.value
            shipment.ship(initiator="SELLER", now=shipped_at, **ship_params)  # type: ignore[attr-defined]

        return our_ship, their_ship

    # The usual path of six events against a bare `transitions` trigger per event.
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

    # Existing instances, a self-transition pair, for send against bare send. Each round
    # starts from a fresh lifecycle so the history stays the length of a real order's.
    now = T0 + timedelta(hours=2)
    bare = bare_machine_class()(model=Slot(OrderStatus.AWAITING_SHIPMENT))

    def bare_send_pair() -> None:
        bare.send("withdraw_cancellation")
        bare.send("request_cancellation")

    def fresh_send_pair() -> tuple[Callable[[], None], Callable[[], None]]:
        lifecycle = OrderLifecycle(released)
        lifecycle.send("request_cancellation", initiator=BUYER, now=now, cancel_id="C0")

        def pair() -> None:
            lifecycle.send("withdraw_cancellation", initiator=BUYER, now=now)
            lifecycle.send("request_cancellation", initiator=BUYER, now=now, cancel_id="C1")

        return pair, bare_send_pair

    ship = paired(our_ship, our_ship, number=number, rounds=rounds, setup=fresh_ship_pair)
    path = paired(_our_path, transitions_path, number=number // 2, rounds=rounds)
    floor = paired(dict_path, transitions_path, number=number // 2, rounds=rounds)
    send = paired(
        bare_send_pair, bare_send_pair, number=40, rounds=max(rounds, 5), setup=fresh_send_pair
    )
    rows = [
        (
            "fast path apply: one ship (guards, state, history, effects)",
            human(ship.candidate),
            ship.spread(),
            "<= 1.0x (stretch 0.5x)",
        ),
        (
            "ref: transitions ship, 2 guard conditions + history callback",
            human(ship.reference),
            "1x",
            "",
        ),
        (
            "fast path apply: the usual path of 6 events, per event",
            human(path.candidate / steps),
            path.spread(),
            "",
        ),
        ("ref: bare transitions trigger, per event", human(path.reference / steps), "1x", ""),
        ("ref: dict FSM, per event", human(floor.candidate / steps), floor.spread(), ""),
        (
            "OrderLifecycle.send (existing instance), per event",
            human(send.candidate / 2),
            send.spread(),
            "<= 1.5x",
        ),
        (
            "ref: bare python-statemachine send (existing instance)",
            human(send.reference / 2),
            "1x",
            "",
        ),
    ]
    checks = [
        ("fast path ship at most 1.0x a guarded transitions ship", ship.median <= 1.0),
        ("OrderLifecycle.send at most 1.5x bare send", send.median <= 1.5),
    ]
    text = table(
        f"Apply one event ({rounds} paired rounds)",
        rows + [(c, verdict(ok), "", "") for c, ok in checks],
        ("what", "median per call", "vs ref: min / median / max", "target"),
    )
    return text, checks


def _measure(build: Any, count: int) -> float:
    # A first small run pays the one-off costs (generated decoders, the interpreter's
    # interned-string table growing), which are not per order.
    build(min(count, 64))
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = build(count)
    gc.collect()  # what building left in garbage cycles is not kept by the orders
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

    def delivered(n: int) -> list[Order]:
        # Each order its own: ids, tracking numbers and times differ, as a replay's do.
        return [_delivered_order(i) for i in range(n)]

    # The bodies are written before measuring: what is measured is what the decoded
    # orders hold, not what writing them left behind.
    bodies = [order_to_json(_delivered_order(i)) for i in range(count // 5)]

    def decoded(n: int) -> list[Order]:
        return [order_from_json(body) for body in bodies[:n]]

    details = _sample_details()
    sample_bodies = [order_to_json(_sample_delivered(i, details)) for i in range(count // 5)]

    def sample(n: int) -> list[Order]:
        return [_sample_delivered(i, details) for i in range(n)]

    def sample_decoded(n: int) -> list[Order]:
        return [order_from_json(body) for body in sample_bodies[:n]]

    ours_bytes = _measure(ours, count)
    delivered_bytes = _measure(delivered, count // 5)
    decoded_bytes = _measure(decoded, count // 5)
    sample_bytes = _measure(sample, count // 5)
    sample_decoded_bytes = _measure(sample_decoded, count // 5)
    bare_bytes = _measure(bare, count if count <= 2_000 else 2_000)
    del template
    rows = [
        (
            f"Order after release (2 lines, 2 history records), {count:,} loaded",
            f"{ours_bytes:,.0f} B",
            f"{ours_bytes / bare_bytes:.3f}x",
        ),
        (
            f"Order delivered (2 lines, 5 history records), {count // 5:,} distinct orders",
            f"{delivered_bytes:,.0f} B",
            f"{delivered_bytes / bare_bytes:.3f}x",
        ),
        (
            f"the same, decoded from the store's JSON, {count // 5:,} orders",
            f"{decoded_bytes:,.0f} B",
            f"{decoded_bytes / bare_bytes:.3f}x",
        ),
        (
            f"Demo sample orders delivered (recipient, OMS extensions, 5 records),"
            f" {count // 5:,} orders from the sample's {len(details)}",
            f"{sample_bytes:,.0f} B",
            f"{sample_bytes / bare_bytes:.3f}x",
        ),
        (
            f"the same, decoded from the store's JSON, {count // 5:,} orders",
            f"{sample_decoded_bytes:,.0f} B",
            f"{sample_decoded_bytes / bare_bytes:.3f}x",
        ),
        (
            "ref: one bare python-statemachine instance per order (2,000 loaded)",
            f"{bare_bytes:,.0f} B",
            "1x",
        ),
    ]
    checks = [
        ("at most 2 KiB per released order", ours_bytes <= 2048),
        (
            "at most 2 KiB per delivered order, in memory and decoded",
            max(delivered_bytes, decoded_bytes) <= 2048,
        ),
        (
            "at most 2 KiB per delivered demo sample order, in memory and decoded",
            max(sample_bytes, sample_decoded_bytes) <= 2048,
        ),
    ]
    text = table(
        "Memory per order",
        rows + [(c, verdict(ok), "") for c, ok in checks],
        ("what", "bytes per order", "vs bare machine"),
    )
    return text, checks
