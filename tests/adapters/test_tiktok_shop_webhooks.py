"""Webhooks: signature check, parsing of every documented type, and the commands they imply.

Also the Search Cancellations / Search Returns results turned into the same typed
changes (`cancellation_change`, `return_change`), which carry the lines a webhook lacks.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.errors import InboundError, InvalidSignature, MalformedPayload, UnknownValue
from adapters.partners.tiktok_shop import (
    ROLES,
    USED_WEBHOOK_TYPES,
    AuthorizationExpiring,
    Cancellation,
    CancellationStatusChanged,
    CancelStatus,
    OrderStatusChanged,
    PackageRef,
    PackageUpdated,
    RecipientAddressUpdated,
    Return,
    ReturnStatusChanged,
    SellerDeauthorized,
    TikTokReturnStatus,
    TikTokShopSettings,
    TikTokVocabulary,
    UnusedWebhook,
    WebhookType,
    cancellation_change,
    order_from_detail,
    parse_webhook,
    read_webhook,
    return_change,
    verify_webhook,
    webhook_commands,
    webhook_order_ids,
)
from adapters.partners.tiktok_shop._client import Calls
from lifecycle import (
    CancellationStatus,
    Initiator,
    LineStatus,
    NoLegalPath,
    Order,
    OrderLine,
    OrderStatus,
    Origin,
    ReturnStatus,
    ReturnType,
    SfccStatus,
    StaleObservation,
    StaleTime,
    UpdateSfccOrderStatus,
    apply,
)

from .strategies_tiktok import (
    APP_KEY,
    APP_SECRET,
    T0,
    T0_SECONDS,
    UNUSED_TYPES,
    cancellation_objects,
    envelope,
    return_objects,
    signed_webhook,
    unused_payloads,
    valid_payloads,
)


def seconds(hours: float) -> int:
    return T0_SECONDS + int(hours * 3600)


def moment(hours: float) -> datetime:
    return datetime.fromtimestamp(seconds(hours), UTC)


def new_order() -> Order:
    return Order(
        order_id="O1",
        shop_id="S1",
        currency="USD",
        created_at=T0,
        lines=[OrderLine("L1"), OrderLine("L2")],
    )


def advance(order: Order, *steps: tuple[str, Initiator, dict[str, Any]], at: float = 0) -> Order:
    for event, initiator, params in steps:
        order = apply(
            order, event, initiator=initiator, now=moment(at), origin=Origin.TIKTOK, **params
        ).order
    return order


def released() -> Order:
    """Paid at T0, released an hour later."""
    return advance(
        new_order(),
        ("pay", Initiator.PLATFORM, {}),
        ("release_hold", Initiator.PLATFORM, {}),
        at=1,
    )


def delivered() -> Order:
    return advance(
        released(),
        ("ship", Initiator.SELLER, {}),
        ("collect", Initiator.PLATFORM, {}),
        ("deliver", Initiator.PLATFORM, {}),
        at=2,
    )


def parsed(payload: dict[str, Any]) -> Any:
    headers, body = signed_webhook(payload)
    return read_webhook(headers, body, APP_KEY, APP_SECRET)


def run(order: Order, payload: dict[str, Any], **options: Any) -> tuple[Order, list[str]]:
    """Parse, derive the commands, apply them; the events applied."""
    commands = webhook_commands(parsed(payload), order, **options)
    for command in commands:
        assert command.origin is Origin.TIKTOK
        order = command.apply_to(order).order
    return order, [c.event for c in commands]


# --------------------------------------------------------------------------- signature


def test_correct_signature_passes_and_header_name_is_case_insensitive() -> None:
    headers, body = signed_webhook(envelope(6, {}))
    verify_webhook(headers, body, APP_KEY, APP_SECRET)
    verify_webhook({"authorization": headers["Authorization"].upper()}, body, APP_KEY, APP_SECRET)


def test_signature_is_hmac_of_app_key_and_body_written_out() -> None:
    import hashlib
    import hmac

    body = b'{"type":6,"shop_id":"S","timestamp":1,"data":{}}'
    sign = hmac.new(b"sec", b"key" + body, hashlib.sha256).hexdigest()
    verify_webhook({"Authorization": sign}, body, "key", "sec")
    with pytest.raises(InvalidSignature):
        verify_webhook({"Authorization": sign}, body, "other-key", "sec")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "no Authorization"),
        ({"Authorization": "  "}, "no Authorization"),
        ({"Authorization": "not-hex"}, "not a hex"),
        ({"Authorization": "ab" * 31}, "not a hex"),
        ({"Authorization": "0" * 64}, "does not match"),
    ],
)
def test_missing_malformed_or_forged_signature_is_refused(
    headers: dict[str, str], reason: str
) -> None:
    _, body = signed_webhook(envelope(6, {}))
    with pytest.raises(InvalidSignature, match=reason) as caught:
        read_webhook(headers, body, APP_KEY, APP_SECRET)
    assert APP_SECRET not in str(caught.value)


def test_a_body_changed_after_signing_is_refused() -> None:
    headers, body = signed_webhook(
        envelope(1, {"order_id": "O1", "order_status": "UNPAID", "update_time": 1})
    )
    with pytest.raises(InvalidSignature):
        read_webhook(headers, body.replace(b"UNPAID", b"CANCELLED"), APP_KEY, APP_SECRET)


# --------------------------------------------------------------------------- parsing


def test_order_status_webhook() -> None:
    webhook = parsed(
        envelope(
            1,
            {
                "order_id": "O1",
                "order_status": "ON_HOLD",
                "update_time": seconds(0),
                "is_on_hold_order": True,
            },
        )
    )
    assert webhook == OrderStatusChanged(
        "7494049642642441621", T0, "O1", OrderStatus.ON_HOLD, T0, True
    )


def test_cancellation_webhook() -> None:
    webhook = parsed(
        envelope(
            11,
            {
                "order_id": "O1",
                "cancel_id": "C1",
                "cancellations_role": "BUYER",
                "cancel_status": "CANCELLATION_REQUEST_PENDING",
                "create_time": seconds(2),
            },
        )
    )
    assert isinstance(webhook, CancellationStatusChanged)
    assert (webhook.cancel_status, webhook.role, webhook.at) == (
        CancelStatus.PENDING,
        Initiator.BUYER,
        moment(2),
    )


def test_return_webhook_accepts_both_spellings_of_reject() -> None:
    for spelling in ("RETURN_OR_REFUND_REQUEST_REJECT", "REFUND_OR_RETURN_REQUEST_REJECT"):
        webhook = parsed(
            envelope(
                12,
                {
                    "order_id": "O1",
                    "return_id": "R1",
                    "return_role": "BUYER",
                    "return_type": "REFUND",
                    "return_status": spelling,
                    "create_time": seconds(1),
                    "update_time": seconds(3),
                },
            )
        )
        assert isinstance(webhook, ReturnStatusChanged)
        assert webhook.return_type is ReturnType.REFUND
        assert webhook.at == moment(3)
        assert webhook.return_status is TikTokReturnStatus.REJECT


def _return_webhook(status: str, role: str = "BUYER") -> bytes:
    return json.dumps(
        envelope(
            12,
            {
                "order_id": "O1",
                "return_id": "R1",
                "return_role": role,
                "return_type": "REFUND",
                "return_status": status,
                "create_time": seconds(1),
                "update_time": seconds(3),
            },
        )
    ).encode()


def test_the_vocabulary_is_a_setting_roles_spellings_and_goals() -> None:
    """Roles, return-status spellings and goals are `TikTokVocabulary` settings: a shop
    whose TikTok says `CUSTOMER` and `RETURN_REJECTED` is read with its own tables."""
    vocabulary = TikTokVocabulary(
        roles={**ROLES, "CUSTOMER": Initiator.BUYER},
        return_status_spellings={"RETURN_REJECTED": "RETURN_OR_REFUND_REQUEST_REJECT"},
    )
    webhook = parse_webhook(
        _return_webhook("RETURN_REJECTED", role="CUSTOMER"), vocabulary=vocabulary
    )
    assert isinstance(webhook, ReturnStatusChanged)
    assert webhook.return_status is TikTokReturnStatus.REJECT
    assert webhook.role is Initiator.BUYER
    with pytest.raises(UnknownValue, match="RETURN_REJECTED"):
        parse_webhook(_return_webhook("RETURN_REJECTED"))
    with pytest.raises(UnknownValue, match="CUSTOMER"):
        parse_webhook(_return_webhook("RETURN_OR_REFUND_REQUEST_REJECT", role="CUSTOMER"))


def test_shipped_display_statuses_are_a_setting() -> None:
    detail = {
        "id": "O1",
        "status": "IN_TRANSIT",
        "create_time": seconds(1),
        "payment": {"currency": "USD"},
        "line_items": [{"id": "L1", "display_status": "SHIPPED"}],
    }
    assert order_from_detail(detail).lines[0].status is LineStatus.OPEN
    vocabulary = TikTokVocabulary(shipped_display_statuses={"SHIPPED"})
    shipped = order_from_detail(detail, vocabulary=vocabulary)
    assert shipped.lines[0].status is LineStatus.SHIPPED


def test_package_webhook_with_two_orders_in_one_package_names_both() -> None:
    """Type 4's real shape (fudiwei EventSamples): package_list, no top-level order_id."""
    package = parsed(
        envelope(
            4,
            {
                "sc_type": "COMBINE",
                "role_type": "ROLE_USER",
                "package_list": [
                    {"package_id": "123456", "order_id_list": ["152523", "532123"]},
                    {"package_id": 654321, "order_id_list": ["532123"]},
                ],
                "update_time": seconds(1),
            },
        )
    )
    assert package == PackageUpdated(
        "7494049642642441621",
        T0,
        (PackageRef("123456", ("152523", "532123")), PackageRef("654321", ("532123",))),
        "COMBINE",
        "ROLE_USER",
        moment(1),
    )
    assert package.order_ids == ("152523", "532123"), "each order once, first-seen order"
    assert webhook_order_ids(package) == ("152523", "532123")
    assert package.at == moment(1)


def test_recipient_address_webhook() -> None:
    address = parsed(envelope(3, {"order_id": "O1", "update_time": seconds(2)}))
    assert address == RecipientAddressUpdated("7494049642642441621", T0, "O1", moment(2))
    assert webhook_order_ids(address) == ("O1",)
    assert webhook_commands(address, released()) == ()


def test_authorisation_webhooks() -> None:
    gone = parsed(envelope(6, {"message": "bye"}))
    assert isinstance(gone, SellerDeauthorized)
    assert gone.data == {"message": "bye"}
    expiring = parsed(
        envelope(7, {"message": "expiring in 7 days", "expiration_time": seconds(168)})
    )
    assert expiring == AuthorizationExpiring(
        "7494049642642441621", T0, moment(168), "expiring in 7 days"
    )
    assert webhook_order_ids(gone) == webhook_order_ids(expiring) == ()


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        (2, "REVERSE_STATUS_UPDATE"),
        (5, "PRODUCT_STATUS_CHANGE"),
        (15, "PRODUCT_INFORMATION_CHANGE"),
        (16, "PRODUCT_CREATION"),
    ],
)
def test_documented_unused_types_parse_as_unused_webhooks_named(kind: int, name: str) -> None:
    data = {"product_id": 576486316948490000, "status": "PRODUCT_FIRST_PASS_REVIEW"}
    webhook = parsed(envelope(kind, data))
    assert webhook == UnusedWebhook("7494049642642441621", T0, kind, name)
    assert webhook_order_ids(webhook) == ()
    assert webhook_commands(webhook, None) == ()


def test_unknown_type_99_is_an_unused_webhook_named_unknown_not_an_error() -> None:
    webhook = parsed(envelope(99, {"anything": [1, 2]}))
    assert webhook == UnusedWebhook("7494049642642441621", T0, 99, "unknown")
    assert webhook.at == T0
    assert webhook_commands(webhook, None) == ()


def test_every_documented_type_parses_and_the_used_ones_into_their_own_values() -> None:
    samples: dict[int, dict[str, Any]] = {
        1: {"order_id": "O1", "order_status": "UNPAID", "update_time": seconds(0)},
        3: {"order_id": "O1", "update_time": seconds(0)},
        4: {"package_list": [{"package_id": "P", "order_id_list": ["O1"]}]},
        6: {},
        7: {},
        11: {"order_id": "O1", "cancel_id": "C", "cancel_status": "CANCELLATION_REQUEST_CANCEL"},
        12: {"order_id": "O1", "return_id": "R", "return_status": "AWAITING_BUYER_RESPONSE"},
    }
    assert set(samples) == set(USED_WEBHOOK_TYPES)
    for kind in WebhookType:
        webhook = parsed(envelope(kind.value, samples.get(kind.value, {})))
        assert isinstance(webhook, UnusedWebhook) is (kind not in USED_WEBHOOK_TYPES), kind


def test_shop_id_sent_as_a_number_is_accepted() -> None:
    payload = envelope(6, {})
    payload["shop_id"] = 7494049642642441621
    assert parsed(payload).shop_id == "7494049642642441621"


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        (
            envelope(
                1, {"order_id": "O1", "order_status": "TELEPORTED", "update_time": 1_763_000_000}
            ),
            "order status 'TELEPORTED'",
        ),
        (
            envelope(11, {"order_id": "O1", "cancel_id": "C", "cancel_status": "MAYBE"}),
            "cancel_status 'MAYBE'",
        ),
        (
            envelope(
                11,
                {
                    "order_id": "O1",
                    "cancel_id": "C",
                    "cancel_status": CancelStatus.PENDING.value,
                    "cancellations_role": "CAT",
                },
            ),
            "cancellations_role 'CAT'",
        ),
        (
            envelope(12, {"order_id": "O1", "return_id": "R", "return_status": "LOST"}),
            "return_status 'LOST'",
        ),
        (
            envelope(
                12,
                {
                    "order_id": "O1",
                    "return_id": "R",
                    "return_status": "AWAITING_BUYER_SHIP",
                    "return_type": "SWAP",
                },
            ),
            "return_type 'SWAP'",
        ),
    ],
)
def test_unknown_values_are_named(payload: dict[str, Any], named: str) -> None:
    with pytest.raises(UnknownValue, match=named.replace("(", r"\(")):
        parsed(payload)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"shop_id": "S", "timestamp": 1, "data": {}}).encode(), "type must be"),
        (json.dumps(envelope(4, {})).encode().replace(b'"type": 4', b'"type": "4"'), "type"),
        (json.dumps({**envelope(99, {}), "type": True}).encode(), "type must be an integer"),
        (json.dumps({"type": 99, "timestamp": 1, "data": {}}).encode(), "webhook.shop_id"),
        (json.dumps({"type": 99, "shop_id": "S", "data": {}}).encode(), "webhook.timestamp"),
        (json.dumps({**envelope(99, {}), "data": "x"}).encode(), "webhook.data"),
        (json.dumps(envelope(4, {"order_id": "O1"})).encode(), "data.package_list"),
        (
            json.dumps(envelope(4, {"package_list": [{"order_id_list": ["O1"]}]})).encode(),
            r"data.package_list\[0\].package_id",
        ),
        (json.dumps(envelope(3, {"update_time": 1})).encode(), "data.order_id"),
        (
            json.dumps(envelope(1, {"order_status": "UNPAID", "update_time": 1})).encode(),
            "data.order_id",
        ),
        (
            json.dumps(envelope(1, {"order_id": "O", "order_status": "UNPAID"})).encode(),
            "data.update_time",
        ),
        (
            json.dumps(envelope(11, {"order_id": "O", "cancel_status": "X"})).encode(),
            "data.cancel_id",
        ),
        (
            json.dumps(envelope(12, {"order_id": "O", "return_status": "X"})).encode(),
            "data.return_id",
        ),
        (
            json.dumps(
                envelope(1, {"order_id": "O", "order_status": "UNPAID", "update_time": "soon"})
            ).encode(),
            "update_time",
        ),
    ],
)
def test_malformed_bodies_name_what_is_wrong(body: bytes, named: str) -> None:
    with pytest.raises(MalformedPayload, match=named):
        parse_webhook(body)


# --------------------------------------------------------------------------- commands


def order_status(status: str, hours: float) -> dict[str, Any]:
    return envelope(1, {"order_id": "O1", "order_status": status, "update_time": seconds(hours)})


def test_order_status_goes_through_reconcile_with_tiktok_origin_and_time() -> None:
    commands = webhook_commands(parsed(order_status("AWAITING_SHIPMENT", 1)), new_order())
    assert [(c.event, c.initiator, c.origin, c.at) for c in commands] == [
        ("pay", Initiator.PLATFORM, Origin.TIKTOK, moment(1)),
        ("release_hold", Initiator.PLATFORM, Origin.TIKTOK, moment(1)),
    ]


def test_duplicate_order_status_webhook_implies_nothing() -> None:
    order, events = run(new_order(), order_status("ON_HOLD", 0))
    assert events == ["pay"]
    assert run(order, order_status("ON_HOLD", 0))[1] == []


def test_cancelled_by_the_buyer_during_the_hold() -> None:
    order, _ = run(new_order(), order_status("ON_HOLD", 0))
    order, events = run(order, order_status("CANCELLED", 0.5), cancelled_by=Initiator.BUYER)
    assert events == ["cancel"]
    assert order.cancelled_by is Initiator.BUYER


def test_stale_order_status_is_the_lifecycles_error() -> None:
    order = released()
    with pytest.raises(StaleObservation):
        webhook_commands(parsed(order_status("UNPAID", -5)), order)


def cancellation(
    status: str, hours: float, role: str = "BUYER", cancel_id: str = "C1"
) -> dict[str, Any]:
    data = {
        "order_id": "O1",
        "cancel_id": cancel_id,
        "cancel_status": status,
        "cancellations_role": role,
        "create_time": seconds(hours),
    }
    return envelope(11, data)


def test_buyer_cancellation_request_then_tiktok_approves_it() -> None:
    order, events = run(released(), cancellation("CANCELLATION_REQUEST_PENDING", 2))
    assert events == ["request_cancellation"]
    assert order.pending_cancellation is not None
    assert run(order, cancellation("CANCELLATION_REQUEST_PENDING", 2))[1] == [], "duplicate"
    order, events = run(order, cancellation("CANCELLATION_REQUEST_SUCCESS", 3))
    assert events == ["approve_cancellation"]
    assert order.status is OrderStatus.CANCELLED
    assert run(order, cancellation("CANCELLATION_REQUEST_COMPLETE", 4))[1] == []


def test_success_without_the_request_ever_seen_still_cancels() -> None:
    order, events = run(released(), cancellation("CANCELLATION_REQUEST_SUCCESS", 3, role="SYSTEM"))
    assert events == ["cancel"]
    assert order.status is OrderStatus.CANCELLED


def test_closed_request_is_recorded_as_withdrawn() -> None:
    order, _ = run(released(), cancellation("CANCELLATION_REQUEST_PENDING", 2))
    order, events = run(order, cancellation("CANCELLATION_REQUEST_CANCEL", 3))
    assert events == ["withdraw_cancellation"]
    assert order.cancellation is not None
    assert order.cancellation.status is CancellationStatus.WITHDRAWN
    assert run(released(), cancellation("CANCELLATION_REQUEST_CANCEL", 3, cancel_id="C7"))[1] == []


def test_cancellation_request_after_shipment_has_no_legal_path() -> None:
    with pytest.raises(NoLegalPath, match=r"cancellation C1 PENDING.*re-read the order"):
        run(delivered(), cancellation("CANCELLATION_REQUEST_PENDING", 5))


def returned(status: str, hours: float, kind: str = "RETURN_AND_REFUND") -> dict[str, Any]:
    data = {
        "order_id": "O1",
        "return_id": "R1",
        "return_role": "BUYER",
        "return_type": kind,
        "return_status": status,
        "create_time": seconds(hours),
        "update_time": seconds(hours),
    }
    return envelope(12, data)


def test_return_lifecycle_from_webhooks_with_late_and_missing_ones() -> None:
    order, events = run(delivered(), returned("RETURN_OR_REFUND_REQUEST_PENDING", 10))
    assert events == ["request_return"]
    order, events = run(order, returned("BUYER_SHIPPED_ITEM", 12))
    assert events == ["approve_return", "ship_return"], "the lost AWAITING_BUYER_SHIP is filled in"
    assert run(order, returned("AWAITING_BUYER_SHIP", 11))[1] == [], "late webhook"
    order, events = run(order, returned("RETURN_OR_REFUND_REQUEST_COMPLETE", 20))
    assert events == ["receive_return", "refund"]
    assert order.return_request("R1").status is ReturnStatus.REFUNDED
    assert all(line.status is LineStatus.REFUNDED for line in order.lines)


def test_return_rejected_in_tiktok_and_seller_proposal_implies_nothing() -> None:
    order, _ = run(delivered(), returned("RETURN_OR_REFUND_REQUEST_PENDING", 10, kind="REFUND"))
    assert run(order, returned("AWAITING_BUYER_RESPONSE", 11))[1] == []
    order, events = run(order, returned("REFUND_OR_RETURN_REQUEST_REJECT", 12))
    assert events == ["reject_return"]
    assert order.return_request("R1").status is ReturnStatus.REJECTED


def test_non_order_webhooks_imply_no_commands() -> None:
    assert webhook_commands(parsed(envelope(6, {})), None) == ()
    package = envelope(4, {"package_list": [{"package_id": "P1", "order_id_list": ["O1"]}]})
    assert webhook_commands(parsed(package), new_order()) == ()
    assert webhook_commands(parsed(package), None) == ()


def test_webhook_for_another_order_is_refused() -> None:
    with pytest.raises(ValueError, match="given order"):
        webhook_commands(
            parsed(order_status("ON_HOLD", 0)),
            released().__class__(
                order_id="O2", shop_id="S", currency="USD", created_at=T0, lines=[OrderLine("L1")]
            ),
        )


def test_final_orders_take_no_more_request_commands() -> None:
    order, _ = run(new_order(), order_status("CANCELLED", 0))
    assert run(order, cancellation("CANCELLATION_REQUEST_PENDING", 1))[1] == []


# --------------------------------------------------------------------------- search results

CANCEL_REASON = "ecom_order_to_ship_canceled_reason_created_by_mistakes"


def three_lines(*, delivered_too: bool = False) -> Order:
    """Paid at T0, released an hour later, three lines; delivered at 2 h if asked."""
    order = Order(
        order_id="O1",
        shop_id="S1",
        currency="USD",
        created_at=T0,
        lines=[OrderLine("L1"), OrderLine("L2"), OrderLine("L3")],
    )
    order = advance(
        order, ("pay", Initiator.PLATFORM, {}), ("release_hold", Initiator.PLATFORM, {}), at=1
    )
    if delivered_too:
        order = advance(
            order,
            ("ship", Initiator.SELLER, {}),
            ("collect", Initiator.PLATFORM, {}),
            ("deliver", Initiator.PLATFORM, {}),
            at=2,
        )
    return order


def found_cancellation(status: str, lines: tuple[str, ...], hours: float) -> Cancellation:
    return Cancellation(
        cancel_id="C1",
        order_id="O1",
        cancel_status=status,
        role="BUYER",
        line_item_ids=lines,
        reason=CANCEL_REASON,
        create_time=moment(2),
        update_time=moment(hours),
    )


def apply_all(order: Order, commands: Any) -> Order:
    for command in commands:
        order = command.apply_to(order).order
    return order


def test_one_line_cancellation_from_search_requests_and_cancels_that_line_only() -> None:
    """Issue 13: a buyer's request for one line of three stays a request for that one line."""
    change = cancellation_change(
        found_cancellation("CANCELLATION_REQUEST_PENDING", ("L2",), 2), "S1", moment(2.5)
    )
    assert (change.line_item_ids, change.reason, change.role) == (
        ("L2",),
        CANCEL_REASON,
        Initiator.BUYER,
    )
    assert (change.timestamp, change.at) == (moment(2.5), moment(2))
    order = three_lines()
    commands = webhook_commands(change, order)
    assert [(c.event, dict(c.params)) for c in commands] == [
        (
            "request_cancellation",
            {"cancel_id": "C1", "line_item_ids": ("L2",), "reason": CANCEL_REASON},
        )
    ]
    order = apply_all(order, commands)
    assert order.pending_cancellation is not None
    assert order.pending_cancellation.line_item_ids == ("L2",)
    assert order.pending_cancellation.reason == CANCEL_REASON

    approved = cancellation_change(
        found_cancellation("CANCELLATION_REQUEST_SUCCESS", ("L2",), 3), "S1", moment(3)
    )
    commands = webhook_commands(approved, order)
    assert [c.event for c in commands] == ["approve_cancellation"]
    (command,) = commands
    outcome = command.apply_to(order)
    (effect,) = outcome.effects  # no CANCEL_ORDER report: the order is not cancelled
    assert isinstance(effect, UpdateSfccOrderStatus)
    assert (effect.external_status, effect.line_item_ids) == (
        SfccStatus.PARTIALLY_CANCELLED,
        ("L2",),
    )
    order = outcome.order
    assert order.status is OrderStatus.AWAITING_SHIPMENT
    assert [line.status for line in order.lines] == [
        LineStatus.OPEN,
        LineStatus.CANCELLED,
        LineStatus.OPEN,
    ]
    assert webhook_commands(approved, order) == (), "a duplicate search result implies nothing"


def test_one_line_cancellation_success_never_seen_pending_cancels_only_that_line() -> None:
    change = cancellation_change(
        found_cancellation("CANCELLATION_REQUEST_COMPLETE", ("L3",), 3), "S1", moment(3)
    )
    order = apply_all(three_lines(), webhook_commands(change, three_lines()))
    assert order.status is not OrderStatus.CANCELLED
    assert order.line("L3").status is LineStatus.CANCELLED
    assert order.open_line_ids == ("L1", "L2")


def test_a_webhook_without_lines_still_means_the_whole_order() -> None:
    order, events = run(three_lines(), cancellation("CANCELLATION_REQUEST_PENDING", 2))
    assert events == ["request_cancellation"]
    assert order.pending_cancellation is not None
    assert order.pending_cancellation.line_item_ids == ("L1", "L2", "L3")


def test_cancellation_naming_a_line_the_order_lacks_is_out_of_step() -> None:
    change = cancellation_change(
        found_cancellation("CANCELLATION_REQUEST_PENDING", ("L9",), 2), "S1", moment(2)
    )
    with pytest.raises(NoLegalPath, match="re-read the order"):
        webhook_commands(change, three_lines())


def found_return(status: str, lines: tuple[str, ...], hours: float, **extra: Any) -> Return:
    fields: dict[str, Any] = {
        "return_id": "R1",
        "order_id": "O1",
        "return_status": status,
        "return_type": "RETURN_AND_REFUND",
        "role": "BUYER",
        "line_item_ids": lines,
        "reason": "ecom_order_delivered_refund_and_return_reason_wrong_size",
        "create_time": moment(10),
        "update_time": moment(hours),
        **extra,
    }
    return Return(**fields)


def test_return_from_search_covers_its_lines_with_reason_tracking_and_request_time() -> None:
    found = found_return("BUYER_SHIPPED_ITEM", ("L1",), 12, return_tracking_number="1Z999")
    change = return_change(found, "S1", moment(12.5))
    assert change.request_time == moment(10)
    order = three_lines(delivered_too=True)
    commands = webhook_commands(change, order)
    assert [c.event for c in commands] == ["request_return", "approve_return", "ship_return"]
    order = apply_all(order, commands)
    request = order.return_request("R1")
    assert request.line_item_ids == ("L1",)
    assert request.reason == found.reason
    assert request.return_tracking_number == "1Z999"
    assert request.requested_at == moment(10), "when the buyer asked, not when we heard"
    assert request.status is ReturnStatus.BUYER_SHIPPED
    assert order.line("L2").status is order.line("L3").status is LineStatus.SHIPPED


def test_return_tracking_number_learnt_later_is_kept_when_the_buyer_ships() -> None:
    order, _ = run(three_lines(delivered_too=True), returned("AWAITING_BUYER_SHIP", 10))
    assert order.return_request("R1").return_tracking_number is None
    shipped = return_change(
        found_return("BUYER_SHIPPED_ITEM", ("L1", "L2", "L3"), 12, return_tracking_number="TRK7"),
        "S1",
        moment(12),
    )
    commands = webhook_commands(shipped, order)
    assert [c.event for c in commands] == ["ship_return"]
    order = apply_all(order, commands)
    assert order.return_request("R1").return_tracking_number == "TRK7"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            lambda: cancellation_change(
                Cancellation("C1", "O1", "MAYBE", role="BUYER"), "S1", moment(1)
            ),
            "cancel_status 'MAYBE'",
        ),
        (
            lambda: cancellation_change(
                Cancellation("C1", "O1", "CANCELLATION_REQUEST_PENDING", role="CAT"),
                "S1",
                moment(1),
            ),
            "role 'CAT'",
        ),
        (lambda: return_change(Return("R1", "O1", "LOST"), "S1", moment(1)), "return_status"),
        (
            lambda: return_change(
                Return("R1", "O1", "AWAITING_BUYER_SHIP", return_type="SWAP"), "S1", moment(1)
            ),
            "return_type 'SWAP'",
        ),
    ],
)
def test_search_results_with_unknown_values_are_named(change: Any, named: str) -> None:
    with pytest.raises(UnknownValue, match=named):
        change()


# --------------------------------------------------------------------------- generated


def order_for(payload: dict[str, Any]) -> Order:
    return delivered() if payload["type"] == 12 else released()


@given(unused_payloads)
def test_generated_unused_and_unknown_types_parse_as_unused_and_imply_nothing(
    payload: dict[str, Any],
) -> None:
    webhook = parsed(payload)
    assert isinstance(webhook, UnusedWebhook)
    assert webhook.type == payload["type"]
    assert (webhook.name == "unknown") is (payload["type"] not in UNUSED_TYPES)
    assert webhook_order_ids(webhook) == ()
    assert webhook_commands(webhook, None) == ()


def _untouched(before: Order, after: Order, named: tuple[str, ...]) -> bool:
    return all(
        after.line(line.line_item_id).status is line.status
        for line in before.lines
        if line.line_item_id not in named
    )


def _ok(data: dict[str, Any]) -> httpx.Response:
    """TikTok's success envelope around `data`, as a search call's answer."""
    request = httpx.Request("POST", "https://open-api.tiktokglobalshop.com/")
    envelope = {"code": 0, "message": "Success", "data": data}
    return httpx.Response(200, json=envelope, request=request)


@given(cancellation_objects(["L1", "L2", "L3"]))
def test_generated_search_cancellations_never_touch_lines_they_do_not_name(
    raw: dict[str, Any],
) -> None:
    found = Calls(TikTokShopSettings()).search_cancellations().answer(_ok({"cancellations": [raw]}))
    change = cancellation_change(found.items[0], "S1", moment(30 * 24))
    before = three_lines()
    try:
        commands = webhook_commands(change, before)
    except (NoLegalPath, StaleTime):  # refused, nothing touched
        return
    after = apply_all(before, commands)
    assert _untouched(before, after, change.line_item_ids)
    if after.cancellation is not None:
        assert after.cancellation.line_item_ids == change.line_item_ids


@given(return_objects(["L1", "L2", "L3"]))
def test_generated_search_returns_cover_exactly_the_lines_they_name(raw: dict[str, Any]) -> None:
    found = Calls(TikTokShopSettings()).search_returns().answer(_ok({"return_orders": [raw]}))
    change = return_change(found.items[0], "S1", moment(30 * 24))
    before = three_lines(delivered_too=True)
    try:
        commands = webhook_commands(change, before)
    except (NoLegalPath, StaleTime):  # refused, nothing touched
        return
    after = apply_all(before, commands)
    assert _untouched(before, after, change.line_item_ids)
    for request in after.returns:
        assert request.line_item_ids == change.line_item_ids
        assert request.return_tracking_number == raw["return_tracking_number"]


@given(valid_payloads)
def test_generated_valid_signed_webhooks_parse_and_imply_legal_commands(
    payload: dict[str, Any],
) -> None:
    webhook = parsed(payload)
    order = order_for(payload)
    try:
        commands = webhook_commands(webhook, order)
    except (StaleObservation, StaleTime, NoLegalPath):
        return  # typed refusals: the webhook does not fit the order as stored
    for command in commands:
        assert command.origin is Origin.TIKTOK
        order = command.apply_to(order).order


corruptions = st.one_of(
    st.tuples(st.just("flip"), st.integers(min_value=0), st.integers(min_value=1, max_value=255)),
    st.tuples(st.just("truncate"), st.integers(min_value=0), st.just(0)),
    st.tuples(
        st.just("append"),
        st.integers(min_value=0, max_value=0),
        st.integers(min_value=0, max_value=255),
    ),
)


@given(valid_payloads, corruptions)
def test_generated_corrupted_webhooks_are_refused_with_a_typed_error(
    payload: dict[str, Any], corruption: tuple[str, int, int]
) -> None:
    headers, body = signed_webhook(payload)
    kind, where, value = corruption
    where %= len(body)
    if kind == "flip":
        body = body[:where] + bytes([body[where] ^ value]) + body[where + 1 :]
    elif kind == "truncate":
        body = body[:where]
    else:
        body = body + bytes([value])
    with pytest.raises(InvalidSignature):
        read_webhook(headers, body, APP_KEY, APP_SECRET)


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bodies_never_crash_the_parser(body: bytes) -> None:
    with contextlib.suppress(InboundError):
        parse_webhook(body)


@given(
    st.dictionaries(
        st.sampled_from(["type", "shop_id", "timestamp", "data", "x"]),
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=5)
        | st.dictionaries(st.text(max_size=12), st.integers() | st.text(max_size=5), max_size=4),
    )
)
def test_arbitrary_json_objects_never_crash_the_parser(raw: dict[str, Any]) -> None:
    with contextlib.suppress(InboundError):
        parse_webhook(json.dumps(raw).encode())
