"""Reconcile: from the order as the library knows it to what TikTok reports.

Webhooks get lost and arrive out of order. When TikTok reports an order
status, a cancellation request's status or a return's status that the order
has not reached, these functions find the shortest legal sequence of events
that reaches it, through the one `search` of `_search` (a status one event
away is taken directly, with the answer the search gives), as TikTok's reports
(origin TIKTOK), so nothing is echoed back to TikTok. Each returns `()` when
the order already reflects the report and raises `NoLegalPath` when no legal
sequence explains it: re-read the order detail and reconcile from that.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from ._model import (
    CancellationStatus,
    Initiator,
    LineStatus,
    Order,
    OrderStatus,
    ReturnStatus,
    ReturnType,
)
from ._policy import DEFAULT_POLICY, Policy
from ._search import (
    CANCELLATION_MOVES,
    RETURN_MOVES,
    RETURN_PROGRESS,
    STATUS_MOVES,
    Step,
    one_step,
    search,
    steps,
)
from .errors import NoLegalPath, StaleObservation, UnknownName

_NO_PATH = "no sequence of events TikTok could have reported leads there"


def reconcile(
    order: Order,
    observed_status: OrderStatus | str,
    *,
    observed_at: datetime,
    cancelled_by: Initiator | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> tuple[Step, ...]:
    """The shortest legal sequence of events from the order to `observed_status`.

    Returns `()` when the order already is there. Raises `StaleObservation`
    when the report is older than the order's last update, and `NoLegalPath`
    when no legal sequence reaches the status (a status that goes backwards,
    or a partial shipment whose lines the report does not name).
    `cancelled_by` is who TikTok says cancelled, when it says so.
    """
    try:
        goal = OrderStatus(observed_status)
    except ValueError:
        raise UnknownName(
            f"unknown order status {observed_status!r}; expected one of {', '.join(OrderStatus)}"
        ) from None
    if goal is order.status:
        return ()
    if order.updated_at is not None and observed_at < order.updated_at:
        raise StaleObservation(order.order_id, goal, observed_at, order.updated_at)
    if order.status.is_final:
        raise NoLegalPath(order.order_id, order.status, goal, f"{order.status} is final")
    moves = _status_moves(cancelled_by)
    path = one_step(order, goal, moves, at=observed_at, policy=policy)
    if path is None:
        path = search(order, lambda o: o.status is goal, moves, at=observed_at, policy=policy)
    if path is not None:
        return path
    why = _NO_PATH
    if goal is OrderStatus.PARTIALLY_SHIPPING:
        why = "the report does not say which lines shipped; re-read the order detail"
    raise NoLegalPath(order.order_id, order.status, goal, why)


@functools.cache
def _status_moves(cancelled_by: Initiator | None) -> tuple[Step, ...]:
    """`STATUS_MOVES` as steps, built once per canceller: every status report asks."""
    return steps(STATUS_MOVES, cancelled_by)


def _cancellation_reached(cancel_id: str, status: CancellationStatus) -> Callable[[Order], bool]:
    def known(order: Order) -> bool:
        return order.cancellation is not None and order.cancellation.cancel_id == cancel_id

    if status is CancellationStatus.PENDING:
        return known  # a request the order holds, whatever became of it since
    if status is CancellationStatus.APPROVED:
        return lambda o: (
            o.status is OrderStatus.CANCELLED
            or (
                known(o) and o.cancellation.status is CancellationStatus.APPROVED  # type: ignore[union-attr]
            )
        )
    # A closed request the order never heard of, or one closed already, implies nothing.
    return lambda o: not known(o) or not o.cancellation.is_pending  # type: ignore[union-attr]


def _statuses(
    status: CancellationStatus | Collection[CancellationStatus],
) -> tuple[CancellationStatus, ...]:
    wanted = {status} if isinstance(status, CancellationStatus) else set(status)
    unknown = [s for s in wanted if not isinstance(s, CancellationStatus)]
    if unknown or not wanted:
        raise UnknownName(
            f"a cancellation goal is one or more of {', '.join(CancellationStatus)}, got {status!r}"
        )
    return tuple(s for s in CANCELLATION_MOVES if s in wanted)


def reconcile_cancellation(
    order: Order,
    cancel_id: str,
    status: CancellationStatus | Collection[CancellationStatus],
    *,
    at: datetime,
    cancelled_by: Initiator | None = None,
    line_item_ids: Sequence[str] = (),
    reason: str = "",
    policy: Policy = DEFAULT_POLICY,
) -> tuple[Step, ...]:
    """The shortest legal sequence of events after which request `cancel_id` is at `status`.

    `status` may be several statuses when the report does not tell them
    apart (a request closed without cancelling was withdrawn or rejected):
    any of them will do, and the order of `CANCELLATION_MOVES` is the
    preference. A report that a request closed implies nothing when the
    order holds it closed already or never heard of it; nothing happens to
    an order that is final.
    `cancelled_by` is who the report says asked for the cancellation;
    `line_item_ids` and `reason` are the request's lines and reason when the
    report gives them (Search Cancellations does, a webhook does not): the
    request and a cancel then cover those lines only, and an approval is
    reached once they are cancelled, the rest of the order going on.
    Raises `NoLegalPath` when no legal sequence explains the report.
    """
    goals = _statuses(status)
    if order.status.is_final:
        return ()
    lines = tuple(line_item_ids)
    checks = [_cancellation_reached(cancel_id, goal) for goal in goals]
    if lines and CancellationStatus.APPROVED in goals:
        checks.append(lambda o: _all_cancelled(o, lines))
    detail = {
        **({"line_item_ids": lines} if lines else {}),
        **({"reason": reason} if reason else {}),
    }

    def params(event: str) -> dict[str, Any]:
        if event in ("request_cancellation", "cancel"):
            return {"cancel_id": cancel_id, **detail}
        return {"cancel_id": cancel_id}

    moves = steps(
        (move for goal in goals for move in CANCELLATION_MOVES[goal]), cancelled_by, params
    )
    path = search(order, lambda o: any(check(o) for check in checks), moves, at=at, policy=policy)
    if path is None:
        what = f"cancellation {cancel_id} {' or '.join(goals)}"
        raise NoLegalPath(
            order.order_id, order.status, what, f"{_NO_PATH}; re-read the order detail"
        )
    return path


def reconcile_return(
    order: Order,
    return_id: str,
    status: ReturnStatus,
    *,
    at: datetime,
    return_type: ReturnType | None = None,
    line_item_ids: Sequence[str] = (),
    reason: str = "",
    tracking_number: str | None = None,
    requested_at: datetime | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> tuple[Step, ...]:
    """The shortest legal sequence of events after which return `return_id` is at `status`.

    A return already past `status` (a late report), a return that is closed,
    or an order that is final imply nothing. `return_type`, `line_item_ids`,
    `reason`, `tracking_number` (the buyer's parcel back) and `requested_at`
    describe the request when the report gives them (Search Returns does, a
    webhook does not), for a return the order has not heard of. Raises
    `NoLegalPath` when no legal sequence explains the report.
    """
    goal = ReturnStatus(status)
    known = next((r for r in order.returns if r.return_id == return_id), None)
    if order.status.is_final or (known is not None and not known.status.is_open):
        return ()

    def reached(o: Order) -> bool:
        found = next((r for r in o.returns if r.return_id == return_id), None)
        if found is None:
            return False
        if found.status is goal:
            return True
        progress = RETURN_PROGRESS
        return (
            found.status in progress
            and goal in progress
            and progress[found.status] >= progress[goal]
        )

    parcel = {"return_tracking_number": tracking_number} if tracking_number else {}
    request: dict[str, Any] = {
        **parcel,
        **({"return_type": ReturnType(return_type).value} if return_type is not None else {}),
        **({"line_item_ids": tuple(line_item_ids)} if line_item_ids else {}),
        **({"reason": reason} if reason else {}),
        **({"requested_at": requested_at.isoformat()} if requested_at else {}),
    }

    def params(event: str) -> dict[str, Any]:
        if event == "request_return":
            return {"return_id": return_id, **request}
        if event == "ship_return":
            return {"return_id": return_id, **parcel}
        return {"return_id": return_id}

    path = search(order, reached, steps(RETURN_MOVES, params=params), at=at, policy=policy)
    if path is None:
        what = f"return {return_id} {goal}"
        raise NoLegalPath(
            order.order_id, order.status, what, f"{_NO_PATH}; re-read the order detail"
        )
    return path


def _all_cancelled(order: Order, line_item_ids: tuple[str, ...]) -> bool:
    """Every line named is cancelled (a line the order does not have is not)."""
    cancelled = {line.line_item_id for line in order.lines if line.status is LineStatus.CANCELLED}
    return all(i in cancelled for i in line_item_ids)
