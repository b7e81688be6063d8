"""Salesforce Commerce Cloud (SFCC): the TikTok order in the storefront
(TikTok for SFCC: Order Management).

It carries out the lifecycle's SFCC effects:

- `CreateSfccOrder`: after the hold, create the external order
  ("CreateExternalOrder" in TikTok for SFCC: Order Management;
  `OrderCreate-Social` in Salesforce's social channel cartridge) with the
  TikTok order id as `c_externalOrderId` and payment method
  `SfccSettings.payment_method` (`SOCIAL_PAY`). The body adds up to TikTok's
  `total_amount`: line tax, the seller's and TikTok's discounts as price
  adjustments, shipping (`_amounts`). SFCC refuses a second order with the
  same external id and answers with the existing order number: that counts as
  success (`SfccResult.created` is False), so a retried effect is harmless.
- `UpdateSfccOrderStatus`: OCAPI `PATCH /orders/{order_no}` with the external
  status, or the cartridge's cancel action (whole order) or partial cancel
  action (the lines and quantities), tagged *cancel after shipped* where it
  applies.
- `UpdateSfccShipping`: the same PATCH with the shipped lines, carrier and
  tracking number and the order's shipping status.
- `UpdateSfccReturn`: the cartridge's `return` action with the returned lines;
  TikTok for SFCC: Order Management names no return attribute, so under
  `ORDER_MANAGEMENT_PRESET` it is skipped.

The attribute names and values differ between TikTok for SFCC: Order
Management and the cartridge; both are real in the field, so they are
`SfccPreset`s: `ORDER_MANAGEMENT_PRESET` (the names of TikTok for SFCC: Order
Management, `c_externalOrderStatus`: `New` / `CANCELLED`; `SEED_PRESET` is its
deprecated alias) and `CARTRIDGE_PRESET` (`c_externalChannelOrderStatus` with
integer codes, updates routed by `c_orderAction` as the cartridge's
`afterPATCH` reads them).

Authentication is `SfccClientCredentials`, an `httpx.Auth` doing OAuth 2
client credentials against Salesforce's Account Manager: fetched once,
reused, fetched again when it expires or SFCC answers 401; it never reaches
a `repr`, log or error. Errors are the shared tree of `adapters.errors`.
"""

from __future__ import annotations

import base64
import enum
import functools
from collections.abc import Callable, Generator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs
import cattrs
import httpx
from attrs import field, frozen
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from adapters._util import frozen_mapping
from adapters.errors import (
    AuthenticationError,
    InvalidPayload,
    Problem,
    RejectedError,
    RetryableError,
    SettingsError,
)
from adapters.http._outbound import (
    Call,
    MoneyFormat,
    asend,
    money_converter,
    response_json,
    send,
    text_of,
)
from adapters.http._redact import register_secret
from adapters.http._retry import RetryPolicy, status_error
from lifecycle import (
    CreateSfccOrder,
    Effect,
    Order,
    OrderLine,
    Recipient,
    SfccStatus,
    ShippingStatus,
    UpdateSfccOrderStatus,
    UpdateSfccReturn,
    UpdateSfccShipping,
)

from ._amounts import OrderAmounts, minor_unit, order_amounts

__all__ = [
    "CARTRIDGE_PRESET",
    "ORDER_MANAGEMENT_PRESET",
    "PARTNER",
    "PRESETS",
    "SEED_PRESET",
    "SHIPPING_STATUS_VALUES",
    "Address",
    "AsyncSfccClient",
    "CreateOrderBody",
    "Customer",
    "Payment",
    "PriceAdjustment",
    "ProductIdSource",
    "ProductLineItem",
    "SfccClient",
    "SfccClientCredentials",
    "SfccPreset",
    "SfccResult",
    "SfccSettings",
    "Shipment",
    "ShippingTotal",
    "Totals",
    "build_create_body",
    "build_return_body",
    "build_shipping_body",
    "build_status_body",
    "converter",
]

PARTNER = "sfcc"
SfccEffect = CreateSfccOrder | UpdateSfccOrderStatus | UpdateSfccShipping | UpdateSfccReturn


# --- presets and settings -----------------------------------------------------------------------


@frozen
class SfccPreset:
    """Which custom attributes carry the TikTok status, and with which values.

    A lifecycle status missing from `status_values` is not sent (the update is
    skipped and `SfccResult.skipped` says so) rather than sent with a guessed
    value.

    With an `order_action_attribute`, updates are routed the way Salesforce's
    social channel cartridge routes them (int_social_checkout,
    `hooks/order/orderPatch.js`, `afterPATCH`): `cancel_action` cancels the
    whole order, `partial_cancel_action` the lines named in
    `cancel_info_attribute.cancel_items_key`, `return_action` returns the lines
    named in `return_case_attribute.return_items_key`, and every other update
    (shipping, completion) carries `update_action`, since `afterPATCH` applies
    `product_items` and `shipping_status` only when an action is set and is
    neither a cancel nor a return. The action stays on the order: a later PATCH
    without one would run the last cancel or return again. The cartridge's
    hooks set the status themselves, so routed updates do not send it.
    """

    name: str
    status_attribute: str
    status_values: Mapping[SfccStatus, str | int] = field(converter=frozen_mapping, hash=False)
    line_shipped_value: str | int
    line_status_attribute: str = "c_externalLineItemStatus"
    carrier_attribute: str = "c_carrier"
    tracking_attribute: str = "c_trackingNumber"
    order_action_attribute: str | None = None
    cancel_action: str | None = None
    return_action: str | None = None
    tag_attribute: str | None = "c_orderTag"
    cancelled_after_shipped_tag: str = "cancel after shipped"
    status_on_create: bool = True
    partial_cancel_action: str | None = None
    update_action: str | None = None
    cancel_info_attribute: str = "c_cancelInfo"
    cancel_items_key: str = "cancelItems"
    return_case_attribute: str = "c_returnCase"
    return_items_key: str = "returnItems"
    line_cancelled_value: str | int | None = None

    @property
    def routes_actions(self) -> bool:
        return self.order_action_attribute is not None


ORDER_MANAGEMENT_PRESET = SfccPreset(
    name="order_management",
    status_attribute="c_externalOrderStatus",
    status_values={
        SfccStatus.NEW: "New",
        SfccStatus.CANCELLED: "CANCELLED",
        SfccStatus.PARTIALLY_CANCELLED: "PARTIALLY_CANCELLED",
    },
    line_shipped_value="shipped",
    line_cancelled_value="CANCELLED",
)
"""`c_externalOrderStatus` = `New` on creation, `CANCELLED` on cancellation.

These are the names TikTok for SFCC: Order Management uses. It names no
value for completion, so that update is skipped. It names none for a partial
cancellation either: that update sets the status to `PARTIALLY_CANCELLED`
and each cancelled line's `c_externalLineItemStatus` to `CANCELLED`, both
**unconfirmed**, settings of the preset (`status_values`,
`line_cancelled_value`). The *cancel after shipped* tag goes into `c_orderTag`
(the cartridge's tag attribute); its text is **unconfirmed**, a setting of
the preset. The line status value `shipped` is **unconfirmed**.
"""

SEED_PRESET = ORDER_MANAGEMENT_PRESET
"""Deprecated alias of `ORDER_MANAGEMENT_PRESET` (`PRESETS["seed"]` still finds it)."""

CARTRIDGE_PRESET = SfccPreset(
    name="cartridge",
    status_attribute="c_externalChannelOrderStatus",
    status_values={
        SfccStatus.NEW: 3,
        SfccStatus.COMPLETED: 5,
        SfccStatus.CANCELLED: 6,
        SfccStatus.PARTIALLY_CANCELLED: 7,
    },
    line_shipped_value=2,
    order_action_attribute="c_orderAction",
    cancel_action="cancel_order",
    partial_cancel_action="cancel",
    return_action="return",
    update_action="update",
    status_on_create=False,
)
"""Salesforce's social channel cartridge: integer external status codes, routed PATCHes.

`OrderUtilCode.EXTERNAL_ORDER_STATUS`: NEW 3, COMPLETED 5, CANCELLED 6,
CANCELLED_PARTIAL 7; the create controller sets NEW itself, so the create
body does not carry it. `afterPATCH` (int_social_checkout,
`hooks/order/orderPatch.js`) routes `c_orderAction`: `cancel_order` to
`processCancelOrder` (every line, status 6), `cancel` to `processCancel`
(the products in `c_cancelInfo.cancelItems`, status 7), `return` to
`processReturn` (the products in `c_returnCase.returnItems`) and
`return_order` to `processReturnOrder` (every line; not used: a return names
its lines) (int_order_no_oms, `orderCancel.js`, `orderReturn.js`). Any other
action applies `product_items` and `shipping_status`: the cartridge documents
no value for it, so `update_action` is `update` (**unconfirmed**; any value but
those four works). Shipped lines carry 2, `dw.order.Order.SHIPPING_STATUS_SHIPPED`
(the cartridge writes `SHIPPING_STATUS_NOTSHIPPED` there on creation).
"""

PRESETS: Mapping[str, SfccPreset] = MappingProxyType(
    {
        ORDER_MANAGEMENT_PRESET.name: ORDER_MANAGEMENT_PRESET,
        "seed": ORDER_MANAGEMENT_PRESET,
        CARTRIDGE_PRESET.name: CARTRIDGE_PRESET,
    }
)
"""The presets by name; `seed` is the deprecated name of `order_management`."""


class ProductIdSource(enum.StrEnum):
    """Which TikTok line field is the SFCC `product_id`."""

    SELLER_SKU = "seller_sku"
    SKU_ID = "sku_id"


SHIPPING_STATUS_VALUES: Mapping[ShippingStatus, str] = MappingProxyType(
    {ShippingStatus.SHIPPED: "shipped", ShippingStatus.PART_SHIPPED: "part_shipped"}
)
"""OCAPI's `shipping_status` for each lifecycle `ShippingStatus`: the default."""


def _every_shipping_status(
    _instance: object, attribute: attrs.Attribute[Any], value: Mapping[Any, str]
) -> None:
    missing = [status.value for status in ShippingStatus if status not in value]
    if missing:
        raise SettingsError(f"{attribute.name} must give a value for {', '.join(missing)}")


@frozen
class SfccSettings:
    """Where the SFCC instance is and how to talk to it.

    base_url, site_id:
        The instance (`https://<instance>.demandware.net`) and the site.
    client_id, client_secret:
        The Account Manager API client; the secret never reaches a `repr`.
    preset:
        `ORDER_MANAGEMENT_PRESET` (default; `SEED_PRESET` is its deprecated
        alias) or `CARTRIDGE_PRESET`, or your own.
    api_version:
        OCAPI version of the PATCH route; default `v22_6`, the version the
        cartridge was built on.
    token_url, scope:
        Account Manager's token endpoint (default
        `https://account.demandware.com/dwsso/oauth2/access_token`) and an
        optional scope.
    create_path:
        The storefront controller that creates the order. The cartridge's
        controller is `OrderCreate-Social`; default
        `/on/demandware.store/Sites-{site_id}-Site/default/OrderCreate-Social`.
        **Unconfirmed** for your site (locale segment, custom cartridges): a
        setting.
    order_path:
        OCAPI Shop API order route; default
        `/s/{site_id}/dw/shop/{api_version}/orders/{order_no}`.
    product_id_source:
        The SFCC product id is the TikTok seller SKU (default) or SKU id.
    shipping_method:
        Optional `shipment.shipping_method` for created orders.
    shipping_status_attribute, line_items_attribute, line_id_attribute:
        OCAPI's order document names: `shipping_status`, `product_items`,
        `product_id` (defaults).
    shipping_status_values:
        The `shipping_status` value for each lifecycle `ShippingStatus`:
        `shipped` and `part_shipped` (OCAPI's values, the defaults).
    payment_method:
        The payment method created orders carry: `SOCIAL_PAY` (TikTok for
        SFCC: Order Management), the default.
    money:
        Amounts as JSON numbers (default; the cartridge does arithmetic on
        them) or decimal strings.
    seller_discount_promotion_id, platform_discount_promotion_id:
        The `promotion_id` of the line price adjustments that carry the
        seller's and TikTok's discounts: `TikTokSellerDiscount` and
        `TikTokPlatformDiscount` (our names: the cartridge takes any id that is
        not one of the site's real promotions; two adjustments on one line need
        two ids).
    rest_promotion_id:
        The `promotion_id` of the order-level adjustment that brings the SFCC
        total to TikTok's `total_amount` (a fee of TikTok's the lines do not
        carry). Default none: the cartridge then uses its site preference
        `tiktokDefaultPromoID`, the only order-level id its
        `removePriceAdjustments` keeps.
    address_separator:
        Joins TikTok's `address_line2..4` into SFCC's `address2`; default `", "`.
    token_margin:
        A token this close to expiry is renewed first. Default 60 s.
    """

    base_url: str
    site_id: str
    client_id: str
    client_secret: str = field(repr=False)
    preset: SfccPreset = ORDER_MANAGEMENT_PRESET
    api_version: str = "v22_6"
    token_url: str = "https://account.demandware.com/dwsso/oauth2/access_token"
    scope: str | None = None
    create_path: str = "/on/demandware.store/Sites-{site_id}-Site/default/OrderCreate-Social"
    order_path: str = "/s/{site_id}/dw/shop/{api_version}/orders/{order_no}"
    product_id_source: ProductIdSource = field(
        default=ProductIdSource.SELLER_SKU, converter=ProductIdSource
    )
    shipping_method: str | None = None
    shipping_status_attribute: str = "shipping_status"
    line_items_attribute: str = "product_items"
    line_id_attribute: str = "product_id"
    shipping_status_values: Mapping[ShippingStatus, str] = field(
        default=SHIPPING_STATUS_VALUES, converter=frozen_mapping, validator=_every_shipping_status
    )
    payment_method: str = "SOCIAL_PAY"
    money: MoneyFormat = field(default=MoneyFormat.NUMBER, converter=MoneyFormat)
    token_margin: timedelta = timedelta(seconds=60)
    seller_discount_promotion_id: str = "TikTokSellerDiscount"
    platform_discount_promotion_id: str = "TikTokPlatformDiscount"
    rest_promotion_id: str | None = None
    address_separator: str = ", "

    def create_url(self) -> str:
        return self.base_url.rstrip("/") + self.create_path.format(site_id=self.site_id)

    def order_url(self, order_no: str) -> str:
        path = self.order_path.format(
            site_id=self.site_id, api_version=self.api_version, order_no=order_no
        )
        return self.base_url.rstrip("/") + path

    def credentials(self, clock: Callable[[], datetime] | None = None) -> SfccClientCredentials:
        return SfccClientCredentials(
            self.token_url,
            self.client_id,
            self.client_secret,
            scope=self.scope,
            clock=clock,
            margin=self.token_margin,
        )


# --- OAuth client credentials -------------------------------------------------------------------


@frozen
class _Token:
    access_token: str = field(repr=False)
    expires_at: datetime


class SfccClientCredentials(httpx.Auth):
    """OAuth 2 client credentials as an `httpx.Auth`, for sync and async clients alike.

    The token is fetched on first use, reused until `margin` before it expires,
    and fetched again once when SFCC answers 401 (a token revoked early). The
    secret goes in a Basic header to the token endpoint only; neither it nor
    the token is ever in a `repr`, log line or error.
    """

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        clock: Callable[[], datetime] | None = None,
        margin: timedelta = timedelta(seconds=60),
    ) -> None:
        self.token_url = token_url
        self.scope = scope
        self.margin = margin
        self.fetches = 0
        self._clock = clock or (lambda: datetime.now(UTC))
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self._token: _Token | None = None
        register_secret(client_secret, self._basic)

    def __repr__(self) -> str:
        return f"SfccClientCredentials(token_url={self.token_url!r}, fetches={self.fetches})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None or self._clock() >= self._token.expires_at - self.margin:
            self._store((yield self._token_request()))
        response = yield self._authorised(request)
        if response.status_code == 401:
            self._store((yield self._token_request()))
            yield self._authorised(request)

    def _authorised(self, request: httpx.Request) -> httpx.Request:
        assert self._token is not None
        request.headers["Authorization"] = f"Bearer {self._token.access_token}"
        return request

    def _token_request(self) -> httpx.Request:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        self.fetches += 1
        return httpx.Request(
            "POST",
            self.token_url,
            data=form,
            headers={"Authorization": f"Basic {self._basic}", "Accept": "application/json"},
        )

    def _store(self, response: httpx.Response) -> None:
        status = response.status_code
        if status in (400, 401, 403):
            raise AuthenticationError(PARTNER, "token request refused", status=status)
        error = status_error(PARTNER, response, message="token request failed")
        if error is not None:
            raise error
        body = response_json(response)
        token = body.get("access_token") if isinstance(body, Mapping) else None
        if not isinstance(token, str) or not token:
            # A success status whose body holds no token is an answer we cannot
            # read (a proxy's page, a truncated body), not a refusal: try again.
            raise RetryableError(PARTNER, "token answer without access_token", status=status)
        lifetime = body.get("expires_in") if isinstance(body, Mapping) else None
        seconds = (
            int(lifetime) if isinstance(lifetime, int | str) and str(lifetime).isdigit() else 0
        )
        register_secret(token)  # obtained at run time: no configured list knows it
        self._token = _Token(token, self._clock() + timedelta(seconds=seconds))


# --- the wire shape -----------------------------------------------------------------------------
# What int_social_checkout's create controller and `OrderCreateHelper` read, field by field.


@frozen
class Address:
    """`setAddressFields`: `first_name`, `last_name`, `address1`, `address2`, `city`, ..."""

    first_name: str | None = None
    last_name: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state_code: str | None = None
    postal_code: str | None = None
    country_code: str | None = None
    phone: str | None = None


@frozen
class Customer:
    customer_email: str | None = None
    customer_name: str | None = None
    billing_address: Address | None = None


@frozen
class Shipment:
    shipping_address: Address | None = None
    shipping_method: str | None = None


@frozen
class PriceAdjustment:
    """`applyPriceAdjustments`: `net_price` (negative for a discount), `promotion_id`, `tax`."""

    net_price: Decimal
    promotion_id: str | None = None


@frozen
class ProductLineItem:
    """`addItemsToBasket`: the line's price is `net_price / quantity`; `tax` only when > 0."""

    product_id: str
    quantity: int
    net_price: Decimal
    tax: Decimal | None = None
    price_adjustments: tuple[PriceAdjustment, ...] = ()


@frozen
class ShippingTotal:
    """`setShippingCost` reads `adjusted_shipping_total.net_price` (and taxes it at 0)."""

    net_price: Decimal


@frozen
class Totals:
    adjusted_shipping_total: ShippingTotal | None = None
    price_adjustments: tuple[PriceAdjustment, ...] = ()


@frozen
class Payment:
    payment_method: str


@frozen
class CreateOrderBody:
    """The cartridge's `OrderCreate-Social` body, the TikTok order id as `c_externalOrderId`."""

    external_order_id: str
    currency: str
    customer: Customer
    shipment: Shipment
    product_lineitems: tuple[ProductLineItem, ...]
    totals: Totals
    payment: Payment
    buyer_note: str | None = None


@frozen
class SfccResult:
    """What an SFCC call did: the SFCC order number, and whether anything changed."""

    order_no: str | None
    created: bool = False
    skipped: bool = False


@functools.cache
def converter(money: MoneyFormat = MoneyFormat.NUMBER) -> cattrs.Converter:
    """This partner's converter: `None` fields omitted, cartridge renames, money as configured."""
    conv = money_converter(money)
    renames: dict[str, Any] = {
        "external_order_id": override(rename="c_externalOrderId"),
        "buyer_note": override(rename="c_buyerNote"),
    }
    unstructure = make_dict_unstructure_fn(
        CreateOrderBody, conv, _cattrs_omit_if_default=True, **renames
    )
    conv.register_unstructure_hook(CreateOrderBody, unstructure)
    conv.register_structure_hook(
        CreateOrderBody, make_dict_structure_fn(CreateOrderBody, conv, **renames)
    )
    return conv


# --- building -----------------------------------------------------------------------------------


def _address(recipient: Recipient | None, separator: str) -> Address | None:
    """TikTok's address lines 1-4 as `address1` and the rest joined as `address2`.

    Without address lines (an order stored before they were read, a partner
    that sends only `full_address`) `address1` is the whole `full_address`.
    """
    if recipient is None:
        return None
    first, _, last = recipient.name.strip().partition(" ")
    lines = recipient.address_lines
    address1 = lines[0] if lines else recipient.full_address.strip()
    return Address(
        first_name=first or None,
        last_name=last.strip() or None,
        address1=address1 or None,
        address2=separator.join(lines[1:]) or None,
        city=recipient.city or None,
        state_code=recipient.state or None,
        postal_code=recipient.zipcode or None,
        country_code=recipient.region_code or None,
        phone=recipient.phone or None,
    )


def _product_id(line: OrderLine, source: ProductIdSource) -> str:
    primary = line.seller_sku if source is ProductIdSource.SELLER_SKU else line.sku_id
    return primary or line.sku_id or line.seller_sku or line.product_id or line.line_item_id


@attrs.define
class _Group:
    """One SFCC product line being summed from TikTok's unit lines."""

    quantity: int = 0
    net_price: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    seller: Decimal = Decimal(0)
    platform: Decimal = Decimal(0)


def _line_items(amounts: OrderAmounts, settings: SfccSettings) -> tuple[ProductLineItem, ...]:
    """One SFCC line per product: 202309 lines are single units, so they add up.

    The cartridge finds a line by product id (`getProductLineItems(product_id)`),
    so two TikTok lines of one product must be one SFCC line. Its unit price
    is `net_price / quantity` in whole minor units: a price that does not
    divide is rounded up and the difference added to the seller's discount,
    so the line still comes to its sale price.
    """
    groups: dict[str, _Group] = {}
    for share in amounts.lines:
        group = groups.setdefault(_product_id(share.line, settings.product_id_source), _Group())
        group.quantity += share.line.quantity
        group.net_price += share.net_price
        group.tax += share.tax
        group.seller += share.seller_discount
        group.platform += share.platform_discount
    quantum = minor_unit(amounts.currency)
    items = []
    for product, group in groups.items():
        # The cartridge prices a line per unit (`net_price / quantity`), and SFCC
        # keeps unit prices in whole cents: round the price up to a multiple of
        # the quantity and let the seller's adjustment absorb those cents.
        step = quantum * group.quantity
        short = (step - group.net_price % step) % step  # Decimal's % keeps the sign: stay >= 0
        group.net_price += short
        group.seller += short
        adjustments = tuple(
            PriceAdjustment(-amount, promotion)
            for amount, promotion in (
                (group.seller, settings.seller_discount_promotion_id),
                (group.platform, settings.platform_discount_promotion_id),
            )
            if amount
        )
        tax = group.tax if group.tax > 0 else None
        items.append(ProductLineItem(product, group.quantity, group.net_price, tax, adjustments))
    return tuple(items)


def build_create_body(
    order: Order, effect: CreateSfccOrder, settings: SfccSettings
) -> dict[str, Any]:
    """The create-order body, adding up to TikTok's `total_amount`. Pure.

    Lines at their price before discounts with the seller's and TikTok's
    discounts as price adjustments and their tax (`order_amounts`), shipping
    as `adjusted_shipping_total.net_price`, what is left of the total as an
    order-level price adjustment, the payment method, the trimmed e-mail.
    Under a preset with `status_on_create` the status attribute is set to its
    `NEW` value too (TikTok for SFCC: Order Management: the order is created
    with `c_externalOrderStatus` `New`); the cartridge sets it itself.
    """
    address = _address(order.recipient, settings.address_separator)
    name = order.recipient.name.strip() if order.recipient and order.recipient.name else None
    amounts = order_amounts(order)
    rest = (PriceAdjustment(amounts.rest, settings.rest_promotion_id),) if amounts.rest else ()
    body = CreateOrderBody(
        external_order_id=order.order_id,
        currency=order.currency,
        customer=Customer(order.buyer_email.strip() or None, name or None, address),
        shipment=Shipment(address, settings.shipping_method),
        product_lineitems=_line_items(amounts, settings),
        totals=Totals(ShippingTotal(amounts.shipping), rest),
        payment=Payment(settings.payment_method),
        buyer_note=order.buyer_message or None,
    )
    unstructured: dict[str, Any] = converter(settings.money).unstructure(body)
    value = settings.preset.status_values.get(effect.external_status)
    if value is not None and settings.preset.status_on_create:
        unstructured[settings.preset.status_attribute] = value
    return unstructured


def _quantities(
    order: Order, line_item_ids: tuple[str, ...], settings: SfccSettings
) -> dict[str, int]:
    """How many units of each SFCC product `line_item_ids` name, in first-seen order."""
    counts: dict[str, int] = {}
    for line_item_id in dict.fromkeys(line_item_ids):
        line = order.line(line_item_id)
        product = _product_id(line, settings.product_id_source)
        counts[product] = counts.get(product, 0) + line.quantity
    return counts


def _items(counts: Mapping[str, int], reason: str) -> dict[str, dict[str, Any]]:
    """The cartridge's item map: product id -> `quantity` and, when known, `reason`.

    `orderCancel.js` / `orderReturn.js` take the products from the map's keys;
    the order-management variants of those hooks read `quantity` and `reason`.
    """
    return {
        product: {"quantity": quantity, **({"reason": reason} if reason else {})}
        for product, quantity in counts.items()
    }


def _cancel_body(
    order: Order, effect: UpdateSfccOrderStatus, settings: SfccSettings
) -> dict[str, Any] | None:
    preset = settings.preset
    partial = effect.external_status is SfccStatus.PARTIALLY_CANCELLED
    body: dict[str, Any]
    if preset.order_action_attribute and (
        preset.partial_cancel_action if partial else preset.cancel_action
    ):
        action = preset.partial_cancel_action if partial else preset.cancel_action
        body = {preset.order_action_attribute: action}
        if partial:
            counts = _quantities(order, effect.line_item_ids, settings)
            body[preset.cancel_info_attribute] = {
                preset.cancel_items_key: _items(counts, effect.reason)
            }
        elif effect.reason:
            body[preset.cancel_info_attribute] = {"reason": effect.reason}
    else:
        value = preset.status_values.get(effect.external_status)
        if value is None:
            return None
        body = {preset.status_attribute: value}
        if partial and preset.line_cancelled_value is not None:
            products = _quantities(order, effect.line_item_ids, settings)
            body[settings.line_items_attribute] = [
                {
                    settings.line_id_attribute: p,
                    preset.line_status_attribute: preset.line_cancelled_value,
                }
                for p in products
            ]
    if effect.cancelled_after_shipped and preset.tag_attribute:
        body[preset.tag_attribute] = preset.cancelled_after_shipped_tag
    return body


def _with_update_action(body: dict[str, Any], preset: SfccPreset) -> dict[str, Any]:
    """`body` with the preset's neutral order action, which `afterPATCH` needs to apply it."""
    if preset.order_action_attribute and preset.update_action:
        return {preset.order_action_attribute: preset.update_action, **body}
    return body


def build_status_body(
    order: Order, effect: UpdateSfccOrderStatus, settings: SfccSettings
) -> dict[str, Any] | None:
    """The PATCH for an external status, or `None` when the preset has no value for it. Pure.

    A cancellation is the preset's cancel action (the whole order) or partial
    cancel action (the products and quantities cancelled) where it routes
    actions, else its status value; other statuses set the status attribute
    (with the neutral update action where the preset routes actions).
    """
    if effect.external_status in (SfccStatus.CANCELLED, SfccStatus.PARTIALLY_CANCELLED):
        return _cancel_body(order, effect, settings)
    preset = settings.preset
    value = preset.status_values.get(effect.external_status)
    if value is None:
        return None
    return _with_update_action({preset.status_attribute: value}, preset)


def build_shipping_body(
    order: Order, effect: UpdateSfccShipping, settings: SfccSettings
) -> dict[str, Any]:
    """The PATCH for shipped lines: line status, carrier, tracking; order shipping status."""
    preset = settings.preset
    carrier = effect.shipping_provider_name or effect.shipping_provider_id
    lines = []
    for product in _quantities(order, effect.line_item_ids, settings):
        line: dict[str, Any] = {
            settings.line_id_attribute: product,
            preset.line_status_attribute: preset.line_shipped_value,
        }
        if carrier:
            line[preset.carrier_attribute] = carrier
        if effect.tracking_number:
            line[preset.tracking_attribute] = effect.tracking_number
        lines.append(line)
    body = {
        settings.shipping_status_attribute: settings.shipping_status_values[effect.shipping_status],
        settings.line_items_attribute: lines,
    }
    return _with_update_action(body, preset)


def _return_reason(order: Order, return_id: str) -> str:
    try:
        return order.return_request(return_id).reason
    except KeyError:
        return ""


def build_return_body(
    order: Order, effect: UpdateSfccReturn, settings: SfccSettings
) -> dict[str, Any] | None:
    """The PATCH that returns the request's products; `None` under a preset without a return.

    The cartridge's `return` action with `c_returnCase.returnItems`: product
    id -> quantity (and the buyer's reason, when known). Pure.
    """
    preset = settings.preset
    if not (preset.order_action_attribute and preset.return_action):
        return None
    counts = _quantities(order, effect.line_item_ids, settings)
    return {
        preset.order_action_attribute: preset.return_action,
        preset.return_case_attribute: {
            preset.return_items_key: _items(counts, _return_reason(order, effect.return_id))
        },
    }


# --- reading answers ----------------------------------------------------------------------------


def _created(response: httpx.Response) -> SfccResult:
    """A created order, or the existing one: the cartridge answers a duplicate with HTTP 400,
    `error: false` and the order number it already has."""
    body = response_json(response)
    fields = body if isinstance(body, Mapping) else {}
    order_no = fields.get("orderNo")
    if fields.get("error") is False and order_no:
        return SfccResult(str(order_no), created=response.is_success)
    error = status_error(PARTNER, response, message=text_of(fields.get("msg"), "order not created"))
    if error is not None:
        raise error
    if response.is_success and not isinstance(body, Mapping):
        # An unreadable success may hide a created order: creating again is safe, the
        # cartridge answers a repeat of c_externalOrderId with the order it has.
        raise RetryableError(
            PARTNER, "the answer is not a JSON object", status=response.status_code
        )
    message = text_of(fields.get("msg"), "order not created")
    raise RejectedError(PARTNER, message, status=response.status_code)


def _patched(order_no: str) -> Callable[[httpx.Response], SfccResult]:
    def interpret(response: httpx.Response) -> SfccResult:
        body = response_json(response)
        fault = body.get("fault") if isinstance(body, Mapping) else None
        fault = fault if isinstance(fault, Mapping) else {}
        code = fault.get("type")
        message = text_of(fault.get("message"), "order update failed")
        error = status_error(PARTNER, response, code=code, message=message)
        if error is not None:
            raise error
        # Only a 2xx with the order as a JSON object, and no fault, is an update
        # SFCC applied. A redirect (OCAPI documents none here), an HTML page, an
        # empty body or a fault under 200 cannot be read as success: the PATCH is
        # tried again, which is safe (it sets the same values).
        if not response.is_success or not isinstance(body, Mapping) or "fault" in body:
            what = (
                f"a fault ({code})"
                if "fault" in (body if isinstance(body, Mapping) else {})
                else "not the order as a JSON object"
            )
            raise RetryableError(
                PARTNER,
                f"the order update's answer is {what}",
                status=response.status_code,
                code=code,
            )
        return SfccResult(order_no)

    return interpret


# --- clients ------------------------------------------------------------------------------------


class _SfccBase:
    """Everything but the sending: which request an effect needs, if any."""

    def __init__(
        self,
        settings: SfccSettings,
        retry: RetryPolicy | None = None,
        auth: SfccClientCredentials | None = None,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.auth = auth or settings.credentials()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.settings.base_url!r})"

    def call(self, order: Order, effect: Effect, order_no: str | None) -> Call[SfccResult] | None:
        """The request `effect` needs, or `None` when the preset says there is nothing to send."""
        settings = self.settings
        if isinstance(effect, CreateSfccOrder):
            body = build_create_body(order, effect, settings)
            return Call(PARTNER, "POST", settings.create_url(), _created, body=body)
        if not order_no:
            raise InvalidPayload(PARTNER, [Problem("order_no", f"needed for {effect.kind}")])
        patch: dict[str, Any] | None
        if isinstance(effect, UpdateSfccOrderStatus):
            patch = build_status_body(order, effect, settings)
        elif isinstance(effect, UpdateSfccShipping):
            patch = build_shipping_body(order, effect, settings)
        elif isinstance(effect, UpdateSfccReturn):
            patch = build_return_body(order, effect, settings)
        else:
            raise TypeError(f"not an SFCC effect: {effect.kind}")
        if patch is None:
            return None
        url = settings.order_url(order_no)
        return Call(PARTNER, "PATCH", url, _patched(order_no), body=patch)


class SfccClient(_SfccBase):
    """Carries out the SFCC effects with an injected `httpx.Client`."""

    def __init__(
        self,
        client: httpx.Client,
        settings: SfccSettings,
        retry: RetryPolicy | None = None,
        auth: SfccClientCredentials | None = None,
    ) -> None:
        super().__init__(settings, retry, auth)
        self.client = client

    def execute(self, order: Order, effect: Effect, *, order_no: str | None = None) -> SfccResult:
        """Carry out `effect`; updates need the SFCC `order_no` that creation returned."""
        call = self.call(order, effect, order_no)
        if call is None:
            return SfccResult(order_no, skipped=True)
        return send(self.client, call, self.retry, self.auth)


class AsyncSfccClient(_SfccBase):
    """`SfccClient` for an `httpx.AsyncClient`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: SfccSettings,
        retry: RetryPolicy | None = None,
        auth: SfccClientCredentials | None = None,
    ) -> None:
        super().__init__(settings, retry, auth)
        self.client = client

    async def execute(
        self, order: Order, effect: Effect, *, order_no: str | None = None
    ) -> SfccResult:
        call = self.call(order, effect, order_no)
        if call is None:
            return SfccResult(order_no, skipped=True)
        return await asend(self.client, call, self.retry, self.auth)
