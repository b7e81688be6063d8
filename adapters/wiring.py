"""The wiring: partner settings, and the executors that carry each effect out.

`PartnerSettings` says which partners to call and how; `build_executors`
turns it into one executor per effect kind for the `Dispatcher`. This is the
one module of the shell, with the entry points, that imports every partner.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal

import cattrs
import httpx
from attrs import field, frozen
from cryptography.fernet import Fernet, InvalidToken

from adapters.errors import (
    RejectedError,
    SettingsError,
    UnknownShop,
)
from adapters.http import RetryPolicy, register_secret
from adapters.partners.events_api import EventData, EventsApiClient, EventsApiSettings
from adapters.partners.oms import OmsCallable, OmsClient, OmsSettings
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
from adapters.store import Store
from lifecycle import (
    CancelTikTokOrder,
    CreateSfccOrder,
    Effect,
    OmsAction,
    Order,
    ReportTikTokEvent,
    ShipTikTokPackage,
    SyncOrderInfo,
)

__all__ = [
    "PartnerSettings",
    "ShopCredentials",
    "TikTokShopPartner",
    "TokenVault",
    "UnknownShop",
    "build_executors",
    "event_data",
    "http_limits",
    "sync_order_data",
    "tiktok_clients",
]


@frozen
class ShopCredentials:
    """One shop's `shop_cipher` and tokens (TikTok's Get Authorized Shops gives the cipher)."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    shop_cipher: str | None = None


@frozen
class TikTokShopPartner:
    """The TikTok Shop app's credentials, its shops' tokens, and the client's settings.

    Two forms: one shop (`shop_cipher`, `access_token`, `refresh_token` here,
    used for every shop id), or several (`shops`: shop id -> its
    `ShopCredentials`; a webhook or an order names its shop, and the read or
    the call uses that shop's cipher and tokens). `on_token_refresh`
    receives the new tokens after a refresh, so the OMS can keep them
    (`tiktok_clients` keeps them in the store). `token_key`, when set, is a
    Fernet key (`cryptography.fernet.Fernet.generate_key()`) with which the
    tokens kept in the store are encrypted. Secrets stay out of `repr`.
    """

    app_key: str
    app_secret: str = field(repr=False)
    access_token: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    shop_cipher: str | None = None
    auth_base_url: str = "https://auth.tiktok-shops.com"
    settings: TikTokShopSettings = field(factory=TikTokShopSettings)
    on_token_refresh: Callable[[TokenSet], None] | None = field(default=None, eq=False)
    shops: Mapping[str, ShopCredentials] = field(factory=dict)
    token_key: str | None = field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        if not self.shops and not (self.access_token and self.refresh_token):
            raise SettingsError(
                "tiktok_shop needs access_token and refresh_token, or shops"
                " (shop id -> shop_cipher, access_token, refresh_token)"
            )

    def shop_ids(self) -> tuple[str, ...]:
        """The shops named in the settings (`()` for the one-shop form)."""
        return tuple(self.shops)

    def credentials(self, shop_id: str = "") -> ShopCredentials:
        """The credentials of `shop_id`; in the one-shop form, the one shop's."""
        if not self.shops:
            return ShopCredentials(self.access_token, self.refresh_token, self.shop_cipher)
        if shop_id in self.shops:
            return self.shops[shop_id]
        if not shop_id and len(self.shops) == 1:
            return next(iter(self.shops.values()))
        known = ", ".join(self.shops)
        raise UnknownShop(
            "tiktok_shop",
            f"no credentials for shop {shop_id or '(none named)'}; the partners file has {known}",
        )

    def auth(
        self,
        shop_id: str = "",
        tokens: TokenSet | None = None,
        on_token_refresh: Callable[[TokenSet], None] | None = None,
    ) -> TikTokShopAuth:
        shop = self.credentials(shop_id)
        return TikTokShopAuth(
            app_key=self.app_key,
            app_secret=self.app_secret,
            tokens=tokens or TokenSet(shop.access_token, shop.refresh_token),
            shop_cipher=shop.shop_cipher,
            auth_base_url=self.auth_base_url,
            on_token_refresh=on_token_refresh or self.on_token_refresh,
        )

    def secrets(self) -> tuple[str, ...]:
        shops = [self.credentials(shop) for shop in self.shops] or [self.credentials()]
        found = [self.app_secret, self.token_key or ""]
        for shop in shops:
            found += [shop.access_token, shop.refresh_token]
        return tuple(found)


@frozen
class PartnerSettings:
    """Which partners to call and how; a partner left `None` gets no executor."""

    tiktok_shop: TikTokShopPartner | None = None
    sfcc: SfccSettings | None = None
    sync_order_info: SyncOrderInfoSettings | None = None
    events_api: EventsApiSettings | None = None
    retry: RetryPolicy = field(factory=lambda: RetryPolicy(attempts=2))
    #: where OMS actions are pushed (`Policy.push_oms_actions`), signed with its secret
    oms: OmsSettings | None = None

    def secrets(self) -> tuple[str, ...]:
        """Every secret these settings hold, for blanking out of stored errors."""
        found: list[str] = []
        if self.tiktok_shop is not None:
            found += self.tiktok_shop.secrets()
        if self.sfcc is not None:
            found.append(self.sfcc.client_secret)
        if self.sync_order_info is not None:
            found.append(self.sync_order_info.access_token)
        if self.events_api is not None:
            found.append(self.events_api.access_token)
        if self.oms is not None:
            found.append(self.oms.secret)
        return tuple(s for s in found if s)


#: how long an idle connection to a partner is kept open: longer than the pause
#: between the dispatcher's polls, so each batch finds its connections warm
KEEPALIVE_EXPIRY = 30.0


def http_limits(partners: PartnerSettings, concurrency: int = 1) -> httpx.Limits:
    """The connection limits of the one `httpx.Client` a dispatcher shares among
    `partners` with `concurrency` calls in flight: a connection kept alive for
    every call in flight to each partner, kept across batches."""
    configured = (
        partners.tiktok_shop,
        partners.sfcc,
        partners.sync_order_info,
        partners.events_api,
        partners.oms,
    )
    kept = max(concurrency * sum(p is not None for p in configured), 20)
    return httpx.Limits(
        max_connections=max(kept, 100),
        max_keepalive_connections=kept,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )


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


class TokenVault:
    """Where refreshed TikTok tokens are kept: the store's marks, Fernet-encrypted with a key.

    A refreshed token outlives the process: after a restart the clients use
    the kept tokens, not the partners file's, as long as the file still holds
    the tokens they were refreshed from (a file with new tokens, after the
    seller authorised again, wins). Without `key` the tokens are kept as they
    are (say so to whoever reads the database); with it, encrypted and
    authenticated (`cryptography`'s Fernet). Tokens never reach a log line.
    """

    def __init__(self, store: Store, key: str | None = None) -> None:
        self.store = store
        self._fernet = Fernet(key.encode()) if key else None

    @staticmethod
    def _name(shop_id: str) -> str:
        return f"tiktok_shop.tokens:{shop_id or '-'}"

    @staticmethod
    def _source(shop: ShopCredentials) -> str:
        return hashlib.sha256(shop.access_token.encode()).hexdigest()[:16]

    def load(self, shop_id: str, shop: ShopCredentials) -> TokenSet | None:
        """The kept tokens of `shop_id`, if they were refreshed from the file's."""
        kept = self.store.mark(self._name(shop_id))
        if kept is None:
            return None
        scheme, _, body = kept.partition(":")
        if scheme == "fernet":
            if self._fernet is None:
                raise UnknownShop(
                    "tiktok_shop",
                    "the tokens kept in the store are encrypted: set tiktok_shop.token_key",
                )
            try:
                body = self._fernet.decrypt(body.encode()).decode()
            except InvalidToken:
                raise UnknownShop(
                    "tiktok_shop", "tiktok_shop.token_key does not open the tokens kept"
                ) from None
        raw = json.loads(body)
        if raw.get("source") != self._source(shop):
            return None
        register_secret(raw["access_token"], raw["refresh_token"])
        return TokenSet(raw["access_token"], raw["refresh_token"])

    def keep(self, shop_id: str, shop: ShopCredentials, tokens: TokenSet, now: datetime) -> None:
        body = json.dumps(
            {
                "source": self._source(shop),
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
            }
        )
        value = (
            "fernet:" + self._fernet.encrypt(body.encode()).decode()
            if self._fernet is not None
            else "plain:" + body
        )
        self.store.set_mark(self._name(shop_id), value, now)


def tiktok_clients(
    partner: TikTokShopPartner,
    http: httpx.Client,
    retry: RetryPolicy,
    *,
    store: Store | None = None,
    register_secret: Callable[[str], None] | None = None,
) -> Callable[[str], TikTokShopClient]:
    """The client of each shop, made once per shop and kept.

    With `store`, refreshed tokens are kept there (`TokenVault`) and used after
    a restart. `register_secret` hears of every token obtained at run time,
    so that error texts can blank it out.
    """
    clients: dict[str, TikTokShopClient] = {}
    vault = TokenVault(store, partner.token_key) if store is not None else None
    # The dispatcher's threads may ask for a shop's client at once: one is made, so
    # one auth holds the shop's tokens and a refresh is never lost to a twin.
    making = threading.Lock()

    def client_for(shop_id: str) -> TikTokShopClient:
        key = shop_id if partner.shops else ""
        if key in clients:
            return clients[key]
        with making:
            if key not in clients:
                clients[key] = make(key)
            return clients[key]

    def make(key: str) -> TikTokShopClient:
        shop = partner.credentials(key)
        tokens = vault.load(key, shop) if vault is not None else None

        def refreshed(new: TokenSet) -> None:
            if register_secret is not None:
                register_secret(new.access_token)
                register_secret(new.refresh_token)
            if vault is not None:
                vault.keep(key, shop, new, datetime.now(UTC))
            if partner.on_token_refresh is not None:
                partner.on_token_refresh(new)

        if tokens is not None and register_secret is not None:
            register_secret(tokens.access_token)
            register_secret(tokens.refresh_token)
        return TikTokShopClient(
            http,
            partner.auth(key, tokens, refreshed),
            settings=partner.settings,
            retry=retry,
        )

    return client_for


def build_executors(
    partners: PartnerSettings,
    http: httpx.Client,
    *,
    sync_data: Callable[[Order | None], SyncOrderData] = sync_order_data,
    events_data: Callable[[Order | None], EventData] = event_data,
    store: Store | None = None,
    register_secret: Callable[[str], None] | None = None,
    oms: Callable[[OmsAction], object] | None = None,
) -> dict[str, Executor]:
    """The executors for every effect kind whose partner `partners` configures.

    A TikTok Shop effect goes out with the credentials of its order's shop.
    OMS actions go to `oms`, the embedding OMS's own function (`OmsCallable`:
    an exception is retried, then a dead letter), or are POSTed to
    `partners.oms` (`OmsClient`); not both.
    """
    executors: dict[str, Executor] = {}
    if oms is not None and partners.oms is not None:
        raise SettingsError(
            "OMS actions go to one place: pass an oms callable or an oms partner section, not both"
        )
    if oms is not None:
        executors.update(dict.fromkeys(effect_kinds(Partner.OMS), OmsCallable(oms)))
    elif partners.oms is not None:
        oms_client = OmsClient(http, partners.oms, partners.retry)

        def oms_push(effect: Effect, context: EffectContext) -> None:
            oms_client.execute(effect)

        executors.update(dict.fromkeys(effect_kinds(Partner.OMS), oms_push))
    retry = partners.retry
    if partners.tiktok_shop is not None:
        client_for = tiktok_clients(
            partners.tiktok_shop, http, retry, store=store, register_secret=register_secret
        )

        def tiktok_shop(effect: Effect, context: EffectContext) -> None:
            tiktok = client_for(context.order.shop_id or "" if context.order is not None else "")
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
