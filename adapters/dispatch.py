"""Carry out the outbox: each effect through the adapter of its partner, at least once.

`Dispatcher` claims due outbox rows (on PostgreSQL with `FOR UPDATE SKIP
LOCKED`, so many dispatchers share the work), leases them, and hands each to
the executor registered for its kind. Then:

* success: the row is marked done, together with what the partner gave back
  that later calls need (the SFCC `order_no`), in one transaction;
* `RetryableError` (timeouts, 5xx, 429, "try again" codes): retried later,
  with exponential backoff, up to `max_attempts`, then parked as a dead letter;
* `RejectedError` and anything else: parked at once as a dead letter, with the
  error's type and message (our errors never hold secrets, and any secret the
  wiring knows is blanked out besides).

A dispatcher killed mid-batch leaves its rows leased; they fall due again when
the lease ends, so every effect is delivered at least once. Each effect
carries a stable idempotency key (order, version, kind) that the partners
use to apply a repeat once. Effects of one order and one partner go out in
the order the lifecycle produced them. `redrive` puts dead letters back.

`build_executors(partners, http)` wires the real clients from their settings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

import cattrs
import httpx
from attrs import field, frozen

from adapters._http import RetryPolicy
from adapters.errors import RejectedError, RetryableError
from adapters.events_api import EventData, EventsApiClient, EventsApiSettings
from adapters.sfcc import SfccClient, SfccSettings
from adapters.store import OutboxEntry, Store
from adapters.sync_order_info import SyncOrderData, SyncOrderInfoClient, SyncOrderInfoSettings
from adapters.tiktok_shop import TikTokShopAuth, TikTokShopClient, TikTokShopSettings, TokenSet
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
    "SFCC_ORDER_NO",
    "Backoff",
    "DispatchReport",
    "Dispatcher",
    "EffectContext",
    "Executor",
    "NoExecutor",
    "PartnerSettings",
    "TikTokShopPartner",
    "build_executors",
    "event_data",
    "sync_order_data",
]

#: The external reference under which the SFCC order number is kept.
SFCC_ORDER_NO = "sfcc_order_no"


@frozen
class EffectContext:
    """What an executor may need besides the effect: the order as it was when the
    effect was asked for (an SFCC order is created with the lines it had then,
    even if it was cancelled since), and the order's external references."""

    order: Order | None
    refs: Mapping[str, str]


class Executor(Protocol):
    """Carries out one effect; returns external references to keep (or `None`)."""

    def __call__(self, effect: Effect, context: EffectContext) -> Mapping[str, str] | None: ...


class NoExecutor(RejectedError):
    """No adapter is configured for this kind of effect."""

    def __init__(self, kind: str) -> None:
        super().__init__("dispatcher", f"no executor is configured for {kind}")


@frozen
class Backoff:
    """Delay before retry `n` (1-based): `initial * factor**(n-1)`, at most `maximum`.

    A deterministic spread of up to `spread` of the delay (from the row id)
    keeps many rows that failed together from retrying together.
    """

    initial: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    maximum: timedelta = timedelta(hours=1)
    spread: float = 0.1

    def delay(self, attempt: int, seed: int = 0) -> timedelta:
        base = min(self.initial * (self.factor ** max(attempt - 1, 0)), self.maximum)
        fraction = int(hashlib.sha256(str(seed).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return base * (1 + self.spread * fraction)


@frozen
class DispatchReport:
    """How many effects a run delivered, scheduled for retry, and parked as dead letters."""

    done: int = 0
    retried: int = 0
    dead: int = 0
    kinds: Mapping[str, int] = field(factory=dict)

    def __add__(self, other: DispatchReport) -> DispatchReport:
        kinds = dict(self.kinds)
        for kind, count in other.kinds.items():
            kinds[kind] = kinds.get(kind, 0) + count
        return DispatchReport(
            self.done + other.done, self.retried + other.retried, self.dead + other.dead, kinds
        )

    @property
    def handled(self) -> int:
        return self.done + self.retried + self.dead


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    """Deliver the outbox of `store` through `executors` (effect kind -> executor)."""

    def __init__(
        self,
        store: Store,
        executors: Mapping[str, Executor],
        *,
        clock: Callable[[], datetime] = _utc_now,
        batch_size: int = 20,
        max_attempts: int = 8,
        backoff: Backoff | None = None,
        lease: timedelta = timedelta(minutes=5),
        secrets: Iterable[str] = (),
        on_delivered: Callable[[OutboxEntry], None] | None = None,
    ) -> None:
        self.store = store
        self.executors = dict(executors)
        self.clock = clock
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.backoff = backoff or Backoff()
        self.lease = lease
        self.on_delivered = on_delivered
        self._secrets = tuple(s for s in secrets if s)

    def __repr__(self) -> str:
        return f"Dispatcher(kinds={sorted(self.executors)}, batch_size={self.batch_size})"

    def run_once(self) -> DispatchReport:
        """Claim one batch of due effects and carry each out."""
        report = DispatchReport()
        for entry in self.store.claim(self.clock(), self.batch_size, self.lease):
            report = report + self._deliver(entry)
        return report

    def drain(self, max_batches: int = 10_000) -> DispatchReport:
        """Run batches until nothing is due now (retries scheduled later wait)."""
        report = DispatchReport()
        for _ in range(max_batches):
            batch = self.run_once()
            if not batch.handled:
                break
            report = report + batch
        return report

    def redrive(self, ids: Sequence[int] | None = None) -> int:
        """Dead letters (all, or these ids) back to pending; how many."""
        return self.store.redrive(self.clock(), ids)

    def _deliver(self, entry: OutboxEntry) -> DispatchReport:
        executor = self.executors.get(entry.kind)
        try:
            if executor is None:
                raise NoExecutor(entry.kind)
            context = EffectContext(entry.order, self.store.refs(entry.order_id))
            refs = executor(entry.effect, context) or {}
        except RetryableError as error:
            if entry.attempts >= self.max_attempts:
                self.store.bury(entry.id, self._describe(error, entry), self.clock())
                return DispatchReport(dead=1)
            at = self.clock() + self.backoff.delay(entry.attempts, entry.id)
            self.store.retry_later(entry.id, self._describe(error, entry), at)
            return DispatchReport(retried=1)
        except Exception as error:  # parked with its type: a bug must not stop the others
            self.store.bury(entry.id, self._describe(error, entry), self.clock())
            return DispatchReport(dead=1)
        self.store.complete(entry.id, self.clock(), refs)
        if self.on_delivered is not None:
            self.on_delivered(entry)
        return DispatchReport(done=1, kinds={entry.kind: 1})

    def _describe(self, error: BaseException, entry: OutboxEntry) -> str:
        text = f"{type(error).__name__}: {error} (attempt {entry.attempts})"
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


# --------------------------------------------------------------------------- wiring


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

        for kind in (
            "ShipTikTokPackage",
            "CancelTikTokOrder",
            "ApproveTikTokCancellation",
            "RejectTikTokCancellation",
            "ApproveTikTokReturn",
        ):
            executors[kind] = tiktok_shop
    if partners.sfcc is not None:
        sfcc = SfccClient(http, partners.sfcc, retry)

        def sfcc_effect(effect: Effect, context: EffectContext) -> Mapping[str, str] | None:
            order = _needs_order(context, effect)
            result = sfcc.execute(order, effect, order_no=context.refs.get(SFCC_ORDER_NO))
            if isinstance(effect, CreateSfccOrder) and result.order_no:
                return {SFCC_ORDER_NO: result.order_no}
            return None

        for kind in ("CreateSfccOrder", "UpdateSfccOrderStatus", "UpdateSfccShipping"):
            executors[kind] = sfcc_effect
        executors["UpdateSfccReturn"] = sfcc_effect
    if partners.sync_order_info is not None:
        sync = SyncOrderInfoClient(http, partners.sync_order_info, retry)

        def sync_order_info(effect: Effect, context: EffectContext) -> None:
            assert isinstance(effect, SyncOrderInfo)
            order = _needs_order(context, effect)
            sync.execute(order, effect, sync_data(order))

        executors["SyncOrderInfo"] = sync_order_info
    if partners.events_api is not None:
        events = EventsApiClient(http, partners.events_api, retry)

        def events_api(effect: Effect, context: EffectContext) -> None:
            assert isinstance(effect, ReportTikTokEvent)
            order = _needs_order(context, effect)
            events.execute(order, effect, events_data(order))

        executors["ReportTikTokEvent"] = events_api
    return executors
