"""Reconcile: from the order as the library knows it to the status TikTok reports.

Webhooks get lost and arrive out of order. When TikTok reports a status the
order has not reached, `reconcile` finds the shortest legal sequence of
events that reaches it, as TikTok's reports (origin TIKTOK), so nothing is
echoed back to TikTok. A report older than the order's last update is stale.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

from attrs import frozen

from ._model import Initiator, Order, OrderStatus, Origin
from ._policy import DEFAULT_POLICY, Policy
from ._table import attempt
from .errors import NoLegalPath, StaleObservation

_MAX_STEPS = 10


@frozen
class Step:
    """One event of a reconciliation, to send with origin TIKTOK at the report's time."""

    event: str
    initiator: Initiator


def _moves(cancelled_by: Initiator | None) -> tuple[Step, ...]:
    cancels = [Step("approve_cancellation", Initiator.PLATFORM)]
    if cancelled_by is not None and cancelled_by is not Initiator.PLATFORM:
        cancels.append(Step("cancel", cancelled_by))
    cancels.append(Step("cancel", Initiator.PLATFORM))
    return (
        Step("pay", Initiator.PLATFORM),
        Step("release_hold", Initiator.PLATFORM),
        Step("ship", Initiator.SELLER),
        Step("collect", Initiator.PLATFORM),
        Step("deliver", Initiator.PLATFORM),
        Step("complete", Initiator.PLATFORM),
        *cancels,
    )


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
        raise ValueError(
            f"unknown order status {observed_status!r}; expected one of {', '.join(OrderStatus)}"
        ) from None
    if goal is order.status:
        return ()
    if order.updated_at is not None and observed_at < order.updated_at:
        raise StaleObservation(order.order_id, goal, observed_at, order.updated_at)
    if order.status.is_final:
        raise NoLegalPath(order.order_id, order.status, goal, f"{order.status} is final")

    moves = _moves(cancelled_by)
    seen = {order.status}
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
                now=observed_at,
                policy=policy,
            )
            if outcome is None:
                continue
            reached = outcome.order.status
            if reached is goal:
                return (*path, step)
            if reached not in seen:
                seen.add(reached)
                queue.append((outcome.order, (*path, step)))
    why = "no sequence of events TikTok could have reported leads there"
    if goal is OrderStatus.PARTIALLY_SHIPPING:
        why = "the report does not say which lines shipped; re-read the order detail"
    raise NoLegalPath(order.order_id, order.status, goal, why)
