"""Every error the shell raises, in one tree (as httpx's `_exceptions.py` draws its own).

::

    AdapterError
    ├── PartnerError                a partner call failed; carries partner, HTTP status,
    │   │                           the partner's own code and message, and its request id
    │   ├── RetryableError          worth trying again: timeouts, connection errors, 5xx,
    │   │                           429, the partner's "busy" / rate-limit codes
    │   └── RejectedError           trying again will not help: 4xx, validation and
    │       │                       business-rule errors
    │       ├── AuthenticationError the credentials or token were refused
    │       ├── InvalidPayload      a payload breaks the partner's documented rules; not sent
    │       ├── LookupFailed        the TikTok order detail lacks what an effect needs
    │       ├── ShippingProviderNotFound  no shipping provider has the OMS's carrier name
    │       ├── NotReturned         TikTok answered without the thing asked for
    │       ├── NoExecutor          no adapter is configured for a kind of effect
    │       └── UnknownShop         a shop the partners file has no credentials for
    ├── InboundError                something a partner sent us is unusable (a ValueError)
    │   ├── InvalidSignature        forged, missing or malformed signature
    │   ├── MalformedPayload        not JSON, wrong types, a mandatory field missing
    │   ├── UnknownValue            a type or status this library does not know
    │   ├── UntimelyWebhook         signed long ago (a replay) or in the future
    │   └── BadLine                 a replayed line that is none of the input formats
    ├── StoreError                  the durable store could not do what was asked
    │   ├── VersionConflict         another writer changed the order first: read again, retry
    │   ├── AlreadyProcessed        the inbox entry already has an outcome (a racing duplicate)
    │   ├── SchemaTooNew            the database was migrated by a newer version of this library
    │   ├── CannotOpenStore         the database cannot be reached or opened; the message
    │   │   │                       names where (a file's path, a host and port), never a password
    │   │   └── StoreNotFound       opened with `create=False` and there is no store there
    │   ├── StoreFailed             the database driver failed mid-work; that transaction
    │   │   │                       was rolled back, nothing of the change was kept
    │   │   └── StoreUnavailable    the database went out of reach (a lost connection, a
    │   │                           locked file, a pool timeout): not the input's fault
    │   └── TooManyConflicts        other writers kept changing the order; the input waits
    ├── SettingsError               a settings or partners file, or a partner's settings
    │                               object, is unusable (a ValueError); the message names
    │                               the file or the field
    ├── SandboxInputError           what was given to the sandbox is unusable (a ValueError)
    └── CliError                    a command cannot run as asked
        ├── GraphvizMissing         `diagram --format svg` without Graphviz's `dot`
        └── BadTime                 a time option that is not an ISO-8601 time with a zone

No message, `repr` or attribute of these errors holds a secret: tokens and
app secrets never reach them. The lifecycle's own errors are the other root,
`lifecycle.errors.LifecycleError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

from attrs import frozen

__all__ = [
    "AdapterError",
    "AlreadyProcessed",
    "AuthenticationError",
    "BadLine",
    "BadTime",
    "CannotOpenStore",
    "CliError",
    "GraphvizMissing",
    "InboundError",
    "InvalidPayload",
    "InvalidSignature",
    "LookupFailed",
    "MalformedPayload",
    "NoExecutor",
    "NotReturned",
    "PartnerError",
    "Problem",
    "RejectedError",
    "RetryableError",
    "SandboxInputError",
    "SchemaTooNew",
    "SettingsError",
    "ShippingProviderNotFound",
    "StoreError",
    "StoreFailed",
    "StoreNotFound",
    "StoreUnavailable",
    "TooManyConflicts",
    "UnknownShop",
    "UnknownValue",
    "UntimelyWebhook",
    "VersionConflict",
]


class AdapterError(Exception):
    """Base of every error raised by the adapters."""


#: What a partner's code or request id may look like to be kept: a short token.
#: Anything else an answer put there (a quoted request, a name) is dropped.
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")


def _token(value: object) -> str | None:
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return text if _TOKEN.fullmatch(text) else None


class PartnerError(AdapterError):
    """A call to a partner failed.

    Only the structured fields of the partner's answer are kept: the HTTP
    status, its code and request id (each only when it is a short token: an
    allow-list, so an answer cannot smuggle a quoted request in through them),
    and its message, which the adapters redact where they read it
    (`adapters.http.redact`).
    """

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
        number = isinstance(code, int) and not isinstance(code, bool)
        self.code: int | str | None = code if number else _token(code)
        self.request_id = _token(request_id)
        code, request_id = self.code, self.request_id
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
    """The call may succeed if tried again later.

    `retry_after` is how long the partner asked us to wait (HTTP `Retry-After`,
    as seconds or an HTTP-date), when it said.
    """

    def __init__(
        self,
        partner: str,
        message: str,
        *,
        status: int | None = None,
        code: int | str | None = None,
        request_id: str | None = None,
        retry_after: timedelta | None = None,
    ) -> None:
        super().__init__(partner, message, status=status, code=code, request_id=request_id)
        self.retry_after = retry_after


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


# --- partner calls refused before or after sending ---------------------------------------------


@frozen
class Problem:
    """One thing wrong with a payload: where, and what (never the value of personal data)."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class InvalidPayload(RejectedError):
    """The payload breaks the partner's documented rules, so it was not sent.

    A `RejectedError` because sending it again would not help; `problems` lists
    every missing or inconsistent field at once, by path.
    """

    def __init__(self, partner: str, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        listed = "; ".join(str(problem) for problem in self.problems)
        super().__init__(partner, f"invalid payload, not sent: {listed}")

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(problem.path for problem in self.problems)


class ShippingProviderNotFound(RejectedError):
    """No shipping provider of the delivery option has the carrier name the OMS gave."""


class LookupFailed(RejectedError):
    """The order detail lacks what an effect needs (package, delivery option, return)."""


class NotReturned(RejectedError):
    """TikTok answered, but without the thing asked for (unknown id, another shop's)."""


class NoExecutor(RejectedError):
    """No adapter is configured for this kind of effect."""

    def __init__(self, kind: str) -> None:
        super().__init__("dispatcher", f"no executor is configured for {kind}")


class UnknownShop(RejectedError):
    """A read or a call names a shop the partners file has no credentials for."""


class BadLine(InboundError):
    """A line that is not one of the input formats."""


# --- the store ---------------------------------------------------------------------------------


class StoreError(AdapterError):
    """Base of the store's errors."""


class VersionConflict(StoreError):
    """The order's version is not the one the change was computed from."""

    def __init__(self, order_id: str, expected: int | None) -> None:
        self.order_id = order_id
        self.expected = expected
        what = "not to exist yet" if expected is None else f"at version {expected}"
        super().__init__(f"order {order_id} changed concurrently: expected it {what}")


class AlreadyProcessed(StoreError):
    """The inbox entry was processed by another worker meanwhile."""

    def __init__(self, inbox_id: int) -> None:
        self.inbox_id = inbox_id
        super().__init__(f"inbox entry {inbox_id} already has an outcome")


class SchemaTooNew(StoreError):
    """The database's schema is newer than this library knows."""


class CannotOpenStore(StoreError):
    """The database cannot be reached or opened.

    `where` names it ("SQLite file orders.db", "PostgreSQL at db1:5432") and
    never holds a password; `reason` is what the driver said.
    """

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(self._message())

    def _message(self) -> str:
        return f"cannot open {self.where}: {self.reason}"


class StoreNotFound(CannotOpenStore):
    """Opened with `create=False` (to read only) where no store exists; nothing was created."""

    def _message(self) -> str:
        return f"no store in {self.where}: {self.reason}"


class StoreFailed(StoreError):
    """The database driver failed while the store worked in it; that transaction was
    rolled back.

    `where` names the database as `CannotOpenStore` does (never a password);
    `reason` is what the driver said. The driver's own error is its `__cause__`.
    """

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


class StoreUnavailable(StoreFailed):
    """The database went out of reach mid-work: a lost connection, a locked file, a timeout."""


class TooManyConflicts(StoreError):
    """Other writers kept changing the order; the input stays in the inbox, unfinished."""


# --- settings, the sandbox and the command line ------------------------------------------------


class SettingsError(AdapterError, ValueError):
    """Settings cannot be used as they are: a settings or partners file (the message names
    the file and the key), or a partner's settings object (it names the field)."""


class SandboxInputError(AdapterError, ValueError):
    """What was given to the sandbox (an orders file, an order, a status) is unusable."""


class CliError(AdapterError):
    """A command cannot run as asked; the message says why."""


class GraphvizMissing(CliError):
    """`diagram --format svg` needs Graphviz's `dot` program."""

    def __init__(self) -> None:
        super().__init__(
            "diagram --format svg needs Graphviz's `dot` program, which is not installed"
            " (Debian/Ubuntu: apt-get install graphviz); --format dot or mermaid need nothing"
        )


class BadTime(CliError):
    """A time option (`--now`) that is not an ISO-8601 time with a zone."""

    def __init__(self, option: str, value: str, problem: str) -> None:
        self.option = option
        self.value = value
        super().__init__(
            f"{option} {value!r} {problem}: give an ISO-8601 time with a zone,"
            " such as 2026-11-20T09:30:00Z or 2026-11-20T10:30:00+01:00"
        )
