"""Inputs as TikTok and the OMS send them, for the store tests."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from adapters.partners.tiktok_shop import detail_from_order
from lifecycle import Command, Initiator, Order
from tests.factories import new_order

SHOP = "7494049642642441621"


def seed_detail(order_id: str = "576461413038785752", lines: int = 2) -> dict[str, Any]:
    return detail_from_order(new_order(lines, order_id))


def status_webhook(order: str, status: str, at: datetime, notification: str | None = None) -> bytes:
    envelope: dict[str, Any] = {
        "type": 1,
        "shop_id": SHOP,
        "timestamp": int(at.timestamp()) + 2,
        "data": {"order_id": order, "order_status": status, "update_time": int(at.timestamp())},
    }
    if notification is not None:
        envelope["tts_notification_id"] = notification
    return json.dumps(envelope).encode()


def cancel_webhook(order: str, status: str, cancel_id: str, at: datetime) -> bytes:
    return json.dumps(
        {
            "type": 11,
            "shop_id": SHOP,
            "timestamp": int(at.timestamp()) + 2,
            "data": {
                "order_id": order,
                "cancel_id": cancel_id,
                "cancel_status": status,
                "cancellations_role": "BUYER",
                "create_time": int(at.timestamp()),
            },
        }
    ).encode()


def seller(order: str, event: str, at: datetime, **params: Any) -> Command:
    return Command(order, event, Initiator.SELLER, at, params=params)


def projection(order: Order) -> tuple[Any, ...]:
    """What must agree between two ways of applying the same inputs."""
    return (
        order.status,
        order.version,
        tuple((h.event, h.source, h.target, h.initiator, h.origin) for h in order.history),
        tuple(line.status for line in order.lines),
        None if order.cancellation is None else order.cancellation.status,
        tuple((r.return_id, r.status) for r in order.returns),
        order.cancelled_after_shipped,
    )


def undo_schema_5(execute: Any, sqlite: bool) -> None:
    """Take a store back to schema 4: each outbox row its order's copy again, no snapshots.

    For tests of the older migrations, which need a store from before them.
    """
    execute("ALTER TABLE outbox ADD COLUMN order_body TEXT NOT NULL DEFAULT ''")
    execute(
        "UPDATE outbox SET order_body = COALESCE((SELECT body FROM order_snapshots s"
        " WHERE s.order_id = outbox.order_id AND s.version = outbox.version), '')"
    )
    execute("DROP TRIGGER outbox_done_lets_go_of_snapshot" + ("" if sqlite else " ON outbox"))
    if not sqlite:
        execute("DROP FUNCTION outbox_done_lets_go_of_snapshot()")
    execute("DROP TABLE order_snapshots")
    execute("DELETE FROM schema_version WHERE version = 5")
