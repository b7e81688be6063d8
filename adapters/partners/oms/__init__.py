"""The OMS as a partner: OMS actions pushed as signed JSON, or handed to a callable.

See `_client` for the body and headers, and docs/oms.md.
"""

from adapters._util import publish as _publish

from ._client import (
    IDEMPOTENCY_HEADER,
    PARTNER,
    SIGNATURE_HEADER,
    OmsCallable,
    OmsClient,
    OmsSettings,
    OmsSignature,
    action_document,
    sign,
    verify,
)

__all__ = [
    "IDEMPOTENCY_HEADER",
    "PARTNER",
    "SIGNATURE_HEADER",
    "OmsCallable",
    "OmsClient",
    "OmsSettings",
    "OmsSignature",
    "action_document",
    "sign",
    "verify",
]

_publish(__name__, globals())
