"""Sync Order Information: payloads per status and per destination field, validation, sending."""

from __future__ import annotations

import asyncio
import copy
from datetime import date
from decimal import Decimal
from typing import Any

import attrs
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.errors import AuthenticationError, RejectedError, RetryableError
from adapters.http import InvalidPayload, MoneyFormat
from adapters.partners.sync_order_info import (
    SYNC_INITIATORS,
    AsyncSyncOrderInfoClient,
    Extra,
    OrderInfo,
    Promotion,
    Sku,
    Spu,
    StayRecord,
    SyncOrderData,
    SyncOrderInfoClient,
    SyncOrderInfoSettings,
    Value,
    build_body,
    build_order_info,
    converter,
    order_info_problems,
    validate_order_info,
)
from adapters.sandbox import SandboxServer
from adapters.sandbox.reporting import (
    SYNC_ORDER_INFO_PATH,
    reporting_routes,
    sync_order_info_refusals,
)
from lifecycle import Initiator, Order, OrderStatus, SyncOrderInfo

from ._reporting_support import (
    COMPLETE_DATA,
    DONE,
    DONE_SECONDS,
    FAST,
    ORDER_ID,
    STAY,
    T0_SECONDS,
    async_mock_client,
    body_of,
    hotel_order,
    mock_client,
    tiktok_ok,
)

URL = "https://sync.example.test/order_info"
TOKEN = "sync-secret-token-123"
SETTINGS = SyncOrderInfoSettings(
    url=URL,
    access_token=TOKEN,
    third_merchant_id="MERCHANT-9",
    third_shop_id="HOTEL-42",
    third_shop_name="Harbour Hotel",
    order_country="US",
)


def effect(
    status: OrderStatus = OrderStatus.COMPLETED, cancelled_by: Initiator | None = None
) -> SyncOrderInfo:
    return SyncOrderInfo(ORDER_ID, 7, status=status, update_time=DONE, cancelled_by=cancelled_by)


def test_complete_order_golden_payload_has_every_seed_field_at_its_path() -> None:
    """COMPLETE_ORDER with a full stay record: every row of the Commanders Act destination's
    table, money as strings."""
    body = build_body(hotel_order(), effect(), SETTINGS, COMPLETE_DATA)
    assert body == {
        "order_info": {
            "order_id": "576461413038785752",
            "third_merchant_id": "MERCHANT-9",
            "third_shop_id": "HOTEL-42",
            "third_shop_name": "Harbour Hotel",
            "order_status": "COMPLETE_ORDER",
            "order_country": "US",
            "create_time": 1795167000,
            "update_time": 1795426200,
            "order_url": "https://hotel.example/orders/576461413038785752",
            "ttoclid": "opfed89ds90132344n2dkkl12321s321va",
            "value": {
                "currency": "USD",
                "payment_value": "433.00",
                "total_value": "473.00",
                "discounts": "40.00",
                "total_room_fee": "420.00",
                "total_tax": "38.00",
                "total_service_fee": "15.00",
                "fulfillment_value": "433.00",
                "fulfillment_tax": "38.00",
                "fulfillment_service_fee": "15.00",
                "commission_value": [{"currency": "USD", "commission_base_amount": "380.00"}],
            },
            "extra": {
                "length_of_stay": 2,
                "amount_of_room": 2,
                "check_in_date": "2026-12-01",
                "check_out_date": "2026-12-03",
                "actual_occupancy": 3,
                "no_show": False,
            },
            "spu_list": [
                {
                    "third_spu_id": "HOTEL-1",
                    "third_spu_name": "Harbour Hotel Rooms",
                    "sku_list": [
                        {"third_sku_id": "SKU-DLX", "third_sku_name": "Deluxe King"},
                        {"third_sku_id": "SKU-BRK", "third_sku_name": "Breakfast"},
                    ],
                }
            ],
            "promotion_info": {
                "promotion_id": "PROMO-1",
                "description": "Winter sale",
                "saved_amount": "30.00",
            },
        }
    }
    validate_order_info(body["order_info"], SETTINGS)


def test_cancel_order_golden_payload_with_initiator_and_money_as_numbers() -> None:
    """CANCEL_ORDER by the customer: initiator and cancel reason, no fulfilment; JSON numbers."""
    settings = attrs.evolve(SETTINGS, money=MoneyFormat.NUMBER, ttoclid_path=None)
    stay = StayRecord(date(2026, 12, 1), date(2026, 12, 3), cancel_reason="Change of plans")
    data = SyncOrderData(stay=stay, ttoclid="ignored-when-no-path")
    body = build_body(hotel_order(), effect(OrderStatus.CANCELLED, Initiator.BUYER), settings, data)
    assert body == {
        "order_info": {
            "order_id": "576461413038785752",
            "third_merchant_id": "MERCHANT-9",
            "third_shop_id": "HOTEL-42",
            "third_shop_name": "Harbour Hotel",
            "order_status": "CANCEL_ORDER",
            "order_country": "US",
            "create_time": 1795167000,
            "update_time": 1795426200,
            "initiator": "CUSTOMER",
            "value": {
                "currency": "USD",
                "payment_value": Decimal("433.00"),
                "total_value": Decimal("473.00"),
                "discounts": Decimal("40.00"),
                "total_room_fee": Decimal("420.00"),
                "total_tax": Decimal("38.00"),
                "total_service_fee": Decimal("15.00"),
            },
            "extra": {
                "length_of_stay": 2,
                "amount_of_room": 1,
                "check_in_date": "2026-12-01",
                "check_out_date": "2026-12-03",
                "cancel_reason": "Change of plans",
            },
            "spu_list": [
                {
                    "third_spu_id": "HOTEL-1",
                    "sku_list": [
                        {"third_sku_id": "SKU-DLX", "third_sku_name": "Deluxe King"},
                        {"third_sku_id": "SKU-BRK", "third_sku_name": "Breakfast"},
                    ],
                }
            ],
        }
    }
    validate_order_info(body["order_info"], settings)


def test_merchant_cancel_and_renamed_status() -> None:
    """A seller's cancellation carries MERCHANT; `order_statuses` names the lifecycle status."""
    settings = attrs.evolve(SETTINGS, order_statuses={OrderStatus.CANCELLED: "ORDER_CANCELLED"})
    data = SyncOrderData(stay=STAY)
    body = build_body(
        hotel_order(), effect(OrderStatus.CANCELLED, Initiator.SELLER), settings, data
    )
    info = body["order_info"]
    assert (info["order_status"], info["initiator"]) == ("ORDER_CANCELLED", "MERCHANT")


@pytest.mark.parametrize(
    ("cancelled_by", "initiator"),
    [
        (Initiator.BUYER, "CUSTOMER"),
        (Initiator.SELLER, "MERCHANT"),
        (Initiator.PLATFORM, "MERCHANT"),
    ],
)
def test_who_cancelled_is_named_in_tiktok_terms(cancelled_by: Initiator, initiator: str) -> None:
    """The core says who cancelled; TikTok's own cancellation is MERCHANT by default."""
    info = build_order_info(hotel_order(), effect(OrderStatus.CANCELLED, cancelled_by), SETTINGS)
    assert (info.order_status, info.initiator) == ("CANCEL_ORDER", initiator)
    assert build_order_info(hotel_order(), effect(), SETTINGS).initiator is None


def test_unnamed_statuses_and_initiators_are_refused_naming_the_setting() -> None:
    with pytest.raises(InvalidPayload, match="no Sync Order Information status for DELIVERED"):
        build_order_info(hotel_order(), effect(OrderStatus.DELIVERED), SETTINGS)
    with pytest.raises(ValueError, match="initiators must name every initiator"):
        attrs.evolve(SETTINGS, initiators={Initiator.BUYER: "CUSTOMER"})
    with pytest.raises(ValueError, match="not allowed \\['SYSTEM'\\]"):
        attrs.evolve(SETTINGS, initiators={**SYNC_INITIATORS, Initiator.PLATFORM: "SYSTEM"})


def test_smart_mapping_takes_values_from_the_oms_data() -> None:
    """`{{path}}` reads the OMS's data (money in the configured format); literals are set as is."""
    settings = attrs.evolve(
        SETTINGS,
        field_map={
            "extra.actual_occupancy": "{{booking.guests}}",
            "value.total_service_fee": "{{booking.fees.0}}",
            "order_url": "https://hotel.example/b",
            "extra.no_show": "{{booking.absent}}",
        },
    )
    data = attrs.evolve(COMPLETE_DATA, oms={"booking": {"guests": 4, "fees": [15]}})
    info = build_body(hotel_order(), effect(), settings, data)["order_info"]
    assert info["extra"]["actual_occupancy"] == 4
    assert info["value"]["total_service_fee"] == "15"
    assert info["order_url"] == "https://hotel.example/b"
    assert info["extra"]["no_show"] is False  # a template that finds nothing changes nothing
    validate_order_info(info, settings)


def test_validation_lists_every_problem_at_once() -> None:
    """No stay, no fulfilment and a payment that does not add up: one error names them all."""
    data = SyncOrderData(payment_value=Decimal("400.00"))
    body = build_body(hotel_order(), effect(), SETTINGS, data)
    with pytest.raises(InvalidPayload) as raised:
        validate_order_info(body["order_info"], SETTINGS)
    assert raised.value.paths == (
        "extra.length_of_stay",
        "extra.amount_of_room",
        "extra.check_in_date",
        "extra.check_out_date",
        *TABLE_ON_COMPLETE,
        "value.payment_value",
    )
    assert "400.00 != total_value 473.00 - discounts 40.00" in str(raised.value)
    assert isinstance(raised.value, RejectedError)


def test_cancel_needs_a_known_initiator_and_total_must_add_up() -> None:
    """CANCEL_ORDER without MERCHANT / CUSTOMER fails, as does a total off by one cent."""
    data = SyncOrderData(stay=STAY, total_value=Decimal("473.01"))
    info = build_body(hotel_order(), effect(OrderStatus.CANCELLED), SETTINGS, data)["order_info"]
    assert [p.path for p in order_info_problems(info)] == ["initiator", "value.total_value"]
    info["initiator"] = "TIKTOK"
    first = order_info_problems(info)[0]
    assert str(first) == "initiator: must be MERCHANT or CUSTOMER"


#: The destination's table, copied by hand (not the adapter's `MANDATORY`): the rows
#: marked [*], then [2] for CANCEL_ORDER, then [4]/[5] for COMPLETE_ORDER.
TABLE_ALWAYS = (
    "order_id",
    "third_merchant_id",
    "third_shop_id",
    "third_shop_name",
    "order_status",
    "order_country",
    "create_time",
    "update_time",
    "value.currency",
    "value.payment_value",
    "value.total_value",
    "extra.length_of_stay",
    "extra.amount_of_room",
    "extra.check_in_date",
    "extra.check_out_date",
    "spu_list.0.sku_list.0.third_sku_id",
    "spu_list.0.sku_list.0.third_sku_name",
)
TABLE_ON_CANCEL = ("initiator",)
TABLE_ON_COMPLETE = (
    "value.fulfillment_value",
    "value.fulfillment_tax",
    "value.fulfillment_service_fee",
    "value.commission_value.0.currency",
    "value.commission_value.0.commission_base_amount",
)


@pytest.mark.parametrize(
    ("status", "cancelled_by", "required"),
    [
        (OrderStatus.COMPLETED, None, TABLE_ALWAYS + TABLE_ON_COMPLETE),
        (OrderStatus.CANCELLED, Initiator.SELLER, TABLE_ALWAYS + TABLE_ON_CANCEL),
    ],
)
def test_each_mandatory_field_of_the_table_is_checked(
    status: OrderStatus, cancelled_by: Initiator | None, required: tuple[str, ...]
) -> None:
    """Removing any one field the table marks mandatory for the status makes exactly that
    field a problem; a body with all of them has none."""
    info = build_body(hotel_order(), effect(status, cancelled_by), SETTINGS, COMPLETE_DATA)[
        "order_info"
    ]
    assert order_info_problems(info) == []
    for path in required:
        broken = copy.deepcopy(info)
        _drop(broken, path)
        assert [p.path for p in order_info_problems(broken)] == [path], path


def test_fulfilment_is_not_asked_of_a_cancellation() -> None:
    """[4] applies to COMPLETE_ORDER only: a cancelled stay without fulfilment amounts is fine."""
    data = SyncOrderData(stay=STAY)
    info = build_body(hotel_order(), effect(OrderStatus.CANCELLED, Initiator.BUYER), SETTINGS, data)
    assert order_info_problems(info["order_info"]) == []
    assert not {"fulfillment_value", "commission_value"} & set(info["order_info"]["value"])


def _drop(info: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    target: Any = info
    for step in parents:
        target = target[int(step)] if step.isdigit() else target[step]
    target.pop(last)


@pytest.mark.parametrize(
    ("order_changes", "data", "value"),
    [
        pytest.param(
            # No discount at all: the room fee is the sub total; TikTok charged 226.00.
            {
                "sub_total": Decimal("200.00"),
                "seller_discount": Decimal("0.00"),
                "platform_discount": Decimal("0.00"),
                "shipping_fee": Decimal("10.00"),
                "taxes": Decimal("16.00"),
                "total_amount": Decimal("226.00"),
            },
            SyncOrderData(),
            {
                "payment_value": "226.00",
                "total_value": "226.00",
                "discounts": "0.00",
                "total_room_fee": "200.00",
                "total_tax": "16.00",
                "total_service_fee": "10.00",
            },
            id="no-discount",
        ),
        pytest.param(
            # 100.00 of rooms, 5.00 off by the seller and 7.50 by TikTok: sub total 87.50,
            # no fee, 7.00 tax; total 107.00 before discounts, 94.50 to pay.
            {
                "sub_total": Decimal("87.50"),
                "seller_discount": Decimal("5.00"),
                "platform_discount": Decimal("7.50"),
                "shipping_fee": Decimal("0.00"),
                "taxes": Decimal("7.00"),
                "total_amount": Decimal("94.50"),
            },
            SyncOrderData(),
            {
                "payment_value": "94.50",
                "total_value": "107.00",
                "discounts": "12.50",
                "total_room_fee": "100.00",
                "total_tax": "7.00",
                "total_service_fee": "0.00",
            },
            id="seller-and-platform-discounts",
        ),
        pytest.param(
            # TikTok's total_amount is not what Sync Order Information pays: it is ignored
            # (here 0, an order imported without it); the table's formula decides.
            {
                "sub_total": Decimal("50.00"),
                "seller_discount": Decimal("10.00"),
                "platform_discount": Decimal(0),
                "shipping_fee": Decimal("2.50"),
                "taxes": Decimal("4.00"),
                "total_amount": Decimal(0),
            },
            SyncOrderData(),
            {
                "payment_value": "56.50",
                "total_value": "66.50",
                "discounts": "10.00",
                "total_room_fee": "60.00",
                "total_tax": "4.00",
                "total_service_fee": "2.50",
            },
            id="tiktok-total-ignored",
        ),
        pytest.param(
            # The OMS knows the room fee (420.00), the service fee (25.00) and the discounts
            # (50.00) itself; the order's tax (38.00) stays: 483.00 total, 433.00 to pay.
            {},
            SyncOrderData(
                total_room_fee=Decimal("420.00"),
                total_service_fee=Decimal("25.00"),
                discounts=Decimal("50.00"),
            ),
            {
                "payment_value": "433.00",
                "total_value": "483.00",
                "discounts": "50.00",
                "total_room_fee": "420.00",
                "total_tax": "38.00",
                "total_service_fee": "25.00",
            },
            id="oms-amounts",
        ),
    ],
)
def test_value_of_concrete_orders_is_written_as_the_table_computes_it(
    order_changes: dict[str, Any], data: SyncOrderData, value: dict[str, str]
) -> None:
    """`value` for concrete orders, worked out by hand from the table:
    total_value = total_room_fee + total_tax + total_service_fee and
    payment_value = total_value - discounts, TikTok's sub total being after discounts."""
    order = hotel_order(**order_changes)
    data = attrs.evolve(data, stay=STAY)
    info = build_body(order, effect(OrderStatus.CANCELLED, Initiator.BUYER), SETTINGS, data)
    assert info["order_info"]["value"] == {"currency": "USD", **value}
    assert order_info_problems(info["order_info"]) == []


# --- hypothesis: relations, not recomputations ------------------------------------------------

amounts = st.decimals(min_value=0, max_value=5000, places=2)
cents_apart = (
    st.integers(min_value=-500, max_value=500).filter(bool).map(lambda n: Decimal(n) / 100)
)


@st.composite
def tiktok_orders(draw: st.DrawFn) -> Order:
    """A hotel order with random TikTok amounts, its sub total after discounts."""
    return hotel_order(
        sub_total=draw(amounts),
        seller_discount=draw(amounts),
        platform_discount=draw(amounts),
        shipping_fee=draw(amounts),
        taxes=draw(amounts),
        total_amount=draw(amounts),
    )


def _money(info: dict[str, Any]) -> dict[str, Decimal]:
    value = info["value"]
    return {
        name: Decimal(value[name]) for name in value if name not in ("currency", "commission_value")
    }


def _money_paths(info: dict[str, Any]) -> set[str]:
    return {p.path for p in order_info_problems(info) if p.path.startswith("value.")}


@given(tiktok_orders(), st.booleans())
def test_built_amounts_obey_the_table_and_charge_what_tiktok_charged(
    order: Order, adds_up: bool
) -> None:
    """Read back from the body: payment = total - discounts and total = room + tax + service;
    discounts are the seller's and TikTok's; tax is the order's; and when TikTok's own
    totals add up (total_amount = sub_total + shipping_fee + taxes), the payment is what
    the buyer paid."""
    if adds_up:
        order = attrs.evolve(order, total_amount=order.sub_total + order.shipping_fee + order.taxes)
    info = build_body(order, effect(), SETTINGS, COMPLETE_DATA)["order_info"]
    money = _money(info)
    assert money["payment_value"] == money["total_value"] - money["discounts"]
    assert money["total_value"] == (
        money["total_room_fee"] + money["total_tax"] + money["total_service_fee"]
    )
    assert money["discounts"] == order.seller_discount + order.platform_discount
    assert money["total_tax"] == order.taxes
    assert money["total_service_fee"] == order.shipping_fee
    if adds_up:
        assert money["payment_value"] == order.total_amount
    assert _money_paths(info) == set()


@given(tiktok_orders(), cents_apart, st.sampled_from(["total_value", "payment_value"]))
def test_an_amount_that_breaks_a_formula_is_named_alone(
    order: Order, off: Decimal, name: str
) -> None:
    """Moving the OMS's total or payment off what the body's own parts give, by any number
    of cents, makes exactly that amount a problem (the payment follows a given total)."""
    right = _money(build_body(order, effect(), SETTINGS, COMPLETE_DATA)["order_info"])
    moved = right[name] + off
    data = attrs.evolve(COMPLETE_DATA, **{name: moved})
    info = build_body(order, effect(), SETTINGS, data)["order_info"]
    expected = {f"value.{name}"}
    if name == "total_value" and moved - right["discounts"] < 0:
        expected.add("value.payment_value")  # the payment that follows is below zero
    assert _money_paths(info) == expected


@st.composite
def cases(draw: st.DrawFn) -> tuple[Any, ...]:
    order = draw(tiktok_orders())
    status = draw(st.sampled_from([OrderStatus.CANCELLED, OrderStatus.COMPLETED]))
    complete = {
        name: draw(st.none() | amounts)
        for name in ("fulfillment_value", "fulfillment_tax", "fulfillment_service_fee")
    }
    data = SyncOrderData(
        stay=draw(st.sampled_from([None, STAY])),
        total_value=draw(st.none() | amounts),
        payment_value=draw(st.none() | amounts),
        commission_base_amount=draw(st.none() | amounts),
        **complete,
    )
    initiator = draw(st.sampled_from([None, "MERCHANT", "CUSTOMER", "TIKTOK"]))
    return order, status, initiator, data


@given(cases())
def test_validator_agrees_with_the_sandbox_written_from_the_same_table(
    case: tuple[Any, ...],
) -> None:
    """Two checks written apart from the destination's table (the adapter's validator and
    the sandbox endpoint's) refuse the same fields of any built body."""
    order, status, initiator, data = case
    info = build_body(order, effect(status), SETTINGS, data)["order_info"]
    if initiator is None:
        info.pop("initiator", None)
    else:
        info["initiator"] = initiator  # any value, to try the validator beyond the settings
    refused = {refusal.split(":")[0] for refusal in sync_order_info_refusals(info)}
    assert {p.path for p in order_info_problems(info)} == refused


@given(cases())
def test_what_is_missing_is_what_the_table_asks_and_the_body_lacks(case: tuple[Any, ...]) -> None:
    """The missing-field problems are exactly the table's fields for the status that the
    body does not carry, looked up path by path."""
    order, status, _initiator, data = case
    info = build_body(order, effect(status, Initiator.BUYER), SETTINGS, data)["order_info"]
    required = TABLE_ALWAYS + (
        TABLE_ON_COMPLETE if status is OrderStatus.COMPLETED else TABLE_ON_CANCEL
    )
    absent = {path for path in required if not _carries(info, path)}
    missing = {p.path for p in order_info_problems(info) if p.reason == "missing"}
    assert missing == absent
    stay_fields = {path for path in TABLE_ALWAYS if path.startswith("extra.")}
    assert (data.stay is None) == (stay_fields <= absent)


def _carries(info: Any, path: str) -> bool:
    for step in path.split("."):
        if isinstance(info, list) and step.isdigit() and int(step) < len(info):
            info = info[int(step)]
        elif isinstance(info, dict) and info.get(step) not in (None, "", [], {}):
            info = info[step]
        else:
            return False
    return True


order_infos = st.builds(
    OrderInfo,
    value=st.builds(Value, payment_value=st.none() | amounts, total_value=st.none() | amounts),
    extra=st.builds(Extra),
    spu_list=st.lists(st.builds(Spu, sku_list=st.lists(st.builds(Sku)).map(tuple))).map(tuple),
    promotion_info=st.none() | st.builds(Promotion, saved_amount=st.none() | amounts),
)


@given(order_infos, st.sampled_from(list(MoneyFormat)))
def test_converter_round_trips(info: OrderInfo, money: MoneyFormat) -> None:
    """structure(unstructure(x)) == x in both money formats."""
    conv = converter(money)
    assert conv.structure(conv.unstructure(info), OrderInfo) == info


# --- sending -----------------------------------------------------------------------------------


def _handler(answers: list[httpx.Response], seen: list[httpx.Request]) -> Any:
    def handle(request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("POST", "/order_info"), request.url
        assert request.headers["Access-Token"] == TOKEN
        assert request.headers["Content-Type"] == "application/json"
        seen.append(request)
        return answers.pop(0)

    return handle


def test_execute_sends_the_validated_body_and_retries_a_5xx() -> None:
    """A 503 is retried under the shared policy; money leaves as exact decimal strings."""
    seen: list[httpx.Request] = []
    answers = [httpx.Response(503), tiktok_ok("req-7")]
    with mock_client(_handler(answers, seen)) as http:
        client = SyncOrderInfoClient(http, SETTINGS, retry=FAST)
        envelope = client.execute(hotel_order(), effect(), COMPLETE_DATA)
    assert envelope.request_id == "req-7"
    assert len(seen) == 2
    assert body_of(seen[-1])["order_info"]["value"]["payment_value"] == "433.00"
    assert body_of(seen[-1])["order_info"]["create_time"] == T0_SECONDS


def test_numbers_are_written_digit_for_digit() -> None:
    """MoneyFormat.NUMBER writes 433.00, not 433.0 through a float."""
    seen: list[httpx.Request] = []
    settings = attrs.evolve(SETTINGS, money=MoneyFormat.NUMBER)
    with mock_client(_handler([tiktok_ok()], seen)) as http:
        SyncOrderInfoClient(http, settings, retry=FAST).execute(
            hotel_order(), effect(), COMPLETE_DATA
        )
    assert b'"payment_value":433.00,' in seen[0].content


def test_invalid_payload_is_never_sent() -> None:
    """Validation fails before the transport is touched."""
    seen: list[httpx.Request] = []
    with mock_client(_handler([], seen)) as http, pytest.raises(InvalidPayload):
        SyncOrderInfoClient(http, SETTINGS, retry=FAST).execute(hotel_order(), effect())
    assert seen == []


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            httpx.Response(200, json={"code": 40002, "message": "bad", "request_id": "r"}),
            RejectedError,
        ),
        (httpx.Response(401, json={"message": "no"}), AuthenticationError),
        (httpx.Response(429), RetryableError),
    ],
)
def test_partner_answers_map_to_the_shared_errors(
    answer: httpx.Response, error: type[Exception]
) -> None:
    """A non-zero code on HTTP 200 is a rejection; 401 is auth; 429 is retryable."""
    seen: list[httpx.Request] = []
    policy = attrs.evolve(FAST, attempts=1)
    with mock_client(_handler([answer], seen)) as http, pytest.raises(error):
        SyncOrderInfoClient(http, SETTINGS, retry=policy).execute(
            hotel_order(), effect(), COMPLETE_DATA
        )


def test_async_client_sends_the_same_request() -> None:
    """The async client shares building and validation; only the send differs."""
    seen: list[httpx.Request] = []

    async def run() -> None:
        async with async_mock_client(_handler([tiktok_ok()], seen)) as http:
            await AsyncSyncOrderInfoClient(http, SETTINGS, retry=FAST).execute(
                hotel_order(), effect(), COMPLETE_DATA
            )

    asyncio.run(run())
    assert body_of(seen[0]) == build_body(hotel_order(), effect(), SETTINGS, COMPLETE_DATA)


def test_end_to_end_against_the_sandbox() -> None:
    """Cancel then complete over real HTTP on 127.0.0.1; a wrong token is refused."""
    routes, state = reporting_routes(TOKEN)
    with SandboxServer(routes) as server, httpx.Client() as http:
        settings = attrs.evolve(SETTINGS, url=server.url + SYNC_ORDER_INFO_PATH)
        client = SyncOrderInfoClient(http, settings, retry=FAST)
        client.execute(
            hotel_order(), effect(OrderStatus.CANCELLED, Initiator.SELLER), SyncOrderData(stay=STAY)
        )
        client.execute(hotel_order(), effect(), COMPLETE_DATA)
        wrong = SyncOrderInfoClient(http, attrs.evolve(settings, access_token="nope"), retry=FAST)
        with pytest.raises(AuthenticationError):
            wrong.execute(hotel_order(), effect(), COMPLETE_DATA)
    assert state.statuses(ORDER_ID) == ["CANCEL_ORDER", "COMPLETE_ORDER"]
    assert state.order_infos[-1]["update_time"] == DONE_SECONDS
