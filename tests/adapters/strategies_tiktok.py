"""Hypothesis strategies and small builders for the TikTok Shop adapter tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from adapters.partners.tiktok_shop import (
    USED_WEBHOOK_TYPES,
    TikTokDistrict,
    TikTokLineItem,
    TikTokOrder,
    TikTokPackage,
    TikTokPayment,
    TikTokRecipientAddress,
    WebhookType,
    webhook_signature,
)
from lifecycle import Initiator, LineStatus, Order, OrderLine, OrderStatus, Recipient

APP_KEY = "test-app-key"
APP_SECRET = "test-app-secret-value"
SHOP_ID = "7494049642642441621"
T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
T0_SECONDS = int(T0.timestamp())

ids = st.from_regex(r"[0-9]{6,19}", fullmatch=True)
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
names = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=12)
amounts = st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False)
moments = st.integers(min_value=1_500_000_000, max_value=2_000_000_000).map(
    lambda s: datetime.fromtimestamp(s, UTC)
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


# --------------------------------------------------------------------------- TikTok's shape

line_items = st.builds(
    TikTokLineItem,
    id=ids,
    sku_id=maybe(ids),
    seller_sku=maybe(names),
    product_id=maybe(ids),
    product_name=maybe(texts),
    sale_price=amounts,
    original_price=amounts,
    display_status=maybe(st.sampled_from([s.value for s in OrderStatus])),
    package_id=maybe(ids),
    tracking_number=maybe(names),
    shipping_provider_id=maybe(ids),
    shipping_provider_name=maybe(names),
)

tiktok_orders = st.builds(
    TikTokOrder,
    id=ids,
    status=st.sampled_from([s.value for s in OrderStatus]),
    create_time=moments,
    payment=st.builds(
        TikTokPayment,
        currency=st.sampled_from(["USD", "GBP", "EUR"]),
        sub_total=amounts,
        shipping_fee=amounts,
        seller_discount=amounts,
        platform_discount=amounts,
        tax=amounts,
        total_amount=amounts,
    ),
    line_items=st.lists(line_items, min_size=1, max_size=4, unique_by=lambda i: i.id).map(tuple),
    update_time=maybe(moments),
    paid_time=maybe(moments),
    delivery_time=maybe(moments),
    recipient_address=maybe(
        st.builds(
            TikTokRecipientAddress,
            name=maybe(texts),
            full_address=maybe(texts),
            phone_number=maybe(names),
            postal_code=maybe(names),
            region_code=maybe(st.sampled_from(["US", "GB"])),
            district_info=st.lists(
                st.builds(TikTokDistrict, address_level_name=names, address_name=texts),
                max_size=3,
            ).map(tuple),
        )
    ),
    packages=st.lists(st.builds(TikTokPackage, id=ids), max_size=2).map(tuple),
    delivery_option_id=maybe(ids),
    payment_method_name=maybe(texts),
    buyer_email=maybe(texts),
    buyer_message=maybe(texts),
    is_on_hold_order=maybe(st.booleans()),
    cancellation_initiator=maybe(st.sampled_from(["BUYER", "SELLER", "SYSTEM"])),
)

# --------------------------------------------------------------------------- ours

_STATUS_LINES = {
    OrderStatus.UNPAID: [LineStatus.OPEN, LineStatus.CANCELLED],
    OrderStatus.ON_HOLD: [LineStatus.OPEN, LineStatus.CANCELLED],
    OrderStatus.AWAITING_SHIPMENT: [LineStatus.OPEN, LineStatus.CANCELLED],
    OrderStatus.PARTIALLY_SHIPPING: [LineStatus.OPEN, LineStatus.SHIPPED, LineStatus.CANCELLED],
    OrderStatus.AWAITING_COLLECTION: [LineStatus.SHIPPED, LineStatus.CANCELLED],
    OrderStatus.IN_TRANSIT: [LineStatus.SHIPPED, LineStatus.CANCELLED],
    OrderStatus.DELIVERED: [LineStatus.SHIPPED, LineStatus.CANCELLED],
    OrderStatus.COMPLETED: [LineStatus.SHIPPED, LineStatus.CANCELLED],
    OrderStatus.CANCELLED: [LineStatus.CANCELLED, LineStatus.SHIPPED],
}


def _order_line(line_id: str, status: LineStatus) -> st.SearchStrategy[OrderLine]:
    return st.builds(
        OrderLine,
        line_item_id=st.just(line_id),
        sku_id=ids | st.just(""),
        seller_sku=names | st.just(""),
        product_name=texts,
        sale_price=amounts,
        original_price=amounts,
        product_id=ids | st.just(""),
        status=st.just(status),
        package_id=maybe(ids),
        tracking_number=maybe(names),
        shipping_provider_id=maybe(ids),
        shipping_provider_name=maybe(names),
    )


@st.composite
def orders(draw: st.DrawFn) -> Order:
    """Orders within what a Get Order Detail object can express (no history, requests)."""
    status = draw(st.sampled_from(list(OrderStatus)))
    line_ids = draw(st.lists(ids, min_size=1, max_size=4, unique=True))
    lines = [draw(_order_line(i, draw(st.sampled_from(_STATUS_LINES[status])))) for i in line_ids]
    recipient = draw(
        maybe(
            st.builds(
                Recipient,
                name=texts,
                full_address=texts,
                city=texts,
                state=texts,
                zipcode=names | st.just(""),
                phone=names | st.just(""),
                district=texts,
                town=texts,
                region_code=st.sampled_from(["", "US", "GB"]),
            )
        )
    )
    cancelled_by = None
    if status is OrderStatus.CANCELLED:
        cancelled_by = draw(maybe(st.sampled_from(list(Initiator))))
    return Order(
        order_id=draw(ids),
        shop_id=draw(maybe(st.just(SHOP_ID))),
        currency=draw(st.sampled_from(["USD", "GBP"])),
        created_at=draw(moments),
        lines=lines,
        status=status,
        paid_at=draw(maybe(moments)),
        updated_at=draw(maybe(moments)),
        delivered_at=draw(maybe(moments)),
        sub_total=draw(amounts),
        shipping_fee=draw(amounts),
        seller_discount=draw(amounts),
        platform_discount=draw(amounts),
        taxes=draw(amounts),
        total_amount=draw(amounts),
        payment_method=draw(texts),
        recipient=recipient,
        buyer_email=draw(texts),
        buyer_message=draw(texts),
        cancelled_by=cancelled_by,
    )


# --------------------------------------------------------------------------- builders


def order_object(
    order_id: str = "576461413038785752",
    *,
    status: str = "AWAITING_SHIPMENT",
    lines: int = 2,
    package_id: str | None = "PKG1",
    delivery_option_id: str = "DO1",
    **extra: Any,
) -> dict[str, Any]:
    """A Get Order Detail order object as TikTok sends it."""
    items = [
        {
            "id": f"L{i}",
            "sku_id": f"SKU{i}",
            "seller_sku": f"MUG-{i}",
            "product_id": "P1",
            "product_name": f"Mug {i}",
            "sale_price": "12.50",
            "original_price": "15.00",
            "display_status": status,
            **({"package_id": package_id} if package_id else {}),
        }
        for i in range(1, lines + 1)
    ]
    body: dict[str, Any] = {
        "id": order_id,
        "status": status,
        "create_time": T0_SECONDS,
        "update_time": T0_SECONDS + 60,
        "paid_time": T0_SECONDS + 30,
        "payment": {
            "currency": "USD",
            "sub_total": "25.00",
            "shipping_fee": "4.99",
            "seller_discount": "1.00",
            "platform_discount": "0.50",
            "tax": "2.10",
            "total_amount": "30.59",
        },
        "line_items": items,
        "packages": [{"id": package_id}] if package_id else [],
        "delivery_option_id": delivery_option_id,
        "is_on_hold_order": True,
        "payment_method_name": "Credit card",
    }
    body.update(extra)
    return body


def signed_webhook(payload: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """Headers and body of a webhook TikTok would send."""
    body = json.dumps(payload).encode()
    return {"Authorization": webhook_signature(body, APP_KEY, APP_SECRET)}, body


def envelope(kind: int, data: dict[str, Any], timestamp: int = T0_SECONDS) -> dict[str, Any]:
    return {"type": kind, "shop_id": SHOP_ID, "timestamp": timestamp, "data": data}


ORDER_STATUSES = [s.value for s in OrderStatus]
CANCEL_STATUSES = [
    "CANCELLATION_REQUEST_PENDING",
    "CANCELLATION_REQUEST_SUCCESS",
    "CANCELLATION_REQUEST_CANCEL",
    "CANCELLATION_REQUEST_COMPLETE",
]
RETURN_STATUSES = [
    "RETURN_OR_REFUND_REQUEST_PENDING",
    "RETURN_OR_REFUND_REQUEST_REJECT",
    "REFUND_OR_RETURN_REQUEST_REJECT",
    "AWAITING_BUYER_SHIP",
    "BUYER_SHIPPED_ITEM",
    "REJECT_RECEIVE_PACKAGE",
    "RETURN_OR_REFUND_REQUEST_SUCCESS",
    "RETURN_OR_REFUND_REQUEST_CANCEL",
    "RETURN_OR_REFUND_REQUEST_COMPLETE",
    "AWAITING_BUYER_RESPONSE",
]
seconds = st.integers(min_value=T0_SECONDS, max_value=T0_SECONDS + 86400 * 30)

valid_payloads = st.one_of(
    st.builds(
        lambda status, t, hold: envelope(
            1,
            {"order_id": "O1", "order_status": status, "update_time": t, "is_on_hold_order": hold},
        ),
        st.sampled_from(ORDER_STATUSES),
        seconds,
        st.booleans(),
    ),
    st.builds(
        lambda status, role, t: envelope(
            11,
            {
                "order_id": "O1",
                "cancel_id": "C1",
                "cancel_status": status,
                "cancellations_role": role,
                "create_time": t,
            },
        ),
        st.sampled_from(CANCEL_STATUSES),
        st.sampled_from(["BUYER", "SELLER", "SYSTEM"]),
        seconds,
    ),
    st.builds(
        lambda status, kind, t: envelope(
            12,
            {
                "order_id": "O1",
                "return_id": "R1",
                "return_role": "BUYER",
                "return_type": kind,
                "return_status": status,
                "create_time": t,
                "update_time": t,
            },
        ),
        st.sampled_from(RETURN_STATUSES),
        st.sampled_from(["REFUND", "RETURN_AND_REFUND", "REPLACEMENT"]),
        seconds,
    ),
    st.builds(
        lambda packages, sc_type, t: envelope(
            4,
            {
                "sc_type": sc_type,
                "role_type": "ROLE_USER",
                "package_list": packages,
                "update_time": t,
            },
        ),
        st.lists(
            st.fixed_dictionaries(
                {"package_id": ids, "order_id_list": st.lists(ids, min_size=1, max_size=3)}
            ),
            min_size=1,
            max_size=3,
        ),
        st.sampled_from(["SPLIT", "COMBINE"]),
        seconds,
    ),
    st.builds(lambda t: envelope(3, {"order_id": "O1", "update_time": t}), seconds),
    st.just(envelope(6, {"message": "seller deauthorized"})),
    st.builds(lambda t: envelope(7, {"message": "expiring", "expiration_time": t}), seconds),
)

#: Type numbers TikTok documents that the library does not read.
UNUSED_TYPES = sorted(set(WebhookType) - USED_WEBHOOK_TYPES)


#: Correctly shaped envelopes of unused and unknown types, with arbitrary `data`.
def _storable_text(size: int) -> st.SearchStrategy[str]:
    """Text a store can keep: no lone surrogate, no NUL (those are refused by name)."""
    return st.text(
        st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=size
    )


unused_payloads = st.builds(
    envelope,
    st.sampled_from(UNUSED_TYPES)
    | st.integers(min_value=-(10**6), max_value=10**6).filter(lambda n: n not in set(WebhookType)),
    st.dictionaries(_storable_text(12), st.none() | st.integers() | _storable_text(8), max_size=4),
)

# --------------------------------------------------------------------------- search results


def cancellation_objects(line_ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Search Cancellations `cancellations[]` entries as TikTok sends them, naming `line_ids`."""
    return st.fixed_dictionaries(
        {
            "cancel_id": ids,
            "order_id": st.just("O1"),
            "cancel_status": st.sampled_from(CANCEL_STATUSES),
            "role": st.sampled_from(["BUYER", "SELLER", "SYSTEM"]),
            "cancel_type": st.sampled_from(["CANCEL", "BUYER_CANCEL", "REQUEST_CANCEL_REFUND"]),
            "cancel_reason": st.sampled_from(
                ["ecom_order_to_ship_canceled_reason_created_by_mistakes", ""]
            ),
            "create_time": seconds,
            "update_time": seconds,
            "cancel_line_items": st.lists(
                st.sampled_from(line_ids), min_size=1, max_size=len(line_ids), unique=True
            ).map(lambda chosen: [{"order_line_item_id": i, "seller_sku": "X"} for i in chosen]),
        }
    )


def return_objects(line_ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Search Returns `return_orders[]` entries as TikTok sends them, naming `line_ids`."""
    return st.fixed_dictionaries(
        {
            "return_id": ids,
            "order_id": st.just("O1"),
            "return_status": st.sampled_from(RETURN_STATUSES),
            "return_type": st.sampled_from(["REFUND", "RETURN_AND_REFUND", "REPLACEMENT"]),
            "role": st.sampled_from(["BUYER", "SELLER", "SYSTEM"]),
            "return_reason": st.sampled_from(["ecom_order_delivered_refund_and_return_reason_x"]),
            "return_tracking_number": names,
            "create_time": seconds,
            "update_time": seconds,
            "return_line_items": st.lists(
                st.sampled_from(line_ids), min_size=1, max_size=len(line_ids), unique=True
            ).map(lambda chosen: [{"order_line_item_id": i, "sku_id": "S"} for i in chosen]),
        }
    )
