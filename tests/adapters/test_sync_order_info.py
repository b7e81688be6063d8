"""Sync Order Information: payloads per status and per destination field, validation, sending."""

from __future__ import annotations

import asyncio
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
    MANDATORY,
    MANDATORY_ON_COMPLETE,
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
from adapters.sandbox.reporting import SYNC_ORDER_INFO_PATH, reporting_routes
from lifecycle import Initiator, OrderStatus, SyncOrderInfo

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
        *MANDATORY_ON_COMPLETE,
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


def test_mandatory_fields_of_the_seed_are_all_checked() -> None:
    """Removing any one mandatory field makes exactly that field a problem."""
    info = build_body(hotel_order(), effect(), SETTINGS, COMPLETE_DATA)["order_info"]
    assert order_info_problems(info) == []
    for path in MANDATORY:
        broken = build_body(hotel_order(), effect(), SETTINGS, COMPLETE_DATA)["order_info"]
        _drop(broken, path)
        assert [p.path for p in order_info_problems(broken)] == [path], path


def _drop(info: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    target: Any = info
    for step in parents:
        target = target[int(step)] if step.isdigit() else target[step]
    target.pop(last)


# --- hypothesis --------------------------------------------------------------------------------

amounts = st.decimals(min_value=0, max_value=5000, places=2)
STATUSES = ("CANCEL_ORDER", "COMPLETE_ORDER", "ACCOUNT_SPECIFIC_STATUS")
WIRE_TO_LIFECYCLE = {
    "CANCEL_ORDER": OrderStatus.CANCELLED,
    "COMPLETE_ORDER": OrderStatus.COMPLETED,
    "ACCOUNT_SPECIFIC_STATUS": OrderStatus.DELIVERED,
}
NAMED_ALL = attrs.evolve(SETTINGS, order_statuses={v: k for k, v in WIRE_TO_LIFECYCLE.items()})


@st.composite
def cases(draw: st.DrawFn) -> tuple[Any, ...]:
    order = hotel_order(
        sub_total=draw(amounts),
        seller_discount=draw(amounts),
        platform_discount=Decimal(0),
        shipping_fee=draw(amounts),
        taxes=draw(amounts),
    )
    status = draw(st.sampled_from(STATUSES))
    initiator = draw(st.sampled_from([None, "MERCHANT", "CUSTOMER", "TIKTOK"]))
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
    return order, status, initiator, data


@given(cases())
def test_payload_is_valid_exactly_when_mandatory_fields_and_money_rules_hold(
    case: tuple[Any, ...],
) -> None:
    """An oracle written from the Commanders Act TikTok Sync Order Information destination
    agrees with the validator on random orders."""
    order, status, initiator, data = case
    info = build_body(order, effect(WIRE_TO_LIFECYCLE[status]), NAMED_ALL, data)["order_info"]
    if initiator is None:
        info.pop("initiator", None)
    else:
        info["initiator"] = initiator  # any value, to try the validator beyond the settings
    expected = set()
    if data.stay is None:
        expected |= {p for p in MANDATORY if p.startswith("extra.")}
    if status == "CANCEL_ORDER" and initiator not in ("MERCHANT", "CUSTOMER"):
        expected.add("initiator")
    if status == "COMPLETE_ORDER":
        for name in ("fulfillment_value", "fulfillment_tax", "fulfillment_service_fee"):
            if getattr(data, name) is None:
                expected.add(f"value.{name}")
        if data.commission_base_amount is None:
            expected |= {p for p in MANDATORY_ON_COMPLETE if "commission" in p}
    discounts = order.seller_discount
    room, service = order.sub_total + discounts, order.shipping_fee
    total = data.total_value if data.total_value is not None else room + order.taxes + service
    if data.total_value is not None and data.total_value != room + order.taxes + service:
        expected.add("value.total_value")
    payment = data.payment_value if data.payment_value is not None else total - discounts
    if payment != total - discounts or payment < 0:  # a negative amount is a problem too
        expected.add("value.payment_value")
    assert {p.path for p in order_info_problems(info)} == expected


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
