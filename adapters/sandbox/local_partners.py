"""Every partner fake on one local port, and the settings that point the adapters at it.

`LocalPartners` serves the TikTok Shop API (with its token refresh), Sync
Order Information, the Events API, SFCC (OAuth token, order create and
patch) and an OMS that takes pushed OMS actions (`adapters.sandbox.oms`,
signatures checked) from one `SandboxServer` on 127.0.0.1, keeping what each received.
`settings()` returns the `PartnerSettings` that reach it with the sandbox's
own made-up credentials, so the dispatcher works against it unchanged.
`know(line)` teaches the fake TikTok Shop what it would know in real life
(the orders, and the buyers' cancellation and return requests) from the
inputs a replay feeds the store. With `webhook_url`, the fake TikTok Shop
also sends the signed webhooks TikTok would send for each change to its
orders (see `adapters.sandbox.tiktok_shop`), signed with the sandbox's app
key and secret.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from attrs import define, field

from adapters.http import RetryPolicy
from adapters.partners.events_api import EventsApiSettings
from adapters.partners.oms import OmsSettings
from adapters.partners.sfcc import SfccSettings
from adapters.partners.sync_order_info import SyncOrderInfoSettings
from adapters.partners.tiktok_shop import TikTokShopSettings
from adapters.sandbox import Received, SandboxServer
from adapters.sandbox.oms import OMS_PATH, OmsState, oms_routes
from adapters.sandbox.reporting import (
    EVENTS_PATH,
    SYNC_ORDER_INFO_PATH,
    ReportingState,
    reporting_routes,
)
from adapters.sandbox.sfcc import TOKEN_PATH, SfccState, sfcc_routes
from adapters.sandbox.tiktok_shop import (
    TikTokShopSandboxState,
    WebhookSender,
    tiktok_shop_sandbox,
)
from adapters.wiring import PartnerSettings, TikTokShopPartner

__all__ = [
    "SANDBOX_CREDENTIALS",
    "SANDBOX_SHOP_ID",
    "LocalPartners",
    "local_partners",
    "sandbox_settings",
]

#: The `shop_id` of the sandbox's TikTok Shop, in the webhooks it sends.
SANDBOX_SHOP_ID = "7000000000000000001"

#: The sandbox's made-up credentials (not secrets: they only open the local fakes).
SANDBOX_CREDENTIALS: Mapping[str, str] = {
    "tiktok_app_key": "sandbox-app-key",
    "tiktok_app_secret": "sandbox-app-secret",
    "tiktok_access_token": "sandbox-access-token",
    "tiktok_refresh_token": "sandbox-refresh-token",
    "tiktok_shop_cipher": "sandbox-shop-cipher",
    "reporting_access_token": "sandbox-reporting-token",
    "sfcc_client_id": "sandbox-client",
    "sfcc_client_secret": "sandbox-secret",
    "sfcc_site_id": "TikTokSite",
    "oms_secret": "sandbox-oms-secret",
}

_PENDING_CANCEL = "CANCELLATION_REQUEST_PENDING"
_PENDING_RETURN = "RETURN_OR_REFUND_REQUEST_PENDING"

#: Which partner each request path belongs to, for the demo's table of calls.
_PARTNER_OF_PATH = (
    ("/open_api/", "TikTok Events API"),
    (SYNC_ORDER_INFO_PATH, "TikTok Sync Order Information"),
    ("/dwsso/", "SFCC"),
    ("/on/demandware.store/", "SFCC"),
    ("/s/", "SFCC"),
    (OMS_PATH, "OMS (sandbox)"),
)


def partner_of(request: Received) -> str:
    for prefix, partner in _PARTNER_OF_PATH:
        if request.path.startswith(prefix):
            return partner
    return "TikTok Shop"


@define
class LocalPartners:
    """The running fakes: the server, each partner's state, and how to reach them."""

    server: SandboxServer
    tiktok_shop: TikTokShopSandboxState
    reporting: ReportingState
    sfcc: SfccState
    webhooks: WebhookSender | None = field(default=None)
    #: the sandbox OMS: the OMS actions pushed to it, their signatures checked
    oms: OmsState = field(factory=lambda: OmsState(secret=SANDBOX_CREDENTIALS["oms_secret"]))

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> LocalPartners:
        if self.webhooks is not None:
            self.webhooks.start()
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        if self.webhooks is not None:
            self.webhooks.stop()

    def settings(self, retry: RetryPolicy | None = None) -> PartnerSettings:
        """Settings that send every effect to these fakes."""
        return sandbox_settings(self.url, retry)

    def know(self, line: Mapping[str, Any]) -> None:
        """Teach the fake TikTok Shop what a replayed input tells it about the real one."""
        state = self.tiktok_shop
        detail = line.get("order_detail")
        with state.lock:
            if isinstance(detail, Mapping) and "id" in detail:
                state.add_order(detail)
                return
            response = detail if isinstance(detail, Mapping) else line
            data = response.get("data") if "code" in response else None
            if isinstance(data, Mapping) and isinstance(data.get("orders"), list):
                for order in data["orders"]:
                    if isinstance(order, Mapping) and "id" in order:
                        state.add_order(order)
                return
            # The replay already carries TikTok's webhooks: teach, never send them again.
            data = line.get("data")
            if not isinstance(data, Mapping):
                return
            if line.get("type") == 11 and data.get("cancel_status") == _PENDING_CANCEL:
                state.add_cancellation(
                    {
                        "cancel_id": str(data.get("cancel_id")),
                        "order_id": str(data.get("order_id")),
                        "cancel_status": _PENDING_CANCEL,
                        "role": data.get("cancellations_role", "BUYER"),
                    },
                    notify=False,
                )
            if line.get("type") == 12 and data.get("return_status") == _PENDING_RETURN:
                state.add_return(
                    {
                        "return_id": str(data.get("return_id")),
                        "order_id": str(data.get("order_id")),
                        "return_status": _PENDING_RETURN,
                        "return_type": data.get("return_type", "RETURN_AND_REFUND"),
                        "role": data.get("return_role", "BUYER"),
                    },
                    notify=False,
                )

    def calls(self) -> Counter[tuple[str, str, str]]:
        """Requests received, counted by (partner, method, path); token calls included."""
        return Counter(
            (partner_of(request), request.method, request.path)
            for request in self.server.requests()
        )


def sandbox_settings(url: str, retry: RetryPolicy | None = None) -> PartnerSettings:
    """Settings that send every effect to partner fakes served at `url` (`order-lifecycle
    sandbox`), with the sandbox's made-up credentials."""
    url, creds = url.rstrip("/"), SANDBOX_CREDENTIALS
    return PartnerSettings(
        tiktok_shop=TikTokShopPartner(
            app_key=creds["tiktok_app_key"],
            app_secret=creds["tiktok_app_secret"],
            access_token=creds["tiktok_access_token"],
            refresh_token=creds["tiktok_refresh_token"],
            shop_cipher=creds["tiktok_shop_cipher"],
            auth_base_url=url,
            settings=TikTokShopSettings(
                base_url=url,
                default_cancel_reason="seller_cancel_out_of_stock",
                default_reject_reason="seller_reject_already_shipped",
            ),
        ),
        sfcc=SfccSettings(
            base_url=url,
            site_id=creds["sfcc_site_id"],
            client_id=creds["sfcc_client_id"],
            client_secret=creds["sfcc_client_secret"],
            token_url=url + TOKEN_PATH,
        ),
        sync_order_info=SyncOrderInfoSettings(
            url=url + SYNC_ORDER_INFO_PATH,
            access_token=creds["reporting_access_token"],
            third_merchant_id="SANDBOX-MERCHANT",
            third_shop_id="SANDBOX-SHOP",
            third_shop_name="Sandbox Shop",
            order_country="US",
        ),
        events_api=EventsApiSettings(
            access_token=creds["reporting_access_token"],
            event_source_id="SANDBOX-EVENT-SET",
            url=url + EVENTS_PATH,
        ),
        oms=OmsSettings(url=url + OMS_PATH, secret=creds["oms_secret"]),
        retry=retry
        or RetryPolicy(
            attempts=2,
            timeout=timedelta(seconds=10),
            wait_initial=timedelta(milliseconds=10),
            wait_max=timedelta(milliseconds=50),
            wait_jitter=timedelta(0),
        ),
    )


def local_partners(
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    webhook_url: str | None = None,
    webhook_attempts: int = 3,
) -> LocalPartners:
    """All partner fakes on one server (not started: use it as a context manager).

    With `webhook_url`, the fake TikTok Shop POSTs a signed webhook there for each
    change to its orders, trying each one `webhook_attempts` times."""
    creds = SANDBOX_CREDENTIALS
    tiktok_routes, tiktok = tiktok_shop_sandbox(
        app_key=creds["tiktok_app_key"],
        app_secret=creds["tiktok_app_secret"],
        access_token=creds["tiktok_access_token"],
        refresh_token=creds["tiktok_refresh_token"],
        shop_cipher=creds["tiktok_shop_cipher"],
        shop_id=SANDBOX_SHOP_ID,
    )
    sender = None
    if webhook_url is not None:
        sender = WebhookSender(
            webhook_url,
            app_key=creds["tiktok_app_key"],
            app_secret=creds["tiktok_app_secret"],
            attempts=webhook_attempts,
        )
        tiktok.attach_webhooks(sender)
    report_routes, reporting = reporting_routes(creds["reporting_access_token"])
    commerce_routes, sfcc = sfcc_routes(
        creds["sfcc_client_id"], creds["sfcc_client_secret"], site_id=creds["sfcc_site_id"]
    )
    own_routes, oms = oms_routes(creds["oms_secret"])
    server = SandboxServer(
        [*tiktok_routes, *report_routes, *commerce_routes, *own_routes], host=host, port=port
    )
    return LocalPartners(server, tiktok, reporting, sfcc, sender, oms)
