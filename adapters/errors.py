"""The shell's errors: what went wrong talking to a partner or reading its input.

::

    AdapterError
    ├── PartnerError                a partner call failed; carries partner, HTTP status,
    │   │                           the partner's own code and message, and its request id
    │   ├── RetryableError          worth trying again: timeouts, connection errors, 5xx,
    │   │                           429, the partner's "busy" / rate-limit codes
    │   └── RejectedError           trying again will not help: 4xx, validation and
    │       │                       business-rule errors
    │       └── AuthenticationError the credentials or token were refused
    └── InboundError                something a partner sent us is unusable
        ├── InvalidSignature        forged, missing or malformed signature
        ├── MalformedPayload        not JSON, wrong types, a mandatory field missing
        ├── UnknownValue            a type or status this library does not know
        └── UntimelyWebhook         signed long ago (a replay) or in the future

No message, `repr` or attribute of these errors holds a secret: tokens and
app secrets never reach them.
"""

from __future__ import annotations


class AdapterError(Exception):
    """Base of every error raised by the adapters."""


class PartnerError(AdapterError):
    """A call to a partner failed."""

    def __init__(
        self,
        partner: str,
        message: str,
        *,
        status: int | None = None,
        code: int | str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.partner = partner
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        details = []
        if status is not None:
            details.append(f"HTTP {status}")
        if code is not None:
            details.append(f"code {code}")
        if request_id:
            details.append(f"request_id {request_id}")
        suffix = f" ({', '.join(details)})" if details else ""
        super().__init__(f"{partner}: {message}{suffix}")


class RetryableError(PartnerError):
    """The call may succeed if tried again later."""


class RejectedError(PartnerError):
    """The partner refused the call; trying again will not help."""


class AuthenticationError(RejectedError):
    """The partner refused our credentials or token."""


class InboundError(AdapterError, ValueError):
    """Something a partner sent us cannot be used; nothing was changed because of it."""


class InvalidSignature(InboundError):
    """The signature is missing, malformed or does not match the body."""


class MalformedPayload(InboundError):
    """The payload is not what the partner documents: bad JSON, wrong types, missing fields."""


class UnknownValue(InboundError):
    """A type, status or code this library does not know; the value is named."""

    def __init__(self, what: str, value: object, known: tuple[str, ...] = ()) -> None:
        self.what = what
        self.value = value
        self.known = known
        hint = f"; expected one of {', '.join(known)}" if known else ""
        super().__init__(f"unknown {what} {value!r}{hint}")


class UntimelyWebhook(InboundError):
    """The webhook's `timestamp` lies too far in the past (a replay) or in the future."""
