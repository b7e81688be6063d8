"""The lifecycle drawn from the machine itself: diagrams and the transition table.

Nothing here is written by hand: states and transitions come from `TABLE`
(compiled from `OrderMachine`), guards are described by their docstrings, and
who may send an event and which effects follow are found by asking the rules
on sample orders in every state. Change the machine and these change with it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
from attrs import frozen

from ._model import (
    CancellationRequest,
    Initiator,
    Order,
    OrderLine,
    OrderStatus,
    Origin,
    ReturnRequest,
    ReturnStatus,
    ReturnType,
)
from ._policy import Policy
from ._rules import EVENTS, RETURN_FROM
from ._table import TABLE, apply, check, context
from .errors import LifecycleError

_T0 = datetime(2026, 1, 1, tzinfo=UTC)
_LATER = _T0 + timedelta(days=400)
#: The table shows every effect that can follow, so it asks as a shop that reports
#: to both TikTok feeds (which no shop does by default).
_REPORTING = Policy(report_sync_order_info=True, report_events_api=True)


def describe(function: Callable[..., object]) -> str:
    """The first line of a rule's docstring, which says the rule in words."""
    doc = inspect.getdoc(function) or function.__name__
    return doc.splitlines()[0].rstrip(".")


def _walk(order: Order, *steps: tuple[str, Initiator, dict[str, Any]]) -> Order:
    for event, who, params in steps:
        order = apply(order, event, initiator=who, origin=Origin.TIKTOK, now=_T0, **params).order
    return order


def _samples() -> dict[OrderStatus, list[Order]]:
    """Orders in every non-final state, with and without requests in each step."""
    order = Order(
        order_id="sample",
        shop_id="shop",
        currency="USD",
        created_at=_T0,
        lines=[OrderLine("L1", sale_price=Decimal(1)), OrderLine("L2", sale_price=Decimal(1))],
    )
    buyer, seller, platform = Initiator.BUYER, Initiator.SELLER, Initiator.PLATFORM
    paid = _walk(order, ("pay", buyer, {}))
    released = _walk(paid, ("release_hold", platform, {}))
    partial = _walk(released, ("ship", seller, {"line_item_ids": ["L1"]}))
    collection = _walk(released, ("ship", seller, {}))
    transit = _walk(collection, ("collect", platform, {}))
    delivered = _walk(transit, ("deliver", platform, {}))

    def with_request(base: Order) -> Order:
        request = CancellationRequest("C1", base.open_line_ids, _T0)
        return attrs.evolve(base, cancellation=request)

    def with_returns(base: Order) -> Iterator[Order]:
        for return_type in ReturnType:
            for status in ReturnStatus:
                request = ReturnRequest("R1", base.shipped_line_ids, _T0, return_type, status)
                yield attrs.evolve(base, returns=(request,))

    return {
        OrderStatus.UNPAID: [order],
        OrderStatus.ON_HOLD: [paid],
        OrderStatus.AWAITING_SHIPMENT: [released, with_request(released)],
        OrderStatus.PARTIALLY_SHIPPING: [partial, with_request(partial), *with_returns(partial)],
        OrderStatus.AWAITING_COLLECTION: [collection, *with_returns(collection)],
        OrderStatus.IN_TRANSIT: [transit, *with_returns(transit)],
        OrderStatus.DELIVERED: [delivered, *with_returns(delivered)],
    }


_PARAMS: dict[str, dict[str, Any]] = {
    "request_cancellation": {"cancel_id": "C2"},
    "request_return": {"return_id": "R2"},
    "ship": {"tracking_number": "1Z", "shipping_provider_name": "UPS"},
}


@frozen
class Row:
    """One line of the transition table."""

    source: OrderStatus
    event: str
    targets: tuple[OrderStatus, ...]
    initiators: tuple[str, ...]
    guards: tuple[str, ...]
    effects: tuple[str, ...]


def _probe(
    samples: dict[OrderStatus, list[Order]], status: OrderStatus, event: str
) -> tuple[list[str], list[str]]:
    """Who may send `event` in `status`, and which effects can follow, by asking the rules."""
    who_may: list[str] = []
    effects: list[str] = []
    for who in Initiator:
        reported_only = True
        allowed = False
        for origin in (None, Origin.TIKTOK):
            for order in samples.get(status, []):
                try:
                    ctx = context(
                        order,
                        event,
                        initiator=who,
                        now=_LATER,
                        origin=origin,
                        policy=_REPORTING,
                        params=_PARAMS.get(event, {}),
                    )
                except LifecycleError:
                    continue
                if not check(ctx).allowed:
                    continue
                allowed = True
                reported_only = reported_only and origin is Origin.TIKTOK
                outcome = apply(
                    order,
                    event,
                    initiator=who,
                    now=_LATER,
                    origin=origin,
                    policy=_REPORTING,
                    **_PARAMS.get(event, {}),
                )
                effects.extend(e.kind for e in outcome.effects if e.kind not in effects)
        if allowed:
            who_may.append(f"{who} (as reported by TikTok)" if reported_only else str(who))
    return who_may, effects


def rows() -> tuple[Row, ...]:
    """The full transition table, in state then event order."""
    samples = _samples()
    table = []
    for status in OrderStatus:
        for event in EVENTS:
            entries = TABLE.get((status, event))
            if not entries:
                continue
            guards: list[str] = []
            for entry in entries:
                guards.extend(describe(g) for g in entry.guards if describe(g) not in guards)
            targets = tuple(dict.fromkeys(entry.target for entry in entries))
            who_may, effects = _probe(samples, status, event)
            table.append(Row(status, event, targets, tuple(who_may), tuple(guards), tuple(effects)))
    return tuple(table)


def transition_table() -> str:
    """The transition table as Markdown."""
    lines = [
        "| state | event | who | guards | target | effects |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows():
        targets = " or ".join(
            "(stays)" if target is row.source else f"`{target}`" for target in row.targets
        )
        lines.append(
            f"| `{row.source}` | `{row.event}` | {', '.join(row.initiators) or '-'} | "
            f"{'; '.join(row.guards) or '-'} | {targets} | "
            f"{', '.join(f'`{e}`' for e in row.effects) or '-'} |"
        )
    return "\n".join(lines)


def _edges() -> dict[tuple[OrderStatus, OrderStatus], list[str]]:
    edges: dict[tuple[OrderStatus, OrderStatus], list[str]] = {}
    for (status, event), entries in TABLE.items():
        for entry in entries:
            if entry.target is status:
                continue
            names = edges.setdefault((status, entry.target), [])
            if event not in names:
                names.append(event)
    return edges


def mermaid() -> str:
    """The order states and the transitions between them, as a Mermaid state diagram.

    Events that leave the status as it is (requests, returns, partial
    cancellations) are listed in the transition table, not drawn.
    """
    lines = ["stateDiagram-v2", f"    [*] --> {OrderStatus.UNPAID}"]
    for (source, target), events in sorted(_edges().items()):
        lines.append(f"    {source} --> {target}: {', '.join(events)}")
    for status in OrderStatus:
        if status.is_final:
            lines.append(f"    {status} --> [*]")
    return "\n".join(lines)


def dot() -> str:
    """The same diagram in Graphviz DOT."""
    lines = ["digraph OrderLifecycle {", "    rankdir=LR;", "    node [shape=box, style=rounded];"]
    for status in OrderStatus:
        shape = ", peripheries=2" if status.is_final else ""
        lines.append(f'    {status} [label="{status}"{shape}];')
    for (source, target), events in sorted(_edges().items()):
        lines.append(f'    {source} -> {target} [label="{", ".join(events)}"];')
    lines.append("}")
    return "\n".join(lines)


def return_table() -> str:
    """Which return statuses each return event applies to."""
    lines = ["| event | applies to a return that is |", "|---|---|"]
    for event, steps in RETURN_FROM.items():
        names = ", ".join(f"`{s}`" for s in sorted(steps))
        lines.append(f"| `{event}` | {names} |")
    return "\n".join(lines)
