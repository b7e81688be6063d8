"""SFCC: create / status / shipping / return payloads per preset, OAuth, duplicates, sandbox."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.errors import AuthenticationError, RejectedError, RetryableError
from adapters.http import InvalidPayload, MoneyFormat, RetryPolicy
from adapters.partners.sfcc import (
    CARTRIDGE_PRESET,
    ORDER_MANAGEMENT_PRESET,
    PRESETS,
    SEED_PRESET,
    AsyncSfccClient,
    CreateOrderBody,
    PriceAdjustment,
    ProductLineItem,
    SfccClient,
    SfccResult,
    SfccSettings,
    ShippingTotal,
    Totals,
    build_create_body,
    build_return_body,
    build_shipping_body,
    build_status_body,
    converter,
)
from adapters.sandbox import SandboxServer
from adapters.sandbox.sfcc import TOKEN_PATH, sfcc_routes
from lifecycle import (
    CreateSfccOrder,
    ReturnStatus,
    SfccStatus,
    ShippingStatus,
    UpdateSfccOrderStatus,
    UpdateSfccReturn,
    UpdateSfccShipping,
)

from ._reporting_support import (
    FAST,
    ORDER_ID,
    async_mock_client,
    body_of,
    hotel_order,
    mock_client,
)

SECRET = "sfcc-client-secret-789"
SETTINGS = SfccSettings(
    base_url="https://shop.example.test",
    site_id="TikTokSite",
    client_id="sandbox-client",
    client_secret=SECRET,
    token_url="https://account.example.test" + TOKEN_PATH,
)
CARTRIDGE = attrs.evolve(SETTINGS, preset=CARTRIDGE_PRESET)
CREATE = CreateSfccOrder(ORDER_ID, 2)
CANCEL = UpdateSfccOrderStatus(
    ORDER_ID, 5, external_status=SfccStatus.CANCELLED, cancelled_after_shipped=True
)
SHIP = UpdateSfccShipping(
    ORDER_ID,
    3,
    line_item_ids=("L1", "L2"),
    shipping_status=ShippingStatus.PART_SHIPPED,
    tracking_number="1Z999",
    shipping_provider_name="UPS",
)
RETURN = UpdateSfccReturn(
    ORDER_ID, 6, return_id="R1", return_status=ReturnStatus.APPROVED, line_item_ids=("L3",)
)
CREATE_PATH = "/on/demandware.store/Sites-TikTokSite-Site/default/OrderCreate-Social"
ORDER_PATH = "/s/TikTokSite/dw/shop/v22_6/orders/00000001"


def expected_create(status: dict[str, Any]) -> dict[str, Any]:
    """The hotel order as int_social_checkout's create controller reads it.

    Worked by hand: 202309 unit lines add up per product; each keeps its sale
    price (ROOM-DLX 2 x 180.00, BREAKFAST 20.00) after the seller's 30.00 and
    TikTok's 10.00, which are spread by sale price with the largest remainder
    (30.00: 14.21 + 14.21 + 1.58; 10.00: 4.74 + 4.74 + 0.52) and sent as line
    price adjustments on top of `net_price` (the price before them); the tax
    38.00 is spread the same way (18.00 + 18.00 + 2.00). The cartridge's total,
    397.90 - 28.42 - 9.48 + 36.00 + 22.10 - 1.58 - 0.52 + 2.00 + 15.00 shipping,
    is TikTok's 433.00.
    """
    address = {
        "first_name": "Jane",
        "last_name": "Doe",
        "address1": "1 Main St",
        "city": "San Francisco",
        "state_code": "CA",
        "postal_code": "94105",
        "country_code": "US",
        "phone": "(415) 555-0123",
    }
    return {
        "c_externalOrderId": "576461413038785752",
        "currency": "USD",
        "customer": {
            "customer_email": "Jane.Doe@Example.COM",
            "customer_name": "Jane Doe",
            "billing_address": address,
        },
        "shipment": {"shipping_address": address},
        "product_lineitems": [
            {
                "product_id": "ROOM-DLX",
                "quantity": 2,
                "net_price": Decimal("397.90"),
                "tax": Decimal("36.00"),
                "price_adjustments": [
                    {"net_price": Decimal("-28.42"), "promotion_id": "TikTokSellerDiscount"},
                    {"net_price": Decimal("-9.48"), "promotion_id": "TikTokPlatformDiscount"},
                ],
            },
            {
                "product_id": "BREAKFAST",
                "quantity": 1,
                "net_price": Decimal("22.10"),
                "tax": Decimal("2.00"),
                "price_adjustments": [
                    {"net_price": Decimal("-1.58"), "promotion_id": "TikTokSellerDiscount"},
                    {"net_price": Decimal("-0.52"), "promotion_id": "TikTokPlatformDiscount"},
                ],
            },
        ],
        "totals": {"adjusted_shipping_total": {"net_price": Decimal("15.00")}},
        "payment": {"payment_method": "SOCIAL_PAY"},
        "c_buyerNote": "late arrival",
        **status,
    }


def test_create_body_order_management_preset_golden() -> None:
    """TikTok for SFCC: Order Management: external id, status New, SOCIAL_PAY, trimmed
    e-mail; 202309 unit lines add up per product."""
    assert build_create_body(hotel_order(), CREATE, SETTINGS) == expected_create(
        {"c_externalOrderStatus": "New"}
    )


def test_create_body_cartridge_preset_golden() -> None:
    """The cartridge's controller sets status NEW itself: the body does not carry it."""
    assert build_create_body(hotel_order(), CREATE, CARTRIDGE) == expected_create({})


def test_create_body_money_as_strings() -> None:
    settings = attrs.evolve(SETTINGS, money=MoneyFormat.STRING)
    body = build_create_body(hotel_order(), CREATE, settings)
    assert body["product_lineitems"][0]["net_price"] == "397.90"
    assert body["totals"] == {"adjusted_shipping_total": {"net_price": "15.00"}}


@pytest.mark.parametrize(
    ("settings", "effect", "expected"),
    [
        (
            SETTINGS,
            CANCEL,
            {"c_externalOrderStatus": "CANCELLED", "c_orderTag": "cancel after shipped"},
        ),
        (
            CARTRIDGE,
            CANCEL,
            {"c_orderAction": "cancel_order", "c_orderTag": "cancel after shipped"},
        ),
        (
            CARTRIDGE,
            attrs.evolve(
                CANCEL,
                external_status=SfccStatus.PARTIALLY_CANCELLED,
                cancelled_after_shipped=False,
                line_item_ids=("L3",),
            ),
            {
                "c_orderAction": "cancel",
                "c_cancelInfo": {"cancelItems": {"BREAKFAST": {"quantity": 1}}},
            },
        ),
        (
            SETTINGS,
            attrs.evolve(
                CANCEL,
                external_status=SfccStatus.PARTIALLY_CANCELLED,
                cancelled_after_shipped=False,
                line_item_ids=("L3",),
            ),
            {
                "c_externalOrderStatus": "PARTIALLY_CANCELLED",
                "product_items": [
                    {"product_id": "BREAKFAST", "c_externalLineItemStatus": "CANCELLED"}
                ],
            },
        ),
        (
            CARTRIDGE,
            UpdateSfccOrderStatus(ORDER_ID, 8, external_status=SfccStatus.COMPLETED),
            {"c_orderAction": "update", "c_externalChannelOrderStatus": 5},
        ),
        (SETTINGS, UpdateSfccOrderStatus(ORDER_ID, 8, external_status=SfccStatus.COMPLETED), None),
        (
            SETTINGS,
            attrs.evolve(CANCEL, cancelled_after_shipped=False),
            {"c_externalOrderStatus": "CANCELLED"},
        ),
    ],
    ids=[
        "order-management-cancel-after-shipped",
        "cartridge-cancel",
        "cartridge-partial",
        "order-management-partial",
        "cartridge-completed",
        "order-management-completed-skipped",
        "order-management-cancel",
    ],
)
def test_status_bodies_per_preset(
    settings: SfccSettings, effect: UpdateSfccOrderStatus, expected: dict[str, Any] | None
) -> None:
    """Each preset's attribute and value; a status the preset has no value for is skipped."""
    assert build_status_body(hotel_order(), effect, settings) == expected


def test_shipping_body_golden() -> None:
    """Shipped lines by product, with carrier and tracking; order shipping status; the
    cartridge's neutral action, without which afterPATCH ignores both."""
    assert build_shipping_body(hotel_order(), SHIP, CARTRIDGE) == {
        "c_orderAction": "update",
        "shipping_status": "part_shipped",
        "product_items": [
            {
                "product_id": "ROOM-DLX",
                "c_externalLineItemStatus": 2,
                "c_carrier": "UPS",
                "c_trackingNumber": "1Z999",
            }
        ],
    }
    seed = build_shipping_body(hotel_order(), SHIP, SETTINGS)
    assert "c_orderAction" not in seed
    assert seed["product_items"][0]["c_externalLineItemStatus"] == "shipped"


def test_return_body_only_where_the_preset_has_a_return_action() -> None:
    """A line return is the cartridge's `return` with `c_returnCase.returnItems`."""
    assert build_return_body(hotel_order(), RETURN, CARTRIDGE) == {
        "c_orderAction": "return",
        "c_returnCase": {"returnItems": {"BREAKFAST": {"quantity": 1}}},
    }
    assert build_return_body(hotel_order(), RETURN, SETTINGS) is None


def test_presets_by_name_keep_seed_as_an_alias() -> None:
    """`seed` is the deprecated name of the TikTok for SFCC: Order Management preset."""
    assert set(PRESETS) == {"order_management", "seed", "cartridge"}
    assert PRESETS["seed"] is SEED_PRESET is ORDER_MANAGEMENT_PRESET
    assert PRESETS["cartridge"] is CARTRIDGE_PRESET


money = st.decimals(min_value=0, max_value=10**6, places=2)


@given(
    st.builds(
        CreateOrderBody,
        product_lineitems=st.lists(
            st.builds(
                ProductLineItem,
                net_price=money,
                tax=st.none() | money,
                price_adjustments=st.lists(
                    st.builds(PriceAdjustment, net_price=money.map(lambda m: -m))
                ).map(tuple),
            )
        ).map(tuple),
        totals=st.builds(
            Totals,
            adjusted_shipping_total=st.none() | st.builds(ShippingTotal, money),
            price_adjustments=st.lists(st.builds(PriceAdjustment, net_price=money)).map(tuple),
        ),
    ),
    st.sampled_from(list(MoneyFormat)),
)
def test_converter_round_trips(body: CreateOrderBody, money: MoneyFormat) -> None:
    """structure(unstructure(x)) == x, with the cartridge's renames, in both money formats."""
    conv = converter(money)
    assert conv.structure(conv.unstructure(body), CreateOrderBody) == body


# --- a fake instance for MockTransport ---------------------------------------------------------


class FakeSfcc:
    """Routes on method and path, asserts what arrives, and can refuse a token once."""

    def __init__(self, *, expires_in: int = 1800, reject_next_token: bool = False) -> None:
        self.expires_in = expires_in
        self.reject_next_token = reject_next_token
        self.tokens: list[str] = []
        self.seen: list[httpx.Request] = []
        self.orders: dict[str, str] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        route = (request.method, request.url.host, request.url.path)
        if route == ("POST", "account.example.test", TOKEN_PATH):
            return self.token(request)
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {self.tokens[-1] if self.tokens else ''}":
            return httpx.Response(401, json={"fault": {"type": "InvalidAccessTokenException"}})
        if self.reject_next_token:
            self.reject_next_token = False
            return httpx.Response(401, json={"fault": {"type": "InvalidAccessTokenException"}})
        if route == ("POST", "shop.example.test", CREATE_PATH):
            return self.create(request)
        if route == ("PATCH", "shop.example.test", ORDER_PATH):
            return httpx.Response(200, json={"order_no": "00000001", **body_of(request)})
        if request.method == "PATCH":
            return httpx.Response(404, json={"fault": {"type": "OrderNotFoundException"}})
        raise AssertionError(f"unexpected {request.method} {request.url}")

    def token(self, request: httpx.Request) -> httpx.Response:
        basic = base64.b64encode(f"sandbox-client:{SECRET}".encode()).decode()
        assert request.headers["Authorization"] == f"Basic {basic}"
        assert request.content == b"grant_type=client_credentials"
        self.tokens.append(f"token-{len(self.tokens) + 1}")
        return httpx.Response(
            200, json={"access_token": self.tokens[-1], "expires_in": self.expires_in}
        )

    def create(self, request: httpx.Request) -> httpx.Response:
        external_id = body_of(request)["c_externalOrderId"]
        if external_id in self.orders:
            return httpx.Response(
                400,
                json={
                    "error": False,
                    "orderNo": self.orders[external_id],
                    "msg": "Order already exists",
                },
            )
        self.orders[external_id] = f"{len(self.orders) + 1:08d}"
        return httpx.Response(200, json={"error": False, "orderNo": self.orders[external_id]})

    def paths(self) -> list[str]:
        return [r.url.path for r in self.seen]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def sfcc_client(
    fake: FakeSfcc, settings: SfccSettings = SETTINGS, clock: Clock | None = None
) -> SfccClient:
    return SfccClient(mock_client(fake), settings, retry=FAST, auth=settings.credentials(clock))


def test_create_is_idempotent_and_the_token_is_fetched_once() -> None:
    """A second create of the same TikTok order is the duplicate answer, taken as success."""
    fake = FakeSfcc()
    client = sfcc_client(fake)
    first = client.execute(hotel_order(), CREATE)
    again = client.execute(hotel_order(), CREATE)
    assert first == SfccResult("00000001", created=True)
    assert again == SfccResult("00000001", created=False)
    assert fake.paths() == [TOKEN_PATH, CREATE_PATH, CREATE_PATH]


def test_updates_patch_the_order_and_need_its_number() -> None:
    fake = FakeSfcc()
    client = sfcc_client(fake, CARTRIDGE)
    assert client.execute(hotel_order(), CANCEL, order_no="00000001") == SfccResult("00000001")
    client.execute(hotel_order(), SHIP, order_no="00000001")
    assert body_of(fake.seen[1])["c_orderAction"] == "cancel_order"
    assert body_of(fake.seen[2])["shipping_status"] == "part_shipped"
    with pytest.raises(InvalidPayload, match="order_no"):
        client.execute(hotel_order(), SHIP)
    skipped = sfcc_client(fake).execute(hotel_order(), RETURN, order_no="00000001")
    assert skipped == SfccResult("00000001", skipped=True)
    with pytest.raises(RejectedError) as raised:
        client.execute(hotel_order(), SHIP, order_no="99")
    assert (raised.value.status, raised.value.code) == (404, "OrderNotFoundException")


def test_token_is_refreshed_after_a_401() -> None:
    """SFCC refusing a token early makes the auth fetch a new one and replay the request once."""
    fake = FakeSfcc(reject_next_token=True)
    auth = SETTINGS.credentials()
    client = SfccClient(mock_client(fake), SETTINGS, retry=FAST, auth=auth)
    assert client.execute(hotel_order(), CREATE).order_no == "00000001"
    assert fake.paths() == [TOKEN_PATH, CREATE_PATH, TOKEN_PATH, CREATE_PATH]
    assert fake.seen[-1].headers["Authorization"] == "Bearer token-2"
    assert auth.fetches == 2


def test_token_is_renewed_before_it_expires() -> None:
    """Within the margin of expiry the auth fetches first; before that it reuses the token."""
    fake, clock = FakeSfcc(expires_in=300), Clock()
    client = sfcc_client(fake, SETTINGS, clock)
    client.execute(hotel_order(), CREATE)
    clock.now += timedelta(seconds=200)
    client.execute(hotel_order(), CREATE)
    clock.now += timedelta(seconds=41)  # 241 s: within the 60 s margin of 300 s
    client.execute(hotel_order(), CREATE)
    assert fake.paths().count(TOKEN_PATH) == 2


def test_refused_credentials_are_an_authentication_error_without_the_secret() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == TOKEN_PATH
        return httpx.Response(401, json={"error": "invalid_client"})

    client = SfccClient(mock_client(handle), SETTINGS, retry=FAST)
    with pytest.raises(AuthenticationError) as raised:
        client.execute(hotel_order(), CREATE)
    assert SECRET not in str(raised.value)
    assert SECRET not in repr(client.auth)


def test_a_token_answer_without_a_token_is_retried_not_taken_for_a_refusal() -> None:
    """A 200 whose body holds no access_token (a proxy's page, a truncated answer) cannot be
    read as success: the call is retried and succeeds once SFCC answers properly."""
    fake = FakeSfcc()
    garbled = [httpx.Response(200, text="<html>maintenance</html>")]

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN_PATH and garbled:
            return garbled.pop()
        return fake(request)

    client = SfccClient(mock_client(handle), SETTINGS, retry=FAST)
    assert client.execute(hotel_order(), CREATE).order_no == "00000001"
    no_retries = SfccClient(
        mock_client(lambda _r: httpx.Response(200, json={})),
        SETTINGS,
        retry=RetryPolicy(attempts=1),
    )
    with pytest.raises(RetryableError, match="without access_token"):
        no_retries.execute(hotel_order(), CREATE)


def test_async_client_shares_the_auth_flow() -> None:
    fake = FakeSfcc(reject_next_token=True)

    async def run() -> SfccResult:
        async with async_mock_client(fake) as http:
            client = AsyncSfccClient(http, CARTRIDGE, retry=FAST)
            await client.execute(hotel_order(), CREATE)
            return await client.execute(hotel_order(), RETURN, order_no="00000001")

    assert asyncio.run(run()) == SfccResult("00000001")
    assert fake.paths() == [TOKEN_PATH, CREATE_PATH, TOKEN_PATH, CREATE_PATH, ORDER_PATH]


# --- end to end --------------------------------------------------------------------------------


def _sandbox_settings(server: SandboxServer, preset: Any = ORDER_MANAGEMENT_PRESET) -> SfccSettings:
    return attrs.evolve(
        SETTINGS, base_url=server.url, token_url=server.url + TOKEN_PATH, preset=preset
    )


def test_end_to_end_create_cancel_ship_against_the_sandbox() -> None:
    """Real HTTP: create twice (one order), ship, cancel after shipped, refresh after revoke."""
    routes, state = sfcc_routes(client_secret=SECRET)
    with SandboxServer(routes) as server, httpx.Client() as http:
        settings = _sandbox_settings(server)
        client = SfccClient(http, settings, retry=FAST)
        created = client.execute(hotel_order(), CREATE)
        assert client.execute(hotel_order(), CREATE) == attrs.evolve(created, created=False)
        client.execute(
            hotel_order(),
            attrs.evolve(
                SHIP, shipping_status=ShippingStatus.SHIPPED, line_item_ids=("L1", "L2", "L3")
            ),
            order_no=created.order_no,
        )
        state.revoke_tokens()
        client.execute(hotel_order(), CANCEL, order_no=created.order_no)
    order = state.order(ORDER_ID)
    assert len(state.orders) == 1
    assert order["c_externalOrderStatus"] == "CANCELLED"
    assert order["c_orderTag"] == "cancel after shipped"
    assert order["shipping_status"] == "shipped"
    assert {i["product_id"]: i["c_trackingNumber"] for i in order["product_items"]} == {
        "ROOM-DLX": "1Z999",
        "BREAKFAST": "1Z999",
    }
    assert order["payment"] == {"payment_method": "SOCIAL_PAY"}
    assert state.token_requests == 2


def test_end_to_end_async_with_the_cartridge_preset() -> None:
    routes, state = sfcc_routes(client_secret=SECRET)

    async def run(server: SandboxServer) -> None:
        async with httpx.AsyncClient() as http:
            client = AsyncSfccClient(http, _sandbox_settings(server, CARTRIDGE_PRESET), retry=FAST)
            created = await client.execute(hotel_order(), CREATE)
            done = UpdateSfccOrderStatus(ORDER_ID, 9, external_status=SfccStatus.COMPLETED)
            await client.execute(hotel_order(), done, order_no=created.order_no)

    with SandboxServer(routes) as server:
        asyncio.run(run(server))
    assert state.order(ORDER_ID)["c_externalChannelOrderStatus"] == 5


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(302, headers={"Location": "https://shop.example.test/login"}),
        httpx.Response(200, text="<html>Site maintenance</html>"),
        httpx.Response(200, content=b""),
        httpx.Response(200, json={"fault": {"type": "OrderNotFound", "message": "gone"}}),
    ],
    ids=["redirect", "html", "empty", "fault-under-200"],
)
def test_an_update_answer_that_cannot_be_read_as_success_is_retried_not_done(
    answer: httpx.Response,
) -> None:
    """Only a 2xx with the order as a JSON object is an applied PATCH; anything else is
    retried (the PATCH sets the same values again), never marked delivered."""
    fake = FakeSfcc()

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            return answer
        return fake(request)

    client = SfccClient(mock_client(handle), CARTRIDGE, retry=RetryPolicy(attempts=1))
    with pytest.raises(RetryableError, match="order update's answer"):
        client.execute(hotel_order(), CANCEL, order_no="00000001")
