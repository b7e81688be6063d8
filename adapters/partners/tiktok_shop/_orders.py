"""The order detail, TikTok's shape and ours: one cattrs converter for this partner.

Get Order Detail (`GET /order/202309/orders`) answers with order objects whose
field names are TikTok's. `TikTokOrder` and its parts mirror the fields an
OMS maps (the Logicbroker TikTok Shop connector's field table) under the 202309 names, and
`to_order` turns one into the lifecycle's partner-neutral `Order`;
`from_order` is the reverse, used by tests and the sandbox.

`CONVERTER` is the only cattrs converter this adapter uses (the webhook
payloads go through it too). It ignores fields it does not know, so TikTok
adding one never breaks intake, and a missing mandatory field becomes
`MalformedPayload` naming the field's path (`$.line_items[0].id`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, TypeVar

import cattrs
from attrs import field, frozen

from adapters._util import shared_amount, shared_text
from adapters.errors import MalformedPayload, UnknownValue
from lifecycle import Initiator, LineStatus, Order, OrderLine, OrderStatus, Recipient

from ._vocabulary import DEFAULT_VOCABULARY, TikTokVocabulary

T = TypeVar("T")

# --------------------------------------------------------------------------- TikTok's shape


@frozen
class TikTokPayment:
    """`payment` of an order: amounts are strings on the wire, `Decimal` here."""

    currency: str
    sub_total: Decimal = Decimal(0)
    shipping_fee: Decimal = Decimal(0)
    seller_discount: Decimal = Decimal(0)
    platform_discount: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    total_amount: Decimal = Decimal(0)


@frozen
class TikTokDistrict:
    """One `recipient_address.district_info[]` entry: `address_level_name` is e.g. `State`."""

    address_level_name: str
    address_name: str
    address_level: str | None = None


@frozen
class TikTokRecipientAddress:
    """`recipient_address`; TikTok empties it while the order is on hold."""

    name: str | None = field(default=None, repr=False)
    full_address: str | None = field(default=None, repr=False)
    phone_number: str | None = field(default=None, repr=False)
    postal_code: str | None = field(default=None, repr=False)
    region_code: str | None = None
    district_info: tuple[TikTokDistrict, ...] = ()
    address_line1: str | None = field(default=None, repr=False)
    address_line2: str | None = field(default=None, repr=False)
    address_line3: str | None = field(default=None, repr=False)
    address_line4: str | None = field(default=None, repr=False)


@frozen
class TikTokLineItem:
    """One `line_items[]` entry: one unit in 202309, so no quantity."""

    id: str
    sku_id: str | None = None
    seller_sku: str | None = None
    product_id: str | None = None
    product_name: str | None = None
    sale_price: Decimal = Decimal(0)
    original_price: Decimal = Decimal(0)
    display_status: str | None = None
    package_id: str | None = None
    tracking_number: str | None = None
    shipping_provider_id: str | None = None
    shipping_provider_name: str | None = None
    seller_discount: Decimal = Decimal(0)
    platform_discount: Decimal = Decimal(0)


@frozen
class TikTokPackage:
    """One `packages[]` entry."""

    id: str


@frozen
class TikTokOrder:
    """One order object of Get Order Detail, restricted to the fields this library uses."""

    id: str
    status: str
    create_time: datetime
    payment: TikTokPayment
    line_items: tuple[TikTokLineItem, ...]
    update_time: datetime | None = None
    paid_time: datetime | None = None
    delivery_time: datetime | None = None
    recipient_address: TikTokRecipientAddress | None = None
    packages: tuple[TikTokPackage, ...] = ()
    delivery_option_id: str | None = None
    payment_method_name: str | None = None
    buyer_email: str | None = field(default=None, repr=False)
    buyer_message: str | None = None
    is_on_hold_order: bool | None = None
    cancellation_initiator: str | None = None

    def package_for(self, line_item_ids: tuple[str, ...]) -> str | None:
        """The one package holding all of `line_item_ids`, or the order's only package."""
        chosen = set(line_item_ids)
        ids = {i.package_id for i in self.line_items if i.id in chosen and i.package_id}
        if len(ids) == 1:
            return ids.pop()
        if not ids and len(self.packages) == 1:
            return self.packages[0].id
        return None


# --------------------------------------------------------------------------- the converter


def _strict_str(value: Any, _type: Any) -> str:
    # cattrs' default would turn a dict into its repr; ids sent as numbers are fine.
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _strict_bool(value: Any, _type: Any) -> bool:
    # bool("false") is True: only JSON booleans are accepted.
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected true or false, got {value!r}")


def _decimal(value: Any, _type: Any) -> Decimal:
    """TikTok sends amounts as strings; an empty string means no amount."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"expected an amount as a string, got {type(value).__name__}")
    if value == "":
        return shared_amount(0)
    try:
        amount = shared_amount(value)  # one object per distinct amount, as prices repeat
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return amount


#: The times a TikTok Shop answer or webhook can carry. Outside them a time is
#: impossible (year 9999 overflows the lifecycle's deadlines): refused where it
#: enters, never stored.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _seconds(value: Any, _type: Any) -> datetime:
    """Unix seconds, as TikTok sends every time, to an aware UTC datetime."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected unix seconds, got {value!r}")
    try:
        moment = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"unix seconds out of range: {value}") from None
    if not EARLIEST <= moment < LATEST:
        raise ValueError(
            f"impossible time {value} ({moment.isoformat()}): TikTok's times lie between"
            f" {EARLIEST.year} and {LATEST.year}"
        )
    return moment


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=False, omit_if_default=True)
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook(bool, _strict_bool)
    converter.register_structure_hook(Decimal, _decimal)
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(datetime, _seconds)
    converter.register_unstructure_hook(datetime, lambda moment: int(moment.timestamp()))
    return converter


#: The one cattrs converter of the TikTok Shop adapter.
CONVERTER = _make_converter()


def structure(raw: Any, cls: type[T], what: str) -> T:
    """`raw` as `cls`, or `MalformedPayload` naming every field that is wrong."""
    if not isinstance(raw, Mapping):
        raise MalformedPayload(f"{what} must be a JSON object, got {type(raw).__name__}")
    try:
        return CONVERTER.structure(raw, cls)
    except cattrs.BaseValidationError as error:
        problems = "; ".join(cattrs.transform_error(error, path=what))
        raise MalformedPayload(f"{what}: {problems}") from None
    except (TypeError, ValueError) as error:  # pragma: no cover - cattrs wraps these
        raise MalformedPayload(f"{what}: {error}") from None


# --------------------------------------------------------------------------- to ours and back

#: Recipient fields by `district_info[].address_level_name` (lower case). **Unconfirmed**:
#: TikTok's level names differ by region (US: Country / State / County / City).
ADDRESS_LEVELS: Mapping[str, str] = MappingProxyType(
    {
        "state": "state",
        "province": "state",
        "city": "city",
        "district": "district",
        "county": "district",
        "town": "town",
    }
)
_LEVEL_NAMES = {"state": "State", "city": "City", "district": "District", "town": "Town"}


def initiator_for(
    role: str, what: str, vocabulary: TikTokVocabulary = DEFAULT_VOCABULARY
) -> Initiator:
    """A TikTok role string as an `Initiator`, or `UnknownValue` naming it."""
    return vocabulary.initiator(role, what)


def order_status(value: str) -> OrderStatus:
    """TikTok's order status string, or `UnknownValue` naming it."""
    try:
        return OrderStatus(value)
    except ValueError:
        raise UnknownValue("order status", value, tuple(OrderStatus)) from None


def _line_status(display_status: str | None, vocabulary: TikTokVocabulary) -> LineStatus:
    if display_status == "CANCELLED":
        return LineStatus.CANCELLED
    if display_status in vocabulary.shipped_display_statuses:
        return LineStatus.SHIPPED
    return LineStatus.OPEN


def _shared(value: str | None) -> str | None:
    """A catalogue text (SKU, product, carrier) as its one shared copy; empty as `None`."""
    return shared_text(value) if value else None


def _line(item: TikTokLineItem, vocabulary: TikTokVocabulary) -> OrderLine:
    return OrderLine(
        line_item_id=item.id,
        sku_id=_shared(item.sku_id) or "",
        seller_sku=_shared(item.seller_sku) or "",
        product_name=_shared(item.product_name) or "",
        sale_price=item.sale_price,
        original_price=item.original_price,
        product_id=_shared(item.product_id) or "",
        status=_line_status(item.display_status, vocabulary),
        package_id=item.package_id or None,
        tracking_number=item.tracking_number or None,
        shipping_provider_id=_shared(item.shipping_provider_id),
        shipping_provider_name=_shared(item.shipping_provider_name),
        seller_discount=item.seller_discount,
        platform_discount=item.platform_discount,
    )


def _recipient(address: TikTokRecipientAddress, levels: Mapping[str, str]) -> Recipient:
    places: dict[str, str] = {}
    for district in address.district_info:
        target = levels.get(district.address_level_name.lower())
        if target is not None and target not in places:
            places[target] = shared_text(district.address_name)
    return Recipient(
        name=address.name or "",
        full_address=address.full_address or "",
        zipcode=address.postal_code or "",
        phone=address.phone_number or "",
        region_code=_shared(address.region_code) or "",
        address_line1=address.address_line1 or "",
        address_line2=address.address_line2 or "",
        address_line3=address.address_line3 or "",
        address_line4=address.address_line4 or "",
        **places,
    )


def _status(order: TikTokOrder, hold_legacy_flow: bool) -> OrderStatus:
    """TikTok's status; a legacy-flow order still in its remorse window is on hold here.

    TikTok (On Hold changelog, Dec 2023): `is_on_hold_order == false` on an
    `AWAITING_SHIPMENT` order means it skipped the `ON_HOLD` status but "the
    1 hour customer remorse window still exists". The lifecycle models that
    window as `ON_HOLD`, so its hold timer releases the order at the right time.
    """
    status = order_status(order.status)
    if (
        hold_legacy_flow
        and status is OrderStatus.AWAITING_SHIPMENT
        and order.is_on_hold_order is False
    ):
        return OrderStatus.ON_HOLD
    return status


def to_order(
    order: TikTokOrder,
    *,
    shop_id: str | None = None,
    address_levels: Mapping[str, str] = ADDRESS_LEVELS,
    hold_legacy_flow: bool = True,
    vocabulary: TikTokVocabulary = DEFAULT_VOCABULARY,
) -> Order:
    """TikTok's order object as the lifecycle's `Order`.

    The order detail does not carry the shop id (the call is made for one
    shop: pass it when known, else the order has none), the lifecycle's
    history, or what the library recorded itself (`released_at`,
    cancellation and return requests): merge those from the store. Raises
    `UnknownValue` for a status or initiator this library does not know and
    `MalformedPayload` when TikTok's values break the order's own rules (no
    lines, a bad currency).
    """
    initiator = order.cancellation_initiator
    try:
        return Order(
            order_id=order.id,
            shop_id=shop_id,
            currency=shared_text(order.payment.currency),
            created_at=order.create_time,
            lines=[_line(item, vocabulary) for item in order.line_items],
            status=_status(order, hold_legacy_flow),
            paid_at=order.paid_time,
            updated_at=order.update_time,
            delivered_at=order.delivery_time,
            sub_total=order.payment.sub_total,
            shipping_fee=order.payment.shipping_fee,
            seller_discount=order.payment.seller_discount,
            platform_discount=order.payment.platform_discount,
            taxes=order.payment.tax,
            total_amount=order.payment.total_amount,
            payment_method=_shared(order.payment_method_name) or "",
            recipient=None
            if order.recipient_address is None
            else _recipient(order.recipient_address, address_levels),
            buyer_email=order.buyer_email or "",
            buyer_message=order.buyer_message or "",
            cancelled_by=vocabulary.initiator(initiator, "cancellation_initiator")
            if initiator
            else None,
        )
    except (TypeError, ValueError) as error:
        if isinstance(error, UnknownValue):
            raise
        raise MalformedPayload(f"order {order.id}: {error}") from None


def order_from_detail(
    raw: Any,
    *,
    shop_id: str | None = None,
    hold_legacy_flow: bool = True,
    vocabulary: TikTokVocabulary = DEFAULT_VOCABULARY,
) -> Order:
    """One raw Get Order Detail order object (parsed JSON) as an `Order`."""
    return to_order(
        structure(raw, TikTokOrder, "order"),
        shop_id=shop_id,
        hold_legacy_flow=hold_legacy_flow,
        vocabulary=vocabulary,
    )


# --------------------------------------------------------------------------- the reverse


def _display_status(line: OrderLine, status: OrderStatus) -> str:
    if line.status is LineStatus.CANCELLED:
        return "CANCELLED"
    if line.status is LineStatus.OPEN:
        on_hold = status in (OrderStatus.UNPAID, OrderStatus.ON_HOLD)
        return status.value if on_hold else "AWAITING_SHIPMENT"
    shipped = status in (OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED, OrderStatus.COMPLETED)
    return status.value if shipped else "AWAITING_COLLECTION"


def _line_item(line: OrderLine, status: OrderStatus) -> TikTokLineItem:
    return TikTokLineItem(
        id=line.line_item_id,
        sku_id=line.sku_id or None,
        seller_sku=line.seller_sku or None,
        product_id=line.product_id or None,
        product_name=line.product_name or None,
        sale_price=line.sale_price,
        original_price=line.original_price,
        display_status=_display_status(line, status),
        package_id=line.package_id,
        tracking_number=line.tracking_number,
        shipping_provider_id=line.shipping_provider_id,
        shipping_provider_name=line.shipping_provider_name,
        seller_discount=line.seller_discount,
        platform_discount=line.platform_discount,
    )


def _address(recipient: Recipient) -> TikTokRecipientAddress:
    districts = tuple(
        TikTokDistrict(address_level_name=name, address_name=getattr(recipient, attribute))
        for attribute, name in _LEVEL_NAMES.items()
        if getattr(recipient, attribute)
    )
    return TikTokRecipientAddress(
        name=recipient.name or None,
        full_address=recipient.full_address or None,
        phone_number=recipient.phone or None,
        postal_code=recipient.zipcode or None,
        region_code=recipient.region_code or None,
        district_info=districts,
        address_line1=recipient.address_line1 or None,
        address_line2=recipient.address_line2 or None,
        address_line3=recipient.address_line3 or None,
        address_line4=recipient.address_line4 or None,
    )


def from_order(order: Order) -> TikTokOrder:
    """The order object TikTok would answer for `order` (for tests and the sandbox)."""
    packages = sorted({line.package_id for line in order.lines if line.package_id})
    hold = None if order.status is OrderStatus.UNPAID else True
    return TikTokOrder(
        id=order.order_id,
        status=order.status.value,
        create_time=order.created_at,
        payment=TikTokPayment(
            currency=order.currency,
            sub_total=order.sub_total,
            shipping_fee=order.shipping_fee,
            seller_discount=order.seller_discount,
            platform_discount=order.platform_discount,
            tax=order.taxes,
            total_amount=order.total_amount,
        ),
        line_items=tuple(_line_item(line, order.status) for line in order.lines),
        update_time=order.updated_at,
        paid_time=order.paid_at,
        delivery_time=order.delivered_at,
        recipient_address=None if order.recipient is None else _address(order.recipient),
        packages=tuple(TikTokPackage(id=p) for p in packages),
        payment_method_name=order.payment_method or None,
        buyer_email=order.buyer_email or None,
        buyer_message=order.buyer_message or None,
        is_on_hold_order=hold,
        cancellation_initiator=_role(order.cancelled_by),
    )


def _role(initiator: Initiator | None) -> str | None:
    if initiator is None:
        return None
    return "SYSTEM" if initiator is Initiator.PLATFORM else initiator.value


def detail_from_order(order: Order) -> dict[str, Any]:
    """`from_order` as the JSON object TikTok sends."""
    raw: dict[str, Any] = CONVERTER.unstructure(from_order(order))
    return raw
