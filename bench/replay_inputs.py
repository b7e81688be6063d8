"""Synthetic replay inputs: many orders along their usual path, as TikTok and the OMS send them."""

from __future__ import annotations

import json
from collections.abc import Iterator

SHOP = "7494049642642441621"
_T0 = 1793610000


def _detail(order_id: str, at: int) -> dict[str, object]:
    return {
        "order_detail": {
            "id": order_id,
            "status": "UNPAID",
            "create_time": at,
            "update_time": at,
            "payment": {"currency": "USD", "sub_total": "25.00", "total_amount": "25.00"},
            "line_items": [
                {
                    "id": f"{order_id}-1",
                    "sku_id": "1729",
                    "seller_sku": "MUG-RED",
                    "product_name": "Red mug",
                    "sale_price": "12.50",
                    "original_price": "12.50",
                    "package_id": f"P{order_id}",
                },
                {
                    "id": f"{order_id}-2",
                    "sku_id": "1730",
                    "seller_sku": "MUG-BLUE",
                    "product_name": "Blue mug",
                    "sale_price": "12.50",
                    "original_price": "12.50",
                    "package_id": f"P{order_id}",
                },
            ],
            "packages": [{"id": f"P{order_id}"}],
        },
        "shop_id": SHOP,
    }


def _status(order_id: str, status: str, at: int, notification: int) -> dict[str, object]:
    return {
        "type": 1,
        "tts_notification_id": str(notification),
        "shop_id": SHOP,
        "timestamp": at + 3,
        "data": {
            "order_id": order_id,
            "order_status": status,
            "update_time": at,
            "is_on_hold_order": status == "ON_HOLD",
        },
    }


def _iso(at: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(at, UTC).isoformat()


def order_path(number: int) -> list[str]:
    """The six inputs of one order: seeded, paid, released, shipped, in transit, delivered."""
    order_id = f"5764614130{number:08d}"
    at = _T0 + number
    lines: list[dict[str, object]] = [
        _detail(order_id, at),
        _status(order_id, "ON_HOLD", at + 60, number * 10 + 1),
        _status(order_id, "AWAITING_SHIPMENT", at + 3660, number * 10 + 2),
        {
            "command": "ship",
            "order_id": order_id,
            "initiator": "SELLER",
            "at": _iso(at + 7200),
            "tracking_number": f"1Z{number:010d}",
            "shipping_provider_id": "7117858858072016686",
            "package_id": f"P{order_id}",
        },
        _status(order_id, "IN_TRANSIT", at + 30000, number * 10 + 3),
        _status(order_id, "DELIVERED", at + 200000, number * 10 + 4),
    ]
    return [json.dumps(line, separators=(",", ":")) for line in lines]


def inputs(count: int, *, interleave: int = 100) -> Iterator[str]:
    """`count` input lines; orders advance in blocks of `interleave`, as a busy shop's do."""
    per_order = 6
    orders = -(-count // per_order)
    produced = 0
    for block in range(0, orders, interleave):
        paths = [order_path(n) for n in range(block, min(block + interleave, orders))]
        for step in range(per_order):
            for path in paths:
                if produced == count:
                    return
                yield path[step]
                produced += 1
