"""The fake Sync Order Information endpoint refuses what the destination's field table refuses.

The bodies here are written by hand from the Commanders Act TikTok Sync Order
Information destination's table (mandatory fields [*], [2] initiator on
CANCEL_ORDER, [4]/[5] fulfilment and commission on COMPLETE_ORDER, the two
money formulas), never built by the adapter, so the fake's check is tried on
its own and not against the code it is meant to catch.
"""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest

from adapters.sandbox import SandboxServer
from adapters.sandbox.reporting import (
    SANDBOX_INVALID,
    SYNC_ORDER_INFO_PATH,
    reporting_routes,
    sync_order_info_refusals,
)

TOKEN = "sandbox-sync-token"

#: A completed two-night stay: room 420.00 + tax 38.00 + service 15.00 = total 473.00;
#: payment 473.00 - discounts 40.00 = 433.00.
COMPLETE: dict[str, Any] = {
    "order_id": "576461413038785752",
    "third_merchant_id": "MERCHANT-9",
    "third_shop_id": "HOTEL-42",
    "third_shop_name": "Harbour Hotel",
    "order_status": "COMPLETE_ORDER",
    "order_country": "US",
    "create_time": 1795167000,
    "update_time": 1795426200,
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
        "amount_of_room": 1,
        "check_in_date": "2026-12-01",
        "check_out_date": "2026-12-03",
    },
    "spu_list": [{"sku_list": [{"third_sku_id": "SKU-DLX", "third_sku_name": "Deluxe King"}]}],
}

#: The same stay cancelled by the guest: no fulfilment, an initiator; no room/tax/service
#: split sent, so only payment = total - discounts applies (120.00 - 20.00).
CANCEL: dict[str, Any] = {
    **{k: v for k, v in COMPLETE.items() if k not in ("value", "order_status")},
    "order_status": "CANCEL_ORDER",
    "initiator": "CUSTOMER",
    "value": {
        "currency": "EUR",
        "payment_value": "100.00",
        "total_value": "120.00",
        "discounts": "20",
    },
}

#: Mandatory whatever the status, as the table marks them [*] ([3]: in spu_list.0.sku_list.0).
ALWAYS = (
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
ON_COMPLETE = (
    "value.fulfillment_value",
    "value.fulfillment_tax",
    "value.fulfillment_service_fee",
    "value.commission_value.0.currency",
    "value.commission_value.0.commission_base_amount",
)


def _with(
    info: dict[str, Any], path: str, value: Any = None, *, drop: bool = False
) -> dict[str, Any]:
    changed = copy.deepcopy(info)
    *parents, last = path.split(".")
    target: Any = changed
    for step in parents:
        target = target[int(step)] if step.isdigit() else target[step]
    if drop:
        del target[last]
    else:
        target[last] = value
    return changed


def _paths(refusals: list[str]) -> list[str]:
    return [refusal.split(":")[0] for refusal in refusals]


def test_bodies_that_follow_the_table_are_accepted() -> None:
    """A complete and a cancelled stay written from the table pass, money as strings or numbers."""
    assert sync_order_info_refusals(COMPLETE) == []
    assert sync_order_info_refusals(CANCEL) == []
    numbers = _with(
        _with(CANCEL, "value.payment_value", Decimal("100.00")), "value.total_value", 120
    )
    assert sync_order_info_refusals(numbers) == []


@pytest.mark.parametrize("path", ALWAYS)
def test_each_mandatory_field_is_required_for_every_status(path: str) -> None:
    """Dropping one [*] field refuses the body naming exactly that field, cancelled or complete."""
    for info in (COMPLETE, CANCEL):
        assert _paths(sync_order_info_refusals(_with(info, path, drop=True))) == [path]
        assert _paths(sync_order_info_refusals(_with(info, path, None))) == [path]


@pytest.mark.parametrize("path", ON_COMPLETE)
def test_fulfilment_and_commission_are_required_on_complete_only(path: str) -> None:
    """[4]/[5]: COMPLETE_ORDER without one is refused; a cancellation never needs them."""
    assert _paths(sync_order_info_refusals(_with(COMPLETE, path, drop=True))) == [path]
    assert "fulfillment_value" not in CANCEL["value"]


@pytest.mark.parametrize("initiator", [None, "TIKTOK", "merchant", ""])
def test_a_cancellation_names_merchant_or_customer(initiator: str | None) -> None:
    """[2]: CANCEL_ORDER needs initiator MERCHANT or CUSTOMER; COMPLETE_ORDER does not."""
    info = (
        _with(CANCEL, "initiator", drop=True)
        if initiator is None
        else {**CANCEL, "initiator": initiator}
    )
    assert _paths(sync_order_info_refusals(info)) == ["initiator"]
    assert sync_order_info_refusals({**CANCEL, "initiator": "MERCHANT"}) == []
    assert "initiator" not in COMPLETE


@pytest.mark.parametrize(
    ("path", "value", "refused"),
    [
        # payment_value = total_value - discounts, to the cent
        ("value.payment_value", "433.01", ["value.payment_value"]),
        ("value.payment_value", "473.00", ["value.payment_value"]),
        # discounts change, payment no longer adds up
        ("value.discounts", "30.00", ["value.payment_value"]),
        # total_value = total_room_fee + total_tax + total_service_fee
        ("value.total_room_fee", "419.99", ["value.total_value"]),
        ("value.total_tax", "0", ["value.total_value"]),
        ("value.total_service_fee", 16, ["value.total_value"]),
        # a changed total breaks both formulas
        ("value.total_value", "474.00", ["value.payment_value", "value.total_value"]),
    ],
)
def test_the_money_formulas_are_checked(path: str, value: Any, refused: list[str]) -> None:
    assert _paths(sync_order_info_refusals(_with(COMPLETE, path, value))) == refused


def test_one_part_of_the_total_sent_alone_must_equal_it() -> None:
    """A split that names the room fee only counts tax and service as none."""
    alone = _with(CANCEL, "value.total_room_fee", "120.00")
    assert sync_order_info_refusals(alone) == []
    assert _paths(sync_order_info_refusals(_with(CANCEL, "value.total_room_fee", "100.00"))) == [
        "value.total_value"
    ]


def test_without_discounts_payment_equals_total() -> None:
    no_discounts = _with(CANCEL, "value.discounts", drop=True)
    assert _paths(sync_order_info_refusals(no_discounts)) == ["value.payment_value"]
    assert sync_order_info_refusals(_with(no_discounts, "value.payment_value", "120")) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("create_time", "1795167000"),
        ("update_time", 1795426200.5),
        ("create_time", True),
        ("extra.length_of_stay", "2"),
        ("extra.amount_of_room", 1.0),
        ("value.currency", "usd"),
        ("value.commission_value.0.currency", "DOLLAR"),
        ("value.fulfillment_tax", "-1.00"),
        ("value.fulfillment_service_fee", "fifteen"),
        ("value.fulfillment_value", False),
        ("order_id", 576461413038785752),
        ("third_shop_name", "  "),
        ("spu_list.0.sku_list.0.third_sku_id", ["SKU-DLX"]),
    ],
)
def test_fields_must_have_their_json_type(path: str, value: Any) -> None:
    """Times and counts are integers, ids and names non-empty text, amounts numbers or
    decimal strings >= 0, currencies ISO 4217 codes."""
    assert _paths(sync_order_info_refusals(_with(COMPLETE, path, value))) == [path]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("value.discounts", "-5"),
        ("value.total_tax", "NaN"),
        ("promotion_info", {"saved_amount": "x"}),
    ],
)
def test_optional_amounts_must_be_amounts_when_sent(path: str, value: Any) -> None:
    refused = _paths(sync_order_info_refusals(_with(COMPLETE, path, value)))
    assert refused[0] == (path if path != "promotion_info" else "promotion_info.saved_amount")


def test_the_endpoint_answers_every_refusal_and_keeps_only_what_it_accepts() -> None:
    """Over real HTTP: JSON numbers are read as exact decimals (433.00 is 433.00, not a
    float), a bad body is answered with the sandbox's code and every refused path."""
    routes, state = reporting_routes(TOKEN)
    # Every amount as a JSON number written digit for digit: "433.00" -> 433.00.
    raw = re.sub(r'"(\d+\.\d\d)"', r"\1", json.dumps({"order_info": COMPLETE}))
    assert '"payment_value": 433.00,' in raw
    broken = _with(_with(COMPLETE, "extra.check_in_date", drop=True), "value.payment_value", "1")
    with SandboxServer(routes) as server, httpx.Client() as http:
        url = server.url + SYNC_ORDER_INFO_PATH
        headers = {"Access-Token": TOKEN, "Content-Type": "application/json"}
        good = http.post(url, content=raw.encode(), headers=headers).json()
        bad = http.post(url, json={"order_info": broken}, headers=headers).json()
        wrong_token = http.post(url, json={"order_info": COMPLETE}, headers={"Access-Token": "x"})
    assert good["code"] == 0, good
    assert bad["code"] == SANDBOX_INVALID
    assert "extra.check_in_date: missing" in bad["message"]
    assert "value.payment_value: 1 is not total_value 473.00 - discounts 40.00" in bad["message"]
    assert wrong_token.json()["code"] == 40105
    assert [info["value"]["payment_value"] for info in state.order_infos] == [Decimal("433.00")]
