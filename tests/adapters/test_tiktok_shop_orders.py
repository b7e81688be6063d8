"""The Get Order Detail converter: TikTok's order object <-> the lifecycle's `Order`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given

from adapters.errors import MalformedPayload, UnknownValue
from adapters.partners.tiktok_shop import (
    CONVERTER,
    TikTokOrder,
    detail_from_order,
    order_from_detail,
)
from lifecycle import Initiator, LineStatus, Order, OrderStatus

from .strategies_tiktok import SHOP_ID, T0, order_object, orders, tiktok_orders


def test_order_detail_maps_money_times_lines_and_recipient() -> None:
    """The Logicbroker TikTok Shop connector's fields land where the OMS expects them, money
    as Decimal, times aware."""
    raw = order_object(
        recipient_address={
            "name": "Ada Buyer",
            "full_address": "1 Main St, Springfield, IL 62701",
            "phone_number": "(+1)555-0100",
            "postal_code": "62701",
            "region_code": "US",
            "district_info": [
                {"address_level_name": "Country", "address_name": "United States"},
                {"address_level_name": "State", "address_name": "Illinois"},
                {"address_level_name": "County", "address_name": "Sangamon"},
                {"address_level_name": "City", "address_name": "Springfield"},
            ],
        },
        buyer_message="leave at door",
        cancellation_initiator="",
    )
    order = order_from_detail(raw, shop_id=SHOP_ID)
    assert order.order_id == "576461413038785752"
    assert order.shop_id == SHOP_ID
    assert order.status is OrderStatus.AWAITING_SHIPMENT
    assert order.currency == "USD"
    assert (order.sub_total, order.shipping_fee, order.taxes) == (
        Decimal("25.00"),
        Decimal("4.99"),
        Decimal("2.10"),
    )
    assert (order.seller_discount, order.platform_discount, order.total_amount) == (
        Decimal("1.00"),
        Decimal("0.50"),
        Decimal("30.59"),
    )
    assert order.created_at == T0
    assert order.created_at.tzinfo is UTC
    assert order.paid_at == datetime.fromtimestamp(int(T0.timestamp()) + 30, UTC)
    assert order.payment_method == "Credit card"
    assert order.buyer_message == "leave at door"
    assert [line.line_item_id for line in order.lines] == ["L1", "L2"]
    first = order.lines[0]
    assert (first.sku_id, first.seller_sku, first.product_id) == ("SKU1", "MUG-1", "P1")
    assert (first.sale_price, first.original_price) == (Decimal("12.50"), Decimal("15.00"))
    assert first.package_id == "PKG1"
    assert first.status is LineStatus.OPEN
    assert order.recipient is not None
    recipient = order.recipient
    assert (recipient.name, recipient.phone, recipient.zipcode) == (
        "Ada Buyer",
        "(+1)555-0100",
        "62701",
    )
    assert (recipient.state, recipient.city, recipient.district) == (
        "Illinois",
        "Springfield",
        "Sangamon",
    )
    assert recipient.region_code == "US"
    assert order.cancelled_by is None


def test_cancellation_initiator_becomes_cancelled_by() -> None:
    raw = order_object(status="CANCELLED", cancellation_initiator="SYSTEM")
    assert order_from_detail(raw, shop_id=SHOP_ID).cancelled_by is Initiator.PLATFORM
    raw = order_object(status="CANCELLED", cancellation_initiator="BUYER")
    assert order_from_detail(raw, shop_id=SHOP_ID).cancelled_by is Initiator.BUYER


def test_legacy_flow_order_still_in_its_remorse_window_is_on_hold() -> None:
    """`is_on_hold_order: false` on AWAITING_SHIPMENT: the 1-hour window still applies."""
    raw = order_object(is_on_hold_order=False)
    assert order_from_detail(raw, shop_id=SHOP_ID).status is OrderStatus.ON_HOLD
    kept = order_from_detail(raw, shop_id=SHOP_ID, hold_legacy_flow=False)
    assert kept.status is OrderStatus.AWAITING_SHIPMENT


def test_line_display_status_sets_line_status() -> None:
    raw = order_object(status="PARTIALLY_SHIPPING")
    raw["line_items"][0]["display_status"] = "AWAITING_COLLECTION"
    raw["line_items"][1]["display_status"] = "CANCELLED"
    order = order_from_detail(raw, shop_id=SHOP_ID)
    assert [line.status for line in order.lines] == [LineStatus.SHIPPED, LineStatus.CANCELLED]


def test_unknown_extra_fields_are_ignored() -> None:
    raw = order_object(brand_new_field={"x": 1}, fast_delivery_program="X")
    raw["line_items"][0]["is_gift"] = False
    raw["payment"]["retail_delivery_fee"] = "0.27"
    assert order_from_detail(raw, shop_id=SHOP_ID).order_id == raw["id"]


def test_orders_read_from_separate_answers_share_catalogue_values_and_amounts() -> None:
    """Two order details parsed from their own JSON text hold one object per equal SKU,
    product name, currency and amount (as a shop's catalogue repeats in every order),
    while each keeps its own id; an amount sent as "12.5" stays "12.5"."""
    first, second = (
        order_from_detail(json.loads(json.dumps(order_object(order_id))), shop_id=SHOP_ID)
        for order_id in ("576461413038785752", "576461413038785753")
    )
    assert first.lines[0].sku_id is second.lines[0].sku_id
    assert first.lines[0].product_name is second.lines[0].product_name
    assert first.currency is second.currency
    assert first.lines[0].sale_price is second.lines[0].sale_price
    assert first.order_id != second.order_id
    odd = order_object()
    odd["line_items"][0]["sale_price"] = "12.5"
    assert str(order_from_detail(odd, shop_id=SHOP_ID).lines[0].sale_price) == "12.5"
    assert str(first.lines[0].sale_price) == "12.50"


@pytest.mark.parametrize(
    ("remove", "named"),
    [
        (("id",), "order.id"),
        (("payment",), "order.payment"),
        (("create_time",), "order.create_time"),
        (("line_items",), "order.line_items"),
        (("payment", "currency"), "order.payment.currency"),
        (("line_items", 0, "id"), "order.line_items[0].id"),
    ],
)
def test_missing_mandatory_field_is_a_typed_error_naming_it(
    remove: tuple[str | int, ...], named: str
) -> None:
    raw = order_object()
    holder = raw
    for key in remove[:-1]:
        holder = holder[key]  # type: ignore[index]
    del holder[remove[-1]]  # type: ignore[arg-type]
    with pytest.raises(MalformedPayload) as caught:
        order_from_detail(raw, shop_id=SHOP_ID)
    assert f"@ {named}" in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [("create_time", "yesterday"), ("is_on_hold_order", "false"), ("line_items", {"id": "x"})],
)
def test_wrong_types_are_malformed(field: str, value: object) -> None:
    with pytest.raises(MalformedPayload, match=field):
        order_from_detail(order_object(**{field: value}), shop_id=SHOP_ID)


def test_amount_that_is_not_a_number_is_malformed() -> None:
    raw = order_object()
    raw["payment"]["total_amount"] = "12,50"
    with pytest.raises(MalformedPayload, match="total_amount"):
        order_from_detail(raw, shop_id=SHOP_ID)


def test_unknown_status_and_initiator_are_named() -> None:
    with pytest.raises(UnknownValue, match="'SHIPPED_TO_MARS'"):
        order_from_detail(order_object(status="SHIPPED_TO_MARS"), shop_id=SHOP_ID)
    with pytest.raises(UnknownValue, match="cancellation_initiator 'ALIEN'"):
        order_from_detail(order_object(cancellation_initiator="ALIEN"), shop_id=SHOP_ID)


def test_no_lines_breaks_the_order_rules_as_malformed() -> None:
    with pytest.raises(MalformedPayload, match="at least one line"):
        order_from_detail(order_object(line_items=[]), shop_id=SHOP_ID)


def test_recipient_personal_data_stays_out_of_repr() -> None:
    raw = order_object(recipient_address={"name": "Ada Buyer", "phone_number": "5550100"})
    order = order_from_detail(raw, shop_id=SHOP_ID)
    assert "Ada Buyer" not in repr(order)
    assert "5550100" not in repr(CONVERTER.structure(raw, TikTokOrder))


def test_an_order_detail_without_a_shop_gives_an_order_without_one() -> None:
    """TikTok's order object names no shop: the order is kept with `shop_id` None."""
    order = order_from_detail(order_object())
    assert order.shop_id is None
    assert order_from_detail(order_object(), shop_id=SHOP_ID).shop_id == SHOP_ID


@given(tiktok_orders)
def test_tiktok_order_round_trips_through_the_converter(order: TikTokOrder) -> None:
    assert CONVERTER.structure(CONVERTER.unstructure(order), TikTokOrder) == order


@given(orders())
def test_order_round_trips_through_the_order_detail_shape(order: Order) -> None:
    assert order_from_detail(detail_from_order(order), shop_id=order.shop_id) == order
