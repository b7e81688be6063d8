"""HTTP plumbing every partner adapter shares: retries, errors from answers, payload helpers."""

from adapters._util import publish as _publish
from adapters.errors import (
    InvalidPayload,
    Problem,
)

from ._outbound import (
    Call,
    Envelope,
    MoneyFormat,
    apply_field_map,
    cents,
    decode_json,
    encode_json,
    is_missing,
    lookup,
    money_converter,
    read_envelope,
    redact,
    resolve,
    response_json,
    send,
    set_path,
    text_of,
    to_decimal,
    wire_money,
)
from ._retry import (
    RetryPolicy,
    acall_with_retries,
    call_with_retries,
    log_retry,
    retry_after,
    status_error,
    transport_error,
)

__all__ = [
    "Call",
    "Envelope",
    "InvalidPayload",
    "MoneyFormat",
    "Problem",
    "RetryPolicy",
    "acall_with_retries",
    "apply_field_map",
    "call_with_retries",
    "cents",
    "decode_json",
    "encode_json",
    "is_missing",
    "log_retry",
    "lookup",
    "money_converter",
    "read_envelope",
    "redact",
    "resolve",
    "response_json",
    "retry_after",
    "send",
    "set_path",
    "status_error",
    "text_of",
    "to_decimal",
    "transport_error",
    "wire_money",
]

_publish(__name__, globals())
