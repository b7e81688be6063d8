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
from ._redact import MASK, REDACTOR, Redactor, register_secret
from ._retry import (
    RetryPolicy,
    acall_with_retries,
    call_with_retries,
    log_retry,
    retry_after,
    standard_phrase,
    status_error,
    transport_error,
)

__all__ = [
    "MASK",
    "REDACTOR",
    "Call",
    "Envelope",
    "InvalidPayload",
    "MoneyFormat",
    "Problem",
    "Redactor",
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
    "register_secret",
    "resolve",
    "response_json",
    "retry_after",
    "send",
    "set_path",
    "standard_phrase",
    "status_error",
    "text_of",
    "to_decimal",
    "transport_error",
    "wire_money",
]

_publish(__name__, globals())
