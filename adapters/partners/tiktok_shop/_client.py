"""The TikTok Shop API client: the calls, the envelope, and carrying out effects.

Every call is described once, as data (the shared `adapters.http.Call`:
method, URL, query, body, and how to read the answer: the shared envelope
reader, then the call's reader of `data`); a multi-step operation such as shipping a package is a
*plan*, a generator that yields calls and receives their results. The sync
`TikTokShopClient` and the async `AsyncTikTokShopClient` differ only in how
they send one call; everything else (request building, the envelope, error
mapping, retries, the ship lookup) is shared.

Errors (see `adapters.errors`): transport failures, timeouts, HTTP 429 and
5xx, and TikTok's retryable codes raise `RetryableError` and are retried with
backoff and jitter under the client's `RetryPolicy`; everything else raises
`RejectedError` (`AuthenticationError` for auth codes) at once. Each carries
the partner, HTTP status, TikTok's code and message, and `request_id`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import httpx
from attrs import field, frozen

from adapters._util import frozen_mapping
from adapters.errors import (
    LookupFailed,
    MalformedPayload,
    ShippingProviderNotFound,
)
from adapters.http import (
    Call,
    RetryPolicy,
    acall_with_retries,
    call_with_retries,
    read_envelope,
    transport_error,
)
from lifecycle import (
    ApproveTikTokCancellation,
    ApproveTikTokReturn,
    CancelTikTokOrder,
    Effect,
    RejectTikTokCancellation,
    ShipTikTokPackage,
)

from ._orders import TikTokOrder, structure
from ._signing import PARTNER, TikTokShopAuth
from ._vocabulary import DEFAULT_VOCABULARY, TikTokVocabulary

T = TypeVar("T")
R = TypeVar("R")


CANCEL_REASON_CODES: Mapping[str, str] = MappingProxyType(
    {
        "out of stock": "ecom_order_to_ship_canceled_reason_out_of_stock",
        "change payment method": "ecom_order_to_ship_canceled_reason_change_payment_method",
    }
)
"""Default `TikTokShopSettings.cancel_reason_codes` (codes from public SDK samples)."""

REJECT_REASON_CODES: Mapping[str, str] = MappingProxyType(
    {
        "product has been packed": "seller_reject_apply_product_has_been_packed",
        "packed": "seller_reject_apply_product_has_been_packed",
        "agreement with the buyer": (
            "seller_reject_apply_you_have_reached_an_agreement_with_the_buyer"
        ),
    }
)
"""Default `TikTokShopSettings.reject_reason_codes` (codes from public SDK samples)."""

_CODE_SHAPE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")


def _words(reason: str) -> str:
    return " ".join(re.split(r"[\s_-]+", reason.strip().lower())).strip()


def reason_code(reason: str, codes: Mapping[str, str], default: str | None) -> str | None:
    """TikTok's reason code for our `reason`: looked up, passed on when it is a code, else
    `default`. Free text never comes back. Pure."""
    text = reason.strip()
    if not text:
        return default
    found = {_words(word): code for word, code in codes.items()}.get(_words(text))
    if found:
        return found
    if text in codes.values() or _CODE_SHAPE.fullmatch(text):
        return text
    return default


@frozen
class TikTokShopSettings:
    """Where TikTok Shop is and the facts that are settings, with their defaults.

    base_url:
        The API host (TikTok Shop Open API (202309) documentation).
    retryable_codes:
        Envelope codes worth retrying. **Unconfirmed**, from third-party
        integrations: 36009002 "too many requests", 36009003 "internal error".
    auth_code_prefixes:
        Envelope codes that are auth / token errors: those starting `105` or
        `360` (TikTok Shop Open API error codes), unless listed as retryable.
    order_detail_batch_size:
        How many ids one Get Order Detail call asks for. **Unconfirmed**; 50.
    search_page_size:
        `page_size` of Search Orders, Search Cancellations and Search Returns.
        **Unconfirmed** maximum; 50.
    cancel_reason_codes, reject_reason_codes:
        Our reason words -> TikTok's reason code for Cancel Order
        (`cancel_reason`) and Reject Cancellation (`reject_reason`). TikTok
        takes codes, never free text: an effect's reason is looked up here
        (case, spaces, `-` and `_` ignored); a reason that already is one of
        these codes, or is shaped like one (`seller_reject_apply_...`: lower
        case words joined by `_`), is sent as it is; anything else is not sent
        and the default below is used. Defaults (`CANCEL_REASON_CODES`,
        `REJECT_REASON_CODES`) hold codes seen in public SDK samples
        (hsib19/tiktok-shop-sdk, TikTok Shop Partner Center samples); which
        codes a region accepts is **unconfirmed**: Get Reject Reasons lists
        them for a shop.
    default_cancel_reason, default_reject_reason:
        TikTok's reason codes used when the effect's reason is empty or not a
        code. TikTok's lists differ by region and are not in the public
        record: no default; a call without a code is refused before it is
        sent.
    ship_handover_method:
        Ship Package's `handover_method` (`PICKUP` / `DROP_OFF`); left out by
        default, so TikTok's own default applies.
    vocabulary:
        Which TikTok strings mean what (roles, return statuses, shipped line
        statuses): `TikTokVocabulary`, its defaults **unconfirmed** tables.
    return_decisions:
        Approve Return's `decision` per `return_type`. **Unconfirmed** (public
        SDKs): `APPROVE_REFUND` for refunds, `APPROVE_RETURN` for returns,
        `APPROVE_REPLACEMENT` for replacements.
    """

    base_url: str = "https://open-api.tiktokglobalshop.com"
    retryable_codes: frozenset[int] = frozenset({36009002, 36009003})
    auth_code_prefixes: tuple[str, ...] = ("105", "360")
    order_detail_batch_size: int = 50
    search_page_size: int = 50
    default_cancel_reason: str | None = None
    default_reject_reason: str | None = None
    cancel_reason_codes: Mapping[str, str] = field(
        default=CANCEL_REASON_CODES, converter=frozen_mapping, hash=False
    )
    reject_reason_codes: Mapping[str, str] = field(
        default=REJECT_REASON_CODES, converter=frozen_mapping, hash=False
    )
    vocabulary: TikTokVocabulary = DEFAULT_VOCABULARY
    ship_handover_method: str | None = None
    return_decisions: Mapping[str, str] = field(
        factory=lambda: {
            "REFUND": "APPROVE_REFUND",
            "RETURN_AND_REFUND": "APPROVE_RETURN",
            "REPLACEMENT": "APPROVE_REPLACEMENT",
        },
        hash=False,
    )


# --------------------------------------------------------------------------- results


@frozen
class ShippingProvider:
    """One carrier of a delivery option (Get Shipping Providers)."""

    id: str
    name: str


@frozen
class Shipped:
    """What Ship Package was called with, after the lookups."""

    order_id: str
    package_id: str
    shipping_provider_id: str
    tracking_number: str


@frozen
class CancellationCreated:
    """Cancel Order's answer."""

    order_id: str
    cancel_id: str | None
    cancel_status: str | None


@frozen
class Cancellation:
    """One cancellation from Search Cancellations, under TikTok's field names.

    `line_item_ids` are `cancel_line_items[].order_line_item_id`, `reason` is
    `cancel_reason` (a code such as `ecom_order_to_ship_canceled_reason_*`)
    and `reason_text` its wording (`cancel_reason_text`). Field names follow
    the response sample of fudiwei/DotNetCore.SKIT.FlurlHttpClient.ByteDance
    (`ModelSamples/_/ReturnRefund/Cancellations`) and the types of
    hsib19/tiktok-shop-sdk (`SearchCancellationResponse`).
    """

    cancel_id: str
    order_id: str
    cancel_status: str
    role: str | None = None
    line_item_ids: tuple[str, ...] = ()
    cancel_type: str | None = None
    reason: str = ""
    reason_text: str = ""
    create_time: datetime | None = None
    update_time: datetime | None = None


@frozen
class Return:
    """One return, refund or replacement request from Search Returns.

    `line_item_ids` are `return_line_items[].order_line_item_id`, `reason` is
    `return_reason` and `reason_text` its wording; `return_tracking_number`
    and `return_provider_name` describe the buyer's parcel back. Field names
    as for `Cancellation` (`ModelSamples/_/ReturnRefund/Returns`,
    `SearchReturnResponse`).
    """

    return_id: str
    order_id: str
    return_status: str
    return_type: str | None = None
    role: str | None = None
    line_item_ids: tuple[str, ...] = ()
    reason: str = ""
    reason_text: str = ""
    return_tracking_number: str | None = None
    return_provider_name: str | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None


@frozen
class Page(Generic[T]):
    """One page of a search, and the token of the next (`None` on the last page)."""

    items: tuple[T, ...]
    next_page_token: str | None = None
    total_count: int | None = None


# --------------------------------------------------------------------------- calls


Plan = Generator[Call[Any], Any, T]


def _nothing(_data: Any) -> None:
    return None


def _object(data: Any, what: str) -> Mapping[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise MalformedPayload(f"{what}: data must be a JSON object, got {type(data).__name__}")
    return data


def _list(data: Any, key: str, what: str) -> list[Any]:
    items = _object(data, what).get(key, [])
    if not isinstance(items, list):
        raise MalformedPayload(f"{what}: {key} must be a list, got {type(items).__name__}")
    return items


def _read_orders(data: Any) -> tuple[TikTokOrder, ...]:
    items = _list(data, "orders", "Get Order Detail")
    return tuple(structure(raw, TikTokOrder, f"orders[{i}]") for i, raw in enumerate(items))


def _read_providers(data: Any) -> tuple[ShippingProvider, ...]:
    items = _list(data, "shipping_providers", "Get Shipping Providers")
    return tuple(
        structure(raw, ShippingProvider, f"shipping_providers[{i}]") for i, raw in enumerate(items)
    )


def _read_cancel(order_id: str) -> Callable[[Any], CancellationCreated]:
    def read(data: Any) -> CancellationCreated:
        body = _object(data, "Cancel Order")
        cancel_id, status = body.get("cancel_id"), body.get("cancel_status")
        return CancellationCreated(
            order_id=order_id,
            cancel_id=cancel_id if isinstance(cancel_id, str) else None,
            cancel_status=status if isinstance(status, str) else None,
        )

    return read


@frozen
class _LineRef:
    order_line_item_id: str | None = None


@frozen
class _CancellationWire:
    cancel_id: str
    order_id: str
    cancel_status: str
    role: str | None = None
    cancel_type: str | None = None
    cancel_reason: str | None = None
    cancel_reason_text: str | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None
    cancel_line_items: tuple[_LineRef, ...] = ()


@frozen
class _ReturnWire:
    return_id: str
    order_id: str
    return_status: str
    return_type: str | None = None
    role: str | None = None
    return_reason: str | None = None
    return_reason_text: str | None = None
    return_tracking_number: str | None = None
    return_provider_name: str | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None
    return_line_items: tuple[_LineRef, ...] = ()


def _ids(lines: tuple[_LineRef, ...]) -> tuple[str, ...]:
    return tuple(line.order_line_item_id for line in lines if line.order_line_item_id)


def _read_page(key: str, what: str, build: Callable[[Any, str], T]) -> Callable[[Any], Page[T]]:
    def read(data: Any) -> Page[T]:
        items = _list(data, key, what)
        body = _object(data, what)
        token, total = body.get("next_page_token"), body.get("total_count")
        parsed = tuple(build(raw, f"{what}: {key}[{i}]") for i, raw in enumerate(items))
        return Page(
            parsed,
            token if isinstance(token, str) and token else None,
            total if isinstance(total, int) and not isinstance(total, bool) else None,
        )

    return read


def _cancellation(raw: Any, what: str) -> Cancellation:
    wire = structure(raw, _CancellationWire, what)
    return Cancellation(
        cancel_id=wire.cancel_id,
        order_id=wire.order_id,
        cancel_status=wire.cancel_status,
        role=wire.role or None,
        line_item_ids=_ids(wire.cancel_line_items),
        cancel_type=wire.cancel_type or None,
        reason=wire.cancel_reason or "",
        reason_text=wire.cancel_reason_text or "",
        create_time=wire.create_time,
        update_time=wire.update_time,
    )


def _return(raw: Any, what: str) -> Return:
    wire = structure(raw, _ReturnWire, what)
    return Return(
        return_id=wire.return_id,
        order_id=wire.order_id,
        return_status=wire.return_status,
        return_type=wire.return_type or None,
        role=wire.role or None,
        line_item_ids=_ids(wire.return_line_items),
        reason=wire.return_reason or "",
        reason_text=wire.return_reason_text or "",
        return_tracking_number=wire.return_tracking_number or None,
        return_provider_name=wire.return_provider_name or None,
        create_time=wire.create_time,
        update_time=wire.update_time,
    )


def _order(raw: Any, what: str) -> TikTokOrder:
    return structure(raw, TikTokOrder, what)


def _unix(name: str, moment: datetime | None) -> dict[str, int]:
    """A time filter in unix seconds, as TikTok's search bodies take them."""
    if moment is None:
        return {}
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")
    return {name: int(moment.timestamp())}


def _window(ge: datetime | None, lt: datetime | None) -> dict[str, int]:
    window = {**_unix("update_time_ge", ge), **_unix("update_time_lt", lt)}
    if ge is not None and lt is not None and not ge < lt:
        raise ValueError(
            f"update_time_ge ({ge.isoformat()}) must be before update_time_lt ({lt.isoformat()})"
        )
    return window


class Calls:
    """Every call of the adapter, built from the settings. Pure: nothing is sent here."""

    def __init__(self, settings: TikTokShopSettings) -> None:
        self.settings = settings

    def order_detail(self, order_ids: Sequence[str]) -> Call[tuple[TikTokOrder, ...]]:
        """Get Order Detail: `GET /order/202309/orders?ids=a,b`."""
        return self._call("GET", "/order/202309/orders", _read_orders, {"ids": ",".join(order_ids)})

    def shipping_providers(self, delivery_option_id: str) -> Call[tuple[ShippingProvider, ...]]:
        """Get Shipping Providers of one delivery option."""
        path = f"/logistics/202309/delivery_options/{delivery_option_id}/shipping_providers"
        return self._call("GET", path, _read_providers)

    def ship_package(
        self, package_id: str, tracking_number: str, shipping_provider_id: str
    ) -> Call[None]:
        """Ship Package with the seller's own carrier (`self_shipment`)."""
        body: dict[str, Any] = {
            "self_shipment": {
                "tracking_number": tracking_number,
                "shipping_provider_id": shipping_provider_id,
            }
        }
        if self.settings.ship_handover_method:
            body["handover_method"] = self.settings.ship_handover_method
        return self._call(
            "POST", f"/fulfillment/202309/packages/{package_id}/ship", _nothing, body=body
        )

    def cancel_order(
        self, order_id: str, line_item_ids: Sequence[str] | None, reason: str = ""
    ) -> Call[CancellationCreated]:
        """Cancel Order: the whole order (`line_item_ids=None`) or those lines."""
        settings = self.settings
        cancel_reason = reason_code(
            reason, settings.cancel_reason_codes, settings.default_cancel_reason
        )
        if not cancel_reason:
            raise ValueError(
                "Cancel Order needs a cancel_reason code: map the effect's reason in"
                " TikTokShopSettings.cancel_reason_codes or set default_cancel_reason"
                " to one of TikTok's reason codes"
            )
        body: dict[str, Any] = {"order_id": order_id, "cancel_reason": cancel_reason}
        if line_item_ids is not None:
            body["order_line_item_ids"] = list(line_item_ids)
        return self._call(
            "POST", "/return_refund/202309/cancellations", _read_cancel(order_id), body=body
        )

    def approve_cancellation(self, cancel_id: str, idempotency_key: str) -> Call[None]:
        path = f"/return_refund/202309/cancellations/{cancel_id}/approve"
        return self._call("POST", path, _nothing, {"idempotency_key": idempotency_key})

    def reject_cancellation(
        self, cancel_id: str, idempotency_key: str, reason: str = "", comment: str = ""
    ) -> Call[None]:
        settings = self.settings
        reject_reason = reason_code(
            reason, settings.reject_reason_codes, settings.default_reject_reason
        )
        if not reject_reason:
            raise ValueError(
                "Reject Cancellation needs a reject_reason code: map the effect's reason in"
                " TikTokShopSettings.reject_reason_codes or set default_reject_reason"
            )
        body = {"reject_reason": reject_reason, **({"comment": comment} if comment else {})}
        path = f"/return_refund/202309/cancellations/{cancel_id}/reject"
        return self._call("POST", path, _nothing, {"idempotency_key": idempotency_key}, body)

    def approve_return(self, return_id: str, idempotency_key: str, decision: str) -> Call[None]:
        path = f"/return_refund/202309/returns/{return_id}/approve"
        return self._call(
            "POST", path, _nothing, {"idempotency_key": idempotency_key}, {"decision": decision}
        )

    def search_orders(
        self,
        *,
        update_time_ge: datetime,
        update_time_lt: datetime,
        page_token: str | None = None,
    ) -> Call[Page[TikTokOrder]]:
        """Search Orders: `POST /order/202309/orders/search`, orders updated in [ge, lt).

        The path is EcomPHP/tiktokshop-php's (`src/Resources/Order.php`);
        `page_size` and `page_token` go in the query and the filters in the
        body as fudiwei/DotNetCore.SKIT.FlurlHttpClient.ByteDance sends them
        (`TikTokShopClientExecuteOrderExtensions`, `ModelSamples/_/Order`).
        Each order is a full order object, as Get Order Detail answers.
        """
        return self._call(
            "POST",
            "/order/202309/orders/search",
            _read_page("orders", "Search Orders", _order),
            self._page(page_token),
            _window(update_time_ge, update_time_lt),
        )

    def search_cancellations(
        self,
        *,
        order_ids: Sequence[str] = (),
        cancel_ids: Sequence[str] = (),
        update_time_ge: datetime | None = None,
        update_time_lt: datetime | None = None,
        page_token: str | None = None,
    ) -> Call[Page[Cancellation]]:
        """Search Cancellations by ids and / or by update time in [ge, lt)."""
        body: dict[str, Any] = _filters(order_ids=order_ids, cancel_ids=cancel_ids)
        body.update(_window(update_time_ge, update_time_lt))
        return self._call(
            "POST",
            "/return_refund/202309/cancellations/search",
            _read_page("cancellations", "Search Cancellations", _cancellation),
            self._page(page_token),
            body,
        )

    def search_returns(
        self,
        *,
        order_ids: Sequence[str] = (),
        return_ids: Sequence[str] = (),
        update_time_ge: datetime | None = None,
        update_time_lt: datetime | None = None,
        page_token: str | None = None,
    ) -> Call[Page[Return]]:
        """Search Returns by ids and / or by update time in [ge, lt)."""
        body: dict[str, Any] = _filters(order_ids=order_ids, return_ids=return_ids)
        body.update(_window(update_time_ge, update_time_lt))
        return self._call(
            "POST",
            "/return_refund/202309/returns/search",
            _read_page("return_orders", "Search Returns", _return),
            self._page(page_token),
            body,
        )

    def _call(
        self,
        method: str,
        path: str,
        read: Callable[[Any], T],
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Call[T]:
        """The shared `Call`: TikTok's envelope read, then `read` turns its `data` into the
        result."""
        settings = self.settings

        def interpret(response: httpx.Response) -> T:
            return read(_envelope_data(response, settings))

        url = f"{settings.base_url.rstrip('/')}{path}"
        return Call(PARTNER, method, url, interpret, body=body, params=params or {})

    def _page(self, page_token: str | None) -> dict[str, str]:
        params = {"page_size": str(self.settings.search_page_size)}
        if page_token:
            params["page_token"] = page_token
        return params


def _filters(**lists: Sequence[str]) -> dict[str, list[str]]:
    return {key: list(values) for key, values in lists.items() if values}


# --------------------------------------------------------------------------- plans


def _batches(ids: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def order_detail_plan(calls: Calls, order_ids: Sequence[str]) -> Plan[tuple[TikTokOrder, ...]]:
    """Get Order Detail for any number of ids, in batches."""
    found: list[TikTokOrder] = []
    for batch in _batches(list(order_ids), calls.settings.order_detail_batch_size):
        found.extend((yield calls.order_detail(batch)))
    return tuple(found)


def _one(call: Call[T]) -> Plan[T]:
    result: T = yield call
    return result


def _normalised(name: str) -> str:
    return " ".join(name.casefold().split())


def _provider_named(providers: Sequence[ShippingProvider], name: str) -> ShippingProvider:
    wanted = _normalised(name)
    for provider in providers:
        if _normalised(provider.name) == wanted:
            return provider
    known = ", ".join(p.name for p in providers) or "none"
    raise ShippingProviderNotFound(
        PARTNER, f"no shipping provider named {name!r} for this delivery option (known: {known})"
    )


def _missing_order(order_id: str) -> str:
    return (
        f"Get Order Detail did not return order {order_id}: check the order id and that"
        " shop_cipher names the shop it was placed in (a ship command that carries"
        " package_id and shipping_provider_id needs no lookup); a local `order-lifecycle"
        " sandbox` knows only the orders it was given, so replay its sample with"
        " `order-lifecycle demo` rather than your own orders"
    )


def ship_plan(calls: Calls, effect: ShipTikTokPackage) -> Plan[Shipped]:
    """Get Order Detail -> package and delivery option; providers -> id; ship.

    The steps of TikTok for SFCC: Order Management.
    """
    package_id, provider_id = effect.package_id, effect.shipping_provider_id
    if package_id is None or provider_id is None:
        orders = yield calls.order_detail([effect.order_id])
        order = next((o for o in orders if o.id == effect.order_id), None)
        if order is None:
            raise LookupFailed(PARTNER, _missing_order(effect.order_id))
        package_id = package_id or order.package_for(effect.line_item_ids)
        if package_id is None:
            raise LookupFailed(
                PARTNER,
                f"order {effect.order_id} has no single package for lines"
                f" {', '.join(effect.line_item_ids)}; split the order by line first",
            )
        if provider_id is None:
            provider_id = yield from _provider_id(calls, effect, order)
    yield calls.ship_package(package_id, effect.tracking_number, provider_id)
    return Shipped(effect.order_id, package_id, provider_id, effect.tracking_number)


def _provider_id(calls: Calls, effect: ShipTikTokPackage, order: TikTokOrder) -> Plan[str]:
    if not effect.shipping_provider_name:
        raise LookupFailed(
            PARTNER, "ShipTikTokPackage needs a shipping_provider_id or a shipping_provider_name"
        )
    if not order.delivery_option_id:
        raise LookupFailed(PARTNER, f"order {order.id} has no delivery_option_id")
    providers = yield calls.shipping_providers(order.delivery_option_id)
    return _provider_named(providers, effect.shipping_provider_name).id


def approve_return_plan(calls: Calls, effect: ApproveTikTokReturn) -> Plan[None]:
    """Approve Return needs a `decision`, which depends on the return's type: look it up."""
    page = yield calls.search_returns(order_ids=[effect.order_id], return_ids=[effect.return_id])
    found = next((r for r in page.items if r.return_id == effect.return_id), None)
    if found is None or found.return_type is None:
        raise LookupFailed(PARTNER, f"Search Returns did not return return {effect.return_id}")
    decision = calls.settings.return_decisions.get(found.return_type)
    if decision is None:
        raise LookupFailed(PARTNER, f"no approve decision set for return_type {found.return_type}")
    yield calls.approve_return(effect.return_id, effect.idempotency_key, decision)


def effect_plan(calls: Calls, effect: Effect) -> Plan[Any]:
    """The plan that carries out one TikTok Shop effect."""
    if isinstance(effect, ShipTikTokPackage):
        return ship_plan(calls, effect)
    if isinstance(effect, CancelTikTokOrder):
        lines = None if effect.whole_order else effect.line_item_ids
        return _one(calls.cancel_order(effect.order_id, lines, effect.reason))
    if isinstance(effect, ApproveTikTokCancellation):
        return _one(calls.approve_cancellation(effect.cancel_id, effect.idempotency_key))
    if isinstance(effect, RejectTikTokCancellation):
        return _one(
            calls.reject_cancellation(effect.cancel_id, effect.idempotency_key, effect.reason)
        )
    if isinstance(effect, ApproveTikTokReturn):
        return approve_return_plan(calls, effect)
    raise TypeError(f"{effect.kind} is not a TikTok Shop effect")


# --------------------------------------------------------------------------- responses


def _envelope_data(response: httpx.Response, settings: TikTokShopSettings) -> Any:
    """`data` of a TikTok answer, or the error it means (`code != 0` is one even under 200).

    The shared `adapters.http.read_envelope` with TikTok Shop's codes: an
    answer it cannot read as success is retried, never counted done.
    """
    return read_envelope(
        PARTNER,
        response,
        retryable_codes=settings.retryable_codes,
        auth_code_prefixes=settings.auth_code_prefixes,
    ).data


# --------------------------------------------------------------------------- the clients


class _Base:
    """What both clients share: settings, auth, retry policy, and the calls."""

    def __init__(
        self,
        auth: TikTokShopAuth,
        settings: TikTokShopSettings,
        retry: RetryPolicy,
    ) -> None:
        self.auth = auth
        self.settings = settings
        self.retry = retry
        self.calls = Calls(settings)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.settings.base_url!r}, auth={self.auth!r})"


class TikTokShopClient(_Base):
    """TikTok Shop Open API (202309) over an injected `httpx.Client`.

    Example::

        client = TikTokShopClient(httpx.Client(timeout=10), auth=TikTokShopAuth(...))
        client.execute(effect)
    """

    def __init__(
        self,
        http: httpx.Client,
        auth: TikTokShopAuth,
        *,
        settings: TikTokShopSettings | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(auth, settings or TikTokShopSettings(), retry or RetryPolicy())
        self._http = http

    def _once(self, call: Call[T]) -> T:
        request = call.request(self._http)
        try:
            response = self._http.send(request, auth=self.auth)
        except httpx.TransportError as error:
            raise transport_error(PARTNER, error) from error
        return call.answer(response)

    def _send(self, call: Call[T]) -> T:
        return call_with_retries(self.retry, lambda: self._once(call))

    def _run(self, plan: Plan[T]) -> T:
        try:
            call = next(plan)
            while True:
                call = plan.send(self._send(call))
        except StopIteration as done:
            result: T = done.value
            return result

    def get_order_detail(self, order_ids: Sequence[str]) -> tuple[TikTokOrder, ...]:
        return self._run(order_detail_plan(self.calls, order_ids))

    def get_shipping_providers(self, delivery_option_id: str) -> tuple[ShippingProvider, ...]:
        return self._send(self.calls.shipping_providers(delivery_option_id))

    def ship_package(
        self, package_id: str, tracking_number: str, shipping_provider_id: str
    ) -> None:
        self._send(self.calls.ship_package(package_id, tracking_number, shipping_provider_id))

    def cancel_order(
        self, order_id: str, line_item_ids: Sequence[str] | None = None, reason: str = ""
    ) -> CancellationCreated:
        return self._send(self.calls.cancel_order(order_id, line_item_ids, reason))

    def approve_cancellation(self, cancel_id: str, idempotency_key: str) -> None:
        self._send(self.calls.approve_cancellation(cancel_id, idempotency_key))

    def reject_cancellation(self, cancel_id: str, idempotency_key: str, reason: str = "") -> None:
        self._send(self.calls.reject_cancellation(cancel_id, idempotency_key, reason))

    def approve_return(self, return_id: str, idempotency_key: str, decision: str) -> None:
        self._send(self.calls.approve_return(return_id, idempotency_key, decision))

    def search_orders(
        self,
        *,
        update_time_ge: datetime,
        update_time_lt: datetime,
        page_token: str | None = None,
    ) -> Page[TikTokOrder]:
        """One page of the orders updated in [update_time_ge, update_time_lt)."""
        return self._send(
            self.calls.search_orders(
                update_time_ge=update_time_ge, update_time_lt=update_time_lt, page_token=page_token
            )
        )

    def search_cancellations(
        self,
        *,
        order_ids: Sequence[str] = (),
        cancel_ids: Sequence[str] = (),
        update_time_ge: datetime | None = None,
        update_time_lt: datetime | None = None,
        page_token: str | None = None,
    ) -> Page[Cancellation]:
        """One page of Search Cancellations (by ids and / or update time)."""
        return self._send(
            self.calls.search_cancellations(
                order_ids=order_ids,
                cancel_ids=cancel_ids,
                update_time_ge=update_time_ge,
                update_time_lt=update_time_lt,
                page_token=page_token,
            )
        )

    def search_returns(
        self,
        *,
        order_ids: Sequence[str] = (),
        return_ids: Sequence[str] = (),
        update_time_ge: datetime | None = None,
        update_time_lt: datetime | None = None,
        page_token: str | None = None,
    ) -> Page[Return]:
        """One page of Search Returns (by ids and / or update time)."""
        return self._send(
            self.calls.search_returns(
                order_ids=order_ids,
                return_ids=return_ids,
                update_time_ge=update_time_ge,
                update_time_lt=update_time_lt,
                page_token=page_token,
            )
        )

    def execute(self, effect: Effect) -> Any:
        """Carry out one TikTok Shop effect; each call is retried under the retry policy."""
        return self._run(effect_plan(self.calls, effect))


class AsyncTikTokShopClient(_Base):
    """`TikTokShopClient` over an injected `httpx.AsyncClient`: same calls, awaited."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        auth: TikTokShopAuth,
        *,
        settings: TikTokShopSettings | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(auth, settings or TikTokShopSettings(), retry or RetryPolicy())
        self._http = http

    async def _once(self, call: Call[T]) -> T:
        request = call.request(self._http)
        try:
            response = await self._http.send(request, auth=self.auth)
        except httpx.TransportError as error:
            raise transport_error(PARTNER, error) from error
        return call.answer(response)

    async def _send(self, call: Call[T]) -> T:
        return await acall_with_retries(self.retry, lambda: self._once(call))

    async def _run(self, plan: Plan[T]) -> T:
        try:
            call = next(plan)
            while True:
                call = plan.send(await self._send(call))
        except StopIteration as done:
            result: T = done.value
            return result

    async def get_order_detail(self, order_ids: Sequence[str]) -> tuple[TikTokOrder, ...]:
        return await self._run(order_detail_plan(self.calls, order_ids))

    async def get_shipping_providers(self, delivery_option_id: str) -> tuple[ShippingProvider, ...]:
        return await self._send(self.calls.shipping_providers(delivery_option_id))

    async def ship_package(
        self, package_id: str, tracking_number: str, shipping_provider_id: str
    ) -> None:
        await self._send(self.calls.ship_package(package_id, tracking_number, shipping_provider_id))

    async def cancel_order(
        self, order_id: str, line_item_ids: Sequence[str] | None = None, reason: str = ""
    ) -> CancellationCreated:
        return await self._send(self.calls.cancel_order(order_id, line_item_ids, reason))

    async def approve_cancellation(self, cancel_id: str, idempotency_key: str) -> None:
        await self._send(self.calls.approve_cancellation(cancel_id, idempotency_key))

    async def reject_cancellation(
        self, cancel_id: str, idempotency_key: str, reason: str = ""
    ) -> None:
        await self._send(self.calls.reject_cancellation(cancel_id, idempotency_key, reason))

    async def approve_return(self, return_id: str, idempotency_key: str, decision: str) -> None:
        await self._send(self.calls.approve_return(return_id, idempotency_key, decision))

    async def search_orders(
        self,
        *,
        update_time_ge: datetime,
        update_time_lt: datetime,
        page_token: str | None = None,
    ) -> Page[TikTokOrder]:
        return await self._send(
            self.calls.search_orders(
                update_time_ge=update_time_ge, update_time_lt=update_time_lt, page_token=page_token
            )
        )

    async def search_cancellations(
        self,
        *,
        order_ids: Sequence[str] = (),
        cancel_ids: Sequence[str] = (),
        update_time_ge: datetime | None = None,
        update_time_lt: datetime | None = None,
        page_token: str | None = None,
    ) -> Page[Cancellation]:
        return await self._send(
            self.calls.search_cancellations(
                order_ids=order_ids,
                cancel_ids=cancel_ids,
                update_time_ge=update_time_ge,
                update_time_lt=update_time_lt,
                page_token=page_token,
            )
        )

    async def search_returns(
        self,
        *,
        order_ids: Sequence[str] = (),
        return_ids: Sequence[str] = (),
        update_time_ge: datetime | None = None,
        update_time_lt: datetime | None = None,
        page_token: str | None = None,
    ) -> Page[Return]:
        return await self._send(
            self.calls.search_returns(
                order_ids=order_ids,
                return_ids=return_ids,
                update_time_ge=update_time_ge,
                update_time_lt=update_time_lt,
                page_token=page_token,
            )
        )

    async def execute(self, effect: Effect) -> Any:
        return await self._run(effect_plan(self.calls, effect))
