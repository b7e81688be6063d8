"""Wire payloads for the adapter pages, produced by the code at docs build time.

Sample orders are taken through the lifecycle itself (`OrderLifecycle`), and
every effect a partner receives is turned into its body by that adapter's own
builder. The pages show what the library sends, never a hand-written copy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from adapters.partners.events_api import EventData, EventsApiSettings, build_bodies, event_name
from adapters.partners.sfcc import (
    CARTRIDGE_PRESET,
    ORDER_MANAGEMENT_PRESET,
    SfccSettings,
    build_create_body,
    build_return_body,
    build_shipping_body,
    build_status_body,
)
from adapters.partners.sync_order_info import (
    StayRecord,
    SyncOrderData,
    SyncOrderInfoSettings,
    build_body,
)
from lifecycle import (
    CreateSfccOrder,
    Effect,
    Initiator,
    Order,
    OrderLifecycle,
    OrderLine,
    Origin,
    Policy,
    Recipient,
    ReportTikTokEvent,
    SyncOrderInfo,
    UpdateSfccOrderStatus,
    UpdateSfccReturn,
    UpdateSfccShipping,
)

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
BUYER, SELLER, PLATFORM = Initiator.BUYER, Initiator.SELLER, Initiator.PLATFORM
#: The sample shop reports to both TikTok feeds (each is off unless the policy says so).
REPORTING = Policy(report_sync_order_info=True, report_events_api=True)


def _order(order_id: str) -> Order:
    return Order(
        order_id=order_id,
        shop_id="7494049642642441621",
        currency="USD",
        created_at=T0,
        lines=[
            OrderLine(
                "L1",
                sku_id="1729382256910",
                seller_sku="MUG-RED",
                product_name="Red mug",
                sale_price=Decimal("12.50"),
                original_price=Decimal("15.00"),
                product_id="PRD-MUG-RED",
            ),
            OrderLine(
                "L2",
                sku_id="1729382256912",
                seller_sku="TOTE-NAT",
                product_name="Canvas tote",
                sale_price=Decimal("18.00"),
                original_price=Decimal("18.00"),
                product_id="PRD-TOTE-NAT",
            ),
        ],
        sub_total=Decimal("30.50"),
        shipping_fee=Decimal("4.99"),
        taxes=Decimal("2.44"),
        total_amount=Decimal("37.93"),
        buyer_email="buyer@example.com",
        recipient=Recipient(
            name="Jane Buyer",
            full_address="101 Market St",
            city="Austin",
            state="TX",
            zipcode="73301",
            phone="+14155550001",
            region_code="US",
        ),
    )


def _journeys() -> Iterator[tuple[str, Order, Effect]]:
    """(what happened, the order then, the effect) for every path worth showing."""
    at = lambda hours: T0 + timedelta(hours=hours)  # noqa: E731

    done = OrderLifecycle(_order("576461413000000001"), REPORTING)
    done.send("pay", initiator=BUYER, now=at(0))
    steps: list[tuple[str, Callable[[], tuple[Effect, ...]]]] = [
        ("the hold is over", lambda: done.run_due(at(1))),
        (
            "the seller ships from the OMS",
            lambda: done.send(
                "ship",
                initiator=SELLER,
                now=at(3),
                tracking_number="1Z999AA10123456784",
                shipping_provider_name="UPS",
                package_id="1152900001",
            ),
        ),
        (
            "TikTok reports collection and delivery",
            lambda: (
                *done.send("collect", initiator=PLATFORM, origin=Origin.TIKTOK, now=at(8)),
                *done.send("deliver", initiator=PLATFORM, origin=Origin.TIKTOK, now=at(60)),
            ),
        ),
        (
            "a return is approved from the OMS",
            lambda: (
                *done.send(
                    "request_return",
                    initiator=BUYER,
                    now=at(70),
                    return_id="R1",
                    line_item_ids=["L2"],
                    return_type="RETURN_AND_REFUND",
                ),
                *done.send("approve_return", initiator=SELLER, now=at(72)),
            ),
        ),
    ]
    for title, run in steps:
        for effect in run():
            yield title, done.order, effect

    completed = OrderLifecycle(_order("576461413000000002"), REPORTING)
    completed.send("pay", initiator=BUYER, now=at(0))
    completed.run_due(at(1))
    completed.send(
        "ship",
        initiator=SELLER,
        now=at(3),
        tracking_number="1Z999AA10123456785",
        shipping_provider_name="UPS",
    )
    completed.send("collect", initiator=PLATFORM, origin=Origin.TIKTOK, now=at(8))
    completed.send("deliver", initiator=PLATFORM, origin=Origin.TIKTOK, now=at(60))
    for effect in completed.run_due(at(60 + 24 * 15)):
        yield "the order completes", completed.order, effect

    asked = OrderLifecycle(_order("576461413000000003"), REPORTING)
    asked.send("pay", initiator=BUYER, now=at(0))
    asked.run_due(at(1))
    asked.send("request_cancellation", initiator=BUYER, now=at(2), cancel_id="C1")
    for effect in asked.send("approve_cancellation", initiator=SELLER, now=at(3)):
        yield "the seller approves the buyer's cancellation", asked.order, effect

    shipped = OrderLifecycle(_order("576461413000000004"), REPORTING)
    shipped.send("pay", initiator=BUYER, now=at(0))
    shipped.run_due(at(1))
    shipped.send(
        "ship",
        initiator=SELLER,
        now=at(3),
        tracking_number="1Z999AA10123456786",
        shipping_provider_name="UPS",
    )
    for effect in shipped.send(
        "cancel", initiator=PLATFORM, origin=Origin.TIKTOK, now=at(9), reason="fraud"
    ):
        yield "TikTok cancels after shipment (fraud)", shipped.order, effect


def _pretty(value: Any, indent: str = "") -> str:
    """Indented JSON as the adapters send it: a `Decimal` is a number with exactly its digits."""
    inner = indent + "  "
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict) and value:
        items = (f"{inner}{json.dumps(str(k))}: {_pretty(v, inner)}" for k, v in value.items())
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list | tuple) and value:
        return "[\n" + ",\n".join(f"{inner}{_pretty(v, inner)}" for v in value) + f"\n{indent}]"
    return json.dumps(value, ensure_ascii=False)


def _block(title: str, body: Any) -> str:
    return f"**{title}**\n\n```json\n{_pretty(body)}\n```\n"


def sync_order_info() -> str:
    settings = SyncOrderInfoSettings(
        url="https://your-endpoint.example/sync",
        access_token="...",
        third_merchant_id="MERCHANT-9",
        third_shop_id="SHOP-42",
        third_shop_name="Mug & Tote",
        order_country="US",
    )
    data = SyncOrderData(
        stay=StayRecord(date(2026, 12, 1), date(2026, 12, 3)),
        fulfillment_value=Decimal("37.93"),
        fulfillment_tax=Decimal("2.44"),
        fulfillment_service_fee=Decimal("4.99"),
        commission_base_amount=Decimal("30.50"),
    )
    blocks = [
        _block(
            f"{settings.order_statuses[effect.status]}: {title}",
            build_body(order, effect, settings, data),
        )
        for title, order, effect in _journeys()
        if isinstance(effect, SyncOrderInfo)
    ]
    return "\n".join(blocks)


def events_api() -> str:
    settings = EventsApiSettings(access_token="...", event_source_id="EVENT-SET-ID")
    blocks = [
        _block(f"{event_name(effect, settings)}: {title}", body)
        for title, order, effect in _journeys()
        if isinstance(effect, ReportTikTokEvent)
        for body in build_bodies([(order, effect, EventData())], settings)
    ]
    return "\n".join(blocks)


def sfcc() -> str:
    blocks = []
    for name, preset in (
        ("ORDER_MANAGEMENT_PRESET (TikTok for SFCC: Order Management)", ORDER_MANAGEMENT_PRESET),
        ("Salesforce cartridge preset", CARTRIDGE_PRESET),
    ):
        settings = SfccSettings(
            base_url="https://example.demandware.net",
            site_id="TikTokSite",
            client_id="...",
            client_secret="...",
            preset=preset,
        )
        for title, order, effect in _journeys():
            body: dict[str, Any] | None
            if isinstance(effect, CreateSfccOrder):
                body = build_create_body(order, effect, settings)
            elif isinstance(effect, UpdateSfccOrderStatus):
                body = build_status_body(order, effect, settings)
            elif isinstance(effect, UpdateSfccShipping):
                body = build_shipping_body(order, effect, settings)
            elif isinstance(effect, UpdateSfccReturn):
                body = build_return_body(order, effect, settings)
            else:
                continue
            label = f"{effect.kind}, {name}: {title}"
            if body is None:
                blocks.append(f"**{label}**: not sent; the preset has no value for it.\n")
            else:
                blocks.append(_block(label, body))
    return "\n".join(blocks)
