"""TikTok Sync Order Information: report an order's status to TikTok
(Commanders Act TikTok Sync Order Information destination).

It carries out the lifecycle's `SyncOrderInfo` effects. The API is TikTok's
hotel / travel order feed: every field sits under `order_info`, and besides the
order it wants the stay (nights, rooms, dates) and, on completion, what was
fulfilled and the commission base. The core `Order` knows none of that, so the
caller passes a `SyncOrderData` beside it: an optional `StayRecord`, the
amounts only the OMS knows, and the OMS's own data for `{{path}}` mapping.

Flow: `build_order_info` (pure) -> `order_info_problems` / `validate_order_info`
(pure, every problem at once) -> `SyncOrderInfoClient.execute` (sends).

**Unconfirmed** in the public record, hence settings: the endpoint URL, the
auth header, the full status list (the lifecycle's `Policy.sync_order_statuses`
chooses which statuses are reported, `order_statuses` names each in TikTok's
terms), the field carrying the `ttoclid`, the date format and the answer's
envelope (read as TikTok's usual `{code, message, request_id}`). Who
cancelled is named by `initiators`; a cancellation made by TikTok itself is
`MERCHANT` by default.

Errors are the shared tree of `adapters.errors`; a payload that breaks the
rules raises `InvalidPayload` (a `RejectedError`) before anything is sent.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs
import cattrs
import httpx
from attrs import field, frozen

from adapters._util import frozen_mapping
from adapters.errors import (
    InvalidPayload,
    Problem,
    SettingsError,
)
from adapters.http._outbound import (
    Call,
    Envelope,
    MoneyFormat,
    apply_field_map,
    asend,
    cents,
    is_missing,
    lookup,
    money_converter,
    read_envelope,
    send,
    set_path,
    to_decimal,
    wire_money,
)
from adapters.http._redact import register_secret
from adapters.http._retry import RetryPolicy
from lifecycle import Initiator, LineStatus, Order, OrderLine, OrderStatus, SyncOrderInfo

__all__ = [
    "MANDATORY",
    "MANDATORY_ON_CANCEL",
    "MANDATORY_ON_COMPLETE",
    "ORDER_STATUSES",
    "PARTNER",
    "SYNC_INITIATORS",
    "AsyncSyncOrderInfoClient",
    "Commission",
    "Extra",
    "InvalidPayload",
    "OrderInfo",
    "Promotion",
    "Sku",
    "Spu",
    "StayRecord",
    "SyncOrderData",
    "SyncOrderInfoClient",
    "SyncOrderInfoSettings",
    "Value",
    "build_body",
    "build_order_info",
    "converter",
    "order_info_problems",
    "validate_order_info",
]

PARTNER = "tiktok-sync-order-info"

MANDATORY: tuple[str, ...] = (
    "order_id",
    "third_merchant_id",
    "third_shop_id",
    "third_shop_name",
    "order_status",
    "order_country",
    "create_time",
    "update_time",
    "value.currency",
    "value.payment_value",
    "value.total_value",
    "extra.length_of_stay",
    "extra.amount_of_room",
    "extra.check_in_date",
    "extra.check_out_date",
    "spu_list.0.sku_list.0.third_sku_id",
    "spu_list.0.sku_list.0.third_sku_name",
)
"""Fields marked [*], mandatory whatever the status (paths under `order_info`).

From the Commanders Act TikTok Sync Order Information destination.
"""

MANDATORY_ON_CANCEL: tuple[str, ...] = ("initiator",)
MANDATORY_ON_COMPLETE: tuple[str, ...] = (
    "value.fulfillment_value",
    "value.fulfillment_tax",
    "value.fulfillment_service_fee",
    "value.commission_value.0.currency",
    "value.commission_value.0.commission_base_amount",
)
INITIATORS = frozenset({"MERCHANT", "CUSTOMER"})

_MONEY_FIELDS = (
    "payment_value",
    "total_value",
    "discounts",
    "total_room_fee",
    "total_tax",
    "total_service_fee",
    "fulfillment_value",
    "fulfillment_tax",
    "fulfillment_service_fee",
)
MONEY_PATHS = frozenset(
    {
        *(f"value.{name}" for name in _MONEY_FIELDS),
        "value.commission_value.0.commission_base_amount",
        "promotion_info.saved_amount",
    }
)


ORDER_STATUSES: Mapping[OrderStatus, str] = MappingProxyType(
    {OrderStatus.CANCELLED: "CANCEL_ORDER", OrderStatus.COMPLETED: "COMPLETE_ORDER"}
)
"""The default `SyncOrderInfoSettings.order_statuses`: the two statuses the public record names."""

SYNC_INITIATORS: Mapping[Initiator, str] = MappingProxyType(
    {Initiator.BUYER: "CUSTOMER", Initiator.SELLER: "MERCHANT", Initiator.PLATFORM: "MERCHANT"}
)
"""The default `SyncOrderInfoSettings.initiators`; TikTok's own cancellations as `MERCHANT`."""


def _initiator_names(
    _instance: object, attribute: attrs.Attribute[Any], value: Mapping[Any, str]
) -> None:
    missing = [who.value for who in Initiator if who not in value]
    wrong = sorted({name for name in value.values() if name not in INITIATORS})
    if missing or wrong:
        raise SettingsError(
            f"{attribute.name} must name every initiator ({', '.join(Initiator)}) as MERCHANT"
            f" or CUSTOMER; missing {missing or 'none'}, not allowed {wrong or 'none'}"
        )


def _one_of(allowed: frozenset[str]) -> Any:
    return attrs.validators.optional(attrs.validators.in_(allowed))


# --- input beside the order ---------------------------------------------------------------------


@frozen
class StayRecord:
    """The hotel stay an order is for: what `order_info.extra` reports.

    Partner-neutral: an OMS that sells stays keeps these with its booking.
    """

    check_in: date
    check_out: date
    rooms: int = field(default=1, validator=attrs.validators.ge(1))
    actual_occupancy: int | None = None
    no_show: bool | None = None
    cancel_reason: str | None = None

    @property
    def nights(self) -> int:
        """Length of stay: nights between check-in and check-out."""
        return (self.check_out - self.check_in).days


@frozen
class SyncOrderData:
    """What Sync Order Information needs that the order does not carry.

    Amounts left `None` are derived from the order (see `build_order_info`);
    `oms` is the OMS's own data that `{{path}}` templates in
    `SyncOrderInfoSettings.field_map` read from.
    """

    stay: StayRecord | None = None
    ttoclid: str | None = None
    order_url: str | None = None
    spu_id: str | None = None
    spu_name: str | None = None
    total_room_fee: Decimal | None = None
    total_service_fee: Decimal | None = None
    total_value: Decimal | None = None
    payment_value: Decimal | None = None
    discounts: Decimal | None = None
    fulfillment_value: Decimal | None = None
    fulfillment_tax: Decimal | None = None
    fulfillment_service_fee: Decimal | None = None
    commission_base_amount: Decimal | None = None
    commission_currency: str | None = None
    promotion_id: str | None = None
    promotion_description: str | None = None
    promotion_saved_amount: Decimal | None = None
    oms: Mapping[str, Any] = field(factory=dict, converter=frozen_mapping, repr=False, hash=False)


# --- settings -----------------------------------------------------------------------------------


@frozen
class SyncOrderInfoSettings:
    """How to reach Sync Order Information and fill the merchant's fields.

    url:
        The endpoint. **Unconfirmed**: TikTok gives it to integrated merchants;
        no public default exists, so it is required.
    access_token:
        Sent in `auth_header`; never in a `repr`, log or error.
    auth_header / auth_prefix:
        **Unconfirmed**. Default `Access-Token` with no prefix, as TikTok's
        Business API (Events API) takes its token.
    third_merchant_id, third_shop_id, third_shop_name, order_country:
        The merchant as created within TikTok, the hotel as in your system and
        the country the hotel is in (settings of the Commanders Act TikTok Sync
        Order Information destination, all mandatory).
    money:
        Amounts as decimal strings (default) or JSON numbers.
    order_statuses:
        TikTok's `order_status` for each lifecycle status the lifecycle reports
        (`Policy.sync_order_statuses`). The default names only the two the
        public record names: cancelled `CANCEL_ORDER`, completed
        `COMPLETE_ORDER`; TikTok's full list is not public, so add the others
        your account manager gives you. A reported status with no name here is
        refused (`InvalidPayload`) before anything is sent.
    initiators:
        TikTok's `initiator` (`MERCHANT` or `CUSTOMER`) for who cancelled. A
        cancellation made by TikTok itself is neither: **unconfirmed**, default
        `MERCHANT` (the merchant's order was cancelled without the customer
        asking).
    cancel_status / complete_status:
        The statuses whose extra rules apply (`initiator`; fulfilment and
        commission). Default `CANCEL_ORDER` / `COMPLETE_ORDER`
        (Commanders Act TikTok Sync Order Information destination).
    ttoclid_path:
        Where under `order_info` the organic click id goes. **Unconfirmed**
        (the Commanders Act destination names the setting, not the field); default `ttoclid`;
        `None` leaves it out.
    date_format:
        `strftime` format of check-in and check-out. **Unconfirmed**; default
        ISO `%Y-%m-%d`.
    field_map:
        Smart mapping: path under `order_info` -> `"{{path.in.oms.data}}"` or a
        literal. Applied last, so it overrides what the order gives.
    auth_codes / retryable_codes:
        Answer codes meaning a refused token / "try again". **Unconfirmed** for
        this API; default as the Events API: 40105 and none.
    """

    url: str
    access_token: str = field(repr=False)
    third_merchant_id: str
    third_shop_id: str
    third_shop_name: str
    order_country: str
    auth_header: str = "Access-Token"
    auth_prefix: str = field(default="", repr=False)
    money: MoneyFormat = field(default=MoneyFormat.STRING, converter=MoneyFormat)
    order_statuses: Mapping[OrderStatus, str] = field(
        default=ORDER_STATUSES, converter=frozen_mapping, hash=False
    )
    initiators: Mapping[Initiator, str] = field(
        default=SYNC_INITIATORS, converter=frozen_mapping, validator=_initiator_names, hash=False
    )
    cancel_status: str = "CANCEL_ORDER"
    complete_status: str = "COMPLETE_ORDER"
    ttoclid_path: str | None = "ttoclid"
    date_format: str = "%Y-%m-%d"
    field_map: Mapping[str, Any] = field(factory=dict, converter=frozen_mapping, hash=False)
    auth_codes: frozenset[int] = frozenset({40105})
    retryable_codes: frozenset[int] = frozenset()

    def headers(self) -> dict[str, str]:
        return {self.auth_header: f"{self.auth_prefix}{self.access_token}"}


# --- the wire shape -----------------------------------------------------------------------------


@frozen
class Sku:
    third_sku_id: str | None = None
    third_sku_name: str | None = None


@frozen
class Spu:
    third_spu_id: str | None = None
    third_spu_name: str | None = None
    sku_list: tuple[Sku, ...] = ()


@frozen
class Commission:
    currency: str | None = None
    commission_base_amount: Decimal | None = None


@frozen
class Value:
    currency: str | None = None
    payment_value: Decimal | None = None
    total_value: Decimal | None = None
    discounts: Decimal | None = None
    total_room_fee: Decimal | None = None
    total_tax: Decimal | None = None
    total_service_fee: Decimal | None = None
    fulfillment_value: Decimal | None = None
    fulfillment_tax: Decimal | None = None
    fulfillment_service_fee: Decimal | None = None
    commission_value: tuple[Commission, ...] = ()


@frozen
class Extra:
    length_of_stay: int | None = None
    amount_of_room: int | None = None
    check_in_date: str | None = None
    check_out_date: str | None = None
    actual_occupancy: int | None = None
    no_show: bool | None = None
    cancel_reason: str | None = None


@frozen
class Promotion:
    promotion_id: str | None = None
    description: str | None = None
    saved_amount: Decimal | None = None


@frozen
class OrderInfo:
    """`order_info` as the Commanders Act TikTok Sync Order Information destination lays it out.

    `None` fields are left out of the body.
    """

    order_id: str
    third_merchant_id: str
    third_shop_id: str
    third_shop_name: str
    order_status: str
    order_country: str
    create_time: int
    update_time: int
    value: Value
    extra: Extra
    spu_list: tuple[Spu, ...]
    initiator: str | None = None
    order_url: str | None = None
    promotion_info: Promotion | None = None


@functools.cache
def converter(money: MoneyFormat = MoneyFormat.STRING) -> cattrs.Converter:
    """This partner's converter: `None` fields omitted, money in the configured format."""
    return money_converter(money)


# --- building -----------------------------------------------------------------------------------


def _seconds(moment: Any) -> int:
    return int(moment.timestamp())


def _live_lines(order: Order) -> tuple[OrderLine, ...]:
    live = tuple(line for line in order.lines if line.status is not LineStatus.CANCELLED)
    return live or order.lines


def _skus(order: Order) -> tuple[Sku, ...]:
    """One SKU per distinct sku id: in API 202309 two units of a SKU are two lines."""
    seen: dict[str, Sku] = {}
    for line in _live_lines(order):
        sku_id = line.sku_id or line.seller_sku or line.line_item_id
        seen.setdefault(sku_id, Sku(sku_id, line.product_name or None))
    return tuple(seen.values())


def _value(order: Order, data: SyncOrderData) -> Value:
    """Amounts: `total_value = room + tax + service`; `payment_value = total_value - discounts`.

    Defaults from the order: TikTok's `sub_total` is after discounts, so the
    room fee before discounts is `sub_total + discounts`; the service fee is the
    shipping fee; the tax is `taxes`. Then `payment_value` equals
    `total_amount` whenever TikTok's own totals add up.
    """
    discounts = _or(data.discounts, order.seller_discount + order.platform_discount)
    room = _or(data.total_room_fee, order.sub_total + discounts)
    service = _or(data.total_service_fee, order.shipping_fee)
    total = _or(data.total_value, room + order.taxes + service)
    commission: tuple[Commission, ...] = ()
    if data.commission_base_amount is not None:
        currency = data.commission_currency or order.currency
        commission = (Commission(currency, data.commission_base_amount),)
    return Value(
        currency=order.currency,
        payment_value=_or(data.payment_value, total - discounts),
        total_value=total,
        discounts=discounts,
        total_room_fee=room,
        total_tax=order.taxes,
        total_service_fee=service,
        fulfillment_value=data.fulfillment_value,
        fulfillment_tax=data.fulfillment_tax,
        fulfillment_service_fee=data.fulfillment_service_fee,
        commission_value=commission,
    )


def _or(value: Decimal | None, default: Decimal) -> Decimal:
    return default if value is None else value


def _extra(stay: StayRecord | None, date_format: str) -> Extra:
    if stay is None:
        return Extra()
    return Extra(
        length_of_stay=stay.nights,
        amount_of_room=stay.rooms,
        check_in_date=stay.check_in.strftime(date_format),
        check_out_date=stay.check_out.strftime(date_format),
        actual_occupancy=stay.actual_occupancy,
        no_show=stay.no_show,
        cancel_reason=stay.cancel_reason,
    )


def _promotion(data: SyncOrderData) -> Promotion | None:
    promotion = Promotion(
        data.promotion_id, data.promotion_description, data.promotion_saved_amount
    )
    return None if promotion == Promotion() else promotion


def build_order_info(
    order: Order,
    effect: SyncOrderInfo,
    settings: SyncOrderInfoSettings,
    data: SyncOrderData | None = None,
) -> OrderInfo:
    """The typed `order_info` for `effect`, before smart mapping. Pure."""
    data = data or SyncOrderData()
    status = settings.order_statuses.get(effect.status)
    if status is None:
        raise InvalidPayload(
            PARTNER,
            [
                Problem(
                    "order_status",
                    f"no Sync Order Information status for {effect.status}: add it to"
                    " SyncOrderInfoSettings.order_statuses",
                )
            ],
        )
    initiator = None if effect.cancelled_by is None else settings.initiators[effect.cancelled_by]
    product_id = next((line.product_id for line in order.lines if line.product_id), None)
    return OrderInfo(
        order_id=order.order_id,
        third_merchant_id=settings.third_merchant_id,
        third_shop_id=settings.third_shop_id,
        third_shop_name=settings.third_shop_name,
        order_status=status,
        order_country=settings.order_country,
        create_time=_seconds(order.created_at),
        update_time=_seconds(effect.update_time),
        initiator=initiator,
        order_url=data.order_url,
        value=_value(order, data),
        extra=_extra(data.stay, settings.date_format),
        spu_list=(Spu(data.spu_id or product_id, data.spu_name, _skus(order)),),
        promotion_info=_promotion(data),
    )


def build_body(
    order: Order,
    effect: SyncOrderInfo,
    settings: SyncOrderInfoSettings,
    data: SyncOrderData | None = None,
) -> dict[str, Any]:
    """The request body `{"order_info": {...}}`, smart mapping applied. Pure, not validated."""
    data = data or SyncOrderData()
    conv = converter(settings.money)
    info: dict[str, Any] = conv.unstructure(build_order_info(order, effect, settings, data))
    if settings.ttoclid_path and data.ttoclid:
        set_path(info, settings.ttoclid_path, data.ttoclid)

    def money(path: str, value: Any) -> Any:
        amount = to_decimal(value) if path in MONEY_PATHS else None
        return value if amount is None else wire_money(amount, settings.money)

    apply_field_map(info, settings.field_map, data.oms, money)
    return {"order_info": info}


# --- validation ---------------------------------------------------------------------------------


def order_info_problems(
    info: Mapping[str, Any],
    *,
    cancel_status: str = "CANCEL_ORDER",
    complete_status: str = "COMPLETE_ORDER",
) -> list[Problem]:
    """Everything wrong with `order_info`: missing fields for its status, then money rules."""
    status = info.get("order_status")
    required = list(MANDATORY)
    if status == cancel_status:
        required += MANDATORY_ON_CANCEL
    if status == complete_status:
        required += MANDATORY_ON_COMPLETE
    problems = [Problem(path, "missing") for path in required if is_missing(lookup(info, path))]
    initiator = info.get("initiator")
    if status == cancel_status and not is_missing(initiator) and initiator not in INITIATORS:
        problems.append(Problem("initiator", "must be MERCHANT or CUSTOMER"))
    return problems + _money_problems(info)


def _money_problems(info: Mapping[str, Any]) -> list[Problem]:
    amounts: dict[str, Decimal] = {}
    problems: list[Problem] = []
    for path in sorted(MONEY_PATHS):
        raw = lookup(info, path)
        if raw is None:
            continue
        amount = to_decimal(raw)
        if amount is None or amount < 0:
            problems.append(Problem(path, "must be an amount >= 0"))
        else:
            amounts[path.removeprefix("value.")] = amount
    return problems + _rule_problems(amounts)


def _rule_problems(amounts: Mapping[str, Decimal]) -> list[Problem]:
    """The two money equations, compared to the cent.

    As the Commanders Act TikTok Sync Order Information destination states them.
    """
    problems = []
    payment, total = amounts.get("payment_value"), amounts.get("total_value")
    discounts = amounts.get("discounts", Decimal(0))
    if payment is not None and total is not None and cents(payment) != cents(total - discounts):
        problems.append(
            Problem(
                "value.payment_value",
                f"{payment} != total_value {total} - discounts {discounts}",
            )
        )
    parts = ("total_room_fee", "total_tax", "total_service_fee")
    if total is not None and any(part in amounts for part in parts):
        summed = sum((amounts.get(part, Decimal(0)) for part in parts), Decimal(0))
        if cents(total) != cents(summed):
            problems.append(
                Problem(
                    "value.total_value",
                    f"{total} != total_room_fee + total_tax + total_service_fee {summed}",
                )
            )
    return problems


def validate_order_info(info: Mapping[str, Any], settings: SyncOrderInfoSettings) -> None:
    """Raise `InvalidPayload` listing every problem, or return when `info` may be sent."""
    problems = order_info_problems(
        info, cancel_status=settings.cancel_status, complete_status=settings.complete_status
    )
    if problems:
        raise InvalidPayload(PARTNER, problems)


# --- clients ------------------------------------------------------------------------------------


class _SyncOrderInfoBase:
    """Everything but the sending: build, validate and describe the call."""

    def __init__(self, settings: SyncOrderInfoSettings, retry: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        register_secret(settings.access_token)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.settings.url!r})"

    def call(
        self, order: Order, effect: SyncOrderInfo, data: SyncOrderData | None = None
    ) -> Call[Envelope]:
        """The validated request for `effect`; raises `InvalidPayload` instead of sending junk."""
        settings = self.settings
        body = build_body(order, effect, settings, data)
        validate_order_info(body["order_info"], settings)

        def interpret(response: httpx.Response) -> Envelope:
            return read_envelope(
                PARTNER,
                response,
                retryable_codes=settings.retryable_codes,
                auth_codes=settings.auth_codes,
            )

        return Call(PARTNER, "POST", settings.url, interpret, body=body, headers=settings.headers())


class SyncOrderInfoClient(_SyncOrderInfoBase):
    """Carries out `SyncOrderInfo` effects with an injected `httpx.Client`."""

    def __init__(
        self,
        client: httpx.Client,
        settings: SyncOrderInfoSettings,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(settings, retry)
        self.client = client

    def execute(
        self, order: Order, effect: SyncOrderInfo, data: SyncOrderData | None = None
    ) -> Envelope:
        return send(self.client, self.call(order, effect, data), self.retry)


class AsyncSyncOrderInfoClient(_SyncOrderInfoBase):
    """`SyncOrderInfoClient` for an `httpx.AsyncClient`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: SyncOrderInfoSettings,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(settings, retry)
        self.client = client

    async def execute(
        self, order: Order, effect: SyncOrderInfo, data: SyncOrderData | None = None
    ) -> Envelope:
        return await asend(self.client, self.call(order, effect, data), self.retry)
