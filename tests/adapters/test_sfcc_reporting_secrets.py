"""No token, secret, email or phone in a repr, a log line or an error, for all three adapters."""

from __future__ import annotations

import base64
import importlib
import inspect
import logging

import attrs
import httpx
import pytest

from adapters.errors import AdapterError
from adapters.partners.events_api import EventData, EventsApiClient, EventsApiSettings
from adapters.partners.sfcc import SfccClient, SfccSettings
from adapters.partners.sync_order_info import (
    SyncOrderData,
    SyncOrderInfoClient,
    SyncOrderInfoSettings,
)
from adapters.sandbox import SandboxServer
from adapters.sandbox.reporting import EVENTS_PATH, SYNC_ORDER_INFO_PATH, reporting_routes
from adapters.sandbox.sfcc import TOKEN_PATH, sfcc_routes
from lifecycle import CreateSfccOrder, OrderStatus, ReportTikTokEvent, SyncOrderInfo

from ._reporting_support import CLEAR_PII, COMPLETE_DATA, DONE, EMAIL, FAST, ORDER_ID, PHONE
from ._reporting_support import hotel_order as order

REPORTING_TOKEN = "reporting-token-4f1c"
SFCC_SECRET = "sfcc-secret-9a7e"


def test_logs_reprs_and_errors_hold_no_secret_or_personal_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Run every adapter, good calls and failing ones, with DEBUG logging; then grep it all."""
    caplog.set_level(logging.DEBUG)
    shown: list[object] = []
    reporting, _ = reporting_routes(REPORTING_TOKEN)
    sfcc, sfcc_state = sfcc_routes(client_secret=SFCC_SECRET)
    with SandboxServer([*reporting, *sfcc]) as server, httpx.Client() as http:
        sync_settings = SyncOrderInfoSettings(
            url=server.url + SYNC_ORDER_INFO_PATH,
            access_token=REPORTING_TOKEN,
            third_merchant_id="M",
            third_shop_id="H",
            third_shop_name="Hotel",
            order_country="US",
        )
        events_settings = EventsApiSettings(
            access_token=REPORTING_TOKEN, event_source_id="ES", url=server.url + EVENTS_PATH
        )
        sfcc_settings = SfccSettings(
            base_url=server.url,
            site_id="TikTokSite",
            client_id="sandbox-client",
            client_secret=SFCC_SECRET,
            token_url=server.url + TOKEN_PATH,
        )
        sync = SyncOrderInfoClient(http, sync_settings, retry=FAST)
        events = EventsApiClient(http, events_settings, retry=FAST)
        store = SfccClient(http, sfcc_settings, retry=FAST)
        complete = SyncOrderInfo(ORDER_ID, 4, status=OrderStatus.COMPLETED, update_time=DONE)
        event = ReportTikTokEvent(ORDER_ID, 4, status=OrderStatus.COMPLETED, event_time=DONE)
        data = EventData(email=EMAIL, phone=PHONE, external_id="CUST-77", ip="203.0.113.9")

        sync.execute(order(), complete, COMPLETE_DATA)
        events.execute(order(), event, data)
        created = store.execute(order(), CreateSfccOrder(ORDER_ID, 2))
        sfcc_state.revoke_tokens()
        store.execute(order(), CreateSfccOrder(ORDER_ID, 2))
        failures = [
            lambda: sync.execute(order(), complete, SyncOrderData()),
            lambda: EventsApiClient(
                http, attrs.evolve(events_settings, access_token="wrong-token"), retry=FAST
            ).execute(order(), event, data),
            lambda: SfccClient(
                http, attrs.evolve(sfcc_settings, client_secret="wrong-secret"), retry=FAST
            ).execute(order(), CreateSfccOrder(ORDER_ID, 2)),
        ]
        for fail in failures:
            with pytest.raises(AdapterError) as raised:
                fail()
            shown += [raised.value, repr(raised.value)]
        shown += [
            sync_settings,
            events_settings,
            sfcc_settings,
            sync,
            events,
            store,
            store.auth,
            data,
            COMPLETE_DATA,
            order(),
            created,
            sfcc_state,
        ]

    text = caplog.text + "\n".join(map(str, shown)) + "\n".join(map(repr, shown))
    basic = base64.b64encode(f"sandbox-client:{SFCC_SECRET}".encode()).decode()
    secrets = (REPORTING_TOKEN, SFCC_SECRET, basic, "sandbox-token-1", "sandbox-token-2")
    for needle in (*secrets, *CLEAR_PII, "CUST-77", "203.0.113.9"):
        assert needle not in text, needle
    assert "POST" in caplog.text  # the calls were logged, only without what must not be


@pytest.mark.parametrize(
    "module",
    [
        "adapters.partners.sync_order_info",
        "adapters.partners.events_api",
        "adapters.partners.sfcc",
        "adapters.sandbox.reporting",
        "adapters.sandbox.sfcc",
    ],
)
def test_all_lists_exactly_the_public_names(module: str) -> None:
    """Every public class and function defined in the module is in `__all__`, and nothing else."""
    imported = importlib.import_module(module)
    defined = {
        name
        for name, value in vars(imported).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module
    }
    exported = set(imported.__all__)
    assert defined <= exported
    assert all(hasattr(imported, name) for name in exported)
