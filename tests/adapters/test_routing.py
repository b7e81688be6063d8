"""Every effect the lifecycle declares is routed to exactly one partner, once."""

from __future__ import annotations

import pytest

from adapters.routing import PARTNER_OF, Partner, effect_kinds, partner_of
from adapters.store import channel_of
from lifecycle import EFFECT_TYPES, OMS_ACTION_TYPES


def test_every_declared_effect_has_a_partner() -> None:
    assert set(PARTNER_OF) == set(EFFECT_TYPES)


def test_partners_split_the_effects_between_them() -> None:
    kinds = [kind for partner in Partner for kind in effect_kinds(partner)]
    assert sorted(kinds) == sorted(t.__name__ for t in EFFECT_TYPES)
    assert effect_kinds(Partner.SYNC_ORDER_INFO) == ("SyncOrderInfo",)
    assert "ShipTikTokPackage" in effect_kinds(Partner.TIKTOK_SHOP)


def test_the_outbox_channel_is_the_partner() -> None:
    assert channel_of("CreateSfccOrder") == "sfcc"
    assert channel_of("ReportTikTokEvent") == "events_api"


def test_the_oms_actions_go_to_the_oms_alone() -> None:
    """One channel for every OMS action: one order's actions reach the OMS in order."""
    assert effect_kinds(Partner.OMS) == tuple(t.__name__ for t in OMS_ACTION_TYPES)
    assert channel_of("StopFulfilment") == "oms"


def test_an_unrouted_kind_is_named() -> None:
    with pytest.raises(KeyError, match="NotAnEffect"):
        partner_of("NotAnEffect")
