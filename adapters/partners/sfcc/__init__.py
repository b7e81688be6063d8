"""Salesforce Commerce Cloud: create the external order, patch its status, shipping and returns."""

from adapters._util import publish as _publish

from ._client import (
    CARTRIDGE_PRESET,
    PARTNER,
    PRESETS,
    SEED_PRESET,
    SHIPPING_STATUS_VALUES,
    Address,
    AsyncSfccClient,
    CreateOrderBody,
    Customer,
    Payment,
    ProductIdSource,
    ProductLineItem,
    SfccClient,
    SfccClientCredentials,
    SfccPreset,
    SfccResult,
    SfccSettings,
    Shipment,
    Totals,
    build_create_body,
    build_return_body,
    build_shipping_body,
    build_status_body,
    converter,
)

__all__ = [
    "CARTRIDGE_PRESET",
    "PARTNER",
    "PRESETS",
    "SEED_PRESET",
    "SHIPPING_STATUS_VALUES",
    "Address",
    "AsyncSfccClient",
    "CreateOrderBody",
    "Customer",
    "Payment",
    "ProductIdSource",
    "ProductLineItem",
    "SfccClient",
    "SfccClientCredentials",
    "SfccPreset",
    "SfccResult",
    "SfccSettings",
    "Shipment",
    "Totals",
    "build_create_body",
    "build_return_body",
    "build_shipping_body",
    "build_status_body",
    "converter",
]

_publish(__name__, globals())
