"""The TikTok Shop Open API (202309) adapter: signed client, webhook intake, order mapping.

Outbound, `TikTokShopClient` (or `AsyncTikTokShopClient`) over an injected
httpx client and a `TikTokShopAuth` carries out the lifecycle's TikTok Shop
effects with `execute(effect)`. Inbound, `read_webhook` checks and parses a
webhook (every type TikTok documents; `webhook_order_ids` names the orders it
is about) and `webhook_commands` turns it into lifecycle commands;
`cancellation_change` / `return_change` turn a Search Cancellations / Search
Returns result into the same typed change, with its lines;
`order_from_detail` maps a Get Order Detail order object to an `Order`.
See docs/adapters/tiktok_shop.md.
"""

from adapters._util import publish as _publish
from adapters.errors import (
    LookupFailed,
    ShippingProviderNotFound,
)

from ._client import (
    CANCEL_REASON_CODES,
    REJECT_REASON_CODES,
    AsyncTikTokShopClient,
    Cancellation,
    CancellationCreated,
    Page,
    Return,
    Shipped,
    ShippingProvider,
    TikTokShopClient,
    TikTokShopSettings,
    reason_code,
)
from ._orders import (
    ADDRESS_LEVELS,
    CONVERTER,
    TikTokDistrict,
    TikTokLineItem,
    TikTokOrder,
    TikTokPackage,
    TikTokPayment,
    TikTokRecipientAddress,
    detail_from_order,
    from_order,
    order_from_detail,
    to_order,
)
from ._signing import TikTokShopAuth, TokenSet, signature
from ._vocabulary import (
    DEFAULT_VOCABULARY,
    RETURN_GOALS,
    RETURN_STATUS_SPELLINGS,
    ROLES,
    SHIPPED_DISPLAY_STATUSES,
    TikTokVocabulary,
)
from ._webhooks import (
    CANCELLATION_GOALS,
    USED_WEBHOOK_TYPES,
    AuthorizationExpiring,
    CancellationStatusChanged,
    CancelStatus,
    OrderStatusChanged,
    PackageRef,
    PackageUpdated,
    RecipientAddressUpdated,
    ReturnStatusChanged,
    SellerDeauthorized,
    TikTokReturnStatus,
    UnusedWebhook,
    Webhook,
    WebhookType,
    cancellation_change,
    parse_webhook,
    parse_webhook_object,
    read_webhook,
    return_change,
    verify_webhook,
    webhook_commands,
    webhook_order_ids,
    webhook_signature,
)

__all__ = [
    "ADDRESS_LEVELS",
    "CANCELLATION_GOALS",
    "CANCEL_REASON_CODES",
    "CONVERTER",
    "DEFAULT_VOCABULARY",
    "REJECT_REASON_CODES",
    "RETURN_GOALS",
    "RETURN_STATUS_SPELLINGS",
    "ROLES",
    "SHIPPED_DISPLAY_STATUSES",
    "USED_WEBHOOK_TYPES",
    "AsyncTikTokShopClient",
    "AuthorizationExpiring",
    "CancelStatus",
    "Cancellation",
    "CancellationCreated",
    "CancellationStatusChanged",
    "LookupFailed",
    "OrderStatusChanged",
    "PackageRef",
    "PackageUpdated",
    "Page",
    "RecipientAddressUpdated",
    "Return",
    "ReturnStatusChanged",
    "SellerDeauthorized",
    "Shipped",
    "ShippingProvider",
    "ShippingProviderNotFound",
    "TikTokDistrict",
    "TikTokLineItem",
    "TikTokOrder",
    "TikTokPackage",
    "TikTokPayment",
    "TikTokRecipientAddress",
    "TikTokReturnStatus",
    "TikTokShopAuth",
    "TikTokShopClient",
    "TikTokShopSettings",
    "TikTokVocabulary",
    "TokenSet",
    "UnusedWebhook",
    "Webhook",
    "WebhookType",
    "cancellation_change",
    "detail_from_order",
    "from_order",
    "order_from_detail",
    "parse_webhook",
    "parse_webhook_object",
    "read_webhook",
    "reason_code",
    "return_change",
    "signature",
    "to_order",
    "verify_webhook",
    "webhook_commands",
    "webhook_order_ids",
    "webhook_signature",
]

_publish(__name__, globals())
