"""TikTok Sync Order Information: report order statuses with the fields TikTok demands."""

from adapters._util import publish as _publish
from adapters.errors import (
    InvalidPayload,
)

from ._client import (
    MANDATORY,
    MANDATORY_ON_CANCEL,
    MANDATORY_ON_COMPLETE,
    ORDER_STATUSES,
    PARTNER,
    SYNC_INITIATORS,
    AsyncSyncOrderInfoClient,
    Commission,
    Extra,
    OrderInfo,
    Promotion,
    Sku,
    Spu,
    StayRecord,
    SyncOrderData,
    SyncOrderInfoClient,
    SyncOrderInfoSettings,
    Value,
    build_body,
    build_order_info,
    converter,
    order_info_problems,
    validate_order_info,
)

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

_publish(__name__, globals())
