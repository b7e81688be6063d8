"""The wiring: partner settings, and the executors that carry each effect out.

`PartnerSettings` says which partners to call and how; `build_executors`
turns it into one executor per effect kind for the `Dispatcher`. This is the
one module of the shell, with the entry points, that imports every partner.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal

import cattrs
import httpx
from attrs import field, frozen

from adapters.errors import RejectedError
from adapters.http import RetryPolicy
from adapters.partners.events_api import EventData, EventsApiClient, EventsApiSettings
from adapters.partners.sfcc import SfccClient, SfccSettings
from adapters.partners.sync_order_info import (
    SyncOrderData,
    SyncOrderInfoClient,
    SyncOrderInfoSettings,
)
from adapters.partners.tiktok_shop import (
    TikTokShopAuth,
    TikTokShopClient,
    TikTokShopSettings,
    TokenSet,
)
from adapters.routing import Partner, effect_kinds
from adapters.service import SFCC_ORDER_NO, EffectContext, Executor
from lifecycle import (
    CancelTikTokOrder,
    CreateSfccOrder,
    Effect,
    Order,
    ReportTikTokEvent,
    ShipTikTokPackage,
    SyncOrderInfo,
)

__all__ = [
    "PartnerSettings",
    "TikTokShopPartner",
    "build_executors",
    "event_data",
    "sync_order_data",
]


@frozen
class TikTokShopPartner:
    """The TikTok Shop app's credentials, the shop's tokens, and the client's settings.

    `on_token_refresh` receives the new tokens after a refresh, so the OMS can
    keep them. Secrets stay out of `repr`.
    """

    app_key: str
    app_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    shop_cipher: str | None = None
    auth_base_url: str = "https://auth.tiktok-shops.com"
    settings: TikTokShopSettings = field(factory=TikTokShopSettings)
    on_token_refresh: Callable[[TokenSet], None] | None = field(default=None, eq=False)

    def auth(self) -> TikTokShopAuth:
        return TikTokShopAuth(
            app_key=self.app_key,
            app_secret=self.app_secret,
            tokens=TokenSet(self.access_token, self.refresh_token),
            shop_cipher=self.shop_cipher,
            auth_base_url=self.auth_base_url,
            on_token_refresh=self.on_token_refresh,
        )


@frozen
class PartnerSettings:
    """Which partners to call and how; a partner left `None` gets no executor."""

    tiktok_shop: TikTokShopPartner | None = None
    sfcc: SfccSettings | None = None
    sync_order_info: SyncOrderInfoSettings | None = None
    events_api: EventsApiSettings | None = None
    retry: RetryPolicy = field(factory=lambda: RetryPolicy(attempts=2))

    def secrets(self) -> tuple[str, ...]:
        """Every secret these settings hold, for blanking out of stored errors."""
        found: list[str] = []
        if self.tiktok_shop is not None:
            shop = self.tiktok_shop
            found += [shop.app_secret, shop.access_token, shop.refresh_token]
        if self.sfcc is not None:
            found.append(self.sfcc.client_secret)
        if self.sync_order_info is not None:
            found.append(self.sync_order_info.access_token)
        if self.events_api is not None:
            found.append(self.events_api.access_token)
        return tuple(s for s in found if s)


def _data_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_structure_hook(Decimal, lambda value, _type: Decimal(str(value)))
    conv.register_structure_hook(date, lambda value, _type: date.fromisoformat(str(value)))
    return conv


_DATA = _data_converter()


def sync_order_data(order: Order | None) -> SyncOrderData:
    """Sync Order Information's extra data from `order.extensions["sync_order_info"]`.

    The OMS keeps there what TikTok's order lacks (the stay, fulfilment amounts,
    commission base, click id) under `SyncOrderData`'s field names, as JSON
    (dates and amounts as strings); the whole of `extensions` is offered to
    `{{path}}` smart mapping.
    """
    if order is None:
        return SyncOrderData()
    raw = dict(order.extensions.get("sync_order_info") or {})
    raw["oms"] = dict(order.extensions)
    return _DATA.structure(raw, SyncOrderData)


def event_data(order: Order | None) -> EventData:
    """Events API extra data from `order.extensions["events_api"]` (`EventData` names)."""
    if order is None:
        return EventData()
    raw = dict(order.extensions.get("events_api") or {})
    raw["oms"] = dict(order.extensions)
    return _DATA.structure(raw, EventData)


def _needs_order(context: EffectContext, effect: Effect) -> Order:
    if context.order is None:
        raise RejectedError("dispatcher", f"order {effect.order_id} is not in the store")
    return context.order


def _already_on_tiktok(client: TikTokShopClient, effect: Effect) -> bool:
    """Whether TikTok's order already shows what a refused ship or cancel asked for."""
    if not isinstance(effect, ShipTikTokPackage | CancelTikTokOrder):
        return False
    try:
        orders = client.get_order_detail([effect.order_id])
    except RejectedError:
        return False
    lines = {
        item.id: item
        for order in orders
        if order.id == effect.order_id
        for item in order.line_items
    }
    wanted = [lines.get(line_id) for line_id in effect.line_item_ids]
    if not wanted or any(item is None for item in wanted):
        return False
    if isinstance(effect, ShipTikTokPackage):
        return all(item.tracking_number == effect.tracking_number for item in wanted if item)
    return all(item.display_status == "CANCELLED" for item in wanted if item)


def build_executors(
    partners: PartnerSettings,
    http: httpx.Client,
    *,
    sync_data: Callable[[Order | None], SyncOrderData] = sync_order_data,
    events_data: Callable[[Order | None], EventData] = event_data,
) -> dict[str, Executor]:
    """The executors for every effect kind whose partner `partners` configures."""
    executors: dict[str, Executor] = {}
    retry = partners.retry
    if partners.tiktok_shop is not None:
        tiktok = TikTokShopClient(
            http, partners.tiktok_shop.auth(), settings=partners.tiktok_shop.settings, retry=retry
        )

        def tiktok_shop(effect: Effect, context: EffectContext) -> None:
            try:
                tiktok.execute(effect)
            except RejectedError:
                # At least once: a repeat of a shipment or cancellation that went
                # through before a crash is refused; the order detail tells.
                if not _already_on_tiktok(tiktok, effect):
                    raise

        executors.update(dict.fromkeys(effect_kinds(Partner.TIKTOK_SHOP), tiktok_shop))
    if partners.sfcc is not None:
        sfcc = SfccClient(http, partners.sfcc, retry)

        def sfcc_effect(effect: Effect, context: EffectContext) -> Mapping[str, str] | None:
            order = _needs_order(context, effect)
            result = sfcc.execute(order, effect, order_no=context.refs.get(SFCC_ORDER_NO))
            if isinstance(effect, CreateSfccOrder) and result.order_no:
                return {SFCC_ORDER_NO: result.order_no}
            return None

        executors.update(dict.fromkeys(effect_kinds(Partner.SFCC), sfcc_effect))
    if partners.sync_order_info is not None:
        sync = SyncOrderInfoClient(http, partners.sync_order_info, retry)

        def sync_order_info(effect: Effect, context: EffectContext) -> None:
            assert isinstance(effect, SyncOrderInfo)
            order = _needs_order(context, effect)
            sync.execute(order, effect, sync_data(order))

        executors.update(dict.fromkeys(effect_kinds(Partner.SYNC_ORDER_INFO), sync_order_info))
    if partners.events_api is not None:
        events = EventsApiClient(http, partners.events_api, retry)

        def events_api(effect: Effect, context: EffectContext) -> None:
            assert isinstance(effect, ReportTikTokEvent)
            order = _needs_order(context, effect)
            events.execute(order, effect, events_data(order))

        executors.update(dict.fromkeys(effect_kinds(Partner.EVENTS_API), events_api))
    return executors
