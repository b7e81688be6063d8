"""Which partner carries out each effect: the one routing table of the shell.

The store orders deliveries per order and partner (its outbox `channel`),
the wiring registers each partner's executor for the effects routed to it,
and each partner client refuses an effect not routed to it. All three read
this table, so a new effect is routed by one line here, and a test checks
that every effect the lifecycle declares has its line.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from lifecycle import (
    EFFECT_TYPES,
    ApproveTikTokCancellation,
    ApproveTikTokReturn,
    CancelTikTokOrder,
    CloseOrder,
    CreateSfccOrder,
    Effect,
    ExpectReturn,
    RefundIssued,
    RejectTikTokCancellation,
    ReleaseForFulfilment,
    ReleaseInventory,
    ReportTikTokEvent,
    ReserveInventory,
    ShipTikTokPackage,
    StopFulfilment,
    SyncOrderInfo,
    UpdateSfccOrderStatus,
    UpdateSfccReturn,
    UpdateSfccShipping,
)

__all__ = ["PARTNER_OF", "Partner", "effect_kinds", "partner_of"]


class Partner(enum.StrEnum):
    """A partner the shell delivers effects to; the value is the outbox channel."""

    TIKTOK_SHOP = "tiktok_shop"
    SFCC = "sfcc"
    SYNC_ORDER_INFO = "sync_order_info"
    EVENTS_API = "events_api"
    #: the OMS that embeds the library: its actions, pushed when the policy says so
    OMS = "oms"


#: The partner of each effect type.
PARTNER_OF: Mapping[type[Effect], Partner] = MappingProxyType(
    {
        CreateSfccOrder: Partner.SFCC,
        UpdateSfccOrderStatus: Partner.SFCC,
        UpdateSfccShipping: Partner.SFCC,
        UpdateSfccReturn: Partner.SFCC,
        ShipTikTokPackage: Partner.TIKTOK_SHOP,
        CancelTikTokOrder: Partner.TIKTOK_SHOP,
        ApproveTikTokCancellation: Partner.TIKTOK_SHOP,
        RejectTikTokCancellation: Partner.TIKTOK_SHOP,
        ApproveTikTokReturn: Partner.TIKTOK_SHOP,
        SyncOrderInfo: Partner.SYNC_ORDER_INFO,
        ReportTikTokEvent: Partner.EVENTS_API,
        ReserveInventory: Partner.OMS,
        ReleaseForFulfilment: Partner.OMS,
        StopFulfilment: Partner.OMS,
        ReleaseInventory: Partner.OMS,
        ExpectReturn: Partner.OMS,
        RefundIssued: Partner.OMS,
        CloseOrder: Partner.OMS,
    }
)

_BY_KIND: Mapping[str, Partner] = MappingProxyType(
    {effect_type.__name__: partner for effect_type, partner in PARTNER_OF.items()}
)


def partner_of(kind: str) -> Partner:
    """The partner of the effect kind `kind` (an effect's `kind`, its class name).

    Raises `KeyError` naming the kind when no partner carries it out.
    """
    try:
        return _BY_KIND[kind]
    except KeyError:
        raise KeyError(f"no partner carries out effect kind {kind!r}") from None


def effect_kinds(partner: Partner) -> tuple[str, ...]:
    """The effect kinds routed to `partner`, in the lifecycle's declaration order."""
    return tuple(t.__name__ for t in EFFECT_TYPES if PARTNER_OF.get(t) is partner)
