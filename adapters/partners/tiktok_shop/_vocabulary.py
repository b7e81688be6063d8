"""TikTok Shop's words the public record leaves unconfirmed, as one setting.

Public SDKs (EcomPHP/tiktokshop-php, fudiwei/DotNetCore.SKIT.FlurlHttpClient.ByteDance)
type TikTok's roles, display statuses and return statuses as free strings, and
public code spells the return rejection two ways. So which strings mean what
is `TikTokVocabulary`, a frozen setting (`TikTokShopSettings.vocabulary`,
`OrderService.vocabulary`) whose defaults are the tables below; every parser
of order details, webhooks and search results takes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from attrs import field, frozen

from adapters._util import frozen_mapping
from adapters.errors import UnknownValue
from lifecycle import Initiator, ReturnStatus

__all__ = [
    "DEFAULT_VOCABULARY",
    "RETURN_GOALS",
    "RETURN_STATUS_SPELLINGS",
    "ROLES",
    "SHIPPED_DISPLAY_STATUSES",
    "TikTokVocabulary",
]

#: TikTok's `cancellation_initiator` and webhook roles, as the lifecycle's initiators.
#: `SYSTEM` is TikTok itself. **Unconfirmed**: public SDKs type these as free strings.
ROLES: Mapping[str, Initiator] = MappingProxyType(
    {
        "BUYER": Initiator.BUYER,
        "SELLER": Initiator.SELLER,
        "SYSTEM": Initiator.PLATFORM,
        "PLATFORM": Initiator.PLATFORM,
        "OPERATOR": Initiator.PLATFORM,
    }
)

#: The lifecycle's return status each TikTok `return_status` means. `SUCCESS` and
#: `COMPLETE` as refunded is **unconfirmed** (TikTok's descriptions are terse);
#: `AWAITING_BUYER_RESPONSE` (the seller proposed something) implies no event.
RETURN_GOALS: Mapping[str, ReturnStatus | None] = MappingProxyType(
    {
        "RETURN_OR_REFUND_REQUEST_PENDING": ReturnStatus.REQUESTED,
        "RETURN_OR_REFUND_REQUEST_REJECT": ReturnStatus.REJECTED,
        "AWAITING_BUYER_SHIP": ReturnStatus.AWAITING_BUYER_SHIPMENT,
        "BUYER_SHIPPED_ITEM": ReturnStatus.BUYER_SHIPPED,
        "REJECT_RECEIVE_PACKAGE": ReturnStatus.REJECTED,
        "RETURN_OR_REFUND_REQUEST_SUCCESS": ReturnStatus.REFUNDED,
        "RETURN_OR_REFUND_REQUEST_CANCEL": ReturnStatus.CANCELLED,
        "RETURN_OR_REFUND_REQUEST_COMPLETE": ReturnStatus.REFUNDED,
        "AWAITING_BUYER_RESPONSE": None,
    }
)

#: Other spellings of a `return_status`, read as the one they name. Public code
#: spells the rejection `REFUND_OR_RETURN_REQUEST_REJECT` too (**unconfirmed**
#: which TikTok sends).
RETURN_STATUS_SPELLINGS: Mapping[str, str] = MappingProxyType(
    {"REFUND_OR_RETURN_REQUEST_REJECT": "RETURN_OR_REFUND_REQUEST_REJECT"}
)

#: Line `display_status` values that mean the line has shipped. **Unconfirmed**:
#: TikTok's line statuses are the order statuses in public samples.
SHIPPED_DISPLAY_STATUSES: frozenset[str] = frozenset(
    {"AWAITING_COLLECTION", "IN_TRANSIT", "DELIVERED", "COMPLETED"}
)


@frozen
class TikTokVocabulary:
    """Which TikTok strings mean what: roles, return statuses, shipped line statuses.

    roles:
        Role string (upper case) -> `Initiator`; default `ROLES`.
    return_goals:
        `return_status` -> the lifecycle's `ReturnStatus` (`None`: no event);
        default `RETURN_GOALS`.
    return_status_spellings:
        Another spelling -> the `return_goals` key it means; default
        `RETURN_STATUS_SPELLINGS`.
    shipped_display_statuses:
        Line `display_status` values of a shipped line; default
        `SHIPPED_DISPLAY_STATUSES`.
    """

    roles: Mapping[str, Initiator] = field(default=ROLES, converter=frozen_mapping, hash=False)
    return_goals: Mapping[str, ReturnStatus | None] = field(
        default=RETURN_GOALS, converter=frozen_mapping, hash=False
    )
    return_status_spellings: Mapping[str, str] = field(
        default=RETURN_STATUS_SPELLINGS, converter=frozen_mapping, hash=False
    )
    shipped_display_statuses: frozenset[str] = field(
        default=SHIPPED_DISPLAY_STATUSES, converter=frozenset
    )

    def initiator(self, role: str, what: str) -> Initiator:
        """A TikTok role string as an `Initiator`, or `UnknownValue` naming it."""
        try:
            return self.roles[role.upper()]
        except KeyError:
            raise UnknownValue(what, role, tuple(self.roles)) from None

    def return_status(self, value: str, what: str = "return_status") -> str:
        """`value` in the spelling `return_goals` knows, or `UnknownValue` naming it."""
        spelled = self.return_status_spellings.get(value, value)
        if spelled not in self.return_goals:
            known = (*self.return_goals, *self.return_status_spellings)
            raise UnknownValue(what, value, known)
        return spelled

    def return_goal(self, status: str) -> ReturnStatus | None:
        return self.return_goals[self.return_status(status)]


DEFAULT_VOCABULARY = TikTokVocabulary()
