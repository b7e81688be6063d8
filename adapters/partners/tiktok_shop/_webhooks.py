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
   own time, so nothing is echoed back to TikTok. Order statuses go through
   `lifecycle.reconcile`; cancellation and return statuses through the same
   kind of shortest-legal-path search over their own events.

Webhooks arrive late, twice or out of order (TikTok Shop's webhook documentation). A webhook
whose news the order already holds implies no command, so duplicates are
harmless; one that no legal sequence of events explains raises (`OutOfStep`,
or the lifecycle's `StaleObservation` / `NoLegalPath` for order statuses):
re-read the order with Get Order Detail and reconcile from that.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from attrs import field, frozen

from adapters.errors import InboundError, InvalidSignature, MalformedPayload, UnknownValue
from lifecycle import (
    DEFAULT_POLICY,
    CancellationStatus,
    Command,
    Initiator,
    LifecycleError,
    LineStatus,
    Order,
    OrderStatus,
    Origin,
    Policy,
    ReturnRequest,
    ReturnStatus,
    ReturnType,
    apply,
    reconcile,
)

from ._client import Cancellation, Return
from ._orders import initiator_for, order_status, structure

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
    """`return_status` of a return webhook, both spellings of the rejection included."""

    PENDING = "RETURN_OR_REFUND_REQUEST_PENDING"
    REJECT = "RETURN_OR_REFUND_REQUEST_REJECT"
    REJECT_ALT = "REFUND_OR_RETURN_REQUEST_REJECT"
    AWAITING_BUYER_SHIP = "AWAITING_BUYER_SHIP"
    BUYER_SHIPPED_ITEM = "BUYER_SHIPPED_ITEM"
    REJECT_RECEIVE_PACKAGE = "REJECT_RECEIVE_PACKAGE"
    SUCCESS = "RETURN_OR_REFUND_REQUEST_SUCCESS"
    CANCEL = "RETURN_OR_REFUND_REQUEST_CANCEL"
    COMPLETE = "RETURN_OR_REFUND_REQUEST_COMPLETE"
    AWAITING_BUYER_RESPONSE = "AWAITING_BUYER_RESPONSE"


#: The lifecycle's return status each TikTok return status means. `SUCCESS` and
#: `COMPLETE` as refunded is **unconfirmed** (TikTok's descriptions are terse);
#: `AWAITING_BUYER_RESPONSE` (the seller proposed something) implies no event.
RETURN_GOALS: Mapping[TikTokReturnStatus, ReturnStatus | None] = {
    TikTokReturnStatus.PENDING: ReturnStatus.REQUESTED,
    TikTokReturnStatus.REJECT: ReturnStatus.REJECTED,
    TikTokReturnStatus.REJECT_ALT: ReturnStatus.REJECTED,
    TikTokReturnStatus.AWAITING_BUYER_SHIP: ReturnStatus.AWAITING_BUYER_SHIPMENT,
    TikTokReturnStatus.BUYER_SHIPPED_ITEM: ReturnStatus.BUYER_SHIPPED,
    TikTokReturnStatus.REJECT_RECEIVE_PACKAGE: ReturnStatus.REJECTED,
    TikTokReturnStatus.SUCCESS: ReturnStatus.REFUNDED,
    TikTokReturnStatus.CANCEL: ReturnStatus.CANCELLED,
    TikTokReturnStatus.COMPLETE: ReturnStatus.REFUNDED,
    TikTokReturnStatus.AWAITING_BUYER_RESPONSE: None,
}


class OutOfStep(InboundError):
    """No legal sequence of lifecycle events explains the webhook from the stored order.

    Re-read the order (Get Order Detail) and reconcile from what it says.
    """


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
    return_status: TikTokReturnStatus
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


def _role(value: str | None, what: str) -> Initiator | None:
    return initiator_for(value, what) if value else None


def _order_status_change(envelope: _Envelope) -> OrderStatusChanged:
    data = structure(envelope.data, _OrderStatusData, "data")
    return OrderStatusChanged(
        envelope.shop_id,
        envelope.timestamp,
        data.order_id,
        order_status(data.order_status),
        data.update_time,
        data.is_on_hold_order,
    )


def _cancellation_change(envelope: _Envelope) -> CancellationStatusChanged:
    data = structure(envelope.data, _CancellationData, "data")
    return CancellationStatusChanged(
        envelope.shop_id,
        envelope.timestamp,
        data.order_id,
        data.cancel_id,
        _known(CancelStatus, data.cancel_status, "cancel_status"),
        _role(data.cancellations_role, "cancellations_role"),
        data.create_time,
        data.update_time,
    )


def _return_change(envelope: _Envelope) -> ReturnStatusChanged:
    data = structure(envelope.data, _ReturnData, "data")
    return ReturnStatusChanged(
        envelope.shop_id,
        envelope.timestamp,
        data.order_id,
        data.return_id,
        _known(TikTokReturnStatus, data.return_status, "return_status"),
        _known(ReturnType, data.return_type, "return_type") if data.return_type else None,
        _role(data.return_role, "return_role"),
        data.create_time,
        data.update_time,
    )


def _package_update(envelope: _Envelope) -> PackageUpdated:
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


def _address_update(envelope: _Envelope) -> RecipientAddressUpdated:
    data = structure(envelope.data, _AddressData, "data")
    return RecipientAddressUpdated(
        envelope.shop_id, envelope.timestamp, data.order_id, data.update_time
    )


def _deauthorized(envelope: _Envelope) -> SellerDeauthorized:
    return SellerDeauthorized(envelope.shop_id, envelope.timestamp, envelope.data)


def _expiring(envelope: _Envelope) -> AuthorizationExpiring:
    data = structure(envelope.data, _ExpiringData, "data")
    return AuthorizationExpiring(
        envelope.shop_id, envelope.timestamp, data.expiration_time, data.message or ""
    )


_PARSERS: Mapping[WebhookType, Callable[[_Envelope], Webhook]] = {
    WebhookType.ORDER_STATUS_CHANGE: _order_status_change,
    WebhookType.RECIPIENT_ADDRESS_UPDATE: _address_update,
    WebhookType.PACKAGE_UPDATE: _package_update,
    WebhookType.SELLER_DEAUTHORIZATION: _deauthorized,
    WebhookType.UPCOMING_AUTHORIZATION_EXPIRATION: _expiring,
    WebhookType.CANCELLATION_STATUS_CHANGE: _cancellation_change,
    WebhookType.RETURN_STATUS_CHANGE: _return_change,
}


def parse_webhook(raw_body: bytes) -> Webhook:
    """The webhook in `raw_body`; raises `MalformedPayload` or `UnknownValue` naming the fault.

    `MalformedPayload` means the body is not a TikTok envelope (not JSON, no
    integer `type`, no `shop_id` or `timestamp`) or a used type lacks a
    mandatory field. A type the library does not use or does not know is an
    `UnusedWebhook`, never an error.
    """
    try:
        raw = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedPayload("the webhook body is not JSON") from None
    if not isinstance(raw, Mapping):
        raise MalformedPayload(f"the webhook must be a JSON object, got {type(raw).__name__}")
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
    return parser(envelope)


def webhook_order_ids(webhook: Webhook) -> tuple[str, ...]:
    """The orders `webhook` is about: one, several (a package update), or none (shop-level)."""
    if isinstance(webhook, PackageUpdated):
        return webhook.order_ids
    if isinstance(webhook, SellerDeauthorized | AuthorizationExpiring | UnusedWebhook):
        return ()
    return (webhook.order_id,)


def read_webhook(
    headers: Mapping[str, str], raw_body: bytes, app_key: str, app_secret: str
) -> Webhook:
    """`verify_webhook`, then `parse_webhook`: nothing is parsed before the signature holds."""
    verify_webhook(headers, raw_body, app_key, app_secret)
    return parse_webhook(raw_body)


# --------------------------------------------------------------------------- commands


@frozen
class _Move:
    event: str
    initiator: Initiator
    params: tuple[tuple[str, Any], ...] = ()


def _state(order: Order) -> object:
    return (
        order.status,
        order.cancellation,
        order.returns,
        tuple(line.status for line in order.lines),
    )


def _path(
    order: Order,
    reached: Callable[[Order], bool],
    moves: Sequence[_Move],
    *,
    at: datetime,
    policy: Policy,
    what: str,
) -> tuple[_Move, ...]:
    """The shortest legal sequence of `moves` (as TikTok's reports) after which `reached`."""
    if reached(order):
        return ()
    seen = {_state(order)}
    queue: deque[tuple[Order, tuple[_Move, ...]]] = deque([(order, ())])
    while queue:
        current, path = queue.popleft()
        if len(path) >= 6:
            continue
        for move in moves:
            try:
                outcome = apply(
                    current,
                    move.event,
                    initiator=move.initiator,
                    now=at,
                    origin=Origin.TIKTOK,
                    policy=policy,
                    **dict(move.params),
                )
            except LifecycleError:
                continue
            if reached(outcome.order):
                return (*path, move)
            state = _state(outcome.order)
            if state not in seen:
                seen.add(state)
                queue.append((outcome.order, (*path, move)))
    raise OutOfStep(
        f"order {order.order_id} is {order.status}: no legal sequence of events reaches {what};"
        " re-read the order detail"
    )


def _detail(line_item_ids: tuple[str, ...], reason: str) -> tuple[tuple[str, Any], ...]:
    """The lines and reason a search result adds; left out when the webhook had none."""
    lines = (("line_item_ids", line_item_ids),) if line_item_ids else ()
    return lines + ((("reason", reason),) if reason else ())


def _cancellation_moves(webhook: CancellationStatusChanged) -> list[_Move]:
    cid = (("cancel_id", webhook.cancel_id),)
    request = cid + _detail(webhook.line_item_ids, webhook.reason)
    if webhook.cancel_status is CancelStatus.PENDING:
        return [_Move("request_cancellation", Initiator.BUYER, request)]
    if webhook.cancel_status is CancelStatus.CANCEL:
        # TikTok does not say whether the buyer withdrew or the seller rejected (unconfirmed).
        return [
            _Move("withdraw_cancellation", Initiator.BUYER, cid),
            _Move("reject_cancellation", Initiator.SELLER, cid),
        ]
    moves = [_Move("approve_cancellation", Initiator.PLATFORM, cid)]
    if webhook.role not in (None, Initiator.PLATFORM):
        assert webhook.role is not None
        moves.append(_Move("cancel", webhook.role, request))
    moves += [
        _Move("cancel", Initiator.PLATFORM, request),
        _Move("request_cancellation", Initiator.BUYER, request),
    ]
    return moves


def _cancellation_goal(webhook: CancellationStatusChanged) -> Callable[[Order], bool]:
    cid, status = webhook.cancel_id, webhook.cancel_status

    def known(order: Order) -> bool:
        return order.cancellation is not None and order.cancellation.cancel_id == cid

    if status is CancelStatus.PENDING:
        return known
    if status is CancelStatus.CANCEL:
        # A closed request the order never heard of implies nothing.
        return lambda o: not known(o) or not o.cancellation.is_pending  # type: ignore[union-attr]
    lines = webhook.line_item_ids
    return lambda o: (
        o.status is OrderStatus.CANCELLED
        or (
            known(o) and o.cancellation.status is CancellationStatus.APPROVED  # type: ignore[union-attr]
        )
        or (bool(lines) and _all_cancelled(o, lines))
    )


def _all_cancelled(order: Order, line_item_ids: tuple[str, ...]) -> bool:
    """Every line named is cancelled (a line the order does not have is not)."""
    cancelled = set(order.line_ids(LineStatus.CANCELLED))
    return all(i in cancelled for i in line_item_ids)


_RETURN_RANK = {
    ReturnStatus.REQUESTED: 0,
    ReturnStatus.APPROVED: 1,
    ReturnStatus.AWAITING_BUYER_SHIPMENT: 1,
    ReturnStatus.BUYER_SHIPPED: 2,
    ReturnStatus.RECEIVED: 3,
}


def _return(order: Order, return_id: str) -> ReturnRequest | None:
    return next((r for r in order.returns if r.return_id == return_id), None)


def _return_goal(return_id: str, goal: ReturnStatus) -> Callable[[Order], bool]:
    """The return is at `goal`, or already past it (a late webhook)."""

    def reached(order: Order) -> bool:
        found = _return(order, return_id)
        if found is None:
            return False
        if found.status is goal:
            return True
        ranks = _RETURN_RANK
        return found.status in ranks and goal in ranks and ranks[found.status] >= ranks[goal]

    return reached


def _return_moves(webhook: ReturnStatusChanged) -> list[_Move]:
    rid = (("return_id", webhook.return_id),)
    tracking = webhook.return_tracking_number
    shipped = rid + ((("return_tracking_number", tracking),) if tracking else ())
    requested = webhook.request_time
    request = (
        shipped
        + ((("return_type", webhook.return_type.value),) if webhook.return_type else ())
        + _detail(webhook.line_item_ids, webhook.reason)
        + ((("requested_at", requested.isoformat()),) if requested else ())
    )
    return [
        _Move("request_return", Initiator.BUYER, request),
        _Move("approve_return", Initiator.PLATFORM, rid),
        _Move("ship_return", Initiator.BUYER, shipped),
        _Move("receive_return", Initiator.PLATFORM, rid),
        _Move("refund", Initiator.PLATFORM, rid),
        _Move("reject_return", Initiator.SELLER, rid),
        _Move("withdraw_return", Initiator.BUYER, rid),
    ]


def _commands(order: Order, moves: Sequence[_Move], at: datetime) -> tuple[Command, ...]:
    return tuple(
        Command(order.order_id, m.event, m.initiator, at, Origin.TIKTOK, dict(m.params))
        for m in moves
    )


def webhook_commands(
    webhook: Webhook,
    order: Order | None,
    *,
    policy: Policy = DEFAULT_POLICY,
    cancelled_by: Initiator | None = None,
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
        moves = [_Move(step.event, step.initiator) for step in steps]
        return _commands(order, moves, webhook.update_time)
    if order.status.is_final:
        return ()  # nothing happens to a completed or cancelled order any more
    if isinstance(webhook, CancellationStatusChanged):
        what = f"cancellation {webhook.cancel_id} {webhook.cancel_status}"
        goal = _cancellation_goal(webhook)
        path = _path(
            order, goal, _cancellation_moves(webhook), at=webhook.at, policy=policy, what=what
        )
        return _commands(order, path, webhook.at)
    target = RETURN_GOALS[webhook.return_status]
    known = _return(order, webhook.return_id)
    if target is None or (known is not None and not known.status.is_open):
        return ()  # a proposal awaiting the buyer, or news about a closed return
    what = f"return {webhook.return_id} {webhook.return_status}"
    path = _path(
        order,
        _return_goal(webhook.return_id, target),
        _return_moves(webhook),
        at=webhook.at,
        policy=policy,
        what=what,
    )
    return _commands(order, path, webhook.at)


# --------------------------------------------------------------------------- search results


def cancellation_change(
    cancellation: Cancellation, shop_id: str, at: datetime
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
        _role(cancellation.role, "role"),
        cancellation.create_time,
        cancellation.update_time,
        cancellation.line_item_ids,
        cancellation.reason,
    )


def return_change(found: Return, shop_id: str, at: datetime) -> ReturnStatusChanged:
    """A Search Returns result as the change a type 12 webhook reports, with its lines.

    `at` is when the result was read. Raises `UnknownValue` for a status,
    type or role this library does not know.
    """
    return ReturnStatusChanged(
        shop_id,
        at,
        found.order_id,
        found.return_id,
        _known(TikTokReturnStatus, found.return_status, "return_status"),
        _known(ReturnType, found.return_type, "return_type") if found.return_type else None,
        _role(found.role, "role"),
        found.create_time,
        found.update_time,
        found.line_item_ids,
        found.reason,
        found.return_tracking_number,
    )
