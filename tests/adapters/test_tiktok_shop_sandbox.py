"""End to end over real HTTP on 127.0.0.1: the client against the TikTok Shop sandbox."""

from __future__ import annotations

import asyncio
import io
import json
import queue
import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import attrs
import httpx
import pytest

from adapters.entrypoints.cli import main
from adapters.errors import AuthenticationError, RejectedError, RetryableError
from adapters.http import RetryPolicy
from adapters.partners.tiktok_shop import (
    AsyncTikTokShopClient,
    LookupFailed,
    TikTokShopAuth,
    TikTokShopClient,
    TikTokShopSettings,
    TokenSet,
    order_from_detail,
    parse_webhook,
    verify_webhook,
)
from adapters.sandbox import DROP, Received, Reply, Route, SandboxServer
from adapters.sandbox.tiktok_shop import (
    BAD_PARAMETERS,
    SandboxInputError,
    TikTokShopSandboxState,
    WebhookSender,
    tiktok_shop_sandbox,
)
from lifecycle import (
    ApproveTikTokCancellation,
    ApproveTikTokReturn,
    CancelTikTokOrder,
    OrderStatus,
    ShipTikTokPackage,
)

from .strategies_tiktok import T0_SECONDS, order_object

FAST = RetryPolicy(
    attempts=3,
    timeout=timedelta(seconds=5),
    wait_initial=timedelta(0),
    wait_max=timedelta(0),
    wait_jitter=timedelta(0),
)
SECRET = "sandbox-secret-123"


def seeded() -> tuple[list, TikTokShopSandboxState]:
    routes, state = tiktok_shop_sandbox(app_secret=SECRET)
    state.add_order(order_object("O1"))
    state.add_providers("DO1", [{"id": "SP1", "name": "UPS"}, {"id": "SP2", "name": "FedEx"}])
    state.add_cancellation(
        {"cancel_id": "C1", "order_id": "O2", "cancel_status": "CANCELLATION_REQUEST_PENDING"}
    )
    state.add_return(
        {
            "return_id": "R1",
            "order_id": "O3",
            "return_status": "RETURN_OR_REFUND_REQUEST_PENDING",
            "return_type": "RETURN_AND_REFUND",
        }
    )
    return routes, state


def auth(
    state: TikTokShopSandboxState,
    server: SandboxServer,
    refreshed: list[TokenSet],
    clock: Callable[[], float] = time.time,
) -> TikTokShopAuth:
    return TikTokShopAuth(
        clock=clock,
        app_key=state.app_key,
        app_secret=SECRET,
        tokens=TokenSet(state.access_token, state.refresh_token),
        shop_cipher=state.shop_cipher,
        on_token_refresh=refreshed.append,
        auth_base_url=server.url,
    )


def settings(server: SandboxServer) -> TikTokShopSettings:
    return TikTokShopSettings(base_url=server.url, default_cancel_reason="seller_out_of_stock")


def test_every_call_end_to_end_with_signatures_checked_by_the_sandbox() -> None:
    routes, state = seeded()
    refreshed: list[TokenSet] = []
    with SandboxServer(routes) as server, httpx.Client(timeout=5) as http:
        client = TikTokShopClient(
            http, auth(state, server, refreshed), settings=settings(server), retry=FAST
        )
        (detail,) = client.get_order_detail(["O1", "missing"])
        assert detail.delivery_option_id == "DO1"
        assert order_from_detail(state.orders["O1"], shop_id="S").order_id == detail.id
        shipped = client.execute(
            ShipTikTokPackage(
                "O1",
                3,
                line_item_ids=("L1", "L2"),
                tracking_number="1Z",
                shipping_provider_name="ups",
            )
        )
        assert shipped.shipping_provider_id == "SP1"
        assert state.shipments["PKG1"] == {"tracking_number": "1Z", "shipping_provider_id": "SP1"}
        (after,) = client.get_order_detail(["O1"])
        assert {i.display_status for i in after.line_items} == {"AWAITING_COLLECTION"}

        approve = ApproveTikTokCancellation("O2", 5, cancel_id="C1")
        client.execute(approve)
        client.execute(approve)  # a retry of the whole effect: same key, applied once
        assert state.applied == [approve.idempotency_key]
        assert state.cancellations["C1"]["cancel_status"] == "CANCELLATION_REQUEST_SUCCESS"

        client.execute(ApproveTikTokReturn("O3", 6, return_id="R1"))
        assert state.returns["R1"]["return_status"] == "AWAITING_BUYER_SHIP"

        state.add_order(order_object("O4", package_id="PKG4"))
        created = client.execute(
            CancelTikTokOrder("O4", 2, line_item_ids=("L1", "L2"), whole_order=True)
        )
        assert state.orders["O4"]["status"] == "CANCELLED"
        page = client.search_cancellations(order_ids=["O4"])
        assert [c.cancel_id for c in page.items] == [created.cancel_id]
        returns = client.search_returns(return_ids=["R1"])
        assert [r.return_status for r in returns.items] == ["AWAITING_BUYER_SHIP"]
        assert [p.name for p in client.get_shipping_providers("DO1")] == ["UPS", "FedEx"]
    assert refreshed == []
    assert all(r.query.get("sign") for r in server.requests() if r.path.startswith("/order"))


def test_expired_token_is_refreshed_against_the_sandbox_auth_route() -> None:
    routes, state = seeded()
    refreshed: list[TokenSet] = []
    with SandboxServer(routes) as server, httpx.Client(timeout=5) as http:
        client = TikTokShopClient(
            http, auth(state, server, refreshed), settings=settings(server), retry=FAST
        )
        state.expire_access_token()
        (order,) = client.get_order_detail(["O1"])
        assert order.id == "O1"
        assert [t.access_token for t in refreshed] == [state.access_token] == ["access-1"]
        paths = [r.path for r in server.requests()]
        assert paths == ["/order/202309/orders", "/api/v2/token/refresh", "/order/202309/orders"]


def test_sandbox_refuses_a_wrong_secret_as_an_auth_error() -> None:
    routes, state = seeded()
    with SandboxServer(routes) as server, httpx.Client(timeout=5) as http:
        bad = TikTokShopAuth(
            app_key=state.app_key,
            app_secret="not-the-secret",
            tokens=TokenSet(state.access_token, state.refresh_token),
            shop_cipher=state.shop_cipher,
            auth_base_url=server.url,
        )
        client = TikTokShopClient(http, bad, settings=settings(server), retry=FAST)
        with pytest.raises(RejectedError, match="invalid signature") as caught:
            client.get_order_detail(["O1"])
        assert caught.value.code == 106001
        assert len(server.requests()) == 1


def test_sandbox_refuses_a_clock_out_of_the_window() -> None:
    routes, state = seeded()
    with SandboxServer(routes) as server, httpx.Client(timeout=5) as http:
        skewed = auth(state, server, [])
        skewed.clock = lambda: time.time() - 3600
        client = TikTokShopClient(http, skewed, settings=settings(server), retry=FAST)
        with pytest.raises(AuthenticationError, match="timestamp"):
            client.get_order_detail(["O1"])


def test_faults_over_real_http_are_retried_with_the_same_idempotency_key() -> None:
    routes, state = seeded()
    script = iter(
        [
            DROP,
            Reply(503, {"code": 1, "message": "busy"}),
            Reply(429, {"code": 1, "message": "slow"}),
        ]
    )

    def fault(request: Received) -> Reply | None:
        if "/approve" in request.path:
            return next(script, None)
        return None

    with SandboxServer(routes, fault=fault) as server, httpx.Client(timeout=5) as http:
        retry = RetryPolicy(
            attempts=4,
            timeout=timedelta(seconds=5),
            wait_initial=timedelta(0),
            wait_max=timedelta(0),
            wait_jitter=timedelta(0),
        )
        client = TikTokShopClient(
            http, auth(state, server, []), settings=settings(server), retry=retry
        )
        effect = ApproveTikTokCancellation("O2", 9, cancel_id="C1")
        client.execute(effect)
        keys = [r.query["idempotency_key"] for r in server.requests("POST")]
        assert keys == [effect.idempotency_key] * 4
        assert state.applied == [effect.idempotency_key]


def test_persistent_5xx_gives_up_after_the_attempts() -> None:
    routes, state = seeded()
    with (
        SandboxServer(routes, fault=lambda r: Reply(502, raw=b"bad gateway")) as server,
        httpx.Client(timeout=5) as http,
    ):
        client = TikTokShopClient(
            http, auth(state, server, []), settings=settings(server), retry=FAST
        )
        with pytest.raises(RetryableError) as caught:
            client.get_order_detail(["O1"])
        assert caught.value.status == 502
        assert len(server.requests()) == FAST.attempts


def test_async_client_end_to_end() -> None:
    routes, state = seeded()
    refreshed: list[TokenSet] = []

    async def scenario(server: SandboxServer) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            client = AsyncTikTokShopClient(
                http, auth(state, server, refreshed), settings=settings(server), retry=FAST
            )
            state.expire_access_token()
            (order,) = await client.get_order_detail(["O1"])
            assert order.id == "O1"
            assert (
                order_from_detail(state.orders["O1"], shop_id="S").status
                is OrderStatus.AWAITING_SHIPMENT
            )
            await client.execute(
                ShipTikTokPackage(
                    "O1",
                    3,
                    line_item_ids=("L1",),
                    tracking_number="9",
                    shipping_provider_name="FedEx",
                )
            )

    with SandboxServer(routes) as server:
        asyncio.run(scenario(server))
    assert state.shipments["PKG1"]["shipping_provider_id"] == "SP2"
    assert len(refreshed) == 1


def test_sandbox_state_repr_hides_secrets() -> None:
    _, state = seeded()
    text = repr(state)
    for secret in (SECRET, state.access_token, state.refresh_token):
        assert secret not in text


def test_shipping_an_order_the_sandbox_was_not_given_says_what_to_do() -> None:
    """Get Order Detail returning nothing is a LookupFailed that names the order and says
    what to check (the order id, shop_cipher) and that the sandbox needs the demo's orders;
    shipping a package the sandbox does not hold says the same from the sandbox's side."""
    routes, state = seeded()
    with SandboxServer(routes) as server, httpx.Client(timeout=5) as http:
        client = TikTokShopClient(
            http, auth(state, server, []), settings=settings(server), retry=FAST
        )
        unknown = ShipTikTokPackage(
            "576461413038785752",
            3,
            line_item_ids=("L1",),
            tracking_number="1Z",
            shipping_provider_name="UPS",
        )
        with pytest.raises(LookupFailed) as looked_up:
            client.execute(unknown)
        with pytest.raises(RejectedError) as shipped:
            client.execute(attrs.evolve(unknown, package_id="PKG9", shipping_provider_id="SP1"))
    message = str(looked_up.value)
    assert "did not return order 576461413038785752" in message
    for advice in ("check the order id", "shop_cipher", "order-lifecycle demo"):
        assert advice in message
    assert "\n" not in message
    assert "package PKG9 not found" in str(shipped.value)
    assert "order-lifecycle demo" in str(shipped.value)


# --------------------------------------------------------------------------- the order book


class Clock:
    """The sandbox's clock and the client's, moved by hand."""

    def __init__(self, now: int = T0_SECONDS + 3600) -> None:
        self.now = now

    def __call__(self) -> float:
        return float(self.now)


def book(clock: Clock) -> tuple[list, TikTokShopSandboxState]:
    routes, state = tiktok_shop_sandbox(app_secret=SECRET, clock=clock, shop_id="SHOP1")
    state.add_providers("DO1", [{"id": "SP1", "name": "UPS"}])
    return routes, state


def signed_http(state: TikTokShopSandboxState, server: SandboxServer, clock: Clock) -> httpx.Client:
    """A raw client signed by the adapter's own `TikTokShopAuth`, for routes the
    client has no method for yet and for query parameters it does not send."""
    signer = TikTokShopAuth(
        app_key=state.app_key,
        app_secret=SECRET,
        tokens=TokenSet(state.access_token, state.refresh_token),
        shop_cipher=state.shop_cipher,
        auth_base_url=server.url,
        clock=clock,
    )
    return httpx.Client(base_url=server.url, auth=signer, timeout=5)


def data_of(response: httpx.Response) -> dict:
    body = response.json()
    assert body["code"] == 0, body
    assert set(body) == {"code", "message", "request_id", "data"}
    return body["data"]


def write_lines(path: Path, *values: object) -> Path:
    path.write_text("\n".join(v if isinstance(v, str) else json.dumps(v) for v in values) + "\n")
    return path


def test_orders_file_takes_order_objects_and_whole_get_order_detail_responses(
    tmp_path: Path,
) -> None:
    orders = write_lines(
        tmp_path / "orders.jsonl",
        order_object("A1"),
        "",
        {
            "code": 0,
            "message": "Success",
            "data": {"orders": [order_object("A2"), order_object("A3")]},
        },
    )
    _, state = book(Clock())
    assert state.load_orders(orders) == 3
    assert sorted(state.orders) == ["A1", "A2", "A3"]
    assert state.notifications == []  # loading is not a change TikTok would announce


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: not JSON"),
        (json.dumps([1]), "line 2: an order must be a JSON object"),
        (
            json.dumps(order_object("B", status="AWAITING_PICKUP")),
            "unknown status 'AWAITING_PICKUP'",
        ),
        (
            json.dumps({**order_object("B"), "line_items": []}),
            "line_items must be a non-empty list",
        ),
        (json.dumps({"code": 105002, "data": {}}), "a response with code 105002"),
        (json.dumps({"code": 0, "data": {"orders": [{"id": "X"}]}}), "orders[0]: order X"),
    ],
)
def test_a_bad_orders_file_is_refused_naming_the_line_and_what_is_wrong(
    tmp_path: Path, line: str, message: str
) -> None:
    orders = write_lines(tmp_path / "orders.jsonl", order_object("A1"), line)
    _, state = book(Clock())
    with pytest.raises(SandboxInputError, match=re.escape(message)):
        state.load_orders(orders)
    assert state.orders == {}  # nothing held from a file that is refused


def test_get_order_detail_answers_held_orders_and_refuses_more_than_fifty_ids() -> None:
    clock = Clock()
    routes, state = book(clock)
    state.add_order(order_object("A1"))
    with SandboxServer(routes) as server, signed_http(state, server, clock) as http:
        found = data_of(http.get("/order/202309/orders", params={"ids": "A1,missing"}))
        assert [o["id"] for o in found["orders"]] == ["A1"]
        many = ",".join(f"X{i}" for i in range(51))
        refused = http.get("/order/202309/orders", params={"ids": many}).json()
        assert (refused["code"], refused["message"]) == (
            BAD_PARAMETERS,
            "ids takes at most 50 order ids",
        )


def test_search_orders_filters_by_status_and_times_and_pages_with_page_token() -> None:
    clock = Clock()
    routes, state = book(clock)
    for n in range(5):
        state.add_order(
            order_object(f"A{n}", create_time=T0_SECONDS + n, update_time=T0_SECONDS + 100 + n)
        )
    state.add_order(order_object("H", status="ON_HOLD", create_time=T0_SECONDS + 9))
    path = "/order/202309/orders/search"
    with SandboxServer(routes) as server, signed_http(state, server, clock) as http:
        seen, token, totals = [], "", set()
        while True:
            params = {"page_size": "2", "sort_order": "ASC"} | (
                {"page_token": token} if token else {}
            )
            body = {"order_status": "AWAITING_SHIPMENT", "update_time_ge": T0_SECONDS + 101}
            page = data_of(http.post(path, params=params, json=body))
            assert set(page) == {"orders", "next_page_token", "total_count"}
            seen += [o["id"] for o in page["orders"]]
            totals.add(page["total_count"])
            token = page["next_page_token"]
            if not token:
                break
        assert (seen, totals) == (["A1", "A2", "A3", "A4"], {4})
        newest = data_of(
            http.post(path, params={"page_size": "1"}, json={"create_time_lt": T0_SECONDS + 9})
        )
        assert [o["id"] for o in newest["orders"]] == ["A4"]  # create_time DESC by default
        for params, body, message in [
            ({"page_size": "0"}, {}, "page_size must be 1 to 100"),
            ({"page_size": "2", "page_token": "x"}, {}, "invalid page_token"),
            ({"page_size": "2"}, {"update_time_ge": "yesterday"}, "update_time_ge must be unix"),
            ({"page_size": "2"}, {"order_status": "SHIPPED"}, "unknown order_status 'SHIPPED'"),
        ]:
            refused = http.post(path, params=params, json=body).json()
            assert refused["code"] == BAD_PARAMETERS
            assert refused["message"].startswith(message)


def test_search_cancellations_and_returns_answer_tiktok_shapes_filtered_and_paged() -> None:
    clock = Clock()
    routes, state = book(clock)
    state.add_order(order_object("A1", lines=3))
    state.add_order(order_object("A2", status="DELIVERED"))
    state.add_cancellation(
        {"cancel_id": "C1", "order_id": "A1", "cancel_reason": "buyer_changed_mind"}
    )
    clock.now += 10
    state.add_cancellation(
        {"cancel_id": "C2", "order_id": "A1", "cancel_line_items": [{"order_line_item_id": "L2"}]}
    )
    state.add_return({"return_id": "R1", "order_id": "A2", "return_reason": "damaged"})
    rr = "/return_refund/202309"
    with SandboxServer(routes) as server, signed_http(state, server, clock) as http:
        page = data_of(
            http.post(
                f"{rr}/cancellations/search", params={"page_size": "1"}, json={"order_ids": ["A1"]}
            )
        )
        assert (page["total_count"], page["next_page_token"]) == (2, "1")
        (newest,) = page["cancellations"]
        assert newest == {
            "cancel_id": "C2",
            "order_id": "A1",
            "cancel_status": "CANCELLATION_REQUEST_PENDING",
            "role": "BUYER",
            "create_time": clock.now,
            "update_time": clock.now,
            "cancel_line_items": [{"order_line_item_id": "L2"}],
        }
        older = data_of(
            http.post(
                f"{rr}/cancellations/search",
                params={"page_size": "1", "page_token": "1"},
                json={"order_ids": ["A1"]},
            )
        )
        (first,) = older["cancellations"]
        assert (first["cancel_id"], first["cancel_reason"]) == ("C1", "buyer_changed_mind")
        assert [i["order_line_item_id"] for i in first["cancel_line_items"]] == ["L1", "L2", "L3"]
        window = {"cancel_ids": ["C1", "C2"], "update_time_lt": clock.now}
        early = data_of(
            http.post(f"{rr}/cancellations/search", params={"page_size": "5"}, json=window)
        )
        assert [c["cancel_id"] for c in early["cancellations"]] == ["C1"]
        returns = data_of(
            http.post(
                f"{rr}/returns/search", params={"page_size": "5"}, json={"return_ids": ["R1"]}
            )
        )
        assert set(returns) == {"return_orders", "next_page_token", "total_count"}
        (record,) = returns["return_orders"]
        assert record["return_reason"] == "damaged"
        assert (record["return_status"], record["return_type"], record["role"]) == (
            "RETURN_OR_REFUND_REQUEST_PENDING",
            "RETURN_AND_REFUND",
            "BUYER",
        )
        assert [i["order_line_item_id"] for i in record["return_line_items"]] == ["L1", "L2"]
        none = data_of(
            http.post(f"{rr}/returns/search", params={"page_size": "5"}, json={"order_ids": ["A1"]})
        )
        assert (none["return_orders"], none["total_count"], none["next_page_token"]) == ([], 0, "")


# --------------------------------------------------------------------------- moves


def split_order(order_id: str = "A1") -> dict:
    """Two lines in package P1, one in P2."""
    order = order_object(order_id, lines=3, package_id="P1")
    order["line_items"][2]["package_id"] = "P2"
    order["packages"] = [{"id": "P1"}, {"id": "P2"}]
    return order


def test_ship_package_ships_its_lines_and_moves_the_order_through_partially_shipping() -> None:
    clock = Clock()
    routes, state = book(clock)
    state.add_order(split_order())
    start = state.orders["A1"]["update_time"]
    with SandboxServer(routes) as server, httpx.Client(timeout=5) as http:
        client = TikTokShopClient(
            http, auth(state, server, [], clock), settings=settings(server), retry=FAST
        )
        client.ship_package("P1", tracking_number="1Z1", shipping_provider_id="SP1")
        (order,) = client.get_order_detail(["A1"])
        assert order.status == "PARTIALLY_SHIPPING"
        assert [(i.display_status, i.tracking_number) for i in order.line_items] == [
            ("AWAITING_COLLECTION", "1Z1"),
            ("AWAITING_COLLECTION", "1Z1"),
            ("AWAITING_SHIPMENT", None),
        ]
        assert order.line_items[0].shipping_provider_name == "UPS"
        client.ship_package("P2", tracking_number="1Z2", shipping_provider_id="SP1")
        (order,) = client.get_order_detail(["A1"])
    assert order.status == "AWAITING_COLLECTION"
    held = state.orders["A1"]
    # Both ships fell in the same second of the sandbox clock: update_time still rises.
    assert held["update_time"] == max(start, clock.now) + 1
    kinds = [(n["type"], n["data"].get("order_status")) for n in state.notifications]
    assert kinds == [
        (4, None),
        (1, "PARTIALLY_SHIPPING"),
        (4, None),
        (1, "AWAITING_COLLECTION"),
    ]
    assert state.notifications[2]["data"]["package_list"] == [
        {"package_id": "P2", "order_id_list": ["A1"]}
    ]


def test_a_delivery_option_of_a_held_order_has_the_default_carriers_unless_given() -> None:
    clock = Clock()
    routes, state = tiktok_shop_sandbox(app_secret=SECRET, clock=clock)
    state.add_order(order_object("A1", delivery_option_id="DO9"))
    state.add_providers("DO1", [{"id": "SP1", "name": "UPS"}])
    with SandboxServer(routes) as server, httpx.Client(timeout=5) as http:
        client = TikTokShopClient(
            http, auth(state, server, [], clock), settings=settings(server), retry=FAST
        )
        assert [p.id for p in client.get_shipping_providers("DO1")] == ["SP1"]
        assert [p.name for p in client.get_shipping_providers("DO9")] == [
            "UPS",
            "FedEx",
            "USPS",
            "DHL",
        ]
        with pytest.raises(RejectedError, match="delivery option DO2 not found"):
            client.get_shipping_providers("DO2")


def test_ship_package_refuses_a_package_shipped_before_or_whose_lines_are_all_cancelled() -> None:
    clock = Clock()
    routes, state = book(clock)
    state.add_order(split_order())
    with SandboxServer(routes) as server, httpx.Client(timeout=5) as http:
        client = TikTokShopClient(
            http, auth(state, server, [], clock), settings=settings(server), retry=FAST
        )
        client.cancel_order("A1", ["L3"], "seller_out_of_stock")
        with pytest.raises(RejectedError, match="every line of package P2 is cancelled"):
            client.ship_package("P2", tracking_number="1Z2", shipping_provider_id="SP1")
        client.ship_package("P1", tracking_number="1Z1", shipping_provider_id="SP1")
        with pytest.raises(RejectedError, match="package already shipped"):
            client.ship_package("P1", tracking_number="1Z1", shipping_provider_id="SP1")
    assert state.orders["A1"]["status"] == "AWAITING_COLLECTION"


def test_cancel_order_of_some_lines_keeps_the_order_and_of_the_rest_cancels_it() -> None:
    clock = Clock()
    routes, state = book(clock)
    state.add_order(order_object("A1", lines=3))
    with SandboxServer(routes) as server, httpx.Client(timeout=5) as http:
        client = TikTokShopClient(
            http, auth(state, server, [], clock), settings=settings(server), retry=FAST
        )
        one = client.cancel_order("A1", ["L2"], "seller_out_of_stock")
        assert state.orders["A1"]["status"] == "AWAITING_SHIPMENT"
        assert [i["display_status"] for i in state.orders["A1"]["line_items"]] == [
            "AWAITING_SHIPMENT",
            "CANCELLED",
            "AWAITING_SHIPMENT",
        ]
        client.cancel_order("A1", ["L1", "L3"], "seller_out_of_stock")
        (cancelled,) = client.get_order_detail(["A1"])
        page = client.search_cancellations(order_ids=["A1"])
    assert (cancelled.status, cancelled.cancellation_initiator) == ("CANCELLED", "SELLER")
    record = state.cancellations[str(one.cancel_id)]
    assert (record["role"], record["cancel_status"], record["cancel_reason"]) == (
        "SELLER",
        "CANCELLATION_REQUEST_COMPLETE",
        "seller_out_of_stock",
    )
    assert sorted(c.cancel_id for c in page.items) == sorted(state.cancellations)
    kinds = [(n["type"], n["data"].get("order_status")) for n in state.notifications]
    assert kinds == [(11, None), (11, None), (1, "CANCELLED")]


def test_approving_a_buyer_cancellation_cancels_its_lines_and_rejecting_leaves_them() -> None:
    clock = Clock()
    routes, state = book(clock)
    state.add_order(order_object("A1", lines=2))
    state.add_order(order_object("A2", lines=2))
    state.add_cancellation(
        {"cancel_id": "C1", "order_id": "A1", "cancel_line_items": [{"order_line_item_id": "L1"}]}
    )
    state.add_cancellation({"cancel_id": "C2", "order_id": "A2"})
    with SandboxServer(routes) as server, httpx.Client(timeout=5) as http:
        client = TikTokShopClient(
            http, auth(state, server, [], clock), settings=settings(server), retry=FAST
        )
        clock.now += 60
        client.approve_cancellation("C1", "key-1")
        client.reject_cancellation("C2", "key-2", "seller_reject_already_shipped")
    a1, a2 = state.orders["A1"], state.orders["A2"]
    assert [i["display_status"] for i in a1["line_items"]] == ["CANCELLED", "AWAITING_SHIPMENT"]
    assert a1["status"] == "AWAITING_SHIPMENT"  # one line of two: the order goes on
    assert a1["update_time"] == clock.now
    assert a2["status"] == "AWAITING_SHIPMENT"
    assert state.cancellations["C1"]["cancel_status"] == "CANCELLATION_REQUEST_SUCCESS"
    assert state.cancellations["C1"]["update_time"] == clock.now
    assert state.cancellations["C2"]["cancel_status"] == "CANCELLATION_REQUEST_CANCEL"
    statuses = [n["data"]["cancel_status"] for n in state.notifications if n["type"] == 11]
    assert statuses[2:] == ["CANCELLATION_REQUEST_SUCCESS", "CANCELLATION_REQUEST_CANCEL"]


def test_approving_a_return_moves_it_and_the_buyer_can_ship_it_back() -> None:
    clock = Clock()
    routes, state = book(clock)
    state.add_order(order_object("A1", status="DELIVERED"))
    state.add_return({"return_id": "R1", "order_id": "A1"})
    state.add_return({"return_id": "R2", "order_id": "A1", "return_type": "REFUND"})
    with SandboxServer(routes) as server, httpx.Client(timeout=5) as http:
        client = TikTokShopClient(
            http, auth(state, server, [], clock), settings=settings(server), retry=FAST
        )
        client.execute(ApproveTikTokReturn("A1", 4, return_id="R1"))
        client.execute(ApproveTikTokReturn("A1", 5, return_id="R2"))
    state.set_return_status("R1", "BUYER_SHIPPED_ITEM", return_tracking_number="RT1")
    assert state.returns["R2"]["return_status"] == "RETURN_OR_REFUND_REQUEST_SUCCESS"
    assert state.returns["R1"]["return_tracking_number"] == "RT1"
    statuses = [n["data"]["return_status"] for n in state.notifications if n["type"] == 12]
    assert statuses == [
        "RETURN_OR_REFUND_REQUEST_PENDING",
        "RETURN_OR_REFUND_REQUEST_PENDING",
        "AWAITING_BUYER_SHIP",
        "RETURN_OR_REFUND_REQUEST_SUCCESS",
        "BUYER_SHIPPED_ITEM",
    ]


def test_set_status_and_the_control_route_move_an_order_as_the_carrier_would() -> None:
    clock = Clock()
    routes, state = book(clock)
    state.add_order(order_object("A1", status="AWAITING_COLLECTION"))
    state.set_status("A1", "IN_TRANSIT")
    with pytest.raises(SandboxInputError, match="unknown order status 'LOST'"):
        state.set_status("A1", "LOST")
    with SandboxServer(routes) as server:
        moved = httpx.post(
            server.url + "/sandbox/tiktok/orders/A1/status", json={"status": "DELIVERED"}
        )
        missing = httpx.post(
            server.url + "/sandbox/tiktok/orders/B/status", json={"status": "DELIVERED"}
        )
    assert moved.json() == {"order_id": "A1", "status": "DELIVERED"}
    assert (missing.status_code, missing.json()) == (400, {"error": "no order B"})
    assert {i["display_status"] for i in state.orders["A1"]["line_items"]} == {"DELIVERED"}
    assert [n["data"]["order_status"] for n in state.notifications] == ["IN_TRANSIT", "DELIVERED"]


# --------------------------------------------------------------------------- webhooks


class Receiver:
    """A real webhook endpoint on 127.0.0.1 that checks TikTok's signature."""

    def __init__(self, answers: list[int] | None = None) -> None:
        self.bodies: queue.Queue[dict] = queue.Queue()
        self.answers = list(answers or [])
        self.hold = threading.Event()
        self.hold.set()
        self.server = SandboxServer([Route("POST", "/webhooks/tiktok", self.answer)])

    def answer(self, request: Received, _match: object) -> Reply:
        self.hold.wait(10)
        verify_webhook(request.headers, request.body, "sandbox-app-key", SECRET)
        if self.answers:
            return Reply(self.answers.pop(0), {"error": "try later"})
        self.bodies.put(json.loads(request.body))
        return Reply(200, {})

    @property
    def url(self) -> str:
        return self.server.url + "/webhooks/tiktok"

    def take(self, n: int) -> list[dict]:
        return [self.bodies.get(timeout=10) for _ in range(n)]


def test_every_change_is_posted_signed_in_order_in_tiktoks_webhook_shapes() -> None:
    clock = Clock()
    routes, state = book(clock)
    state.add_order(split_order())
    receiver = Receiver()
    with receiver.server, SandboxServer(routes) as server, httpx.Client(timeout=5) as http:
        sender = WebhookSender(receiver.url, app_key=state.app_key, app_secret=SECRET).start()
        state.attach_webhooks(sender)
        client = TikTokShopClient(
            http, auth(state, server, [], clock), settings=settings(server), retry=FAST
        )
        state.add_cancellation(
            {
                "cancel_id": "C1",
                "order_id": "A1",
                "cancel_line_items": [{"order_line_item_id": "L3"}],
            }
        )
        client.approve_cancellation("C1", "key-1")
        client.ship_package("P1", tracking_number="1Z1", shipping_provider_id="SP1")
        state.add_return({"return_id": "R1", "order_id": "A1"})
        got = receiver.take(5)
        sender.stop()
    # Approving the one-line cancellation leaves the order's status: no type 1 for it.
    assert [w["type"] for w in got] == [11, 11, 4, 1, 12]
    assert got == state.notifications
    assert sender.failed == []
    for webhook in got:
        assert set(webhook) == {"type", "tts_notification_id", "shop_id", "timestamp", "data"}
        assert (webhook["shop_id"], webhook["timestamp"]) == ("SHOP1", clock.now)
    assert len({w["tts_notification_id"] for w in got}) == len(got)
    pending, approved, package, status, returned = got
    assert set(pending["data"]) == {
        "order_id",
        "cancel_id",
        "cancellations_role",
        "cancel_status",
        "create_time",
    }
    assert approved["data"]["cancel_status"] == "CANCELLATION_REQUEST_SUCCESS"
    assert package["data"]["package_list"] == [{"package_id": "P1", "order_id_list": ["A1"]}]
    assert set(package["data"]) == {"sc_type", "role_type", "package_list", "update_time"}
    assert status["data"] == {
        "order_id": "A1",
        "order_status": "AWAITING_COLLECTION",
        "update_time": state.orders["A1"]["update_time"],
        "is_on_hold_order": True,
    }
    assert set(returned["data"]) == {
        "order_id",
        "return_id",
        "return_role",
        "return_type",
        "return_status",
        "create_time",
        "update_time",
    }
    for webhook in (pending, status, returned):
        parsed = parse_webhook(json.dumps(webhook).encode())
        assert parsed.shop_id == "SHOP1"


def test_a_refused_webhook_is_tried_again_and_given_up_after_the_attempts() -> None:
    _, state = book(Clock())
    state.add_order(order_object("A1"))
    receiver = Receiver(answers=[503, 500, 503, 503, 503])
    with receiver.server:
        sender = WebhookSender(
            receiver.url, app_key=state.app_key, app_secret=SECRET, attempts=3, wait=0
        ).start()
        state.attach_webhooks(sender)
        state.set_status("A1", "IN_TRANSIT")  # 503, 500, 503: given up
        state.set_status("A1", "DELIVERED")  # 503, 503, then taken
        (taken,) = receiver.take(1)
        assert sender.drain(10)
        sender.stop()
    assert taken["data"]["order_status"] == "DELIVERED"
    assert sender.delivered == [taken]
    [(given_up, problem)] = sender.failed
    assert (given_up["data"]["order_status"], problem) == ("IN_TRANSIT", "HTTP 503")
    assert len(receiver.server.requests()) == 6

    gone = WebhookSender(
        "http://127.0.0.1:9/nothing-listens", app_key="k", app_secret=SECRET, wait=0
    ).start()
    gone.submit({"type": 1, "data": {}})
    assert gone.drain(10)
    gone.stop()
    assert gone.delivered == []
    [(webhook, problem)] = gone.failed
    assert webhook == {"type": 1, "data": {}}
    assert problem.startswith("ConnectError")


def test_stopping_gives_up_what_is_still_queued_once_the_timeout_is_over() -> None:
    receiver = Receiver()
    receiver.hold.clear()  # the first webhook stays in flight until the test lets it go
    with receiver.server:
        sender = WebhookSender(receiver.url, app_key="sandbox-app-key", app_secret=SECRET)
        sender.start()
        for n in range(3):
            sender.submit({"type": 1, "data": {"n": n}})
        sender.stop(timeout=0.1)
        receiver.hold.set()
        assert sender.drain(10)
    assert [w["data"]["n"] for w in sender.delivered] == [0]
    assert [(w["data"]["n"], why) for w, why in sender.failed] == [
        (1, "sandbox stopped"),
        (2, "sandbox stopped"),
    ]


def test_the_api_answers_while_the_webhook_receiver_is_still_busy() -> None:
    clock = Clock()
    routes, state = book(clock)
    state.add_order(order_object("A1"))
    receiver = Receiver()
    receiver.hold.clear()  # the receiver takes every webhook but answers none yet
    with receiver.server, SandboxServer(routes) as server, httpx.Client(timeout=5) as http:
        sender = WebhookSender(receiver.url, app_key=state.app_key, app_secret=SECRET).start()
        state.attach_webhooks(sender)
        client = TikTokShopClient(
            http, auth(state, server, [], clock), settings=settings(server), retry=FAST
        )
        client.ship_package("PKG1", tracking_number="1Z", shipping_provider_id="SP1")
        (order,) = client.get_order_detail(["A1"])
        assert order.status == "AWAITING_COLLECTION"
        assert sender.delivered == []
        receiver.hold.set()
        assert [w["type"] for w in receiver.take(2)] == [4, 1]
        sender.stop()


def test_announce_sends_every_held_order_in_its_current_status_oldest_first() -> None:
    _, state = book(Clock())
    state.add_order(order_object("NEW", create_time=T0_SECONDS + 5, status="ON_HOLD"))
    state.add_order(order_object("OLD", create_time=T0_SECONDS, is_on_hold_order=False))
    assert state.announce() == 2
    assert [(n["data"]["order_id"], n["data"]["order_status"]) for n in state.notifications] == [
        ("OLD", "AWAITING_SHIPMENT"),
        ("NEW", "ON_HOLD"),
    ]
    assert [n["data"]["is_on_hold_order"] for n in state.notifications] == [False, True]


def test_the_sandbox_command_loads_orders_and_announces_them_to_the_webhook_url(
    tmp_path: Path,
) -> None:
    orders = write_lines(tmp_path / "orders.jsonl", order_object("A1"), order_object("A2"))
    received: queue.Queue[dict] = queue.Queue()

    def answer(request: Received, _match: object) -> Reply:
        verify_webhook(request.headers, request.body, "sandbox-app-key", "sandbox-app-secret")
        received.put(json.loads(request.body))
        return Reply(200, {})

    out, err = io.StringIO(), io.StringIO()
    with SandboxServer([Route("POST", "/hook", answer)]) as hook:
        argv = ["sandbox", "--orders", str(orders), "--webhook-url", hook.url + "/hook"]
        code = main([*argv, "--announce", "--seconds", "0"], out, err)
    assert (code, err.getvalue()) == (0, "")
    text = out.getvalue()
    assert f"holding 2 orders from {orders}" in text
    assert "TIKTOK_APP_KEY=sandbox-app-key TIKTOK_APP_SECRET=sandbox-app-secret" in text
    assert "webhooks: 2 delivered, 0 given up" in text
    got = [received.get(timeout=10) for _ in range(2)]
    assert [(w["type"], w["data"]["order_id"]) for w in got] == [(1, "A1"), (1, "A2")]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--announce"], "--announce sends webhooks: give --webhook-url URL too"),
        (["--webhook-url", "ftp://x"], "webhook URL must be http:// or https://"),
        (["--orders", "/nonexistent/orders.jsonl"], "cannot read /nonexistent/orders.jsonl"),
    ],
)
def test_the_sandbox_command_refuses_bad_flags_with_a_clear_message(
    extra: list[str], message: str
) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["sandbox", "--seconds", "0", *extra], out, err) == 2
    assert message in err.getvalue()
    assert out.getvalue() == ""


def test_webhook_sender_repr_hides_the_secret() -> None:
    sender = WebhookSender("http://127.0.0.1:9/", app_key="k", app_secret=SECRET)
    assert SECRET not in repr(sender)
    sender.stop()
