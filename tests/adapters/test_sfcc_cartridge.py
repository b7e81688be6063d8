"""The cartridge preset does what Salesforce's social channel cartridge reads; totals add up.

The expected bodies here are written by hand from the cartridge's code paths
(Salesforce's social channel cartridge: `int_social_checkout` and
`int_order_no_oms`), each naming the file and function it follows, never by
calling the builder. `cartridge_total` adds a create body up the way
`OrderCreate-Social` builds its basket, so the totals tests check the body
against what SFCC would record, not against the builder's own arithmetic.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import attrs
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.http import encode_json
from adapters.partners.sfcc import (
    CARTRIDGE_PRESET,
    SfccClient,
    SfccSettings,
    build_create_body,
    build_return_body,
    build_shipping_body,
    build_status_body,
    minor_unit,
    spread,
)
from adapters.partners.tiktok_shop import order_from_detail
from adapters.sandbox import SandboxServer
from adapters.sandbox.sfcc import TOKEN_PATH, sfcc_routes
from adapters.store._codec import order_from_json, order_to_json
from lifecycle import (
    CreateSfccOrder,
    LineStatus,
    Order,
    OrderLine,
    Recipient,
    ReturnRequest,
    ReturnStatus,
    SfccStatus,
    ShippingStatus,
    UpdateSfccOrderStatus,
    UpdateSfccReturn,
    UpdateSfccShipping,
)

from ._reporting_support import FAST, ORDER_ID, T0, hotel_order

CARTRIDGE = SfccSettings(
    base_url="https://shop.example.test",
    site_id="TikTokSite",
    client_id="sandbox-client",
    client_secret="secret",
    preset=CARTRIDGE_PRESET,
)
DEFAULT_PROMO = "TikTokPromo"  # OrderCreate-Social: tiktokDefaultPromoID when unset


def cartridge_total(body: dict[str, Any], default_promo: str = DEFAULT_PROMO) -> Decimal:
    """The basket's gross total as `OrderCreate-Social` computes it from `body`.

    int_social_checkout, `OrderCreateHelper.js`: `addItemsToBasket` prices each
    line at `net_price / quantity` per unit, adds `tax` when it is > 0 and each
    of its `price_adjustments` (`applyPriceAdjustments`: `net_price` plus its
    `tax`; SFCC keeps the unit price in whole cents); `setShippingCost` takes
    `totals.adjusted_shipping_total.net_price` untaxed; `totals.price_adjustments`
    are added to the order, then `removePriceAdjustments` drops every order-level
    adjustment whose promotion is not the default one. The payment is `getTotalGrossPrice()`.
    """
    total = Decimal(0)
    for item in body["product_lineitems"]:
        # setPriceValue(net_price / quantity): a unit price, kept in whole cents.
        unit = (Decimal(str(item["net_price"])) / item["quantity"]).quantize(
            minor_unit(body["currency"]), rounding=ROUND_HALF_UP
        )
        total += unit * item["quantity"]
        if Decimal(str(item.get("tax", 0))) > 0:
            total += Decimal(str(item["tax"]))
        for adjustment in item.get("price_adjustments", []):
            total += Decimal(str(adjustment["net_price"])) + Decimal(str(adjustment.get("tax", 0)))
    totals = body.get("totals", {})
    if "adjusted_shipping_total" in totals:
        total += Decimal(str(totals["adjusted_shipping_total"]["net_price"]))
    for adjustment in totals.get("price_adjustments", []):
        if adjustment.get("promotion_id", default_promo) == default_promo:
            total += Decimal(str(adjustment["net_price"])) + Decimal(str(adjustment.get("tax", 0)))
    return total


def _wire(body: dict[str, Any]) -> dict[str, Any]:
    """The body as sent and as the cartridge parses it: JSON numbers (as exact decimals)."""
    return json.loads(encode_json(body), parse_float=Decimal)


# --- golden bodies, from the cartridge's code paths ---------------------------------------------


def shop_order() -> Order:
    """A mug (two 202309 unit lines) and a tote; TikTok gives each line's discounts."""
    return Order(
        order_id=ORDER_ID,
        currency="USD",
        created_at=T0,
        lines=[
            OrderLine(
                "L1",
                seller_sku="MUG-1",
                sale_price=Decimal("10.00"),
                original_price=Decimal("12.00"),
                seller_discount=Decimal("1.50"),
                platform_discount=Decimal("0.50"),
            ),
            OrderLine(
                "L2",
                seller_sku="MUG-1",
                sale_price=Decimal("10.00"),
                original_price=Decimal("12.00"),
                seller_discount=Decimal("1.50"),
                platform_discount=Decimal("0.50"),
            ),
            OrderLine("L3", seller_sku="TOTE-1", sale_price=Decimal("5.00")),
        ],
        sub_total=Decimal("25.00"),
        shipping_fee=Decimal("4.99"),
        seller_discount=Decimal("3.00"),
        platform_discount=Decimal("1.00"),
        taxes=Decimal("2.00"),
        total_amount=Decimal("31.99"),
        recipient=Recipient(
            name="Jane  Doe",
            full_address="Apt 4, 1 Main St, San Francisco, CA 94105",
            address_line1="1 Main St",
            address_line2="Apt 4",
            address_line3="",
            address_line4="Building B",
            city="San Francisco",
            state="CA",
            zipcode="94105",
            region_code="US",
            phone="+14155550123",
        ),
        buyer_email="  Jane.Doe@Example.COM\n",
        returns=[
            ReturnRequest(
                "R1", ("L3",), requested_at=T0, status=ReturnStatus.APPROVED, reason="damaged"
            )
        ],
    )


def test_create_golden_follows_the_create_controller() -> None:
    """OrderCreate-Social / OrderCreateHelper.js, field by field.

    `customer.customer_email` (trimmed: `setCustomerEmail` takes it as sent),
    `customer_name`; `setAddressFields`: `first_name`, `last_name`, `address1`,
    `address2`, `city`, `postal_code`, `state_code`, `country_code`, `phone`;
    `addItemsToBasket`: `product_id`, `quantity`, `net_price` (the line total,
    divided by the quantity), `tax`, `price_adjustments[]` (`net_price`,
    `promotion_id`); `setShippingCost`: `adjusted_shipping_total.net_price`;
    `payment.payment_method`; `c_externalOrderId`. The mug keeps 2 x 10.00 after
    its own discounts (2 x 1.50 seller, 2 x 0.50 TikTok) on a price of 24.00;
    the tax 2.00 goes by sale price: 20/25 and 5/25.
    """
    address = {
        "first_name": "Jane",
        "last_name": "Doe",
        "address1": "1 Main St",
        "address2": "Apt 4, Building B",
        "city": "San Francisco",
        "state_code": "CA",
        "postal_code": "94105",
        "country_code": "US",
        "phone": "+14155550123",
    }
    assert build_create_body(shop_order(), CreateSfccOrder(ORDER_ID, 2), CARTRIDGE) == {
        "c_externalOrderId": ORDER_ID,
        "currency": "USD",
        "customer": {
            "customer_email": "Jane.Doe@Example.COM",
            "customer_name": "Jane  Doe",
            "billing_address": address,
        },
        "shipment": {"shipping_address": address},
        "product_lineitems": [
            {
                "product_id": "MUG-1",
                "quantity": 2,
                "net_price": Decimal("24.00"),
                "tax": Decimal("1.60"),
                "price_adjustments": [
                    {"net_price": Decimal("-3.00"), "promotion_id": "TikTokSellerDiscount"},
                    {"net_price": Decimal("-1.00"), "promotion_id": "TikTokPlatformDiscount"},
                ],
            },
            {
                "product_id": "TOTE-1",
                "quantity": 1,
                "net_price": Decimal("5.00"),
                "tax": Decimal("0.40"),
            },
        ],
        "totals": {"adjusted_shipping_total": {"net_price": Decimal("4.99")}},
        "payment": {"payment_method": "SOCIAL_PAY"},
    }


def test_partial_cancel_golden_follows_process_cancel() -> None:
    """orderPatch.js `afterPATCH`: action `cancel` -> orderCancel.js `processCancel`, which
    cancels the products named by the keys of `c_cancelInfo.cancelItems` (the
    order-management variant reads each one's `quantity` and `reason`)."""
    effect = UpdateSfccOrderStatus(
        ORDER_ID,
        4,
        external_status=SfccStatus.PARTIALLY_CANCELLED,
        line_item_ids=("L1", "L3"),
        reason="out of stock",
    )
    assert build_status_body(shop_order(), effect, CARTRIDGE) == {
        "c_orderAction": "cancel",
        "c_cancelInfo": {
            "cancelItems": {
                "MUG-1": {"quantity": 1, "reason": "out of stock"},
                "TOTE-1": {"quantity": 1, "reason": "out of stock"},
            }
        },
    }


def test_whole_cancel_golden_follows_process_cancel_order() -> None:
    """`cancel_order` -> `processCancelOrder`: every line, status 6 set by the hook."""
    effect = UpdateSfccOrderStatus(ORDER_ID, 4, external_status=SfccStatus.CANCELLED)
    assert build_status_body(shop_order(), effect, CARTRIDGE) == {"c_orderAction": "cancel_order"}


def test_line_return_golden_follows_process_return() -> None:
    """`return` -> orderReturn.js `processReturn`: the products named by the keys of
    `c_returnCase.returnItems` are returned, not every line (`return_order`)."""
    effect = UpdateSfccReturn(
        ORDER_ID, 6, return_id="R1", return_status=ReturnStatus.APPROVED, line_item_ids=("L3",)
    )
    assert build_return_body(shop_order(), effect, CARTRIDGE) == {
        "c_orderAction": "return",
        "c_returnCase": {"returnItems": {"TOTE-1": {"quantity": 1, "reason": "damaged"}}},
    }


def test_shipping_golden_follows_the_after_patch_else_branch() -> None:
    """`afterPATCH` applies `productItems` (`updateProductLineItem`: `product_id`,
    `c_externalLineItemStatus`, `c_carrier`, `c_trackingNumber`) and
    `shippingStatus` (`shipped` / `part_shipped`) only under an order action that
    is neither a cancel nor a return."""
    effect = UpdateSfccShipping(
        ORDER_ID,
        3,
        line_item_ids=("L1", "L2", "L3"),
        shipping_status=ShippingStatus.SHIPPED,
        tracking_number="1Z999",
        shipping_provider_name="UPS",
    )
    body = build_shipping_body(shop_order(), effect, CARTRIDGE)
    assert body == {
        "c_orderAction": "update",
        "shipping_status": "shipped",
        "product_items": [
            {
                "product_id": "MUG-1",
                "c_externalLineItemStatus": 2,
                "c_carrier": "UPS",
                "c_trackingNumber": "1Z999",
            },
            {
                "product_id": "TOTE-1",
                "c_externalLineItemStatus": 2,
                "c_carrier": "UPS",
                "c_trackingNumber": "1Z999",
            },
        ],
    }
    assert body["c_orderAction"] not in ("cancel", "cancel_order", "return", "return_order")


def test_every_cartridge_update_carries_an_action_so_an_old_one_is_not_run_again() -> None:
    """The action stays on the order: a completion after a partial cancel must not re-run
    `processCancel` (which would set status 7 over the 5 we send)."""
    done = UpdateSfccOrderStatus(ORDER_ID, 9, external_status=SfccStatus.COMPLETED)
    assert build_status_body(shop_order(), done, CARTRIDGE) == {
        "c_orderAction": "update",
        "c_externalChannelOrderStatus": 5,
    }


# --- totals -------------------------------------------------------------------------------------


def test_the_sfcc_total_is_tiktoks_total_amount() -> None:
    """Seller and platform discounts, shipping and tax: the cartridge records 31.99 paid."""
    body = build_create_body(shop_order(), CreateSfccOrder(ORDER_ID, 2), CARTRIDGE)
    assert cartridge_total(_wire(body)) == Decimal("31.99")
    assert cartridge_total(
        _wire(build_create_body(hotel_order(), CreateSfccOrder(ORDER_ID, 2), CARTRIDGE))
    ) == Decimal("433.00")


def test_a_fee_the_lines_do_not_carry_is_an_order_adjustment_the_cartridge_keeps() -> None:
    """TikTok adds fees (a small order fee) to `total_amount`: they reach SFCC as one
    order-level adjustment under the cartridge's default promotion, which
    `removePriceAdjustments` keeps; a custom id would be dropped."""
    order = attrs.evolve(shop_order(), total_amount=Decimal("32.98"))
    body = _wire(build_create_body(order, CreateSfccOrder(ORDER_ID, 2), CARTRIDGE))
    assert body["totals"]["price_adjustments"] == [{"net_price": Decimal("0.99")}]
    assert cartridge_total(body) == Decimal("32.98")


cents = st.integers(min_value=0, max_value=50_000).map(lambda c: Decimal(c) / 100)


@st.composite
def tiktok_details(draw: st.DrawFn) -> dict[str, Any]:
    """A Get Order Detail object whose amounts add up the way TikTok's do.

    Each line: `sale_price = original_price - seller_discount - platform_discount`;
    the order: `sub_total` is the sum of sale prices and `total_amount =
    sub_total + shipping_fee + tax` (+ a fee); the order's discounts may exceed
    the lines' own (an order-level voucher already in the sale prices).
    """
    count = draw(st.integers(min_value=1, max_value=6))
    items, sales, sellers, platforms = [], Decimal(0), Decimal(0), Decimal(0)
    give_line_discounts = draw(st.booleans())
    for index in range(count):
        sale = draw(cents)
        seller = draw(cents) if give_line_discounts else Decimal(0)
        platform = draw(cents) if give_line_discounts else Decimal(0)
        sales, sellers, platforms = sales + sale, sellers + seller, platforms + platform
        item: dict[str, Any] = {
            "id": f"L{index}",
            "seller_sku": draw(st.sampled_from(["A", "B", "C"])),
            "sale_price": str(sale),
            "original_price": str(sale + seller + platform),
            "display_status": "AWAITING_SHIPMENT",
        }
        if give_line_discounts:
            item |= {"seller_discount": str(seller), "platform_discount": str(platform)}
        items.append(item)
    shipping, tax, fee = draw(cents), draw(cents), draw(st.sampled_from([Decimal(0), draw(cents)]))
    return {
        "id": ORDER_ID,
        "status": "AWAITING_SHIPMENT",
        "create_time": 1795167000,
        "payment": {
            "currency": "USD",
            "sub_total": str(sales),
            "shipping_fee": str(shipping),
            "seller_discount": str(sellers + draw(cents)),
            "platform_discount": str(platforms + draw(cents)),
            "tax": str(tax),
            "total_amount": str(sales + shipping + tax + fee),
        },
        "line_items": items,
    }


@given(tiktok_details())
def test_any_tiktok_order_reaches_sfcc_with_its_total_amount(detail: dict[str, Any]) -> None:
    """Over amounts: the cartridge's total equals TikTok's `total_amount` to the cent,
    and every adjustment is a discount (never positive) on its line."""
    order = order_from_detail(detail, hold_legacy_flow=False)
    body = _wire(build_create_body(order, CreateSfccOrder(ORDER_ID, 2), CARTRIDGE))
    assert cartridge_total(body) == order.total_amount
    for item in body["product_lineitems"]:
        for adjustment in item.get("price_adjustments", []):
            assert adjustment["net_price"] < 0
        assert (
            item["net_price"]
            + sum((a["net_price"] for a in item.get("price_adjustments", [])), Decimal(0))
            >= 0
        )


def test_a_cancelled_line_is_not_created_and_the_total_still_matches() -> None:
    order = shop_order()
    lines = [
        attrs.evolve(line, status=LineStatus.CANCELLED) if line.line_item_id == "L3" else line
        for line in order.lines
    ]
    order = attrs.evolve(
        order, lines=lines, total_amount=Decimal("26.99"), sub_total=Decimal("20.00")
    )
    body = _wire(build_create_body(order, CreateSfccOrder(ORDER_ID, 2), CARTRIDGE))
    assert [i["product_id"] for i in body["product_lineitems"]] == ["MUG-1"]
    assert cartridge_total(body) == Decimal("26.99")


# --- the spread ---------------------------------------------------------------------------------


@given(
    st.integers(min_value=-(10**7), max_value=10**7),
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12),
    st.sampled_from(["USD", "JPY"]),
)
def test_spread_sums_exactly_and_each_share_is_within_one_unit(
    units: int, weights: list[int], currency: str
) -> None:
    """Largest remainder: the shares add up to the total exactly; each is within one
    minor unit of its exact proportional share."""
    quantum = minor_unit(currency)
    total = units * quantum
    shares = spread(total, [Decimal(w) for w in weights], quantum)
    assert sum(shares, Decimal(0)) == total
    whole = sum(weights) or len(weights)
    for share, weight in zip(shares, weights if sum(weights) else [1] * len(weights), strict=True):
        exact = Fraction(total) * weight / whole
        assert abs(Fraction(share) - exact) < Fraction(quantum)
        assert share % quantum == 0


def test_spread_gives_the_left_over_cents_to_the_largest_remainders() -> None:
    assert spread(Decimal("10.00"), [Decimal(1)] * 3) == (
        Decimal("3.34"),
        Decimal("3.33"),
        Decimal("3.33"),
    )
    assert spread(Decimal("1.00"), [Decimal(1), Decimal(2)]) == (Decimal("0.33"), Decimal("0.67"))
    assert spread(Decimal("-0.05"), [Decimal(1), Decimal(1)]) == (
        Decimal("-0.03"),
        Decimal("-0.02"),
    )


def test_spread_refuses_negative_weights_and_an_amount_over_nothing() -> None:
    with pytest.raises(ValueError, match="negative"):
        spread(Decimal(1), [Decimal(-1)])
    with pytest.raises(ValueError, match="no weights"):
        spread(Decimal(1), [])
    assert spread(Decimal(0), []) == ()


# --- what creation used to drop -----------------------------------------------------------------


def test_without_address_lines_address1_is_the_full_address() -> None:
    order = attrs.evolve(
        shop_order(), recipient=Recipient(name="Jane", full_address=" 1 Main St, Apt 4 ")
    )
    address = build_create_body(order, CreateSfccOrder(ORDER_ID, 2), CARTRIDGE)["customer"][
        "billing_address"
    ]
    assert address == {"first_name": "Jane", "address1": "1 Main St, Apt 4"}


def test_tiktok_address_lines_and_line_discounts_are_read_from_the_order_detail() -> None:
    detail = {
        "id": ORDER_ID,
        "status": "AWAITING_SHIPMENT",
        "create_time": 1795167000,
        "payment": {"currency": "USD"},
        "recipient_address": {
            "name": "Jane Doe",
            "full_address": "1 Main St Apt 4",
            "address_line1": "1 Main St",
            "address_line2": "Apt 4",
        },
        "line_items": [
            {
                "id": "L1",
                "sale_price": "8.00",
                "seller_discount": "1.50",
                "platform_discount": "0.50",
            }
        ],
    }
    order = order_from_detail(detail)
    assert order.recipient is not None
    assert order.recipient.address_lines == ("1 Main St", "Apt 4")
    assert (order.lines[0].seller_discount, order.lines[0].platform_discount) == (
        Decimal("1.50"),
        Decimal("0.50"),
    )


def test_an_order_stored_before_the_new_fields_still_decodes() -> None:
    """Stored bodies without line tax / discounts or address lines decode with zeros."""
    raw = json.loads(order_to_json(shop_order()))
    for line in raw["lines"]:
        for name in ("tax", "seller_discount", "platform_discount"):
            del line[name]
    for name in ("address_line1", "address_line2", "address_line3", "address_line4"):
        del raw["recipient"][name]
    old = order_from_json(json.dumps(raw))
    assert old.lines[0].seller_discount == Decimal(0)
    assert old.recipient is not None
    assert old.recipient.address_lines == ()
    assert old.created_at == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


# --- end to end against a sandbox running the cartridge -----------------------------------------


def test_end_to_end_the_cartridge_cancels_one_line_ships_the_rest_and_totals_match() -> None:
    """Real HTTP against the sandbox's cartridge (routing as `afterPATCH` does): the
    basket totals TikTok's 31.99; a partial cancel cancels the tote only; shipping is
    applied (it carries an action); completion does not re-run the earlier cancel."""
    routes, state = sfcc_routes(client_id="c", client_secret="s", cartridge=True)
    with SandboxServer(routes) as server, httpx.Client() as http:
        settings = attrs.evolve(
            CARTRIDGE,
            base_url=server.url,
            token_url=server.url + TOKEN_PATH,
            client_id="c",
            client_secret="s",
        )
        client = SfccClient(http, settings, retry=FAST)
        order = shop_order()
        order_no = client.execute(order, CreateSfccOrder(ORDER_ID, 2)).order_no
        assert state.order(ORDER_ID)["order_total"] == "31.99"
        partial = UpdateSfccOrderStatus(
            ORDER_ID, 3, external_status=SfccStatus.PARTIALLY_CANCELLED, line_item_ids=("L3",)
        )
        client.execute(order, partial, order_no=order_no)
        ship = UpdateSfccShipping(
            ORDER_ID,
            4,
            line_item_ids=("L1", "L2"),
            shipping_status=ShippingStatus.SHIPPED,
            tracking_number="1Z999",
            shipping_provider_name="UPS",
        )
        client.execute(order, ship, order_no=order_no)
        done = UpdateSfccOrderStatus(ORDER_ID, 5, external_status=SfccStatus.COMPLETED)
        client.execute(order, done, order_no=order_no)
    stored = state.order(ORDER_ID)
    items = {item["product_id"]: item for item in stored["product_items"]}
    assert items["TOTE-1"]["c_externalLineItemStatus"] == 6  # cancelled
    assert items["MUG-1"]["c_externalLineItemStatus"] == 2  # shipped
    assert items["MUG-1"]["c_trackingNumber"] == "1Z999"
    assert stored["shipping_status"] == "shipped"
    assert stored["c_externalChannelOrderStatus"] == 5


def test_the_sandbox_cartridge_ignores_a_shipping_patch_without_an_action() -> None:
    """The failure the action fixes: without `c_orderAction`, afterPATCH skips the lines."""
    _routes, state = sfcc_routes(cartridge=True)
    order_no, _ = state.create(
        {
            "c_externalOrderId": "X1",
            "currency": "USD",
            "product_lineitems": [{"product_id": "P", "quantity": 1, "net_price": 5}],
            "totals": {"adjusted_shipping_total": {"net_price": 1}},
        }
    )
    body = {
        "shipping_status": "shipped",
        "product_items": [{"product_id": "P", "c_carrier": "UPS"}],
    }
    state.patch(order_no, body)
    assert state.order("X1")["shipping_status"] == "not_shipped"
    assert state.order("X1")["order_total"] == "6.00"
    state.patch(order_no, {"c_orderAction": "update", **body})
    assert state.order("X1")["shipping_status"] == "shipped"
