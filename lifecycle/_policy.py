"""Policy: every time window and regional switch the lifecycle depends on.

Where TikTok's public record is silent or contradicts itself the value is a
setting here, with the default and its source written beside it, never a
constant buried in a rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any

import attrs
from attrs import field, frozen

from ._model import Initiator, OrderStatus


def _positive_or_zero(_instance: object, attribute: attrs.Attribute[Any], value: timedelta) -> None:
    if value < timedelta(0):
        raise ValueError(f"{attribute.name} must not be negative, got {value}")


def _window(default: timedelta) -> Any:
    return field(default=default, validator=_positive_or_zero)


def _sync_initiator(_instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in _SYNC_INITIATORS:
        choices = " or ".join(sorted(_SYNC_INITIATORS))
        raise ValueError(f"{attribute.name} must be {choices}, got {value!r}")


def _frozen_map(value: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(value))


_SYNC_STATUSES: Mapping[OrderStatus, str] = MappingProxyType(
    {OrderStatus.CANCELLED: "CANCEL_ORDER", OrderStatus.COMPLETED: "COMPLETE_ORDER"}
)
_TIKTOK_EVENTS: Mapping[OrderStatus, str] = MappingProxyType(
    {OrderStatus.COMPLETED: "CompletePayment"}
)
_SYNC_INITIATORS = frozenset({"MERCHANT", "CUSTOMER"})


@frozen
class Policy:
    """The settings of the lifecycle, with documented defaults.

    hold:
        The remorse hold after payment, during which the buyer cancels freely
        and the seller must not fulfil. Default 1 hour (TikTok for SFCC: Order Management;
        Logicbroker TikTok Shop connector; TikTok Seller University). Set 0 for
        categories that skip the hold.
    cancellation_auto_approval:
        How long a buyer's cancellation request may stay unanswered before
        TikTok approves it. **Unconfirmed**: 24 h in one region (Seller
        University TH), 48 h per a third party (BigSeller). Default 48 hours,
        the longer one, so that the library's own timer never approves before
        TikTok would.
    ship_by:
        Time after payment within which the order must ship, or TikTok
        cancels it. **Unconfirmed** (third party): default 15 days
        (TikTok for SFCC: Order Management).
    completion_after_delivery:
        Time after delivery after which an order with no open return
        completes. **Unconfirmed** (CedCommerce): default 14 days.
    seller_partial_cancel:
        Whether the seller may cancel some lines only. Default False
        (Logicbroker TikTok Shop connector);
        TikTok allows it for out-of-stock lines in some regions.
    report_sync_order_info:
        Whether the shop reports its orders to TikTok Sync Order Information.
        Default False. That feed is TikTok's hotel / travel order feed: it
        demands a stay (`length_of_stay`, `amount_of_room`, check-in and
        check-out dates) that an ordinary retail order does not have, so a
        retail shop must not report to it. When True, an order reaching a
        status that `sync_order_statuses` maps emits `SyncOrderInfo`.
    report_events_api:
        Whether the shop reports order events to the TikTok Events API (a
        pixel or an offline event set it must have set up). Default False.
        When True, an order reaching a status that `tiktok_events` maps emits
        `ReportTikTokEvent`.
    sync_order_statuses:
        The "Event Mapping" of the Commanders Act TikTok Sync Order Information
        destination: which Sync Order Information `order_status`
        to report when the order reaches a lifecycle status (only with
        `report_sync_order_info`). The default maps
        only the two statuses the public record names (`CANCEL_ORDER`,
        `COMPLETE_ORDER`); TikTok's full list is not public, so add
        the others your account manager gives you. Unmapped statuses are not
        reported.
    platform_cancel_sync_initiator:
        The Sync Order Information `initiator` for a cancellation made by
        TikTok itself, which is neither `CUSTOMER` nor `MERCHANT`.
        **Unconfirmed**; default `MERCHANT` (the merchant's order was
        cancelled without the customer asking).
    tiktok_events:
        Which Events API event to report when the order reaches a status (only
        with `report_events_api`). Default: `CompletePayment` on completion
        (Commanders Act TikTok Events API / Offline Events destinations).
    """

    hold: timedelta = _window(timedelta(hours=1))
    cancellation_auto_approval: timedelta = _window(timedelta(hours=48))
    ship_by: timedelta = _window(timedelta(days=15))
    completion_after_delivery: timedelta = _window(timedelta(days=14))
    seller_partial_cancel: bool = False
    report_sync_order_info: bool = False
    report_events_api: bool = False
    sync_order_statuses: Mapping[OrderStatus, str] = field(
        default=_SYNC_STATUSES, converter=_frozen_map, hash=False
    )
    platform_cancel_sync_initiator: str = field(default="MERCHANT", validator=_sync_initiator)
    tiktok_events: Mapping[OrderStatus, str] = field(
        default=_TIKTOK_EVENTS, converter=_frozen_map, hash=False
    )

    def sync_initiator(self, initiator: Initiator) -> str:
        """The Sync Order Information `initiator` for who cancelled."""
        if initiator is Initiator.BUYER:
            return "CUSTOMER"
        if initiator is Initiator.SELLER:
            return "MERCHANT"
        return self.platform_cancel_sync_initiator


DEFAULT_POLICY = Policy()
