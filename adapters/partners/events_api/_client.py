"""TikTok Events API 2.0 and Offline Events: report conversions
(Commanders Act TikTok Events API / Offline Events destinations).

It carries out the lifecycle's `ReportTikTokEvent` effects, naming the event
after the status the order reached (`EventsApiSettings.event_names`; by
default `CompletePayment` when an order completes).

Two wire formats, chosen by `EventsApiSettings.api`:

- `EVENTS_2_0` (default): `POST /open_api/v1.3/event/track/` with
  `event_source` (`web` | `app` | `offline` | `crm`), `event_source_id` (the
  pixel, app or event set id) and up to `max_batch` events in `data[]`
  (the Commanders Act TikTok Events API destination's field table).
- `OFFLINE`: the older Offline Events shape of the Commanders Act TikTok Offline Events destination,
  `POST /open_api/v1.3/offline/track/`, one event per request, with
  `event_set_id`, an ISO-8601 `timestamp` and `context.user.emails[]` /
  `phone_numbers[]`.

Personal data leaves hashed only: `hash_email` (trim, lowercase), `hash_phone`
(E.164 through `phonenumbers`) and `hash_external_id`, each SHA-256 hex, and a
value that already is a SHA-256 hex digest is passed on, not hashed twice.
`event_id` is `{order_id}-{event}` (`event_id`), stable across retries, so
TikTok deduplicates it against the browser pixel.

Errors are the shared tree of `adapters.errors`. TikTok answers errors with
HTTP 200 and a non-zero `code`; `auth_codes` and `retryable_codes` say which
codes mean what.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs
import cattrs
import httpx
import phonenumbers
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
    money_converter,
    read_envelope,
    send,
)
from adapters.http._redact import register_secret
from adapters.http._retry import RetryPolicy
from lifecycle import LineStatus, Order, OrderLine, OrderStatus, ReportTikTokEvent

__all__ = [
    "ATT_STATUSES",
    "EVENTS_URL",
    "EVENT_NAMES",
    "OFFLINE_URL",
    "PARTNER",
    "App",
    "AsyncEventsApiClient",
    "Content",
    "Event",
    "EventData",
    "EventSource",
    "EventsApi",
    "EventsApiClient",
    "EventsApiSettings",
    "LineDetails",
    "OfflineContext",
    "OfflineEvent",
    "OfflineUser",
    "Page",
    "Properties",
    "TrackRequest",
    "User",
    "build_bodies",
    "build_event",
    "build_offline_event",
    "converter",
    "event_id",
    "event_name",
    "hash_email",
    "hash_external_id",
    "hash_phone",
    "is_sha256_hex",
    "normalise_email",
    "normalise_phone",
]

PARTNER = "tiktok-events-api"
EVENTS_URL = "https://business-api.tiktok.com/open_api/v1.3/event/track/"
OFFLINE_URL = "https://business-api.tiktok.com/open_api/v1.3/offline/track/"


class EventsApi(enum.StrEnum):
    """Which of TikTok's two wire formats to speak."""

    EVENTS_2_0 = "events_2_0"
    OFFLINE = "offline"


class EventSource(enum.StrEnum):
    """Events API 2.0 `event_source`; `event_source_id` is the pixel, app or event set id."""

    WEB = "web"
    APP = "app"
    OFFLINE = "offline"
    CRM = "crm"


# --- hashing ------------------------------------------------------------------------------------

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


def is_sha256_hex(value: str) -> bool:
    """Whether `value` already is a SHA-256 hex digest, which must not be hashed again."""
    return _SHA256_HEX.fullmatch(value) is not None


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalise_email(value: str) -> str:
    """TikTok's email normalisation: surrounding whitespace trimmed, lowercased."""
    return value.strip().lower()


def normalise_phone(value: str, region: str | None = None) -> str | None:
    """`value` in E.164 (`+14155550100`), or `None` when it is not a valid number.

    `region` (ISO 3166 alpha-2) is used for numbers written without a country
    code; a number that cannot be read is dropped rather than hashed as junk.
    """
    try:
        number = phonenumbers.parse(value, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def hash_email(value: str) -> str | None:
    """SHA-256 hex of the normalised email; a digest is passed on lowercased; blank -> `None`."""
    if is_sha256_hex(value.strip()):
        return value.strip().lower()
    email = normalise_email(value)
    return _sha256(email) if email else None


def hash_phone(value: str, region: str | None = None) -> str | None:
    """SHA-256 hex of the E.164 phone; a digest is passed on lowercased; unreadable -> `None`."""
    if is_sha256_hex(value.strip()):
        return value.strip().lower()
    phone = normalise_phone(value, region)
    return _sha256(phone) if phone else None


def hash_external_id(value: str) -> str | None:
    """SHA-256 hex of the trimmed external id; a digest is passed on lowercased; blank -> `None`."""
    trimmed = value.strip()
    if is_sha256_hex(trimmed):
        return trimmed.lower()
    return _sha256(trimmed) if trimmed else None


# --- input beside the order ---------------------------------------------------------------------


EVENT_NAMES: Mapping[OrderStatus, str] = MappingProxyType(
    {OrderStatus.COMPLETED: "CompletePayment"}
)
"""The default `EventsApiSettings.event_names`: `CompletePayment` when the order completes."""


@frozen
class LineDetails:
    """What the OMS knows about a product that the order line does not: categories, brand."""

    categories: tuple[str, ...] = field(default=(), converter=tuple)
    brand: str | None = None
    content_type: str | None = None


ATT_STATUSES: frozenset[str] = frozenset(
    {"AUTHORIZED", "DENIED", "NOT_DETERMINED", "RESTRICTED", "NOT_APPLICABLE"}
)
"""`user.att_status` values (Commanders Act TikTok Events API destination, note [9])."""


def _att_status(_instance: object, _attribute: Any, value: str | None) -> None:
    if value is not None and value not in ATT_STATUSES:
        reason = f"must be one of {', '.join(sorted(ATT_STATUSES))}, got {value!r}"
        raise InvalidPayload(PARTNER, [Problem("user.att_status", reason)])


@frozen
class EventData:
    """What the Events API can use that the order does not carry; all optional.

    email / phone:
        Override the order's `buyer_email` / recipient phone (clear or hashed).
    phone_region:
        Region for numbers without a country code; default the recipient's
        `region_code`.
    lines:
        `LineDetails` by SKU id (or seller SKU): its categories make
        `content_category` (`EventsApiSettings.content_category_depth`).
    value:
        `properties.value`; default the order's `total_amount`.
    oms:
        The OMS's own data that `{{path}}` templates in `field_map` read.
    device_platform, advertising_id, idfv, att_status:
        The device (Commanders Act TikTok Events API destination, notes [8]-[10]):
        on `iOS` the advertising id is `user.idfa`, with `user.idfv` and
        `user.att_status` (one of `ATT_STATUSES`); on `Android` it is
        `user.gaid`. Without a platform none is sent. An all-zero id (iOS
        without tracking permission) is not an id and is not sent.
    app_id, app_name, app_version:
        `app.app_id` (required for app events), `app.app_name`, `app.app_version`.
    search_string, status, description:
        `properties.search_string`, `properties.status` and
        `properties.description`; `description` defaults to the lifecycle
        status the event reports (the destination maps its own event name there).
    """

    email: str | None = field(default=None, repr=False)
    phone: str | None = field(default=None, repr=False)
    phone_region: str | None = None
    external_id: str | None = field(default=None, repr=False)
    ttclid: str | None = None
    ttp: str | None = None
    ip: str | None = field(default=None, repr=False)
    user_agent: str | None = None
    locale: str | None = None
    page_url: str | None = None
    page_referrer: str | None = None
    event_channel: str | None = None
    value: Decimal | None = None
    lines: Mapping[str, LineDetails] = field(factory=dict, converter=frozen_mapping, hash=False)
    oms: Mapping[str, Any] = field(factory=dict, converter=frozen_mapping, repr=False, hash=False)
    device_platform: str | None = None
    advertising_id: str | None = field(default=None, repr=False)
    idfv: str | None = field(default=None, repr=False)
    att_status: str | None = field(default=None, validator=_att_status)
    app_id: str | None = None
    app_name: str | None = None
    app_version: str | None = None
    search_string: str | None = None
    status: str | None = None
    description: str | None = None


# --- settings -----------------------------------------------------------------------------------


def _no_live_test_code(instance: EventsApiSettings, _attribute: Any, value: str | None) -> None:
    if value and not instance.test_environment:
        raise SettingsError(
            "test_event_code is only for test environments: TikTok drops live data "
            "carrying it; set test_environment=True to send it"
        )


@frozen
class EventsApiSettings:
    """How to reach the Events API and what to say about the source.

    access_token:
        Sent as the `Access-Token` header; never in a `repr`, log or error.
    event_source_id:
        The pixel id (`web`), app id (`app`) or event set id (`offline`,
        `crm`; also the `event_set_id` of the `OFFLINE` format).
    event_source:
        Default `offline`: a completed TikTok Shop order is an offline
        conversion for the Events API.
    api:
        `EVENTS_2_0` (default) or the older `OFFLINE` shape
        (Commanders Act TikTok Offline Events destination).
    url:
        Default `EVENTS_URL` or `OFFLINE_URL` according to `api`.
    test_environment / test_event_code:
        The code is sent only in a test environment; setting it without
        `test_environment=True` is refused, since TikTok drops live data
        carrying it (Commanders Act TikTok Events API destination).
    limited_data_use:
        Events API 2.0 `limited_data_use`. Default False.
    max_batch:
        Events per Events API 2.0 request. Default 1000: Hightouch's TikTok
        destination documentation allows "up to 1,000 per call"; TikTok's own
        limit for `data[]` is **unconfirmed** here, so lower it if your
        account is told otherwise. The `OFFLINE` format sends one event per
        request.
    content_category_depth, category_separator:
        How many of a product's categories 1..5 make `content_category`, and
        what joins them. Default `None`: each format's own table, category 1
        only for Events 2.0 (Commanders Act TikTok Events API destination),
        1..5 joined with `>` for `OFFLINE` (its Offline Events destination).
    hash_advertising_ids:
        Send `idfa`, `idfv` and `gaid` as SHA-256 hex (of the lowercased id).
        Default False: the rule the public integrations follow (Commanders
        Act's TikTok Events API destination, note [6]; Hightouch's TikTok
        destination) hashes email, phone and external id only, and sends
        device ids as they are; TikTok's own wording for device ids is
        **unconfirmed** here.
    content_type:
        `contents[].content_type` unless `LineDetails` says otherwise:
        `product` (default) or `product_group` (Commanders Act TikTok Events API destination).
    money:
        Amounts as JSON numbers (default; TikTok documents `value` and
        `price` as numbers) or decimal strings.
    auth_codes / retryable_codes:
        Answer codes that mean a refused token / "try again". Default 40105
        ("access token is incorrect or has been revoked") and none: TikTok's
        list of busy codes is not confirmed in the public record, so add the
        ones your account sees. HTTP 429 and 5xx are always retried.
    field_map:
        Smart mapping: a path in the event (`properties.shop_id`,
        `user.ttclid`, ...) -> `"{{path.in.oms.data}}"` or a literal.
    event_names:
        The event reported when the order reaches each lifecycle status the
        lifecycle reports (`Policy.tiktok_event_statuses`). Default
        `CompletePayment` on completion (Commanders Act TikTok Events API /
        Offline Events destinations). A reported status with no name here is
        refused (`InvalidPayload`) before anything is sent.
    """

    access_token: str = field(repr=False)
    event_source_id: str
    event_source: EventSource = field(default=EventSource.OFFLINE, converter=EventSource)
    api: EventsApi = field(default=EventsApi.EVENTS_2_0, converter=EventsApi)
    url: str | None = None
    test_environment: bool = False
    test_event_code: str | None = field(default=None, validator=_no_live_test_code)
    limited_data_use: bool = False
    max_batch: int = field(default=1000, validator=attrs.validators.ge(1))
    content_category_depth: int | None = field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(range(1, 6)))
    )
    category_separator: str = ">"
    hash_advertising_ids: bool = False
    content_type: str = "product"
    money: MoneyFormat = field(default=MoneyFormat.NUMBER, converter=MoneyFormat)
    auth_codes: frozenset[int] = frozenset({40105})
    retryable_codes: frozenset[int] = frozenset()
    field_map: Mapping[str, Any] = field(factory=dict, converter=frozen_mapping, hash=False)
    event_names: Mapping[OrderStatus, str] = field(
        default=EVENT_NAMES, converter=frozen_mapping, hash=False
    )

    @property
    def category_depth(self) -> int:
        """`content_category_depth`, or the format's own: 1 (Events 2.0) or 5 (Offline)."""
        if self.content_category_depth is not None:
            return self.content_category_depth
        return 5 if self.api is EventsApi.OFFLINE else 1

    @property
    def endpoint(self) -> str:
        if self.url:
            return self.url
        return OFFLINE_URL if self.api is EventsApi.OFFLINE else EVENTS_URL


# --- the wire shape -----------------------------------------------------------------------------


@frozen
class User:
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None
    ttclid: str | None = None
    ttp: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    locale: str | None = None
    idfa: str | None = None
    idfv: str | None = None
    att_status: str | None = None
    gaid: str | None = None


@frozen
class App:
    app_id: str | None = None
    app_name: str | None = None
    app_version: str | None = None


@frozen
class Content:
    content_id: str | None = None
    content_name: str | None = None
    content_type: str | None = None
    content_category: str | None = None
    price: Decimal | None = None
    quantity: int | None = None
    brand: str | None = None


@frozen
class Properties:
    contents: tuple[Content, ...] = ()
    content_ids: tuple[str, ...] = ()
    content_type: str | None = None
    currency: str | None = None
    value: Decimal | None = None
    num_items: int | None = None
    order_id: str | None = None
    shop_id: str | None = None
    event_channel: str | None = None
    search_string: str | None = None
    status: str | None = None
    description: str | None = None


@frozen
class Page:
    url: str | None = None
    referrer: str | None = None


@frozen
class Event:
    """One Events API 2.0 event (an element of `data[]`)."""

    event: str
    event_time: int
    event_id: str
    user: User
    properties: Properties
    limited_data_use: bool
    page: Page | None = None
    app: App | None = None


@frozen
class TrackRequest:
    """An Events API 2.0 request body."""

    event_source: EventSource
    event_source_id: str
    data: tuple[Event, ...]
    test_event_code: str | None = None


@frozen
class OfflineUser:
    emails: tuple[str, ...] = ()
    phone_numbers: tuple[str, ...] = ()


@frozen
class OfflineContext:
    user: OfflineUser


@frozen
class OfflineEvent:
    """A request body of the older Offline Events API.

    The fields are the table of the Commanders Act TikTok Offline Events destination.
    """

    event_set_id: str
    event: str
    event_id: str
    timestamp: str
    context: OfflineContext
    properties: Properties
    test_event_code: str | None = None


@functools.cache
def converter(money: MoneyFormat = MoneyFormat.NUMBER) -> cattrs.Converter:
    """This partner's converter: `None` fields omitted, money in the configured format."""
    return money_converter(money)


# --- building -----------------------------------------------------------------------------------


def _content_key(line: OrderLine) -> str:
    return line.sku_id or line.seller_sku or line.product_id or line.line_item_id


def _contents(order: Order, data: EventData, settings: EventsApiSettings) -> tuple[Content, ...]:
    """One content per SKU and price; quantities add up (a 202309 line is one unit)."""
    grouped: dict[tuple[str, Decimal], Content] = {}
    for line in order.lines:
        if line.status is LineStatus.CANCELLED:
            continue
        key = _content_key(line)
        details = data.lines.get(key) or data.lines.get(line.seller_sku) or LineDetails()
        found = grouped.get((key, line.sale_price))
        if found is not None:
            grouped[(key, line.sale_price)] = attrs.evolve(
                found, quantity=(found.quantity or 0) + line.quantity
            )
            continue
        grouped[(key, line.sale_price)] = Content(
            content_id=key,
            content_name=line.product_name or None,
            content_type=details.content_type or settings.content_type,
            content_category=settings.category_separator.join(
                details.categories[: settings.category_depth]
            )
            or None,
            price=line.sale_price,
            quantity=line.quantity,
            brand=details.brand,
        )
    return tuple(grouped.values())


def _offline_properties(order: Order, data: EventData, settings: EventsApiSettings) -> Properties:
    """The rows both tables share, all the Offline Events destination's table has (no
    `content_type`, `num_items`: neither it nor a public source lists them)."""
    return Properties(
        contents=_contents(order, data, settings),
        currency=order.currency,
        value=order.total_amount if data.value is None else data.value,
        order_id=order.order_id,
        shop_id=order.shop_id,
        event_channel=data.event_channel,
    )


def _properties(
    order: Order, effect: ReportTikTokEvent, data: EventData, settings: EventsApiSettings
) -> Properties:
    """Events 2.0 `properties`: the shared rows and the rest of the destination's table."""
    shared = _offline_properties(order, data, settings)
    return attrs.evolve(
        shared,
        content_ids=tuple(dict.fromkeys(c.content_id for c in shared.contents if c.content_id)),
        content_type=settings.content_type,
        num_items=len(shared.contents),  # `items.length`: the item entries, not their quantities
        search_string=data.search_string,
        status=data.status,
        description=effect.status.value if data.description is None else data.description,
    )


_NO_ADVERTISING_ID = re.compile(r"[0-]+")


def _device_id(value: str | None, settings: EventsApiSettings) -> str | None:
    """A device id as TikTok takes it: clear, or hashed where the setting says so."""
    if value is None or not value.strip() or _NO_ADVERTISING_ID.fullmatch(value.strip()):
        return None
    clear = value.strip()
    if not settings.hash_advertising_ids or is_sha256_hex(clear):
        return clear.lower() if is_sha256_hex(clear) else clear
    return _sha256(clear.lower())


def _device(data: EventData, settings: EventsApiSettings) -> dict[str, str | None]:
    """`idfa` / `idfv` / `att_status` on iOS, `gaid` on Android (destination notes [8], [10])."""
    platform = (data.device_platform or "").strip().lower()
    if platform == "ios":
        return {
            "idfa": _device_id(data.advertising_id, settings),
            "idfv": _device_id(data.idfv, settings),
            "att_status": data.att_status,
        }
    if platform == "android":
        return {"gaid": _device_id(data.advertising_id, settings)}
    return {}


def _email(order: Order, data: EventData) -> str | None:
    return hash_email(data.email or order.buyer_email)


def _phone(order: Order, data: EventData) -> str | None:
    recipient = order.recipient
    phone = data.phone or (recipient.phone if recipient else "")
    region = data.phone_region or (recipient.region_code if recipient else None) or None
    return hash_phone(phone, region) if phone else None


def event_name(effect: ReportTikTokEvent, settings: EventsApiSettings) -> str:
    """The Events API event for the status `effect` reports; `InvalidPayload` when unnamed."""
    name = settings.event_names.get(effect.status)
    if name is None:
        reason = f"no Events API event for {effect.status}: add it to EventsApiSettings.event_names"
        raise InvalidPayload(PARTNER, [Problem("event", reason)])
    return name


def event_id(effect: ReportTikTokEvent, settings: EventsApiSettings) -> str:
    """`{order_id}-{event}`: the same on every retry, so TikTok reports the event once."""
    return f"{effect.order_id}-{event_name(effect, settings)}"


def build_event(
    order: Order,
    effect: ReportTikTokEvent,
    settings: EventsApiSettings,
    data: EventData | None = None,
) -> Event:
    """The Events API 2.0 event for `effect`, personal data hashed. Pure."""
    data = data or EventData()
    page = Page(data.page_url, data.page_referrer)
    app = App(data.app_id, data.app_name, data.app_version)
    return Event(
        event=event_name(effect, settings),
        event_time=int(effect.event_time.timestamp()),
        event_id=event_id(effect, settings),
        user=User(
            email=_email(order, data),
            phone=_phone(order, data),
            external_id=hash_external_id(data.external_id) if data.external_id else None,
            ttclid=data.ttclid,
            ttp=data.ttp,
            ip=data.ip,
            user_agent=data.user_agent,
            locale=data.locale,
            **_device(data, settings),
        ),
        properties=_properties(order, effect, data, settings),
        limited_data_use=settings.limited_data_use,
        page=None if page == Page() else page,
        app=None if app == App() else app,
    )


def build_offline_event(
    order: Order,
    effect: ReportTikTokEvent,
    settings: EventsApiSettings,
    data: EventData | None = None,
) -> OfflineEvent:
    """The older Offline Events body for `effect`, personal data hashed. Pure."""
    data = data or EventData()
    email, phone = _email(order, data), _phone(order, data)
    moment = effect.event_time.astimezone(UTC).isoformat(timespec="seconds")
    return OfflineEvent(
        event_set_id=settings.event_source_id,
        event=event_name(effect, settings),
        event_id=event_id(effect, settings),
        timestamp=moment.replace("+00:00", "Z"),
        context=OfflineContext(OfflineUser((email,) if email else (), (phone,) if phone else ())),
        properties=_offline_properties(order, data, settings),
        test_event_code=settings.test_event_code if settings.test_environment else None,
    )


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


Item = tuple[Order, ReportTikTokEvent, EventData | None]


def build_bodies(items: Sequence[Item], settings: EventsApiSettings) -> list[dict[str, Any]]:
    """The request bodies for `items`: batches of `max_batch` (2.0) or one each (offline).

    Smart mapping (`field_map`) applies to each event, reading that item's
    `EventData.oms`.
    """
    conv = converter(settings.money)
    if settings.api is EventsApi.OFFLINE:
        return [
            _mapped(conv.unstructure(build_offline_event(o, e, settings, d)), d, settings)
            for o, e, d in items
        ]
    bodies = []
    test_code = settings.test_event_code if settings.test_environment else None
    for chunk in _chunks(items, settings.max_batch):
        request = TrackRequest(settings.event_source, settings.event_source_id, (), test_code)
        body: dict[str, Any] = conv.unstructure(request)
        body["data"] = [
            _mapped(conv.unstructure(build_event(o, e, settings, d)), d, settings)
            for o, e, d in chunk
        ]
        bodies.append(body)
    return bodies


def _mapped(
    event: dict[str, Any], data: EventData | None, settings: EventsApiSettings
) -> dict[str, Any]:
    return apply_field_map(event, settings.field_map, (data or EventData()).oms)


# --- clients ------------------------------------------------------------------------------------


class _EventsApiBase:
    """Everything but the sending: build the batches and describe the calls."""

    def __init__(self, settings: EventsApiSettings, retry: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        register_secret(settings.access_token)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.settings.endpoint!r})"

    def calls(self, items: Sequence[Item]) -> list[Call[Envelope]]:
        settings = self.settings

        def interpret(response: httpx.Response) -> Envelope:
            return read_envelope(
                PARTNER,
                response,
                retryable_codes=settings.retryable_codes,
                auth_codes=settings.auth_codes,
            )

        headers = {"Access-Token": settings.access_token}
        return [
            Call(PARTNER, "POST", settings.endpoint, interpret, body=body, headers=headers)
            for body in build_bodies(items, settings)
        ]


class EventsApiClient(_EventsApiBase):
    """Carries out `ReportTikTokEvent` effects with an injected `httpx.Client`."""

    def __init__(
        self, client: httpx.Client, settings: EventsApiSettings, retry: RetryPolicy | None = None
    ) -> None:
        super().__init__(settings, retry)
        self.client = client

    def execute(
        self, order: Order, effect: ReportTikTokEvent, data: EventData | None = None
    ) -> Envelope:
        return self.report([(order, effect, data)])[0]

    def report(self, items: Sequence[Item]) -> list[Envelope]:
        """Send many events, batched; one envelope per request made."""
        return [send(self.client, call, self.retry) for call in self.calls(items)]


class AsyncEventsApiClient(_EventsApiBase):
    """`EventsApiClient` for an `httpx.AsyncClient`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: EventsApiSettings,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(settings, retry)
        self.client = client

    async def execute(
        self, order: Order, effect: ReportTikTokEvent, data: EventData | None = None
    ) -> Envelope:
        return (await self.report([(order, effect, data)]))[0]

    async def report(self, items: Sequence[Item]) -> list[Envelope]:
        return [await asend(self.client, call, self.retry) for call in self.calls(items)]
