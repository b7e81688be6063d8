"""Policy: every time window and regional switch the lifecycle depends on.

Where TikTok's public record is silent or contradicts itself the value is a
setting here, with the default and its source written beside it, never a
constant buried in a rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import attrs
from attrs import field, frozen

from ._model import OrderStatus
from .errors import InvalidPolicy, InvalidType


def _positive_or_zero(_instance: object, attribute: attrs.Attribute[Any], value: timedelta) -> None:
    if value < timedelta(0):
        raise InvalidPolicy(f"{attribute.name} must not be negative, got {value}")


def _window(default: timedelta) -> Any:
    return field(default=default, validator=_positive_or_zero)


def _statuses(name: str, default: frozenset[OrderStatus]) -> Any:
    """A set of order statuses; a string or an unknown status is refused, naming `name`."""

    def convert(value: Iterable[OrderStatus | str]) -> frozenset[OrderStatus]:
        if isinstance(value, str):
            raise InvalidType(f"{name} must be a set of order statuses, got the string {value!r}")
        statuses = tuple(value)
        unknown = [status for status in statuses if status not in _KNOWN]
        if unknown:
            raise InvalidPolicy(
                f"{name}: unknown order status {', '.join(map(repr, unknown))};"
                f" expected some of {', '.join(OrderStatus)}"
            )
        return frozenset(OrderStatus(status) for status in statuses)

    return field(default=default, converter=convert)


_KNOWN = frozenset(status.value for status in OrderStatus)


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
        The lifecycle statuses reported to TikTok Sync Order Information when
        the order reaches them (a `SyncOrderInfo` effect). Default the two the
        public record names, cancelled and completed (Commanders Act TikTok
        Sync Order Information destination), only with
        `report_sync_order_info`; the adapter's
        `SyncOrderInfoSettings.order_statuses` names each on the wire.
    tiktok_event_statuses:
        The lifecycle statuses reported to the TikTok Events API (a
        `ReportTikTokEvent` effect). Default: completion (Commanders Act TikTok
        Events API / Offline Events destinations), only with `report_events_api`;
        the adapter's
        `EventsApiSettings.event_names` names the event.
    push_oms_actions:
        Whether the OMS actions of each transition (`reserve_inventory`,
        `stop_fulfilment`, ...: docs/oms.md) are also effects to push to the
        OMS, through the outbox to the `oms` partner. Default False: the OMS
        reads them from the store's change feed (`Store.changes`) instead, and
        a shop without an `oms` partner keeps working. The feed carries them
        either way.
    clock_skew:
        How far before the order's last change a `now` may lie and still be
        taken. Such a change is judged and recorded at the last change's time,
        so an order's history only moves forward; a `now` further back is
        refused with `StaleTime`. Concurrent OMS writers stamp their commands
        when they are made, and apply them seconds to minutes apart (queues,
        retries, clocks that differ), so the tolerance is not zero. Default 15
        minutes, the library's own choice (no partner documents one). 0 refuses
        any earlier `now`.
    """

    hold: timedelta = _window(timedelta(hours=1))
    cancellation_auto_approval: timedelta = _window(timedelta(hours=48))
    ship_by: timedelta = _window(timedelta(days=15))
    completion_after_delivery: timedelta = _window(timedelta(days=14))
    seller_partial_cancel: bool = False
    report_sync_order_info: bool = False
    report_events_api: bool = False
    sync_order_statuses: frozenset[OrderStatus] = _statuses(
        "sync_order_statuses", frozenset({OrderStatus.CANCELLED, OrderStatus.COMPLETED})
    )
    tiktok_event_statuses: frozenset[OrderStatus] = _statuses(
        "tiktok_event_statuses", frozenset({OrderStatus.COMPLETED})
    )
    push_oms_actions: bool = False
    clock_skew: timedelta = _window(timedelta(minutes=15))


DEFAULT_POLICY = Policy()
