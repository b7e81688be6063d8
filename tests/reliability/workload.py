"""Seeded streams of signed TikTok webhooks, and what applying them in order must give.

Each order follows one of a few paths TikTok reports (completed, cancelled in
the hold, a buyer's cancellation request approved, still in transit); every
webhook carries its own `tts_notification_id`. `expected` applies the same
webhooks to the order in memory with the pure core (`parse_webhook`,
`webhook_commands`, `Command.apply_to`): no store, no service, no worker.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import attrs
from attrs import frozen

from adapters.partners.tiktok_shop import (
    detail_from_order,
    order_from_detail,
    parse_webhook,
    webhook_commands,
    webhook_signature,
)
from adapters.sandbox.tiktok_shop import TikTokShopSandboxState
from lifecycle import Effect, Order, Policy, Recipient, StaleObservation
from tests.factories import new_order
from tests.store.helpers import SHOP

#: The shop of these runs reports to both TikTok feeds, so that they are exercised too;
#: the subprocesses get the same policy from CONFIG through $ORDER_LIFECYCLE_CONFIG.
POLICY = Policy(report_sync_order_info=True, report_events_api=True)
CONFIG = "[policy]\nreport_sync_order_info = true\nreport_events_api = true\n"
APP_KEY = "reliability-app-key"
APP_SECRET = "reliability-app-secret-3f9c"  # scanned for in every captured output
#: What Sync Order Information needs beside TikTok's order (docs/adapters/sync_order_info.md).
EXTENSIONS = {
    "sync_order_info": {
        "stay": {"check_in": "2026-12-01", "check_out": "2026-12-02"},
        "fulfillment_value": "25.00",
        "fulfillment_tax": "2.00",
        "fulfillment_service_fee": "1.00",
        "commission_base_amount": "25.00",
    }
}


def email(order_id: str) -> str:
    return f"buyer.{order_id.lower()}@example.com"


def phone(number: int) -> str:
    return f"+1415555{number % 10_000:04d}"


#: (name, weight, steps); a step is an order status, or ("cancel", cancel status).
PATHS: tuple[tuple[str, int, tuple[Any, ...]], ...] = (
    (
        "completed",
        4,
        (
            "ON_HOLD",
            "AWAITING_SHIPMENT",
            "AWAITING_COLLECTION",
            "IN_TRANSIT",
            "DELIVERED",
            "COMPLETED",
        ),
    ),
    ("cancelled in the hold", 2, ("ON_HOLD", "CANCELLED")),
    (
        "buyer's cancellation approved",
        2,
        (
            "ON_HOLD",
            "AWAITING_SHIPMENT",
            ("cancel", "CANCELLATION_REQUEST_PENDING"),
            ("cancel", "CANCELLATION_REQUEST_SUCCESS"),
            "CANCELLED",
        ),
    ),
    ("in transit", 2, ("ON_HOLD", "AWAITING_SHIPMENT", "AWAITING_COLLECTION", "IN_TRANSIT")),
)


@frozen
class Webhook:
    order_id: str
    body: bytes
    headers: dict[str, str]


@frozen
class OrderPlan:
    order_id: str
    path: str
    detail: dict[str, Any]
    webhooks: tuple[Webhook, ...]


def signed(body: bytes) -> dict[str, str]:
    return {
        "Authorization": webhook_signature(body, APP_KEY, APP_SECRET),
        "Content-Type": "application/json",
    }


def _envelope(order_id: str, step: Any, at: datetime, notification: str) -> bytes:
    stamp = int(at.timestamp())
    if isinstance(step, tuple):
        kind, data = (
            11,
            {
                "order_id": order_id,
                "cancel_id": f"C{order_id}",
                "cancel_status": step[1],
                "cancellations_role": "BUYER",
                "create_time": stamp,
                "update_time": stamp,
            },
        )
    else:
        kind, data = 1, {"order_id": order_id, "order_status": step, "update_time": stamp}
    envelope = {
        "type": kind,
        "tts_notification_id": notification,
        "shop_id": SHOP,
        "timestamp": stamp + 2,
        "data": data,
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def plan_orders(count: int, seed: int, now: datetime, prefix: str = "R") -> list[OrderPlan]:
    """`count` orders, their paths drawn with `seed`; every webhook lies in the hours
    before `now` (so an endpoint on the wall clock accepts it)."""
    rng = random.Random(seed)
    names = [name for name, _, _ in PATHS]
    weights = [weight for _, weight, _ in PATHS]
    steps_of = {name: steps for name, _, steps in PATHS}
    start = now.replace(microsecond=0) - timedelta(hours=20)
    plans = []
    for number in range(count):
        order_id = f"{prefix}{seed}-{number:06d}"
        path = rng.choices(names, weights)[0]
        created = start + timedelta(seconds=rng.randrange(3600))
        order = attrs.evolve(
            new_order(rng.randint(1, 3), order_id),
            created_at=created,
            buyer_email=email(order_id),
            recipient=Recipient(
                name=f"Buyer {number}", full_address="1 Market St", phone=phone(number)
            ),
        )
        at = created + timedelta(minutes=5)
        webhooks = []
        for index, step in enumerate(steps_of[path]):
            body = _envelope(order_id, step, at, f"{order_id}-{index}")
            webhooks.append(Webhook(order_id, body, signed(body)))
            at += timedelta(hours=1, minutes=rng.randrange(1, 60))
        plans.append(OrderPlan(order_id, path, detail_from_order(order), tuple(webhooks)))
    return plans


def expected(plan: OrderPlan, policy: Policy = POLICY) -> tuple[Order, tuple[Effect, ...]]:
    """The order after its webhooks in order, and every effect asked for, in memory."""
    order = order_from_detail(plan.detail, shop_id=SHOP)
    order = attrs.evolve(order, extensions=EXTENSIONS)
    effects: list[Effect] = []
    for webhook in plan.webhooks:
        try:
            commands = webhook_commands(parse_webhook(webhook.body), order, policy=policy)
        except StaleObservation:
            continue
        for command in commands:
            outcome = command.apply_to(order, policy)
            order = outcome.order
            effects.extend(outcome.effects)
    return order, tuple(effects)


def first_sight_policy() -> tuple[Policy, str]:
    """The policy of runs whose store first sees each order in a read of TikTok, and
    its config file text: the Events API feed, not Sync Order Information, whose stay
    and fulfilment amounts are the OMS's own and no read of TikTok brings."""
    return Policy(report_events_api=True), "[policy]\nreport_events_api = true\n"


def stock(book: TikTokShopSandboxState, plans: list[OrderPlan]) -> None:
    """Give the fake TikTok Shop what it holds about `plans`: each order as Get Order
    Detail answers it, and each buyer's cancellation request, dated as its webhook."""
    for plan in plans:
        book.add_order(plan.detail)
        for webhook in plan.webhooks:
            raw = json.loads(webhook.body)
            data = raw["data"]
            if raw["type"] == 11 and data["cancel_id"] not in book.cancellations:
                book.add_cancellation(
                    {
                        "cancel_id": data["cancel_id"],
                        "order_id": plan.order_id,
                        "cancel_status": data["cancel_status"],
                        "role": data["cancellations_role"],
                        "create_time": data["create_time"],
                        "update_time": data["update_time"],
                    },
                    notify=False,
                )


def interleaved(plans: list[OrderPlan], seed: int) -> Iterator[Webhook]:
    """Every webhook once, orders interleaved at random, each order's in its own order."""
    rng = random.Random(seed)
    queues = [list(plan.webhooks) for plan in plans]
    live = [q for q in queues if q]
    while live:
        queue = rng.choice(live)
        yield queue.pop(0)
        if not queue:
            live.remove(queue)
