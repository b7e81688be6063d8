"""The order and everything it is made of: plain, frozen values.

An `Order` never changes in place. A transition builds the next `Order` with
`attrs.evolve` and appends one `HistoryRecord`; the previous value stays as it
was, so a caller that holds it (a store, a test, a retry) never sees a half
applied change.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, TypeVar

import attrs
from attrs import field, frozen

from .errors import InvalidType, InvalidValue, NaiveTime


class OrderStatus(enum.StrEnum):
    """The order status, spelled as the TikTok Shop Open API (202309) spells it."""

    UNPAID = "UNPAID"
    ON_HOLD = "ON_HOLD"
    AWAITING_SHIPMENT = "AWAITING_SHIPMENT"
    PARTIALLY_SHIPPING = "PARTIALLY_SHIPPING"
    AWAITING_COLLECTION = "AWAITING_COLLECTION"
    IN_TRANSIT = "IN_TRANSIT"
    DELIVERED = "DELIVERED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    @property
    def is_shipped(self) -> bool:
        """Tracking has been uploaded for every line that was not cancelled."""
        return self in _SHIPPED


_FINAL = frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED})
_SHIPPED = frozenset(
    {OrderStatus.AWAITING_COLLECTION, OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED}
)


class Initiator(enum.StrEnum):
    """Who asked for a change: the buyer, the seller, or TikTok itself."""

    BUYER = "BUYER"
    SELLER = "SELLER"
    PLATFORM = "PLATFORM"


class Origin(enum.StrEnum):
    """Which system reported the change to the library.

    Effects never echo a change back to the system that reported it: a seller
    cancellation that TikTok reports is not cancelled on TikTok again.
    """

    TIKTOK = "TIKTOK"
    OMS = "OMS"
    TIMER = "TIMER"

    @classmethod
    def default_for(cls, initiator: Initiator) -> Origin:
        """The origin assumed when a caller does not name one.

        Buyers act in the TikTok app, so TikTok reports what they do; sellers
        act in the OMS; a platform event without an origin is one of the
        library's own timers (`OrderLifecycle.due`).
        """
        return _DEFAULT_ORIGIN[initiator]


_DEFAULT_ORIGIN = {
    Initiator.BUYER: Origin.TIKTOK,
    Initiator.SELLER: Origin.OMS,
    Initiator.PLATFORM: Origin.TIMER,
}


class LineStatus(enum.StrEnum):
    """Where one order line stands."""

    OPEN = "OPEN"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


class CancellationStatus(enum.StrEnum):
    """A buyer's cancellation request after the hold."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"


class ReturnType(enum.StrEnum):
    """The kind of after-sale request, spelled as TikTok spells `return_type`."""

    REFUND = "REFUND"
    RETURN_AND_REFUND = "RETURN_AND_REFUND"
    REPLACEMENT = "REPLACEMENT"


class ReturnStatus(enum.StrEnum):
    """A return or refund request: requested, approved, goods back, refunded."""

    REQUESTED = "REQUESTED"
    APPROVED = "APPROVED"
    AWAITING_BUYER_SHIPMENT = "AWAITING_BUYER_SHIPMENT"
    BUYER_SHIPPED = "BUYER_SHIPPED"
    RECEIVED = "RECEIVED"
    REFUNDED = "REFUNDED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"

    @property
    def is_open(self) -> bool:
        return self not in _RETURN_CLOSED


_RETURN_CLOSED = frozenset({ReturnStatus.REFUNDED, ReturnStatus.REJECTED, ReturnStatus.CANCELLED})

_CURRENCY = re.compile(r"[A-Z]{3}")


def _aware(_instance: object, attribute: attrs.Attribute[Any], value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise NaiveTime(f"{attribute.name} must be timezone-aware, got {value!r}")


def _utc(value: Any) -> Any:
    """An aware time in UTC (a naive one is left for `_aware` to refuse by name)."""
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return value.astimezone(UTC)
    return value


def _not_negative(_instance: object, attribute: attrs.Attribute[Any], value: Decimal) -> None:
    if not isinstance(value, Decimal):
        raise InvalidType(f"{attribute.name} must be a Decimal, got {type(value).__name__}")
    if not value.is_finite() or value < 0:
        raise InvalidValue(f"{attribute.name} must be a finite amount >= 0, got {value}")


def _currency(_instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not _CURRENCY.fullmatch(value):
        raise InvalidValue(f"{attribute.name} must be an ISO 4217 code like 'USD', got {value!r}")


def _non_empty(_instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidValue(f"{attribute.name} must be a non-empty string, got {value!r}")


def _optional_non_empty(
    _instance: object, attribute: attrs.Attribute[Any], value: str | None
) -> None:
    if value is not None:
        _non_empty(_instance, attribute, value)


def _money(default: str = "0") -> Any:
    return field(default=Decimal(default), validator=_not_negative)


def _lines(value: Iterable[OrderLine]) -> tuple[OrderLine, ...]:
    return tuple(value)


def _returns(value: Iterable[ReturnRequest]) -> tuple[ReturnRequest, ...]:
    return tuple(value)


def _records(value: Iterable[HistoryRecord]) -> tuple[HistoryRecord, ...]:
    return tuple(value)


#: The one empty mapping every record and order without parameters or extensions shares.
EMPTY: Mapping[str, Any] = MappingProxyType({})


def frozen_params(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy of `value` (the shared `EMPTY` when empty), for frozen fields."""
    if not value:
        return EMPTY
    return MappingProxyType(dict(value))


@frozen
class OrderLine:
    """One line item. In API 202309 a line item is one unit: two of one SKU are two lines."""

    line_item_id: str = field(validator=_non_empty)
    sku_id: str = ""
    seller_sku: str = ""
    product_name: str = ""
    sale_price: Decimal = _money()
    original_price: Decimal = _money()
    quantity: int = field(default=1, validator=attrs.validators.ge(1))
    product_id: str = ""
    status: LineStatus = LineStatus.OPEN
    package_id: str | None = None
    tracking_number: str | None = None
    shipping_provider_id: str | None = None
    shipping_provider_name: str | None = None
    # Added after the fields above so stored orders without them still decode.
    #: This line's tax and its share of the seller's and TikTok's discounts, where the
    #: partner gives them per line (TikTok 202309 `line_items[]`); zero when unknown.
    tax: Decimal = _money()
    seller_discount: Decimal = _money()
    platform_discount: Decimal = _money()


@frozen
class Recipient:
    """Where the order goes. Personal data stays out of `repr`."""

    name: str = field(default="", repr=False)
    full_address: str = field(default="", repr=False)
    city: str = ""
    state: str = ""
    zipcode: str = field(default="", repr=False)
    phone: str = field(default="", repr=False)
    district: str = ""
    town: str = ""
    region_code: str = ""
    #: The street address in up to four lines (TikTok 202309 `address_line1..4`);
    #: empty when only `full_address` is known.
    address_line1: str = field(default="", repr=False)
    address_line2: str = field(default="", repr=False)
    address_line3: str = field(default="", repr=False)
    address_line4: str = field(default="", repr=False)

    @property
    def address_lines(self) -> tuple[str, ...]:
        """The non-empty street address lines, in order."""
        lines = (self.address_line1, self.address_line2, self.address_line3, self.address_line4)
        return tuple(line.strip() for line in lines if line.strip())


@frozen
class CancellationRequest:
    """A buyer's request to cancel some or all lines after the hold."""

    cancel_id: str = field(validator=_non_empty)
    line_item_ids: tuple[str, ...]
    requested_at: datetime = field(converter=_utc, validator=_aware)
    status: CancellationStatus = CancellationStatus.PENDING
    reason: str = ""

    @property
    def is_pending(self) -> bool:
        return self.status is CancellationStatus.PENDING


@frozen
class ReturnRequest:
    """A buyer's return, refund or replacement request for shipped lines.

    `requested_at` is when the buyer asked; `return_tracking_number` is the
    tracking number of the parcel the buyer sends back, once known. What was
    returned (seller SKU, product, SKU, how many) is on the lines named.
    """

    return_id: str = field(validator=_non_empty)
    line_item_ids: tuple[str, ...]
    requested_at: datetime = field(converter=_utc, validator=_aware)
    return_type: ReturnType = ReturnType.RETURN_AND_REFUND
    status: ReturnStatus = ReturnStatus.REQUESTED
    reason: str = ""
    return_tracking_number: str | None = None


@frozen
class HistoryRecord:
    """One transition, as it happened: who, when, from, to, why."""

    event: str
    source: OrderStatus
    target: OrderStatus
    initiator: Initiator
    origin: Origin
    at: datetime = field(converter=_utc, validator=_aware)
    reason: str = ""
    params: Mapping[str, Any] = field(factory=dict, converter=frozen_params, hash=False)


@frozen
class Order:
    """A TikTok Shop order as the lifecycle sees it.

    Money is `Decimal` in `currency`; times are timezone-aware. `version`
    counts the transitions applied through the lifecycle and equals
    `len(history)` for an order that the lifecycle has followed from its start.
    `extensions` holds the OMS's own data for the order (a stay record,
    fulfilment amounts, click ids, anything an adapter maps with `{{path}}`);
    the lifecycle carries it along and never reads it. `shop_id` is the
    TikTok shop the order belongs to, or `None` while it is not known:
    TikTok's order object does not carry it, and the lifecycle never reads it.
    """

    order_id: str = field(validator=_non_empty)
    shop_id: str | None = field(default=None, kw_only=True, validator=_optional_non_empty)
    currency: str = field(validator=_currency)
    created_at: datetime = field(converter=_utc, validator=_aware)
    lines: tuple[OrderLine, ...] = field(converter=_lines)
    status: OrderStatus = OrderStatus.UNPAID
    paid_at: datetime | None = field(default=None, converter=_utc, validator=_aware)
    updated_at: datetime | None = field(default=None, converter=_utc, validator=_aware)
    released_at: datetime | None = field(default=None, converter=_utc, validator=_aware)
    delivered_at: datetime | None = field(default=None, converter=_utc, validator=_aware)
    sub_total: Decimal = _money()
    shipping_fee: Decimal = _money()
    seller_discount: Decimal = _money()
    platform_discount: Decimal = _money()
    taxes: Decimal = _money()
    total_amount: Decimal = _money()
    payment_method: str = ""
    recipient: Recipient | None = None
    buyer_email: str = field(default="", repr=False)
    buyer_message: str = ""
    cancellation: CancellationRequest | None = None
    returns: tuple[ReturnRequest, ...] = field(default=(), converter=_returns)
    cancelled_after_shipped: bool = False
    cancelled_by: Initiator | None = None
    history: tuple[HistoryRecord, ...] = field(default=(), converter=_records)
    version: int = field(default=0, validator=attrs.validators.ge(0))
    extensions: Mapping[str, Any] = field(
        factory=dict, converter=frozen_params, repr=False, hash=False
    )

    @lines.validator
    def _check_lines(self, _attribute: attrs.Attribute[Any], lines: tuple[OrderLine, ...]) -> None:
        if not lines:
            raise InvalidValue("an order needs at least one line")
        ids = [line.line_item_id for line in lines]
        if len(set(ids)) != len(ids):
            raise InvalidValue(f"line_item_id values must be unique, got {ids}")

    def line(self, line_item_id: str) -> OrderLine:
        for line in self.lines:
            if line.line_item_id == line_item_id:
                return line
        raise KeyError(line_item_id)

    def line_ids(self, status: LineStatus) -> tuple[str, ...]:
        return tuple([line.line_item_id for line in self.lines if line.status is status])

    @property
    def open_line_ids(self) -> tuple[str, ...]:
        return self.line_ids(LineStatus.OPEN)

    @property
    def shipped_line_ids(self) -> tuple[str, ...]:
        return self.line_ids(LineStatus.SHIPPED)

    @property
    def pending_cancellation(self) -> CancellationRequest | None:
        request = self.cancellation
        return request if request is not None and request.is_pending else None

    @property
    def open_returns(self) -> tuple[ReturnRequest, ...]:
        return tuple(r for r in self.returns if r.status.is_open)

    def return_request(self, return_id: str) -> ReturnRequest:
        for request in self.returns:
            if request.return_id == return_id:
                return request
        raise KeyError(return_id)


_T = TypeVar("_T")


def _slot_setters(cls: type[Any]) -> dict[str, Any]:
    """Each field's slot setter: writes one slot of a frozen instance, a C call per field.

    Faster than `object.__setattr__`, which looks the slot up by name on every call.
    """
    return {f"_set_{a.name}": getattr(cls, a.name).__set__ for a in attrs.fields(cls)}


def _unchecked_replace(cls: type[_T]) -> Callable[[_T, Mapping[str, Any]], _T]:
    """A `replace(instance, changes)` for `cls` that skips `__init__` and its validators.

    `attrs.evolve` re-runs every validator and converter, which costs more
    than the rest of a transition. The lifecycle only replaces fields with
    values it derived from already-validated ones, so it uses this instead;
    values from outside still go through the normal constructor. The body is
    generated once per class, one line per field, as attrs generates its own
    methods.
    """
    names = [a.name for a in attrs.fields(cls)]  # type: ignore[arg-type]
    # Copy every slot, then write the few that change: cheaper than asking, per
    # field, whether it changes.
    lines = ["def replace(instance, changes):", "    new = _new(_cls)"]
    lines += [f"    _set_{name}(new, instance.{name})" for name in names]
    lines += ["    for name, value in changes.items():", "        _setters[name](new, value)"]
    lines.append("    return new")
    setters = _slot_setters(cls)
    namespace: dict[str, Any] = {
        "_new": object.__new__,
        "_cls": cls,
        "_setters": {name.removeprefix("_set_"): setter for name, setter in setters.items()},
        **setters,
    }
    exec("\n".join(lines), namespace)
    replace: Callable[[_T, Mapping[str, Any]], _T] = namespace["replace"]
    return replace


def _unchecked_make(cls: type[_T]) -> Callable[..., _T]:
    """A `make(*values)` for `cls`: every field, in declaration order, without validators.

    For values the lifecycle builds from already-validated parts (a history
    record of a transition it judged), as `_unchecked_replace` is for copies.
    """
    names = [a.name for a in attrs.fields(cls)]  # type: ignore[arg-type]
    lines = [f"def make({', '.join(names)}):", "    new = _new(_cls)"]
    lines += [f"    _set_{name}(new, {name})" for name in names]
    lines.append("    return new")
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, **_slot_setters(cls)}
    exec("\n".join(lines), namespace)
    make: Callable[..., _T] = namespace["make"]
    return make


replace_order = _unchecked_replace(Order)
replace_line = _unchecked_replace(OrderLine)
replace_record = _unchecked_replace(HistoryRecord)
replace_request = _unchecked_replace(CancellationRequest)
replace_return = _unchecked_replace(ReturnRequest)
make_record = _unchecked_make(HistoryRecord)
