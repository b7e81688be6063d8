"""The OMS that embeds the library, as a partner: its actions pushed as signed JSON.

Each `OmsAction` (`reserve_inventory`, `stop_fulfilment`, ...) is one
`POST` to `OmsSettings.url` with the JSON body `action_document` writes:
`what`, `order_id`, `version`, `lines` (`line_item_id`, `sku_id`,
`seller_sku`, `quantity`), `return_id` (or `null`) and `idempotency_key`.
Headers:

- `Idempotency-Key`: the action's idempotency key, the same on every retry;
- `X-Order-Lifecycle-Signature`: `sha256=` and the lowercase hex
  HMAC-SHA256 of the raw body bytes, keyed with `OmsSettings.secret`
  (`sign`; check it with `verify`, in constant time).

A 2xx answer is success, whatever its body. Anything else is not: 429 and
5xx are `RetryableError`, 401 / 403 `AuthenticationError`, other 4xx
`RejectedError`, and an answer that is not 2xx at all (a redirect) a
`RejectedError` too, through the shared `adapters.http` plumbing. An OMS
should answer 2xx to a key it has applied before: delivery is at least once.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable, Generator, Mapping
from typing import Any

import httpx
from attrs import field, frozen

from adapters.errors import RejectedError, RetryableError, SettingsError
from adapters.http import Call, RetryPolicy, send, status_error
from adapters.routing import Partner, effect_kinds
from lifecycle import Effect, OmsAction

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

PARTNER = "oms"
SIGNATURE_HEADER = "X-Order-Lifecycle-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_PREFIX = "sha256="


def action_document(action: OmsAction) -> dict[str, Any]:
    """An OMS action as JSON values: the push's body, and each action of `changes --json`."""
    return {
        "what": action.what,
        "order_id": action.order_id,
        "version": action.version,
        "lines": [
            {
                "line_item_id": line.line_item_id,
                "sku_id": line.sku_id,
                "seller_sku": line.seller_sku,
                "quantity": line.quantity,
            }
            for line in action.lines
        ],
        "return_id": action.return_id,
        "idempotency_key": action.idempotency_key,
    }


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`: `sha256=` and the HMAC-SHA256 hex."""
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is the signature of `body` under `secret` (constant time)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


@frozen
class OmsSettings:
    """Where the OMS takes its actions (`url`, http or https) and the shared `secret`."""

    url: str
    secret: str = field(repr=False)

    def __attrs_post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise SettingsError(f"oms.url must be an http(s) URL, got {self.url!r}")
        if not self.secret:
            raise SettingsError("oms.secret must not be empty: every push is signed with it")


class OmsSignature(httpx.Auth):
    """Signs each request's exact body bytes (`SIGNATURE_HEADER`); the secret stays out of repr."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def __repr__(self) -> str:
        return "OmsSignature(secret=***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[SIGNATURE_HEADER] = sign(self._secret, request.content)
        yield request


def _succeeded(response: httpx.Response) -> None:
    error = status_error(PARTNER, response)
    if error is not None:
        raise error
    if not response.is_success:
        raise RejectedError(
            PARTNER,
            f"the OMS answered HTTP {response.status_code}, not 2xx",
            status=response.status_code,
        )


def _oms_action(effect: Effect) -> OmsAction:
    if not isinstance(effect, OmsAction):
        raise RejectedError(
            PARTNER,
            f"{effect.kind} is not an OMS action; the OMS carries out"
            f" {', '.join(effect_kinds(Partner.OMS))}",
        )
    return effect


class OmsClient:
    """Push OMS actions to the OMS over HTTP with `http` (an `httpx.Client` the caller owns)."""

    def __init__(
        self, http: httpx.Client, settings: OmsSettings, retry: RetryPolicy | None = None
    ) -> None:
        self._http = http
        self.settings = settings
        self._retry = retry or RetryPolicy()
        self._auth = OmsSignature(settings.secret)

    def __repr__(self) -> str:
        return f"OmsClient(url={self.settings.url!r})"

    def call(self, action: OmsAction) -> Call[None]:
        """The request for `action` (no I/O); the signature is added as it is sent."""
        return Call(
            partner=PARTNER,
            method="POST",
            url=self.settings.url,
            interpret=_succeeded,
            body=action_document(action),
            headers={IDEMPOTENCY_HEADER: action.idempotency_key},
        )

    def execute(self, effect: Effect) -> None:
        """POST one OMS action; returns on 2xx, raises the shared errors otherwise."""
        send(self._http, self.call(_oms_action(effect)), self._retry, auth=self._auth)


@frozen
class OmsCallable:
    """An embedding OMS's own function as the `oms` executor, in process.

    `handle(action)` is called once per delivery, at least once per action,
    one order's actions in order, and from one thread at a time, even when
    the dispatcher has several calls to other partners in flight
    (`Dispatcher(concurrency=...)`), so the OMS's function needs no locking of
    its own. Returning is success; any exception is retried later by the
    dispatcher (a `RetryableError` naming its type and message), up to its
    `max_attempts`, then kept as a dead letter.
    """

    handle: Callable[[OmsAction], object]
    _one_at_a_time: threading.Lock = field(factory=threading.Lock, init=False, repr=False, eq=False)

    def __call__(self, effect: Effect, context: object = None) -> Mapping[str, str] | None:
        action = _oms_action(effect)
        try:
            with self._one_at_a_time:
                self.handle(action)
        except RetryableError:
            raise
        except Exception as error:
            raise RetryableError(PARTNER, f"{type(error).__name__}: {error}") from error
        return None
