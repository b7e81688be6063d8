"""The TikTok Shop client against `httpx.MockTransport` handlers that check what arrives.

The handler (`FakeTikTok`) routes on method and path, checks the signature
with its own implementation of TikTok Shop's signing algorithm, and answers in
TikTok's envelope. Fault tests script answers per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from adapters.errors import AuthenticationError, MalformedPayload, RejectedError, RetryableError
from adapters.http import RetryPolicy
from adapters.partners.tiktok_shop import (
    AsyncTikTokShopClient,
    LookupFailed,
    ShippingProviderNotFound,
    TikTokShopAuth,
    TikTokShopClient,
    TikTokShopSettings,
    TokenSet,
)
from lifecycle import (
    ApproveTikTokCancellation,
    ApproveTikTokReturn,
    CancelTikTokOrder,
    RejectTikTokCancellation,
    ShippingStatus,
    ShipTikTokPackage,
    UpdateSfccShipping,
)

from .strategies_tiktok import order_object

APP_KEY, SECRET, CIPHER = "KEY", "app-secret-zz", "CIPHER"
ACCESS, REFRESH = "access-token-aa", "refresh-token-bb"
NOW = 1700000000
BASE = "https://open-api.test"
AUTH = "https://auth.test"
FAST = RetryPolicy(
    attempts=3,
    timeout=timedelta(seconds=5),
    wait_initial=timedelta(0),
    wait_max=timedelta(0),
    wait_jitter=timedelta(0),
)

Answer = Callable[[httpx.Request], httpx.Response]


def envelope(
    data: Any = None, code: int = 0, message: str = "Success", status: int = 200
) -> httpx.Response:
    return httpx.Response(
        status, json={"code": code, "message": message, "request_id": "RID-1", "data": data}
    )


def expected_sign(request: httpx.Request) -> str:
    """TikTok Shop's signing, written again for the test: path, sorted pairs, body, wrapped."""
    pairs = sorted(
        (k, v) for k, v in request.url.params.multi_items() if k not in ("sign", "access_token")
    )
    text = request.url.path + "".join(k + v for k, v in pairs)
    body = b"" if request.method == "GET" else request.content
    message = SECRET.encode() + text.encode() + body + SECRET.encode()
    return hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()


class FakeTikTok:
    """Routes on (method, path); checks signature, app key, cipher and token on every call."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Answer] | Answer] = {}
        self.seen: list[httpx.Request] = []
        self.token = ACCESS

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.routes[(method, path)] = list(answers) if len(answers) > 1 else answers[0]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.host == "auth.test":
            return self._answer(request)
        params = request.url.params
        assert params["app_key"] == APP_KEY
        assert params["timestamp"] == str(NOW)
        assert params["sign"] == expected_sign(request)
        assert ("shop_cipher" in params) != request.url.path.startswith("/authorization/")
        if "shop_cipher" in params:
            assert params["shop_cipher"] == CIPHER
        if request.headers["x-tts-access-token"] != self.token:
            return envelope(code=105002, message="Access token is expired")
        return self._answer(request)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, request.url.path)
        assert key in self.routes, f"unexpected call {key}"
        route = self.routes[key]
        if isinstance(route, list):
            answer = route.pop(0) if len(route) > 1 else route[0]
        else:
            answer = route
        return answer(request)

    def calls(self, path: str) -> list[httpx.Request]:
        return [r for r in self.seen if r.url.path == path]


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


@pytest.fixture
def fake() -> FakeTikTok:
    return FakeTikTok()


def make_auth(refreshed: list[TokenSet] | None = None) -> TikTokShopAuth:
    return TikTokShopAuth(
        app_key=APP_KEY,
        app_secret=SECRET,
        tokens=TokenSet(ACCESS, REFRESH),
        shop_cipher=CIPHER,
        clock=lambda: NOW,
        on_token_refresh=None if refreshed is None else refreshed.append,
        auth_base_url=AUTH,
    )


SETTINGS = TikTokShopSettings(
    base_url=BASE, default_cancel_reason="seller_reason_code", default_reject_reason="reject_code"
)


def make_client(
    fake: FakeTikTok, settings: TikTokShopSettings = SETTINGS, auth: TikTokShopAuth | None = None
) -> TikTokShopClient:
    http = httpx.Client(transport=httpx.MockTransport(fake))
    return TikTokShopClient(http, auth or make_auth(), settings=settings, retry=FAST)


def make_async(fake: FakeTikTok, auth: TikTokShopAuth | None = None) -> AsyncTikTokShopClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    return AsyncTikTokShopClient(http, auth or make_auth(), settings=SETTINGS, retry=FAST)


DETAIL = "/order/202309/orders"
PROVIDERS = "/logistics/202309/delivery_options/DO1/shipping_providers"
SHIP = "/fulfillment/202309/packages/PKG1/ship"
CANCEL = "/return_refund/202309/cancellations"
RETURNS_SEARCH = "/return_refund/202309/returns/search"


def detail_answer(*orders: dict[str, Any]) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        wanted = request.url.params["ids"].split(",")
        return envelope({"orders": [o for o in orders if o["id"] in wanted]})

    return answer


# --------------------------------------------------------------------------- each call


def test_get_order_detail_asks_in_batches_and_parses_orders(fake: FakeTikTok) -> None:
    fake.on("GET", DETAIL, detail_answer(*(order_object(f"O{i}") for i in range(5))))
    client = make_client(fake, TikTokShopSettings(base_url=BASE, order_detail_batch_size=2))
    found = client.get_order_detail(["O0", "O1", "O2", "O3", "O4"])
    assert [o.id for o in found] == ["O0", "O1", "O2", "O3", "O4"]
    assert [r.url.params["ids"] for r in fake.calls(DETAIL)] == ["O0,O1", "O2,O3", "O4"]
    assert all(r.method == "GET" and r.content == b"" for r in fake.calls(DETAIL))


def test_get_shipping_providers(fake: FakeTikTok) -> None:
    providers = [{"id": "SP1", "name": "UPS"}, {"id": "SP2", "name": "FedEx", "extra": 1}]
    fake.on("GET", PROVIDERS, lambda r: envelope({"shipping_providers": providers}))
    found = make_client(fake).get_shipping_providers("DO1")
    assert [(p.id, p.name) for p in found] == [("SP1", "UPS"), ("SP2", "FedEx")]


def test_ship_package_sends_self_shipment(fake: FakeTikTok) -> None:
    fake.on("POST", SHIP, lambda r: envelope({}))
    make_client(fake).ship_package("PKG1", "1Z999", "SP1")
    (sent,) = fake.calls(SHIP)
    assert body(sent) == {
        "self_shipment": {"tracking_number": "1Z999", "shipping_provider_id": "SP1"}
    }
    assert sent.headers["content-type"] == "application/json"


def test_ship_package_sends_the_handover_method_when_set(fake: FakeTikTok) -> None:
    fake.on("POST", SHIP, lambda r: envelope({}))
    settings = TikTokShopSettings(base_url=BASE, ship_handover_method="DROP_OFF")
    make_client(fake, settings).ship_package("PKG1", "1Z999", "SP1")
    assert body(fake.calls(SHIP)[0])["handover_method"] == "DROP_OFF"


def test_cancel_order_whole_and_by_lines(fake: FakeTikTok) -> None:
    fake.on("POST", CANCEL, lambda r: envelope({"cancel_id": "C9", "cancel_status": "X"}))
    client = make_client(fake)
    created = client.cancel_order("O1", reason="out_of_stock")
    client.cancel_order("O1", ["L1"])
    whole, lines = fake.calls(CANCEL)
    assert body(whole) == {
        "order_id": "O1",
        "cancel_reason": "ecom_order_to_ship_canceled_reason_out_of_stock",
    }
    assert body(lines) == {
        "order_id": "O1",
        "cancel_reason": "seller_reason_code",
        "order_line_item_ids": ["L1"],
    }
    assert (created.cancel_id, created.cancel_status) == ("C9", "X")


def test_cancel_order_without_any_reason_is_refused_before_sending(fake: FakeTikTok) -> None:
    client = make_client(fake, TikTokShopSettings(base_url=BASE))
    with pytest.raises(ValueError, match="cancel_reason"):
        client.cancel_order("O1")
    assert fake.seen == []


@pytest.mark.parametrize(
    ("reason", "sent"),
    [
        ("Out of stock", "ecom_order_to_ship_canceled_reason_out_of_stock"),
        ("out-of-stock ", "ecom_order_to_ship_canceled_reason_out_of_stock"),
        (
            "ecom_order_to_ship_canceled_reason_change_payment_method",
            "ecom_order_to_ship_canceled_reason_change_payment_method",
        ),
        ("the buyer phoned and asked us to stop", "seller_reason_code"),
        ("", "seller_reason_code"),
    ],
)
def test_cancel_reasons_go_to_tiktok_as_codes_never_as_free_text(
    fake: FakeTikTok, reason: str, sent: str
) -> None:
    """Our words map to TikTok's codes (settings); a code passes; free text never leaves."""
    fake.on("POST", CANCEL, lambda r: envelope({"cancel_id": "C9"}))
    make_client(fake).cancel_order("O1", reason=reason)
    assert body(fake.calls(CANCEL)[0])["cancel_reason"] == sent


def test_free_text_without_a_default_code_is_refused_before_sending(fake: FakeTikTok) -> None:
    client = make_client(fake, TikTokShopSettings(base_url=BASE))
    with pytest.raises(ValueError, match="cancel_reason code"):
        client.cancel_order("O1", reason="customer changed their mind")
    with pytest.raises(ValueError, match="reject_reason code"):
        client.reject_cancellation("C1", "K", "we already packed it, sorry")
    assert fake.seen == []


def test_reject_reason_words_map_to_tiktok_codes(fake: FakeTikTok) -> None:
    fake.on("POST", f"{CANCEL}/C1/reject", lambda r: envelope())
    settings = TikTokShopSettings(
        base_url=BASE, reject_reason_codes={"too late": "seller_reject_apply_x"}
    )
    make_client(fake, settings).reject_cancellation("C1", "K", "Too late")
    assert body(fake.seen[0]) == {"reject_reason": "seller_reject_apply_x"}


def test_approve_and_reject_cancellation_carry_the_idempotency_key(fake: FakeTikTok) -> None:
    fake.on("POST", f"{CANCEL}/C1/approve", lambda r: envelope())
    fake.on("POST", f"{CANCEL}/C1/reject", lambda r: envelope())
    client = make_client(fake)
    client.approve_cancellation("C1", "K-approve")
    client.reject_cancellation("C1", "K-reject", "reason_x")
    approve, reject = fake.seen
    assert approve.url.params["idempotency_key"] == "K-approve"
    assert approve.content == b""
    assert reject.url.params["idempotency_key"] == "K-reject"
    assert body(reject) == {"reject_reason": "reason_x"}


def test_search_cancellations_and_returns_page(fake: FakeTikTok) -> None:
    fake.on(
        "POST",
        f"{CANCEL}/search",
        lambda r: envelope(
            {
                "cancellations": [
                    {
                        "cancel_id": "C1",
                        "order_id": "O1",
                        "cancel_status": "CANCELLATION_REQUEST_PENDING",
                        "role": "BUYER",
                        "cancel_line_items": [{"order_line_item_id": "L1"}],
                    }
                ],
                "next_page_token": "p2",
            }
        ),
    )
    fake.on("POST", RETURNS_SEARCH, lambda r: envelope({"return_orders": []}))
    client = make_client(fake)
    page = client.search_cancellations(order_ids=["O1"], page_token="p1")
    assert page.next_page_token == "p2"
    (found,) = page.items
    assert (found.cancel_id, found.role, found.line_item_ids) == ("C1", "BUYER", ("L1",))
    empty = client.search_returns(return_ids=["R1"])
    assert empty.items == ()
    assert empty.next_page_token is None
    search_c, search_r = fake.seen
    assert body(search_c) == {"order_ids": ["O1"]}
    assert search_c.url.params["page_token"] == "p1"
    assert search_c.url.params["page_size"] == "50"
    assert body(search_r) == {"return_ids": ["R1"]}


def test_search_result_without_its_id_is_malformed(fake: FakeTikTok) -> None:
    fake.on("POST", RETURNS_SEARCH, lambda r: envelope({"return_orders": [{"order_id": "O1"}]}))
    with pytest.raises(MalformedPayload, match="return_id"):
        make_client(fake).search_returns(order_ids=["O1"])


ORDERS_SEARCH = "/order/202309/orders/search"
SINCE = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
UNTIL = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def paged(key: str, pages: dict[str | None, tuple[list[dict[str, Any]], str | None]]) -> Answer:
    """Answers page by `page_token` (None: the first), as TikTok's searches do."""

    def answer(request: httpx.Request) -> httpx.Response:
        items, following = pages[request.url.params.get("page_token")]
        data: dict[str, Any] = {key: items, "total_count": sum(len(p[0]) for p in pages.values())}
        if following:
            data["next_page_token"] = following
        return envelope(data)

    return answer


def test_search_orders_posts_the_update_window_and_follows_page_tokens(fake: FakeTikTok) -> None:
    fake.on(
        "POST",
        ORDERS_SEARCH,
        paged(
            "orders",
            {
                None: ([order_object("O1"), order_object("O2")], "t2"),
                "t2": ([order_object("O3")], None),
            },
        ),
    )
    client = make_client(fake)
    first = client.search_orders(update_time_ge=SINCE, update_time_lt=UNTIL)
    assert [o.id for o in first.items] == ["O1", "O2"]
    assert (first.next_page_token, first.total_count) == ("t2", 3)
    assert first.items[0].line_items[0].seller_sku == "MUG-1", "full order objects"
    last = client.search_orders(update_time_ge=SINCE, update_time_lt=UNTIL, page_token="t2")
    assert [o.id for o in last.items] == ["O3"]
    assert last.next_page_token is None
    one, two = fake.calls(ORDERS_SEARCH)
    window = {"update_time_ge": int(SINCE.timestamp()), "update_time_lt": int(UNTIL.timestamp())}
    assert body(one) == body(two) == window
    assert one.url.params["page_size"] == "50"
    assert "page_token" not in one.url.params
    assert two.url.params["page_token"] == "t2"


@pytest.mark.parametrize(
    ("ge", "lt", "named"),
    [
        (SINCE.replace(tzinfo=None), UNTIL, "update_time_ge must be a timezone-aware"),
        (SINCE, UNTIL.replace(tzinfo=None), "update_time_lt must be a timezone-aware"),
        (UNTIL, SINCE, "must be before update_time_lt"),
        (SINCE, SINCE, "must be before update_time_lt"),
    ],
)
def test_search_windows_that_are_naive_or_empty_are_refused_before_sending(
    fake: FakeTikTok, ge: datetime, lt: datetime, named: str
) -> None:
    client = make_client(fake)
    with pytest.raises(ValueError, match=named):
        client.search_orders(update_time_ge=ge, update_time_lt=lt)
    with pytest.raises(ValueError, match=named):
        client.search_returns(update_time_ge=ge, update_time_lt=lt)
    assert fake.seen == []


def test_search_cancellations_reads_lines_reason_role_and_times(fake: FakeTikTok) -> None:
    """Fields as in fudiwei's ReturnRefundSearchCancellationsResponse sample."""
    fake.on(
        "POST",
        f"{CANCEL}/search",
        lambda r: envelope(
            {
                "cancellations": [
                    {
                        "cancel_id": "4035318504086604100",
                        "order_id": "577087614418520388",
                        "cancel_status": "CANCELLATION_REQUEST_PENDING",
                        "cancel_type": "REQUEST_CANCEL_REFUND",
                        "role": "BUYER",
                        "cancel_reason": "ecom_order_to_ship_canceled_reason_created_by_mistakes",
                        "cancel_reason_text": "Order created by mistake",
                        "create_time": 1690451136,
                        "update_time": 1690451200,
                        "cancel_line_items": [
                            {
                                "cancel_line_item_id": "4035227913481196964",
                                "order_line_item_id": "576468844534141348",
                                "seller_sku": "YYAPC23078TRT30",
                            }
                        ],
                    }
                ],
                "total_count": 1,
            }
        ),
    )
    page = make_client(fake).search_cancellations(update_time_ge=SINCE, update_time_lt=UNTIL)
    (found,) = page.items
    assert found.line_item_ids == ("576468844534141348",), "the order's line id, not the cancel's"
    assert (found.role, found.cancel_type) == ("BUYER", "REQUEST_CANCEL_REFUND")
    assert found.reason == "ecom_order_to_ship_canceled_reason_created_by_mistakes"
    assert found.reason_text == "Order created by mistake"
    assert found.create_time == datetime.fromtimestamp(1690451136, UTC)
    assert found.update_time == datetime.fromtimestamp(1690451200, UTC)
    (request,) = fake.seen
    assert body(request) == {
        "update_time_ge": int(SINCE.timestamp()),
        "update_time_lt": int(UNTIL.timestamp()),
    }


def test_search_returns_reads_lines_reason_tracking_and_times(fake: FakeTikTok) -> None:
    """Fields as in fudiwei's ReturnRefundSearchReturnsResponse sample."""
    fake.on(
        "POST",
        RETURNS_SEARCH,
        lambda r: envelope(
            {
                "return_orders": [
                    {
                        "return_id": "4035318504086604100",
                        "order_id": "577686530908261117",
                        "return_status": "BUYER_SHIPPED_ITEM",
                        "return_type": "RETURN_AND_REFUND",
                        "role": "BUYER",
                        "return_reason": "ecom_order_delivered_refund_and_return_reason_x",
                        "return_reason_text": "Wrong size",
                        "return_tracking_number": "213456789098765433456",
                        "return_provider_name": "J&T Express",
                        "create_time": 1690451136,
                        "update_time": 1690453136,
                        "return_line_items": [
                            {
                                "return_line_item_id": "4035227657962164811",
                                "order_line_item_id": "A",
                            },
                            {
                                "return_line_item_id": "4035227657962164812",
                                "order_line_item_id": "B",
                            },
                        ],
                    }
                ],
            }
        ),
    )
    page = make_client(fake).search_returns(order_ids=["577686530908261117"])
    (found,) = page.items
    assert found.line_item_ids == ("A", "B")
    assert (found.reason, found.reason_text) == (
        "ecom_order_delivered_refund_and_return_reason_x",
        "Wrong size",
    )
    assert (found.return_tracking_number, found.return_provider_name) == (
        "213456789098765433456",
        "J&T Express",
    )
    assert found.create_time == datetime.fromtimestamp(1690451136, UTC)
    assert page.total_count is None


def test_search_result_with_a_bad_time_names_the_field(fake: FakeTikTok) -> None:
    fake.on(
        "POST",
        f"{CANCEL}/search",
        lambda r: envelope(
            {
                "cancellations": [
                    {"cancel_id": "C", "order_id": "O", "cancel_status": "X", "create_time": "soon"}
                ]
            }
        ),
    )
    with pytest.raises(MalformedPayload, match=r"cancellations\[0\].*create_time"):
        make_client(fake).search_cancellations(cancel_ids=["C"])


def test_async_client_searches_orders_cancellations_and_returns(fake: FakeTikTok) -> None:
    fake.on("POST", ORDERS_SEARCH, paged("orders", {None: ([order_object("O1")], None)}))
    fake.on("POST", f"{CANCEL}/search", paged("cancellations", {None: ([], None)}))
    fake.on("POST", RETURNS_SEARCH, paged("return_orders", {None: ([], "next")}))

    async def calls() -> tuple[Any, Any, Any]:
        client = make_async(fake)
        return (
            await client.search_orders(update_time_ge=SINCE, update_time_lt=UNTIL),
            await client.search_cancellations(cancel_ids=["C1"]),
            await client.search_returns(return_ids=["R1"], update_time_ge=SINCE),
        )

    orders, cancellations, returns = asyncio.run(calls())
    assert [o.id for o in orders.items] == ["O1"]
    assert cancellations.items == ()
    assert returns.next_page_token == "next"
    assert body(fake.seen[1]) == {"cancel_ids": ["C1"]}
    assert body(fake.seen[2]) == {"return_ids": ["R1"], "update_time_ge": int(SINCE.timestamp())}


# --------------------------------------------------------------------------- effects


def ship_effect(**changes: Any) -> ShipTikTokPackage:
    fields: dict[str, Any] = {
        "order_id": "O1",
        "version": 4,
        "line_item_ids": ("L1", "L2"),
        "tracking_number": "1Z999",
        "shipping_provider_name": "  united parcel   service ",
    }
    fields.update(changes)
    return ShipTikTokPackage(**fields)


def providers_answer(r: httpx.Request) -> httpx.Response:
    return envelope(
        {
            "shipping_providers": [
                {"id": "SP0", "name": "USPS"},
                {"id": "SP1", "name": "United Parcel Service"},
            ]
        }
    )


def test_ship_effect_looks_up_package_delivery_option_and_provider_by_name(
    fake: FakeTikTok,
) -> None:
    """TikTok for SFCC: Order Management: Get Order Detail, then Get Shipping Providers, then
    Ship Package."""
    fake.on("GET", DETAIL, detail_answer(order_object("O1")))
    fake.on("GET", PROVIDERS, providers_answer)
    fake.on("POST", SHIP, lambda r: envelope({}))
    shipped = make_client(fake).execute(ship_effect())
    assert [r.url.path for r in fake.seen] == [DETAIL, PROVIDERS, SHIP]
    assert body(fake.seen[-1])["self_shipment"] == {
        "tracking_number": "1Z999",
        "shipping_provider_id": "SP1",
    }
    assert (shipped.package_id, shipped.shipping_provider_id) == ("PKG1", "SP1")


def test_ship_effect_with_ids_calls_ship_package_only(fake: FakeTikTok) -> None:
    fake.on("POST", SHIP, lambda r: envelope({}))
    make_client(fake).execute(ship_effect(package_id="PKG1", shipping_provider_id="SP5"))
    assert [r.url.path for r in fake.seen] == [SHIP]


def test_ship_effect_with_unknown_carrier_name_names_the_known_ones(fake: FakeTikTok) -> None:
    fake.on("GET", DETAIL, detail_answer(order_object("O1")))
    fake.on("GET", PROVIDERS, providers_answer)
    with pytest.raises(ShippingProviderNotFound, match="USPS, United Parcel Service"):
        make_client(fake).execute(ship_effect(shipping_provider_name="DHL"))
    assert fake.calls(SHIP) == []


def test_ship_effect_without_a_single_package_is_refused(fake: FakeTikTok) -> None:
    order = order_object("O1", package_id=None)
    fake.on("GET", DETAIL, detail_answer(order))
    with pytest.raises(LookupFailed, match="no single package"):
        make_client(fake).execute(ship_effect())


def test_cancel_effects(fake: FakeTikTok) -> None:
    fake.on("POST", CANCEL, lambda r: envelope({"cancel_id": "C2"}))
    fake.on("POST", f"{CANCEL}/C1/approve", lambda r: envelope())
    fake.on("POST", f"{CANCEL}/C1/reject", lambda r: envelope())
    client = make_client(fake)
    client.execute(CancelTikTokOrder("O1", 3, line_item_ids=("L1", "L2"), whole_order=True))
    client.execute(
        CancelTikTokOrder("O1", 3, line_item_ids=("L2",), whole_order=False, reason="oos")
    )
    approve = ApproveTikTokCancellation("O1", 5, cancel_id="C1")
    client.execute(approve)
    reject = RejectTikTokCancellation("O1", 6, cancel_id="C1")
    client.execute(reject)
    whole, part, approved, rejected = fake.seen
    assert "order_line_item_ids" not in body(whole)
    # "oos" is free text, not one of TikTok's codes: the configured default goes instead.
    assert body(part) == {
        "order_id": "O1",
        "cancel_reason": "seller_reason_code",
        "order_line_item_ids": ["L2"],
    }
    assert (
        approved.url.params["idempotency_key"]
        == approve.idempotency_key
        == "O1-5-ApproveTikTokCancellation"
    )
    assert rejected.url.params["idempotency_key"] == reject.idempotency_key
    assert body(rejected) == {"reject_reason": "reject_code"}


@pytest.mark.parametrize(
    ("return_type", "decision"),
    [("REFUND", "APPROVE_REFUND"), ("RETURN_AND_REFUND", "APPROVE_RETURN")],
)
def test_approve_return_effect_chooses_the_decision_from_the_return_type(
    fake: FakeTikTok, return_type: str, decision: str
) -> None:
    fake.on(
        "POST",
        RETURNS_SEARCH,
        lambda r: envelope(
            {
                "return_orders": [
                    {
                        "return_id": "R1",
                        "order_id": "O1",
                        "return_status": "RETURN_OR_REFUND_REQUEST_PENDING",
                        "return_type": return_type,
                    }
                ]
            }
        ),
    )
    fake.on("POST", "/return_refund/202309/returns/R1/approve", lambda r: envelope())
    effect = ApproveTikTokReturn("O1", 7, return_id="R1")
    make_client(fake).execute(effect)
    search, approve = fake.seen
    assert body(search) == {"order_ids": ["O1"], "return_ids": ["R1"]}
    assert body(approve) == {"decision": decision}
    assert approve.url.params["idempotency_key"] == "O1-7-ApproveTikTokReturn"


def test_effects_of_other_partners_are_refused(fake: FakeTikTok) -> None:
    effect = UpdateSfccShipping(
        "O1", 1, line_item_ids=("L1",), shipping_status=ShippingStatus.SHIPPED
    )
    with pytest.raises(TypeError, match="UpdateSfccShipping is not a TikTok Shop effect"):
        make_client(fake).execute(effect)


# --------------------------------------------------------------------------- envelope and faults


def test_code_not_zero_under_http_200_is_rejected_with_details(fake: FakeTikTok) -> None:
    fake.on("POST", SHIP, lambda r: envelope(code=21011006, message="Package already shipped"))
    with pytest.raises(RejectedError) as caught:
        make_client(fake).ship_package("PKG1", "1Z", "SP1")
    error = caught.value
    assert not isinstance(error, RetryableError | AuthenticationError)
    assert (error.partner, error.status, error.code) == ("tiktok_shop", 200, 21011006)
    assert (error.message, error.request_id) == ("Package already shipped", "RID-1")
    assert len(fake.seen) == 1, "a rejected call is not retried"


def test_retryable_code_is_retried_with_the_same_idempotency_key(fake: FakeTikTok) -> None:
    fake.on(
        "POST",
        f"{CANCEL}/C1/approve",
        lambda r: envelope(code=36009003, message="Internal error"),
        lambda r: envelope(),
    )
    make_client(fake).execute(ApproveTikTokCancellation("O1", 5, cancel_id="C1"))
    keys = [r.url.params["idempotency_key"] for r in fake.seen]
    assert keys == ["O1-5-ApproveTikTokCancellation"] * 2


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_429_and_5xx_are_retried_until_the_attempts_run_out(fake: FakeTikTok, status: int) -> None:
    fake.on("GET", PROVIDERS, lambda r: envelope(code=1, message="busy", status=status))
    with pytest.raises(RetryableError) as caught:
        make_client(fake).get_shipping_providers("DO1")
    assert caught.value.status == status
    assert len(fake.seen) == FAST.attempts


def test_4xx_is_not_retried(fake: FakeTikTok) -> None:
    fake.on("GET", PROVIDERS, lambda r: envelope(code=1, message="bad", status=400))
    with pytest.raises(RejectedError):
        make_client(fake).get_shipping_providers("DO1")
    assert len(fake.seen) == 1


def test_auth_codes_raise_authentication_error(fake: FakeTikTok) -> None:
    fake.on("GET", PROVIDERS, lambda r: envelope(code=36009004, message="invalid app_key"))
    with pytest.raises(AuthenticationError):
        make_client(fake).get_shipping_providers("DO1")
    assert len(fake.seen) == 1


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("slow"), httpx.ConnectError("reset"), httpx.RemoteProtocolError("reset")],
)
def test_transport_failures_are_retried(fake: FakeTikTok, failure: httpx.TransportError) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise failure

    fake.on("POST", f"{CANCEL}/C1/approve", fail, lambda r: envelope())
    make_client(fake).approve_cancellation("C1", "K1")
    assert [r.url.params["idempotency_key"] for r in fake.seen] == ["K1", "K1"]


def test_timeouts_that_persist_raise_retryable_error(fake: FakeTikTok) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow")

    fake.on("GET", PROVIDERS, fail)
    with pytest.raises(RetryableError, match="timed out"):
        make_client(fake).get_shipping_providers("DO1")
    assert len(fake.seen) == FAST.attempts


def test_malformed_json_answer_is_retried(fake: FakeTikTok) -> None:
    fake.on(
        "GET",
        PROVIDERS,
        lambda r: httpx.Response(200, content=b"<html>gateway</html>"),
        lambda r: envelope({"shipping_providers": []}),
    )
    assert make_client(fake).get_shipping_providers("DO1") == ()
    assert len(fake.seen) == 2


def test_malformed_data_is_a_typed_error(fake: FakeTikTok) -> None:
    fake.on("GET", DETAIL, lambda r: envelope({"orders": [{"id": "O1"}]}))
    with pytest.raises(MalformedPayload, match="orders\\[0\\]"):
        make_client(fake).get_order_detail(["O1"])


# --------------------------------------------------------------------------- tokens


def refresh_answer(request: httpx.Request) -> httpx.Response:
    params = request.url.params
    assert request.method == "GET"
    assert (params["app_key"], params["app_secret"]) == (APP_KEY, SECRET)
    assert (params["refresh_token"], params["grant_type"]) == (REFRESH, "refresh_token")
    return envelope(
        {
            "access_token": "access-NEW",
            "refresh_token": "refresh-NEW",
            "access_token_expire_in": NOW + 604800,
            "refresh_token_expire_in": NOW + 2592000,
        }
    )


def test_expired_token_is_refreshed_handed_to_the_callback_and_the_call_resent(
    fake: FakeTikTok, caplog: pytest.LogCaptureFixture
) -> None:
    fake.token = "access-NEW"  # TikTok no longer accepts the old one
    fake.on("GET", "/api/v2/token/refresh", refresh_answer)
    fake.on("GET", PROVIDERS, lambda r: envelope({"shipping_providers": []}))
    refreshed: list[TokenSet] = []
    auth = make_auth(refreshed)
    caplog.set_level(logging.DEBUG)
    make_client(fake, auth=auth).get_shipping_providers("DO1")
    assert [(r.url.host, r.url.path) for r in fake.seen] == [
        ("open-api.test", PROVIDERS),
        ("auth.test", "/api/v2/token/refresh"),
        ("open-api.test", PROVIDERS),
    ]
    assert fake.seen[-1].headers["x-tts-access-token"] == "access-NEW"
    assert refreshed == [TokenSet("access-NEW", "refresh-NEW", NOW + 604800, NOW + 2592000)]
    assert auth.tokens.access_token == "access-NEW"
    for secret in (SECRET, ACCESS, REFRESH, "access-NEW", "refresh-NEW"):
        assert secret not in caplog.text
    assert "refreshed" in caplog.text


def test_failed_refresh_raises_authentication_error_without_secrets(fake: FakeTikTok) -> None:
    fake.token = "something-else"
    fake.on(
        "GET", "/api/v2/token/refresh", lambda r: envelope(code=105001, message="invalid refresh")
    )
    fake.on("GET", PROVIDERS, lambda r: envelope({"shipping_providers": []}))
    with pytest.raises(AuthenticationError) as caught:
        make_client(fake).get_shipping_providers("DO1")
    text = f"{caught.value} {caught.value!r} {vars(caught.value)}"
    for secret in (SECRET, ACCESS, REFRESH):
        assert secret not in text
    assert len(fake.calls(PROVIDERS)) == 1


def test_client_repr_holds_no_secret(fake: FakeTikTok) -> None:
    text = repr(make_client(fake))
    assert APP_KEY in text
    for secret in (SECRET, ACCESS, REFRESH):
        assert secret not in text


# --------------------------------------------------------------------------- async


def test_async_client_carries_out_the_ship_lookup(fake: FakeTikTok) -> None:
    fake.on("GET", DETAIL, detail_answer(order_object("O1")))
    fake.on("GET", PROVIDERS, providers_answer)
    fake.on("POST", SHIP, lambda r: envelope({}))
    shipped = asyncio.run(make_async(fake).execute(ship_effect()))
    assert [r.url.path for r in fake.seen] == [DETAIL, PROVIDERS, SHIP]
    assert shipped.shipping_provider_id == "SP1"


def test_async_client_retries_and_refreshes(fake: FakeTikTok) -> None:
    fake.token = "access-NEW"
    fake.on("GET", "/api/v2/token/refresh", refresh_answer)
    fake.on(
        "POST",
        f"{CANCEL}/C1/approve",
        lambda r: envelope(code=1, message="busy", status=503),
        lambda r: envelope(),
    )
    refreshed: list[TokenSet] = []
    asyncio.run(make_async(fake, make_auth(refreshed)).approve_cancellation("C1", "K1"))
    assert [r.url.path for r in fake.seen][-2:] == [f"{CANCEL}/C1/approve"] * 2
    assert len(refreshed) == 1
    keys = [r.url.params["idempotency_key"] for r in fake.calls(f"{CANCEL}/C1/approve")]
    assert set(keys) == {"K1"}


def test_async_client_maps_errors_like_the_sync_one(fake: FakeTikTok) -> None:
    fake.on("GET", PROVIDERS, lambda r: envelope(code=21001001, message="Invalid parameters"))

    async def call() -> None:
        await make_async(fake).get_shipping_providers("DO1")

    with pytest.raises(RejectedError, match="Invalid parameters"):
        asyncio.run(call())
