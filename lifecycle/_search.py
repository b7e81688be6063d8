"""The one search: the shortest legal sequence of reported events to a goal.

Webhooks get lost and arrive out of order, so a report often names a state
the order has not reached yet. `search` tries the events TikTok could have
reported (origin TIKTOK, at the report's time, so nothing is echoed back to
TikTok), breadth first, until the order meets the goal.

What a report may stand for is declared here as data, one table per kind of
goal: `STATUS_MOVES` for an order status, `CANCELLATION_MOVES` for a
cancellation request's status, `RETURN_MOVES` for a return's. `_reconcile`
builds the goals from a report and calls `search`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

from attrs import field, frozen

from ._model import (
    CancellationStatus,
    Initiator,
    Order,
    OrderStatus,
    Origin,
    ReturnStatus,
    frozen_params,
)
from ._policy import Policy
from ._table import TABLE, attempt


@frozen
class Step:
    """One event of a reconciliation, to send with origin TIKTOK at the report's time.

    `params` are the event's parameters (the `cancel_id` or `return_id` the
    report names); order status reports carry none.
    """

    event: str
    initiator: Initiator
    params: Mapping[str, Any] = field(factory=dict, converter=frozen_params, hash=False)


#: Stands for whoever the report says did the event; the move is left out when it does not say.
REPORTED = None

Move = tuple[str, Initiator | None]

#: The events on the way to an order status, and who did them. A cancellation is
#: tried as TikTok's auto-approval of the buyer's request, as the canceller the
#: report names, then as TikTok's own (a forced or SLA cancellation).
STATUS_MOVES: tuple[Move, ...] = (
    ("pay", Initiator.PLATFORM),
    ("release_hold", Initiator.PLATFORM),
    ("ship", Initiator.SELLER),
    ("collect", Initiator.PLATFORM),
    ("deliver", Initiator.PLATFORM),
    ("complete", Initiator.PLATFORM),
    ("approve_cancellation", Initiator.PLATFORM),
    ("cancel", REPORTED),
    ("cancel", Initiator.PLATFORM),
)

#: The events on the way to each status of a cancellation request, all with the
#: report's `cancel_id`. A request that was approved may also have been a cancel
#: outright, or a request the order never heard of, approved since.
CANCELLATION_MOVES: Mapping[CancellationStatus, tuple[Move, ...]] = MappingProxyType(
    {
        CancellationStatus.PENDING: (("request_cancellation", Initiator.BUYER),),
        CancellationStatus.WITHDRAWN: (("withdraw_cancellation", Initiator.BUYER),),
        CancellationStatus.REJECTED: (("reject_cancellation", Initiator.SELLER),),
        CancellationStatus.APPROVED: (
            ("approve_cancellation", Initiator.PLATFORM),
            ("cancel", REPORTED),
            ("cancel", Initiator.PLATFORM),
            ("request_cancellation", Initiator.BUYER),
        ),
    }
)

#: The events of a return's own lifecycle, all with the report's `return_id`;
#: any of them may have been lost on the way to the reported status.
RETURN_MOVES: tuple[Move, ...] = (
    ("request_return", Initiator.BUYER),
    ("approve_return", Initiator.PLATFORM),
    ("ship_return", Initiator.BUYER),
    ("receive_return", Initiator.PLATFORM),
    ("refund", Initiator.PLATFORM),
    ("reject_return", Initiator.SELLER),
    ("withdraw_return", Initiator.BUYER),
)

#: Longer than any path the declared moves can take (UNPAID to COMPLETED is six).
_MAX_STEPS = 8


def steps(
    moves: Iterable[Move],
    reported: Initiator | None = None,
    params: Callable[[str], Mapping[str, Any]] = lambda _event: {},
) -> tuple[Step, ...]:
    """The declared `moves` as `Step`s: `REPORTED` becomes `reported`, duplicates go."""
    found: list[Step] = []
    for event, initiator in moves:
        who = reported if initiator is REPORTED else initiator
        if who is None:
            continue
        step = Step(event, who, params(event))
        if step not in found:
            found.append(step)
    return tuple(found)


def _state(order: Order) -> object:
    """What decides which events can follow: two orders alike here have the same futures."""
    return (
        order.status,
        order.cancellation,
        order.returns,
        tuple(line.status for line in order.lines),
    )


def search(
    order: Order,
    reached: Callable[[Order], bool],
    moves: Sequence[Step],
    *,
    at: datetime,
    policy: Policy,
) -> tuple[Step, ...] | None:
    """The shortest sequence of `moves`, each legal as TikTok's report at `at`, after which
    `reached` holds; `()` when it holds already, `None` when no such sequence exists.

    Among paths of one length the first in `moves` order wins, so the declared
    order of a table is also its preference.
    """
    if reached(order):
        return ()
    seen = {_state(order)}
    queue: deque[tuple[Order, tuple[Step, ...]]] = deque([(order, ())])
    while queue:
        current, path = queue.popleft()
        if len(path) >= _MAX_STEPS:
            continue
        for step in moves:
            outcome = attempt(
                current,
                step.event,
                initiator=step.initiator,
                origin=Origin.TIKTOK,
                now=at,
                policy=policy,
                **step.params,
            )
            if outcome is None:
                continue
            if reached(outcome.order):
                return (*path, step)
            state = _state(outcome.order)
            if state not in seen:
                seen.add(state)
                queue.append((outcome.order, (*path, step)))
    return None


def one_step(
    order: Order, goal: OrderStatus, moves: Sequence[Step], *, at: datetime, policy: Policy
) -> tuple[Step, ...] | None:
    """`search` for an order status one legal event away: the same answer, or `None`.

    Most reports name the status right after the order's own, so this tries
    only the moves whose declared transition out of the order's status goes
    to `goal`, in `moves` order, without a queue or trial orders for the rest.
    `search` tries every move at depth one in that same order first, so the
    first move that gets there is the path it would return. `None`: the goal
    is not one event away, ask `search`.
    """
    for step in moves:
        entries = TABLE.get((order.status, step.event))
        if not entries or not any(entry.target is goal for entry in entries):
            continue
        outcome = attempt(
            order,
            step.event,
            initiator=step.initiator,
            origin=Origin.TIKTOK,
            now=at,
            policy=policy,
            **step.params,
        )
        if outcome is not None and outcome.order.status is goal:
            return (step,)
    return None


#: How far each return status is along the way to the refund: a report of an
#: earlier step than the return is at is late news, and implies nothing.
RETURN_PROGRESS: Mapping[ReturnStatus, int] = MappingProxyType(
    {
        ReturnStatus.REQUESTED: 0,
        ReturnStatus.APPROVED: 1,
        ReturnStatus.AWAITING_BUYER_SHIPMENT: 1,
        ReturnStatus.BUYER_SHIPPED: 2,
        ReturnStatus.RECEIVED: 3,
    }
)
