"""TikTok Shop webhooks: authenticity, parsing, and the lifecycle commands they imply.

Three steps, each usable alone:

1. `verify_webhook` checks the `Authorization` header, which TikTok sets to
   `hex(HMAC_SHA256(app_secret, app_key + raw_body))`, in constant time. A
   forged, missing or malformed signature raises `InvalidSignature` and
   nothing else happens.
2. `parse_webhook` reads the envelope (`type`, `shop_id`, `timestamp`,
   `data`) and the payload of every type the library uses (1, 3, 4, 6, 7, 11
   and 12) into frozen values; any other type number, documented or not,
   becomes an `UnusedWebhook` naming it, so a correctly signed webhook is
   always kept and answered 2xx. A body that is not a TikTok envelope, or a
   used type that lacks a mandatory field, raises `MalformedPayload`; an
   unknown status or role raises `UnknownValue` naming it. Nothing is ever
   dropped silently.
3. `webhook_commands` turns a parsed webhook and the order as stored into the
   lifecycle `Command`s it implies, all with origin TikTok and the webhook's
   own time, so nothing is echoed back to TikTok. This module only maps
   TikTok's statuses to the lifecycle's (`CANCELLATION_GOALS`,
   `TikTokVocabulary.return_goals`); the lifecycle's one search finds the events
   (`reconcile`, `reconcile_cancellation`, `reconcile_return`).

Webhooks arrive late, twice or out of order. A webhook whose news the order
already holds implies no command, so duplicates are harmless; one that no
legal sequence of events explains raises the lifecycle's `NoLegalPath` (or
`StaleObservation` for an order status older than the order): re-read the
order with Get Order Detail and reconcile from that.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from attrs import field, frozen

from adapters.errors import InvalidSignature, MalformedPayload, UnknownValue
from lifecycle import (
    DEFAULT_POLICY,
    CancellationStatus,
    Command,
    Initiator,
    Order,
    OrderStatus,
    Origin,
    Policy,
    ReturnType,
    Step,
    reconcile,
    reconcile_cancellation,
    reconcile_return,
)

from ._client import Cancellation, Return
from ._orders import order_status, structure
from ._vocabulary import DEFAULT_VOCABULARY, TikTokVocabulary

_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class WebhookType(enum.IntEnum):
    """The webhook `type` numbers TikTok documents, under TikTok's event names.

    Sources: the payload samples of fudiwei/DotNetCore.SKIT.FlurlHttpClient.ByteDance
    (TikTokGlobalShop `EventSamples`: 1, 3, 4, 5, 6, 7, 11, 12, 15, 16),
    EcomPHP/tiktokshop-php `src/Webhook.php` (1 to 5) and the event type enum
    of laraditz/tiktok `src/Enums/EventType.php` (the rest). Type 2 is the
    legacy reverse (after-sale) status update, replaced by 11 and 12. Only
    `USED_WEBHOOK_TYPES` are read into their own values; the others parse as
    `UnusedWebhook`.
    """

    ORDER_STATUS_CHANGE = 1
    REVERSE_STATUS_UPDATE = 2
    RECIPIENT_ADDRESS_UPDATE = 3
    PACKAGE_UPDATE = 4
    PRODUCT_STATUS_CHANGE = 5
    SELLER_DEAUTHORIZATION = 6
    UPCOMING_AUTHORIZATION_EXPIRATION = 7
    CANCELLATION_STATUS_CHANGE = 11
    RETURN_STATUS_CHANGE = 12
    NEW_CONVERSATION = 13
    NEW_MESSAGE = 14
    PRODUCT_INFORMATION_CHANGE = 15
    PRODUCT_CREATION = 16
    SHOPPABLE_CONTENT_POSTING = 17
    PRODUCT_CATEGORY_CHANGE = 18
    SIZE_CHART_CHANGE = 19
    CREATOR_DEAUTHORIZATION = 20
    INBOUND_FBT_ORDER_STATUS_CHANGE = 21
    FBT_MERCHANT_ONBOARDING = 22
    GOODS_MATCH = 23
    FBT_INVENTORY_UPDATE = 24
    OPPORTUNITY_MATCHING_STATUS_CHANGE = 25
    INVENTORY_STATUS_CHANGE = 27
    NEW_MESSAGE_LISTENER = 33
    TOKOPEDIA_MIRROR_STATUS_CHANGE = 35
    INVOICE_STATUS_CHANGE = 36
    PRODUCT_AUDIT_STATUS_CHANGE = 37
    STRIKETHROUGH_PRICE_EXPIRED = 38
    ACTIVITY_STATUS_CHANGE = 39
    COMBINED_LISTING_CHANGE = 42
    IMAGE_TRANSLATION_COMPLETED = 46
    SKU_STATUS_CHANGE = 50
    GLOBAL_REPLICATION_STATUS_CHANGE = 51
    GLOBAL_LISTING_METHOD_CHANGE = 52
    VIDEO_PRECHECK_RESULT = 55
    SAMPLE_APPLICATION_STATUS_CHANGE = 56
    FBT_MCF_ORDER_STATUS = 58
    SHOPPABLE_VIDEO_PRECHECK_TASKS_RESULT = 59
    PRODUCT_PACKAGE_RECOMMENDED = 62
    ACTIVITY_CHANGE = 63
    AFTERSALES_REQUEST_STATUS_UPDATE = 64
    RMA_STATUS_UPDATE = 65
    APPEAL_COMPLETED = 66
    REFUND_SUCCESS = 67
    INVENTORY_CHANGED = 68
    INVENTORY_CHANGED_BY_SHOP = 71


#: The webhook types read into their own values; every other one is an `UnusedWebhook`.
USED_WEBHOOK_TYPES: frozenset[WebhookType] = frozenset(
    {
        WebhookType.ORDER_STATUS_CHANGE,
        WebhookType.RECIPIENT_ADDRESS_UPDATE,
        WebhookType.PACKAGE_UPDATE,
        WebhookType.SELLER_DEAUTHORIZATION,
        WebhookType.UPCOMING_AUTHORIZATION_EXPIRATION,
        WebhookType.CANCELLATION_STATUS_CHANGE,
        WebhookType.RETURN_STATUS_CHANGE,
    }
)


class CancelStatus(enum.StrEnum):
    """`cancel_status` of a cancellation webhook."""

    PENDING = "CANCELLATION_REQUEST_PENDING"
    SUCCESS = "CANCELLATION_REQUEST_SUCCESS"
    CANCEL = "CANCELLATION_REQUEST_CANCEL"
    COMPLETE = "CANCELLATION_REQUEST_COMPLETE"


class TikTokReturnStatus(enum.StrEnum):
    """`return_status` of a return webhook (other spellings: `TikTokVocabulary`)."""

    PENDING = "RETURN_OR_REFUND_REQUEST_PENDING"
    REJECT = "RETURN_OR_REFUND_REQUEST_REJECT"
    AWAITING_BUYER_SHIP = "AWAITING_BUYER_SHIP"
    BUYER_SHIPPED_ITEM = "BUYER_SHIPPED_ITEM"
    REJECT_RECEIVE_PACKAGE = "REJECT_RECEIVE_PACKAGE"
    SUCCESS = "RETURN_OR_REFUND_REQUEST_SUCCESS"
    CANCEL = "RETURN_OR_REFUND_REQUEST_CANCEL"
    COMPLETE = "RETURN_OR_REFUND_REQUEST_COMPLETE"
    AWAITING_BUYER_RESPONSE = "AWAITING_BUYER_RESPONSE"


#: The lifecycle's cancellation status each TikTok `cancel_status` means. TikTok
#: does not say whether a request closed without cancelling was withdrawn by the
#: buyer or rejected by the seller (**unconfirmed**): either will do.
CANCELLATION_GOALS: Mapping[CancelStatus, frozenset[CancellationStatus]] = {
    CancelStatus.PENDING: frozenset({CancellationStatus.PENDING}),
    CancelStatus.SUCCESS: frozenset({CancellationStatus.APPROVED}),
    CancelStatus.CANCEL: frozenset({CancellationStatus.WITHDRAWN, CancellationStatus.REJECTED}),
    CancelStatus.COMPLETE: frozenset({CancellationStatus.APPROVED}),
}

# --------------------------------------------------------------------------- parsed webhooks


@frozen
class OrderStatusChanged:
    """Type 1: the order's status changed."""

    shop_id: str
    timestamp: datetime
    order_id: str
    order_status: OrderStatus
    update_time: datetime
    is_on_hold_order: bool | None = None

    @property
    def at(self) -> datetime:
        return self.update_time


@frozen
class CancellationStatusChanged:
    """Type 11: a cancellation request changed; `role` is who asked for it.

    The webhook names no lines and no reason. `cancellation_change` builds the
    same value from a Search Cancellations result, with `line_item_ids`
    (`cancel_line_items[].order_line_item_id`) and `reason` (`cancel_reason`):
    with lines, a cancellation of one line of three stays one line.
    """

    shop_id: str
    timestamp: datetime
    order_id: str
    cancel_id: str
    cancel_status: CancelStatus
    role: Initiator | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None
    line_item_ids: tuple[str, ...] = ()
    reason: str = ""

    @property
    def at(self) -> datetime:
        return self.update_time or self.create_time or self.timestamp


@frozen
class ReturnStatusChanged:
    """Type 12: a return, refund or replacement request changed.

    The webhook names no lines. `return_change` builds the same value from a
    Search Returns result, with `line_item_ids`
    (`return_line_items[].order_line_item_id`), `reason` (`return_reason`)
    and `return_tracking_number`: the fields of the return table of the
    Logicbroker TikTok Shop connector that the order's own lines do not give
    (seller SKU, product id and SKU id are on the lines; quantity is the
    number of lines, one unit each in 202309).
    """

    shop_id: str
    timestamp: datetime
    order_id: str
    return_id: str
    return_status: str  # a `TikTokReturnStatus` for the statuses this library names
    return_type: ReturnType | None = None
    role: Initiator | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None
    line_item_ids: tuple[str, ...] = ()
    reason: str = ""
    return_tracking_number: str | None = None

    @property
    def at(self) -> datetime:
        return self.update_time or self.create_time or self.timestamp

    @property
    def request_time(self) -> datetime | None:
        """When the buyer asked: the return's `create_time`."""
        return self.create_time


@frozen
class PackageRef:
    """One `package_list[]` entry of a package webhook: a package and its orders."""

    package_id: str
    order_ids: tuple[str, ...]


@frozen
class PackageUpdated:
    """Type 4: packages were split or combined. A signal only: re-read the orders named.

    TikTok's `data` is `{sc_type, role_type, package_list: [{package_id,
    order_id_list}], update_time}` (fudiwei/DotNetCore.SKIT.FlurlHttpClient.ByteDance,
    TikTokGlobalShop `EventSamples/PackageUpdateEvent.json`): there is no
    top-level `order_id`, and one webhook may name several orders.
    """

    shop_id: str
    timestamp: datetime
    packages: tuple[PackageRef, ...]
    sc_type: str | None = None
    role_type: str | None = None
    update_time: datetime | None = None

    @property
    def order_ids(self) -> tuple[str, ...]:
        """Every order the packages name, each once, in the order first named."""
        return tuple(dict.fromkeys(i for p in self.packages for i in p.order_ids))

    @property
    def at(self) -> datetime:
        return self.update_time or self.timestamp


@frozen
class RecipientAddressUpdated:
    """Type 3: the buyer changed the shipping address. A signal: re-read the order detail."""

    shop_id: str
    timestamp: datetime
    order_id: str
    update_time: datetime | None = None

    @property
    def at(self) -> datetime:
        return self.update_time or self.timestamp


@frozen
class UnusedWebhook:
    """A webhook of a type the library does not use, or does not know (`name` "unknown").

    Correctly signed, it is kept and answered 2xx, so TikTok does not
    redeliver it; nothing in the lifecycle follows from it.
    """

    shop_id: str
    timestamp: datetime
    type: int
    name: str

    @property
    def at(self) -> datetime:
        return self.timestamp


@frozen
class SellerDeauthorized:
    """Type 6: the seller removed the app's authorisation for the shop."""

    shop_id: str
    timestamp: datetime
    data: Mapping[str, Any] = field(factory=dict, hash=False)


@frozen
class AuthorizationExpiring:
    """Type 7: the shop's authorisation expires soon; the seller must authorise again."""

    shop_id: str
    timestamp: datetime
    expiration_time: datetime | None = None
    message: str = ""


Webhook = (
    OrderStatusChanged
    | CancellationStatusChanged
    | ReturnStatusChanged
    | PackageUpdated
    | RecipientAddressUpdated
    | SellerDeauthorized
    | AuthorizationExpiring
    | UnusedWebhook
)

# --------------------------------------------------------------------------- wire shapes


@frozen
class _Envelope:
    type: int
    shop_id: str
    timestamp: datetime
    data: dict[str, Any] = field(factory=dict)


@frozen
class _OrderStatusData:
    order_id: str
    order_status: str
    update_time: datetime
    is_on_hold_order: bool | None = None


@frozen
class _CancellationData:
    order_id: str
    cancel_id: str
    cancel_status: str
    cancellations_role: str | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None


@frozen
class _ReturnData:
    order_id: str
    return_id: str
    return_status: str
    return_type: str | None = None
    return_role: str | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None


@frozen
class _PackageEntry:
    package_id: str
    order_id_list: tuple[str, ...] = ()


@frozen
class _PackageData:
    package_list: tuple[_PackageEntry, ...]
    sc_type: str | None = None
    role_type: str | None = None
    update_time: datetime | None = None


@frozen
class _AddressData:
    order_id: str
    update_time: datetime | None = None


@frozen
class _ExpiringData:
    message: str | None = None
    expiration_time: datetime | None = None


# --------------------------------------------------------------------------- verify


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def webhook_signature(raw_body: bytes, app_key: str, app_secret: str) -> str:
    """The `Authorization` value TikTok sends with `raw_body` (lowercase hex)."""
    return hmac.new(app_secret.encode(), app_key.encode() + raw_body, hashlib.sha256).hexdigest()


def verify_webhook(
    headers: Mapping[str, str], raw_body: bytes, app_key: str, app_secret: str
) -> None:
    """Raise `InvalidSignature` unless `Authorization` signs exactly `raw_body`."""
    given = _header(headers, "Authorization")
    if given is None or not given.strip():
        raise InvalidSignature("the webhook has no Authorization header")
    given = given.strip()
    if not _HEX_SHA256.fullmatch(given):
        raise InvalidSignature("the Authorization header is not a hex HMAC-SHA256 signature")
    expected = webhook_signature(raw_body, app_key, app_secret)
    if not hmac.compare_digest(given.lower().encode(), expected.encode()):
        raise InvalidSignature("the Authorization signature does not match the body")


# --------------------------------------------------------------------------- parse


def _known(enum_type: type[enum.StrEnum], value: str, what: str) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        raise UnknownValue(what, value, tuple(e.value for e in enum_type)) from None


def _role(value: str | None, what: str, vocabulary: TikTokVocabulary) -> Initiator | None:
    return vocabulary.initiator(value, what) if value else None


def _return_status(value: str, vocabulary: TikTokVocabulary) -> str:
    spelled = vocabulary.return_status(value)
    try:
        return TikTokReturnStatus(spelled)
    except ValueError:
        return spelled  # a status the vocabulary adds


def _order_status_change(envelope: _Envelope, _vocabulary: TikTokVocabulary) -> OrderStatusChanged:
    data = structure(envelope.data, _OrderStatusData, "data")
    return OrderStatusChanged(
        envelope.shop_id,
        envelope.timestamp,
        data.order_id,
        order_status(data.order_status),
        data.update_time,
        data.is_on_hold_order,
    )


def _cancellation_change(
    envelope: _Envelope, vocabulary: TikTokVocabulary
) -> CancellationStatusChanged:
    data = structure(envelope.data, _CancellationData, "data")
    return CancellationStatusChanged(
        envelope.shop_id,
        envelope.timestamp,
        data.order_id,
        data.cancel_id,
        _known(CancelStatus, data.cancel_status, "cancel_status"),
        _role(data.cancellations_role, "cancellations_role", vocabulary),
        data.create_time,
        data.update_time,
    )


def _return_change(envelope: _Envelope, vocabulary: TikTokVocabulary) -> ReturnStatusChanged:
    data = structure(envelope.data, _ReturnData, "data")
    return ReturnStatusChanged(
        envelope.shop_id,
        envelope.timestamp,
        data.order_id,
        data.return_id,
        _return_status(data.return_status, vocabulary),
        _known(ReturnType, data.return_type, "return_type") if data.return_type else None,
        _role(data.return_role, "return_role", vocabulary),
        data.create_time,
        data.update_time,
    )


def _package_update(envelope: _Envelope, _vocabulary: TikTokVocabulary) -> PackageUpdated:
    data = structure(envelope.data, _PackageData, "data")
    packages = tuple(PackageRef(p.package_id, p.order_id_list) for p in data.package_list)
    return PackageUpdated(
        envelope.shop_id,
        envelope.timestamp,
        packages,
        data.sc_type,
        data.role_type,
        data.update_time,
    )


def _address_update(envelope: _Envelope, _vocabulary: TikTokVocabulary) -> RecipientAddressUpdated:
    data = structure(envelope.data, _AddressData, "data")
    return RecipientAddressUpdated(
        envelope.shop_id, envelope.timestamp, data.order_id, data.update_time
    )


def _deauthorized(envelope: _Envelope, _vocabulary: TikTokVocabulary) -> SellerDeauthorized:
    return SellerDeauthorized(envelope.shop_id, envelope.timestamp, envelope.data)


def _expiring(envelope: _Envelope, _vocabulary: TikTokVocabulary) -> AuthorizationExpiring:
    data = structure(envelope.data, _ExpiringData, "data")
    return AuthorizationExpiring(
        envelope.shop_id, envelope.timestamp, data.expiration_time, data.message or ""
    )


_PARSERS: Mapping[WebhookType, Callable[[_Envelope, TikTokVocabulary], Webhook]] = {
    WebhookType.ORDER_STATUS_CHANGE: _order_status_change,
    WebhookType.RECIPIENT_ADDRESS_UPDATE: _address_update,
    WebhookType.PACKAGE_UPDATE: _package_update,
    WebhookType.SELLER_DEAUTHORIZATION: _deauthorized,
    WebhookType.UPCOMING_AUTHORIZATION_EXPIRATION: _expiring,
    WebhookType.CANCELLATION_STATUS_CHANGE: _cancellation_change,
    WebhookType.RETURN_STATUS_CHANGE: _return_change,
}


def _check_text(raw: Mapping[str, Any]) -> None:
    """Refuse text no store can keep: a lone surrogate (`\\ud800`) or a NUL character.

    JSON lets both through as escapes; SQLite cannot encode the one and
    PostgreSQL refuses the other, so they are bad input here, named by path.
    """
    stack: list[tuple[str, Any]] = [("", raw)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, Mapping):
            stack.extend(
                (f"{path}.{key}" if path else str(key), item) for key, item in value.items()
            )
            stack.extend((f"{path}.<key>", key) for key in value)
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, str):
            if "\x00" in value:
                raise MalformedPayload(f"{path or 'webhook'}: a NUL character is not text")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise MalformedPayload(
                    f"{path or 'webhook'}: a lone surrogate is not text (not UTF-8)"
                ) from None


def parse_webhook(raw_body: bytes, *, vocabulary: TikTokVocabulary = DEFAULT_VOCABULARY) -> Webhook:
    """The webhook in `raw_body`; raises `MalformedPayload` or `UnknownValue` naming the fault.

    Roles and return statuses are read with `vocabulary`.

    `MalformedPayload` means the body is not a TikTok envelope (not JSON, no
    integer `type`, no `shop_id` or `timestamp`) or a used type lacks a
    mandatory field. A type the library does not use or does not know is an
    `UnusedWebhook`, never an error.
    """
    try:
        raw = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedPayload("the webhook body is not JSON") from None
    return parse_webhook_object(raw, vocabulary=vocabulary)


def parse_webhook_object(raw: Any, *, vocabulary: TikTokVocabulary = DEFAULT_VOCABULARY) -> Webhook:
    """`parse_webhook` for a body the caller already decoded with `json.loads`.

    The same checks and the same errors; a caller that needs the envelope for
    something else too (its identity, a dedup key) decodes the body once.
    """
    if not isinstance(raw, Mapping):
        raise MalformedPayload(f"the webhook must be a JSON object, got {type(raw).__name__}")
    _check_text(raw)
    kind = raw.get("type")
    if isinstance(kind, bool) or not isinstance(kind, int):
        got = "nothing" if kind is None else f"a {type(kind).__name__}"
        raise MalformedPayload(f"webhook: type must be an integer, got {got}")
    envelope = structure(raw, _Envelope, "webhook")
    try:
        known = WebhookType(kind)
    except ValueError:
        return UnusedWebhook(envelope.shop_id, envelope.timestamp, kind, "unknown")
    parser = _PARSERS.get(known)
    if parser is None:
        return UnusedWebhook(envelope.shop_id, envelope.timestamp, kind, known.name)
    return parser(envelope, vocabulary)


def webhook_order_ids(webhook: Webhook) -> tuple[str, ...]:
    """The orders `webhook` is about: one, several (a package update), or none (shop-level)."""
    if isinstance(webhook, PackageUpdated):
        return webhook.order_ids
    if isinstance(webhook, SellerDeauthorized | AuthorizationExpiring | UnusedWebhook):
        return ()
    return (webhook.order_id,)


def read_webhook(
    headers: Mapping[str, str],
    raw_body: bytes,
    app_key: str,
    app_secret: str,
    *,
    vocabulary: TikTokVocabulary = DEFAULT_VOCABULARY,
) -> Webhook:
    """`verify_webhook`, then `parse_webhook`: nothing is parsed before the signature holds."""
    verify_webhook(headers, raw_body, app_key, app_secret)
    return parse_webhook(raw_body, vocabulary=vocabulary)


# --------------------------------------------------------------------------- commands


def _commands(order: Order, steps: Sequence[Step], at: datetime) -> tuple[Command, ...]:
    return tuple(
        Command(order.order_id, step.event, step.initiator, at, Origin.TIKTOK, step.params)
        for step in steps
    )


def webhook_commands(
    webhook: Webhook,
    order: Order | None,
    *,
    policy: Policy = DEFAULT_POLICY,
    cancelled_by: Initiator | None = None,
    vocabulary: TikTokVocabulary = DEFAULT_VOCABULARY,
) -> tuple[Command, ...]:
    """The lifecycle commands `webhook` implies for `order` (as stored), in order.

    Authorisation, package, address and unused webhooks imply none (`order`
    may be `None` for them): the package and address ones are signals to
    re-read the order detail. `cancelled_by` is who cancelled when the caller
    knows it from the order detail's `cancellation_initiator`; an order
    status webhook does not say. A cancellation or return that carries
    `line_item_ids` (from `cancellation_change` / `return_change`) applies to
    those lines only, with its `reason`. Applying the commands in sequence
    with `Command.apply_to` is legal.
    """
    if isinstance(
        webhook,
        SellerDeauthorized
        | AuthorizationExpiring
        | PackageUpdated
        | RecipientAddressUpdated
        | UnusedWebhook,
    ):
        return ()
    if order is None:
        raise ValueError(f"a {type(webhook).__name__} webhook needs the order it is about")
    if order.order_id != webhook.order_id:
        raise ValueError(f"webhook for order {webhook.order_id} given order {order.order_id}")
    if isinstance(webhook, OrderStatusChanged):
        steps = reconcile(
            order,
            webhook.order_status,
            observed_at=webhook.update_time,
            cancelled_by=cancelled_by,
            policy=policy,
        )
        return _commands(order, steps, webhook.update_time)
    if isinstance(webhook, CancellationStatusChanged):
        steps = reconcile_cancellation(
            order,
            webhook.cancel_id,
            CANCELLATION_GOALS[webhook.cancel_status],
            at=webhook.at,
            cancelled_by=webhook.role,
            line_item_ids=webhook.line_item_ids,
            reason=webhook.reason,
            policy=policy,
        )
        return _commands(order, steps, webhook.at)
    goal = vocabulary.return_goal(webhook.return_status)
    if goal is None:
        return ()  # a proposal awaiting the buyer
    steps = reconcile_return(
        order,
        webhook.return_id,
        goal,
        at=webhook.at,
        return_type=webhook.return_type,
        line_item_ids=webhook.line_item_ids,
        reason=webhook.reason,
        tracking_number=webhook.return_tracking_number,
        requested_at=webhook.request_time,
        policy=policy,
    )
    return _commands(order, steps, webhook.at)


# --------------------------------------------------------------------------- search results


def cancellation_change(
    cancellation: Cancellation,
    shop_id: str,
    at: datetime,
    vocabulary: TikTokVocabulary = DEFAULT_VOCABULARY,
) -> CancellationStatusChanged:
    """A Search Cancellations result as the change a type 11 webhook reports, with its lines.

    `at` is when the result was read (the webhook's `timestamp`). Raises
    `UnknownValue` for a status or role this library does not know.
    """
    return CancellationStatusChanged(
        shop_id,
        at,
        cancellation.order_id,
        cancellation.cancel_id,
        _known(CancelStatus, cancellation.cancel_status, "cancel_status"),
        _role(cancellation.role, "role", vocabulary),
        cancellation.create_time,
        cancellation.update_time,
        cancellation.line_item_ids,
        cancellation.reason,
    )


def return_change(
    found: Return, shop_id: str, at: datetime, vocabulary: TikTokVocabulary = DEFAULT_VOCABULARY
) -> ReturnStatusChanged:
    """A Search Returns result as the change a type 12 webhook reports, with its lines.

    `at` is when the result was read. Raises `UnknownValue` for a status,
    type or role this library does not know.
    """
    return ReturnStatusChanged(
        shop_id,
        at,
        found.order_id,
        found.return_id,
        _return_status(found.return_status, vocabulary),
        _known(ReturnType, found.return_type, "return_type") if found.return_type else None,
        _role(found.role, "role", vocabulary),
        found.create_time,
        found.update_time,
        found.line_item_ids,
        found.reason,
        found.return_tracking_number,
    )
