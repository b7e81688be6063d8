"""End to end over real HTTP on 127.0.0.1: the client against the TikTok Shop sandbox."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import attrs
import httpx
import pytest

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
)
from adapters.sandbox import DROP, Received, Reply, SandboxServer
from adapters.sandbox.tiktok_shop import TikTokShopSandboxState, tiktok_shop_sandbox
from lifecycle import (
    ApproveTikTokCancellation,
    ApproveTikTokReturn,
    CancelTikTokOrder,
    OrderStatus,
    ShipTikTokPackage,
)

from .strategies_tiktok import order_object

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
    state: TikTokShopSandboxState, server: SandboxServer, refreshed: list[TokenSet]
) -> TikTokShopAuth:
    return TikTokShopAuth(
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
