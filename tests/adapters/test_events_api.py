"""Events API 2.0 and Offline Events: payloads per Commanders Act table, hashing, batching,
sending."""

from __future__ import annotations

import asyncio
import hashlib
from decimal import Decimal

import attrs
import httpx
import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.errors import AuthenticationError, RejectedError
from adapters.http import InvalidPayload, MoneyFormat, encode_json
from adapters.partners.events_api import (
    EVENTS_URL,
    OFFLINE_URL,
    AsyncEventsApiClient,
    Content,
    Event,
    EventData,
    EventsApi,
    EventsApiClient,
    EventsApiSettings,
    EventSource,
    LineDetails,
    OfflineEvent,
    Properties,
    build_bodies,
    converter,
    event_id,
    hash_email,
    hash_external_id,
    hash_phone,
    is_sha256_hex,
    normalise_phone,
)
from adapters.sandbox import SandboxServer
from adapters.sandbox.reporting import EVENTS_PATH, OFFLINE_PATH, reporting_routes
from lifecycle import LineStatus, OrderStatus, ReportTikTokEvent

from ._reporting_support import (
    DONE,
    FAST,
    ORDER_ID,
    async_mock_client,
    body_of,
    hotel_order,
    mock_client,
    tiktok_ok,
)

TOKEN = "events-secret-token-456"
SETTINGS = EventsApiSettings(access_token=TOKEN, event_source_id="EVENTSET-1")
EFFECT = ReportTikTokEvent(ORDER_ID, 9, status=OrderStatus.COMPLETED, event_time=DONE)
EMAIL_HASH = hashlib.sha256(b"jane.doe@example.com").hexdigest()
PHONE_HASH = hashlib.sha256(b"+14155550123").hexdigest()
EXTERNAL_HASH = hashlib.sha256(b"CUST-77").hexdigest()
FULL_DATA = EventData(
    external_id="CUST-77",
    ttclid="E.C.P.ttclid",
    ttp="ttp-cookie",
    ip="203.0.113.9",
    user_agent="Mozilla/5.0",
    locale="en-US",
    page_url="https://hotel.example/checkout",
    page_referrer="https://www.tiktok.com/",
    event_channel="store",
    lines={
        "SKU-DLX": LineDetails(("Travel", "Hotels", "Rooms"), brand="Harbour"),
        "SKU-BRK": LineDetails(("Travel", "Food"), content_type="product_group"),
    },
)


def contents(rooms: str, food: str) -> list[dict[str, object]]:
    """The two products, with the `content_category` each format's table builds."""
    return [
        {
            "content_id": "SKU-DLX",
            "content_name": "Deluxe King",
            "content_type": "product",
            "content_category": rooms,
            "price": Decimal("180.00"),
            "quantity": 2,
            "brand": "Harbour",
        },
        {
            "content_id": "SKU-BRK",
            "content_name": "Breakfast",
            "content_type": "product_group",
            "content_category": food,
            "price": Decimal("20.00"),
            "quantity": 1,
        },
    ]


# The Events API destination maps `items.X.product.category_1` only; the Offline Events
# destination joins categories 1..5 with `>`.
CONTENTS = contents("Travel", "Travel")
OFFLINE_CONTENTS = contents("Travel>Hotels>Rooms", "Travel>Food")


def test_events_2_0_golden_payload_has_every_seed_001_field() -> None:
    """The Commanders Act TikTok Events API destination's table: source, ids, hashed user,
    page, contents, value, order and shop ids."""
    settings = attrs.evolve(SETTINGS, limited_data_use=True)
    [body] = build_bodies([(hotel_order(), EFFECT, FULL_DATA)], settings)
    assert body == {
        "event_source": "offline",
        "event_source_id": "EVENTSET-1",
        "data": [
            {
                "event": "CompletePayment",
                "event_time": 1795426200,
                "event_id": "576461413038785752-CompletePayment",
                "user": {
                    "email": EMAIL_HASH,
                    "phone": PHONE_HASH,
                    "external_id": EXTERNAL_HASH,
                    "ttclid": "E.C.P.ttclid",
                    "ttp": "ttp-cookie",
                    "ip": "203.0.113.9",
                    "user_agent": "Mozilla/5.0",
                    "locale": "en-US",
                },
                "properties": {
                    "contents": CONTENTS,
                    "content_ids": ["SKU-DLX", "SKU-BRK"],
                    "content_type": "product",
                    "currency": "USD",
                    "value": Decimal("433.00"),
                    "num_items": 2,
                    "order_id": "576461413038785752",
                    "shop_id": "7494049642642441621",
                    "event_channel": "store",
                    "description": "COMPLETED",
                },
                "page": {
                    "url": "https://hotel.example/checkout",
                    "referrer": "https://www.tiktok.com/",
                },
                "limited_data_use": True,
            }
        ],
    }


def test_offline_golden_payload_has_every_seed_004_field() -> None:
    """The Commanders Act TikTok Offline Events destination's table: event_set_id, ISO-8601
    timestamp, context.user lists, properties; no `content_type` or `num_items`, which
    neither that table nor a public source lists."""
    settings = attrs.evolve(SETTINGS, api=EventsApi.OFFLINE)
    [body] = build_bodies([(hotel_order(), EFFECT, FULL_DATA)], settings)
    assert body == {
        "event_set_id": "EVENTSET-1",
        "event": "CompletePayment",
        "event_id": "576461413038785752-CompletePayment",
        "timestamp": "2026-11-23T09:30:00Z",
        "context": {"user": {"emails": [EMAIL_HASH], "phone_numbers": [PHONE_HASH]}},
        "properties": {
            "contents": OFFLINE_CONTENTS,
            "currency": "USD",
            "value": Decimal("433.00"),
            "order_id": "576461413038785752",
            "shop_id": "7494049642642441621",
            "event_channel": "store",
        },
    }
    assert settings.endpoint == OFFLINE_URL


@pytest.mark.parametrize("source", list(EventSource))
def test_every_event_source_and_string_money(source: EventSource) -> None:
    """web / app / offline / crm are sent as configured; money may leave as strings."""
    settings = attrs.evolve(SETTINGS, event_source=source, money="string")
    [body] = build_bodies([(hotel_order(), EFFECT, None)], settings)
    assert body["event_source"] == source.value
    assert body["data"][0]["properties"]["value"] == "433.00"
    assert "page" not in body["data"][0]


def test_cancelled_lines_are_not_contents_and_value_can_be_overridden() -> None:
    order = hotel_order()
    order = attrs.evolve(
        order, lines=[attrs.evolve(order.lines[0], status=LineStatus.CANCELLED), *order.lines[1:]]
    )
    [body] = build_bodies([(order, EFFECT, EventData(value=Decimal("200.00")))], SETTINGS)
    properties = body["data"][0]["properties"]
    assert [(c["content_id"], c["quantity"]) for c in properties["contents"]] == [
        ("SKU-DLX", 1),
        ("SKU-BRK", 1),
    ]
    assert properties["value"] == Decimal("200.00")


def test_test_event_code_only_in_a_test_environment() -> None:
    """The code is refused in live settings and sent in a test environment."""
    with pytest.raises(ValueError, match="test environments"):
        attrs.evolve(SETTINGS, test_event_code="TEST123")
    test = attrs.evolve(SETTINGS, test_environment=True, test_event_code="TEST123")
    assert build_bodies([(hotel_order(), EFFECT, None)], test)[0]["test_event_code"] == "TEST123"
    assert "test_event_code" not in build_bodies([(hotel_order(), EFFECT, None)], SETTINGS)[0]


def test_an_order_without_a_shop_is_reported_without_properties_shop_id() -> None:
    """TikTok's order detail names no shop; the event then leaves `shop_id` out, never empty."""
    order = attrs.evolve(hotel_order(), shop_id=None)
    [body] = build_bodies([(order, EFFECT, None)], SETTINGS)
    assert "shop_id" not in body["data"][0]["properties"]
    assert body["data"][0]["properties"]["order_id"] == ORDER_ID


def test_smart_mapping_reads_oms_data() -> None:
    settings = attrs.evolve(SETTINGS, field_map={"properties.shop_id": "{{store.code}}"})
    data = EventData(oms={"store": {"code": "SF-01"}})
    [body] = build_bodies([(hotel_order(), EFFECT, data)], settings)
    assert body["data"][0]["properties"]["shop_id"] == "SF-01"


def test_batches_hold_at_most_max_batch_events() -> None:
    """Five events with max_batch 2 go in three requests of 2, 2 and 1."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("POST", "/open_api/v1.3/event/track/")
        assert request.headers["Access-Token"] == TOKEN
        seen.append(request)
        return tiktok_ok()

    items = [
        (hotel_order(order_id=f"10{i}"), attrs.evolve(EFFECT, order_id=f"10{i}"), None)
        for i in range(5)
    ]
    with mock_client(handle) as http:
        EventsApiClient(http, attrs.evolve(SETTINGS, max_batch=2), retry=FAST).report(items)
    assert [len(body_of(r)["data"]) for r in seen] == [2, 2, 1]
    assert [e["event_id"] for r in seen for e in body_of(r)["data"]] == [
        f"10{i}-CompletePayment" for i in range(5)
    ]
    assert str(seen[0].url) == EVENTS_URL


@pytest.mark.parametrize(("code", "error"), [(40105, AuthenticationError), (40002, RejectedError)])
def test_non_zero_codes_are_errors_with_personal_data_redacted(
    code: int, error: type[Exception]
) -> None:
    """TikTok's HTTP 200 errors raise; an echoed email or phone never reaches the message."""

    def handle(request: httpx.Request) -> httpx.Response:
        message = "bad user jane.doe@example.com +14155550123"
        return httpx.Response(200, json={"code": code, "message": message, "request_id": "r9"})

    with mock_client(handle) as http, pytest.raises(error) as raised:
        EventsApiClient(http, SETTINGS, retry=FAST).execute(hotel_order(), EFFECT)
    assert "jane.doe" not in str(raised.value)
    assert "4155550123" not in str(raised.value)
    assert "r9" in str(raised.value)


def test_async_client_sends_the_same_batches() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/open_api/v1.3/event/track/"
        seen.append(request)
        return tiktok_ok()

    async def run() -> None:
        async with async_mock_client(handle) as http:
            await AsyncEventsApiClient(http, SETTINGS, retry=FAST).execute(
                hotel_order(), EFFECT, FULL_DATA
            )

    asyncio.run(run())
    assert body_of(seen[0]) == build_bodies([(hotel_order(), EFFECT, FULL_DATA)], SETTINGS)[0]


def test_end_to_end_against_the_sandbox_deduplicates_by_event_id() -> None:
    """A retried effect carries the same event_id; both formats reach the fake on 127.0.0.1."""
    routes, state = reporting_routes(TOKEN)
    with SandboxServer(routes) as server, httpx.Client() as http:
        live = attrs.evolve(SETTINGS, url=server.url + EVENTS_PATH)
        offline = attrs.evolve(SETTINGS, api=EventsApi.OFFLINE, url=server.url + OFFLINE_PATH)
        EventsApiClient(http, live, retry=FAST).execute(hotel_order(), EFFECT, FULL_DATA)
        EventsApiClient(http, live, retry=FAST).execute(hotel_order(), EFFECT, FULL_DATA)
        EventsApiClient(http, offline, retry=FAST).execute(hotel_order(), EFFECT)
        wrong = attrs.evolve(live, access_token="nope")
        with pytest.raises(AuthenticationError):
            EventsApiClient(http, wrong, retry=FAST).execute(hotel_order(), EFFECT)
    assert [e["event_id"] for e in state.events] == [event_id(EFFECT, SETTINGS)] * 2
    assert state.events[0]["user"]["email"] == EMAIL_HASH
    assert state.offline_events[0]["context"]["user"]["emails"] == [EMAIL_HASH]
    assert state.duplicates == 2


# --- hashing -----------------------------------------------------------------------------------

REGIONS = ("US", "GB", "DE", "FR", "JP", "BR", "IN", "ID", "TH", "MY")


@st.composite
def phones(draw: st.DrawFn) -> tuple[str, str]:
    """A valid phone written in one of the common formats, and its region."""
    region = draw(st.sampled_from(REGIONS))
    number = phonenumbers.example_number(region)
    assert number is not None
    style = draw(st.sampled_from(list(phonenumbers.PhoneNumberFormat.__dict__.values())[1:5]))
    written = phonenumbers.format_number(number, style)
    return draw(st.sampled_from([written, f"  {written} "])), region


@given(st.emails(), phones())
def test_hashing_is_idempotent_and_never_leaks(email: str, phone: tuple[str, str]) -> None:
    """Hashing a digest gives it back; the payload holds no clear email or phone."""
    written, region = phone
    e164 = normalise_phone(written, region)
    assert e164 is not None
    assert normalise_phone(e164) == e164
    for hashed in (hash_email(email), hash_phone(written, region), hash_external_id(email)):
        assert hashed is not None
        assert is_sha256_hex(hashed)
    assert hash_email(hash_email(email) or "") == hash_email(email)
    assert hash_phone(hash_phone(written, region) or "") == hash_phone(written, region)
    assert hash_email(email) == hashlib.sha256(email.strip().lower().encode()).hexdigest()
    assert hash_phone(written, region) == hashlib.sha256(e164.encode()).hexdigest()
    data = EventData(email=email, phone=written, phone_region=region, external_id=email)
    for api in EventsApi:
        [body] = build_bodies([(hotel_order(), EFFECT, data)], attrs.evolve(SETTINGS, api=api))
        wire = encode_json(body).decode()
        for clear in (email, email.strip().lower(), written.strip(), e164, e164[1:]):
            assert clear not in wire


def test_uppercase_digest_is_passed_on_lowercased_and_junk_phone_dropped() -> None:
    assert hash_email(EMAIL_HASH.upper()) == EMAIL_HASH
    assert hash_phone("12") is None
    assert hash_email("   ") is None
    event = build_bodies([(hotel_order(), EFFECT, EventData(phone="12"))], SETTINGS)[0]["data"][0]
    assert "phone" not in event["user"]


@given(
    st.builds(
        OfflineEvent,
        properties=st.builds(
            Properties,
            contents=st.lists(
                st.builds(Content, price=st.none() | st.decimals(0, 10**6, places=2))
            ).map(tuple),
            value=st.none() | st.decimals(min_value=0, max_value=10**6, places=2),
        ),
    ),
    st.sampled_from(list(MoneyFormat)),
)
def test_converter_round_trips_offline_events(event: OfflineEvent, money: MoneyFormat) -> None:
    """structure(unstructure(x)) == x for the Offline Events shape, in both money formats."""
    conv = converter(money)
    assert conv.structure(conv.unstructure(event), OfflineEvent) == event


def test_converter_round_trips_an_events_2_0_event() -> None:
    conv = converter()
    [body] = build_bodies([(hotel_order(), EFFECT, FULL_DATA)], SETTINGS)
    event = conv.structure(body["data"][0], Event)
    assert conv.unstructure(event) == body["data"][0]


def test_the_event_is_named_after_the_status_by_the_adapter_settings() -> None:
    """The core reports a status; `event_names` names the event and its event_id."""
    settings = attrs.evolve(SETTINGS, event_names={OrderStatus.COMPLETED: "PlaceAnOrder"})
    [body] = build_bodies([(hotel_order(), EFFECT, None)], settings)
    assert body["data"][0]["event"] == "PlaceAnOrder"
    assert body["data"][0]["event_id"] == f"{ORDER_ID}-PlaceAnOrder"
    cancelled = attrs.evolve(EFFECT, status=OrderStatus.CANCELLED)
    with pytest.raises(InvalidPayload, match="no Events API event for CANCELLED"):
        build_bodies([(hotel_order(), cancelled, None)], SETTINGS)


# The Commanders Act TikTok Events API destination's field table, all 41 rows:
# (its property, the TikTok property it fills), in the table's order.
EVENTS_API_ROWS = [
    ("partners.tiktok.event_source", "event_source"),
    ("Pixel Id / App Id", "event_source_id"),
    ("event_name", "data.0.event"),
    ("context.event_timestamp", "data.0.event_time"),
    ("id", "data.0.event_id"),
    ("partners.tiktok.ttclid", "data.0.user.ttclid"),
    ("user.id", "data.0.user.external_id"),
    ("partners.tiktok.ttp", "data.0.user.ttp"),
    ("context.page.url", "data.0.page.url"),
    ("context.page.referrer", "data.0.page.referrer"),
    ("context.device.advertising_id", "data.0.user.idfa"),
    ("context.device.idfv", "data.0.user.idfv"),
    ("context.device.att_status", "data.0.user.att_status"),
    ("context.device.advertising_id", "data.0.user.gaid"),
    ("context.app.namespace", "data.0.app.app_id"),
    ("context.app.name", "data.0.app.app_name"),
    ("context.app.version", "data.0.app.app_version"),
    ("user.email", "data.0.user.email"),
    ("user.phone", "data.0.user.phone"),
    ("context.device.ip", "data.0.user.ip"),
    ("context.device.user_agent", "data.0.user.user_agent"),
    ("context.device.language", "data.0.user.locale"),
    ("partners.tiktok.ldu", "data.0.limited_data_use"),
    ("items.X.content_type", "data.0.properties.contents.0.content_type"),
    ("items.X.id", "data.0.properties.contents.0.content_id"),
    ("items.X.id", "data.0.properties.content_ids"),
    ("items.X.product.price", "data.0.properties.contents.0.price"),
    ("items.X.quantity", "data.0.properties.contents.0.quantity"),
    ("items.X.product.name", "data.0.properties.contents.0.content_name"),
    ("items.X.product.category_1", "data.0.properties.contents.0.content_category"),
    ("items.X.product.brand", "data.0.properties.contents.0.brand"),
    ("search_term", "data.0.properties.search_string"),
    ("id", "data.0.properties.order_id"),
    ("partners.tiktok.shop_id", "data.0.properties.shop_id"),
    ("status", "data.0.properties.status"),
    ("content_type", "data.0.properties.content_type"),
    ("currency", "data.0.properties.currency"),
    ("event_name", "data.0.properties.description"),
    ("value", "data.0.properties.value"),
    ("items.length", "data.0.properties.num_items"),
    ("Test Event Code", "test_event_code"),
]

DEVICE_DATA = attrs.evolve(
    FULL_DATA,
    advertising_id="6D92078A-8246-4BA4-AE5B-76104861E7DC",
    idfv="599F9C00-92DC-4B5C-9464-7971F01F8370",
    att_status="AUTHORIZED",
    app_id="com.harbour.hotel",
    app_name="Harbour Hotel",
    app_version="4.2.0",
    search_string="deluxe king",
    status="paid",
)


def _at(body: object, path: str) -> object:
    for part in path.split("."):
        if isinstance(body, list):
            body = body[int(part)]
        else:
            assert isinstance(body, dict), path
            assert part in body, path
            body = body[part]
    return body


def test_every_one_of_the_41_events_api_rows_is_produced() -> None:
    """41 of 41: with the data for a row given, its TikTok property is in the body. iOS
    fills `idfa` / `idfv` / `att_status`; `gaid` is Android's, so that row is checked on
    an Android event of the same order."""
    assert len(EVENTS_API_ROWS) == 41
    settings = attrs.evolve(
        SETTINGS, limited_data_use=True, test_environment=True, test_event_code="TEST1"
    )
    ios, android = (
        build_bodies(
            [(hotel_order(), EFFECT, attrs.evolve(DEVICE_DATA, device_platform=p))], settings
        )[0]
        for p in ("iOS", "Android")
    )
    for source, target in EVENTS_API_ROWS:
        body = android if target.endswith(".gaid") else ios
        assert _at(body, target) is not None, (source, target)
    assert _at(ios, "data.0.user.idfa") == "6D92078A-8246-4BA4-AE5B-76104861E7DC"
    assert _at(android, "data.0.user.gaid") == "6D92078A-8246-4BA4-AE5B-76104861E7DC"
    assert "idfa" not in _at(android, "data.0.user")  # type: ignore[operator]
    assert "gaid" not in _at(ios, "data.0.user")  # type: ignore[operator]
    assert _at(ios, "data.0.properties.content_ids") == ["SKU-DLX", "SKU-BRK"]
    assert _at(ios, "data.0.app") == {
        "app_id": "com.harbour.hotel",
        "app_name": "Harbour Hotel",
        "app_version": "4.2.0",
    }


def test_device_ids_are_sent_clear_unless_the_setting_hashes_them() -> None:
    """Only email, phone and external id are hashed by the public rule; device ids go as
    given, or as SHA-256 of the lowercased id with `hash_advertising_ids`."""
    data = attrs.evolve(DEVICE_DATA, device_platform="ios")
    hashed = attrs.evolve(SETTINGS, hash_advertising_ids=True)
    user = build_bodies([(hotel_order(), EFFECT, data)], hashed)[0]["data"][0]["user"]
    expected = hashlib.sha256(b"6d92078a-8246-4ba4-ae5b-76104861e7dc").hexdigest()
    assert user["idfa"] == expected
    assert user["att_status"] == "AUTHORIZED"
    assert "6D92078A" not in encode_json(user).decode()


def test_a_zero_idfa_and_no_platform_send_no_device_id() -> None:
    """iOS without tracking permission gives an all-zero IDFA: not an id. Without a
    platform the advertising id's field is unknown, so none is sent."""
    zero = attrs.evolve(
        DEVICE_DATA,
        device_platform="iOS",
        advertising_id="00000000-0000-0000-0000-000000000000",
        att_status="DENIED",
    )
    user = build_bodies([(hotel_order(), EFFECT, zero)], SETTINGS)[0]["data"][0]["user"]
    assert "idfa" not in user
    assert user["att_status"] == "DENIED"
    none = build_bodies([(hotel_order(), EFFECT, DEVICE_DATA)], SETTINGS)[0]["data"][0]["user"]
    assert not {"idfa", "idfv", "att_status", "gaid"} & set(none)


def test_an_unknown_att_status_is_refused_naming_it() -> None:
    with pytest.raises(InvalidPayload, match="att_status"):
        EventData(att_status="MAYBE")


def test_the_category_join_is_a_setting() -> None:
    """Events 2.0 defaults to category 1 (seed table); depth and separator are settings."""
    settings = attrs.evolve(SETTINGS, content_category_depth=3, category_separator=" > ")
    [body] = build_bodies([(hotel_order(), EFFECT, FULL_DATA)], settings)
    categories = [c["content_category"] for c in body["data"][0]["properties"]["contents"]]
    assert categories == ["Travel > Hotels > Rooms", "Travel > Food"]
