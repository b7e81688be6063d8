"""Deadlines: the moments at which TikTok acts by itself, declared once.

Each function answers one moment from the order (or request) and the
`Policy`. The guards in `_rules` compare the clock with them to refuse a
timer event sent too early, and `_timers` lists them as the order's timers:
both read these functions, so a window cannot be counted two ways.
"""

from __future__ import annotations

from datetime import datetime

from ._model import CancellationRequest, Order
from ._policy import Policy


def paid_at(order: Order) -> datetime:
    """When the buyer paid; an order imported without a payment time counts from creation."""
    return order.paid_at or order.created_at


def delivered_at(order: Order) -> datetime:
    """When the order was delivered, or the best moment known for it."""
    return order.delivered_at or order.updated_at or order.created_at


def hold_ends(order: Order, policy: Policy) -> datetime:
    """The end of the remorse hold, when TikTok releases the order to the seller."""
    return paid_at(order) + policy.hold


def ship_by(order: Order, policy: Policy) -> datetime:
    """The shipping deadline, after which TikTok cancels an order still not shipped."""
    return paid_at(order) + policy.ship_by


def auto_approval_at(request: CancellationRequest, policy: Policy) -> datetime:
    """When TikTok approves a buyer's cancellation request the seller left unanswered."""
    return request.requested_at + policy.cancellation_auto_approval


def completes_at(order: Order, policy: Policy) -> datetime:
    """When a delivered order with no open return completes: the return window is over."""
    return delivered_at(order) + policy.completion_after_delivery
