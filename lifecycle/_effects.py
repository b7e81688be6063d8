"""Effects: the partner calls a transition asks for, as frozen values.

A transition returns these; it performs none of them. Adapters in the I/O
shell turn each into calls to TikTok Shop, TikTok's reporting APIs or SFCC.

Every effect names the order and the order `version` that produced it, so
`idempotency_key` is the same every time the effect is carried out, however
often a dispatcher retries it.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import ClassVar

from attrs import frozen

from ._model import Initiator, OrderStatus, ReturnStatus


class SfccStatus(enum.StrEnum):
    """The external order status the lifecycle asks SFCC to show.

    Partner-neutral: the SFCC adapter maps these onto the attribute and values
    of the preset in use (TikTok for SFCC: Order Management's `c_externalOrderStatus` with `New` /
    `CANCELLED`, or the Salesforce cartridge's integer codes).
    """

    NEW = "NEW"
    CANCELLED = "CANCELLED"
    PARTIALLY_CANCELLED = "PARTIALLY_CANCELLED"
    COMPLETED = "COMPLETED"


class ShippingStatus(enum.StrEnum):
    """How much of the order a shipment update leaves shipped.

    Partner-neutral: the SFCC adapter maps these onto the `shipping_status`
    values SFCC takes (`SfccSettings.shipping_status_values`).
    """

    SHIPPED = "SHIPPED"
    PART_SHIPPED = "PART_SHIPPED"


@frozen
class Effect:
    """Base of all effects: which order, and which version of it asked."""

    kind: ClassVar[str] = "Effect"

    order_id: str
    version: int

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.kind = cls.__name__

    @property
    def idempotency_key(self) -> str:
        """Stable across retries: one key per order, version and effect kind."""
        return f"{self.order_id}-{self.version}-{self.kind}"


@frozen
class CreateSfccOrder(Effect):
    """Create the order in SFCC once the hold is over (TikTok for SFCC: CreateExternalOrder).

    The payment method SFCC records is the SFCC adapter's setting
    (`SfccSettings.payment_method`).
    """

    external_status: SfccStatus = SfccStatus.NEW


@frozen
class UpdateSfccOrderStatus(Effect):
    """Set the SFCC external status; cancellations say which lines and whether after shipment."""

    external_status: SfccStatus
    line_item_ids: tuple[str, ...] = ()
    cancelled_after_shipped: bool = False
    reason: str = ""


@frozen
class UpdateSfccShipping(Effect):
    """Tell SFCC which lines shipped, with the tracking number and carrier."""

    line_item_ids: tuple[str, ...]
    shipping_status: ShippingStatus
    tracking_number: str | None = None
    shipping_provider_id: str | None = None
    shipping_provider_name: str | None = None
    package_id: str | None = None


@frozen
class UpdateSfccReturn(Effect):
    """Tell SFCC a return moved on (Salesforce's TikTok cartridge: `return_order`)."""

    return_id: str
    return_status: ReturnStatus
    line_item_ids: tuple[str, ...]


@frozen
class ShipTikTokPackage(Effect):
    """Ship Package on TikTok: package and provider ids are looked up when absent.

    The lookups are those of TikTok for SFCC: Order Management.
    """

    line_item_ids: tuple[str, ...]
    tracking_number: str
    package_id: str | None = None
    shipping_provider_id: str | None = None
    shipping_provider_name: str | None = None


@frozen
class CancelTikTokOrder(Effect):
    """The seller cancels on TikTok (Cancel Order), the whole order or some lines."""

    line_item_ids: tuple[str, ...]
    whole_order: bool
    reason: str = ""


@frozen
class ApproveTikTokCancellation(Effect):
    """Approve the buyer's cancellation request `cancel_id` on TikTok."""

    cancel_id: str


@frozen
class RejectTikTokCancellation(Effect):
    """Reject the buyer's cancellation request `cancel_id` on TikTok."""

    cancel_id: str
    reason: str = ""


@frozen
class ApproveTikTokReturn(Effect):
    """Approve the return or refund request `return_id` on TikTok."""

    return_id: str


@frozen
class SyncOrderInfo(Effect):
    """Report that the order reached `status` to TikTok Sync Order Information.

    Partner-neutral: the adapter names the status and who cancelled in TikTok's
    terms (`SyncOrderInfoSettings.order_statuses` and `.initiators`). Which
    statuses are reported is `Policy.sync_order_statuses`; `cancelled_by` is
    set for a cancellation.
    """

    status: OrderStatus
    update_time: datetime
    cancelled_by: Initiator | None = None


@frozen
class ReportTikTokEvent(Effect):
    """Report that the order reached `status` to the TikTok Events API.

    Partner-neutral: the adapter names the event (`EventsApiSettings.event_names`,
    for example `CompletePayment` on completion) and its deduplicating
    `event_id`. Which statuses are reported is `Policy.tiktok_event_statuses`.
    """

    status: OrderStatus
    event_time: datetime


EFFECT_TYPES: tuple[type[Effect], ...] = (
    CreateSfccOrder,
    UpdateSfccOrderStatus,
    UpdateSfccShipping,
    UpdateSfccReturn,
    ShipTikTokPackage,
    CancelTikTokOrder,
    ApproveTikTokCancellation,
    RejectTikTokCancellation,
    ApproveTikTokReturn,
    SyncOrderInfo,
    ReportTikTokEvent,
)


# --------------------------------------------------------------------------- OMS actions


@frozen
class OmsLine:
    """One line an OMS action concerns: which line, which SKU, how many units.

    In API 202309 a line item is one unit (`quantity` 1); the legacy API and
    orders seeded with a quantity carry theirs.
    """

    line_item_id: str
    sku_id: str = ""
    seller_sku: str = ""
    quantity: int = 1


@frozen
class OmsAction(Effect):
    """What the OMS that embeds the library must do now, in partner-neutral words.

    One class per action, each with its `what` (the contract's name for it),
    so that two actions of one transition (a cancellation before shipment
    stops fulfilment and releases inventory) have distinct idempotency keys.
    `lines` are the lines and units concerned; `return_id` names the return
    of `expect_return` and `refund_issued`. docs/oms.md says when each comes.
    """

    what: ClassVar[str] = ""

    lines: tuple[OmsLine, ...] = ()
    return_id: str | None = None


@frozen
class ReserveInventory(OmsAction):
    """`reserve_inventory`: paid and on hold; the units stay reserved during the hold."""

    what: ClassVar[str] = "reserve_inventory"


@frozen
class ReleaseForFulfilment(OmsAction):
    """`release_for_fulfilment`: the hold is over; pick, pack and ship these lines."""

    what: ClassVar[str] = "release_for_fulfilment"


@frozen
class StopFulfilment(OmsAction):
    """`stop_fulfilment`: these lines were cancelled before shipment and must not ship."""

    what: ClassVar[str] = "stop_fulfilment"


@frozen
class ReleaseInventory(OmsAction):
    """`release_inventory`: the reserved units of these cancelled lines are free again."""

    what: ClassVar[str] = "release_inventory"


@frozen
class ExpectReturn(OmsAction):
    """`expect_return`: a return was approved; the goods of these lines come back."""

    what: ClassVar[str] = "expect_return"


@frozen
class RefundIssued(OmsAction):
    """`refund_issued`: TikTok refunded the buyer for these lines."""

    what: ClassVar[str] = "refund_issued"


@frozen
class CloseOrder(OmsAction):
    """`close`: the order completed; these lines stay sold."""

    what: ClassVar[str] = "close"


OMS_ACTION_TYPES: tuple[type[OmsAction], ...] = (
    ReserveInventory,
    ReleaseForFulfilment,
    StopFulfilment,
    ReleaseInventory,
    ExpectReturn,
    RefundIssued,
    CloseOrder,
)

EFFECT_TYPES = (*EFFECT_TYPES, *OMS_ACTION_TYPES)
