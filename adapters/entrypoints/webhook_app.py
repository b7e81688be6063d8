"""The webhook endpoint an OMS mounts at its TikTok Shop webhook URL: a plain ASGI application.

`WebhookApp(service)` answers TikTok's POSTs. It reads the body up to
`max_body` bytes, then hands it to `OrderService.accept_webhook`, which checks
the signature, the envelope and its timestamp and keeps the raw webhook in the
inbox in one transaction; a worker (`OrderService.process_pending`, or
`order-lifecycle work`) applies it later, so TikTok gets its answer without
waiting for the lifecycle. With `process_inline=True` the webhook is applied
before the answer instead.

| status | when |
|---|---|
| 200 | kept in the inbox; or a repeat of one kept before, which is not kept as input again |
| 400 | not UTF-8 JSON, wrong types, fields missing, unknown type or status, timestamp out |
|     | of the accepted window (`UntimelyWebhook`), a bad Content-Length |
| 401 | the `Authorization` signature is missing, malformed or does not match |
| 405 | not a POST (`Allow: POST`); a probe's path not asked with GET or HEAD |
| 408 | the body did not arrive within `body_timeout` seconds (a slow or stalled client) |
| 413 | larger than `max_body`, by Content-Length or counted as it streams (never read whole) |
| 503 | the store failed; nothing was kept, and TikTok delivers again |

`GET /healthz` answers 200 while the process is up; `GET /readyz` 200 while the
store answers within `ready_timeout` seconds (default `READY_TIMEOUT`, 2 s),
503 otherwise; `HEAD` gets the same status and headers without a body. Neither
needs a signature.

Nothing is stored for a refused request. Each request gives one log line on
the `adapters.entrypoints.webhook_app` logger, `key=value` pairs (also under the record's
`webhook` attribute for structured handlers): status, outcome, the error's
type name, inbox id (a probe that passes is logged at DEBUG). Never the body,
a header value or an error message, which may quote the body.

The store is synchronous: its calls run in worker threads (`asyncio.to_thread`).
Both backends are safe to share between threads (SQLite serialises its one
connection with a lock, PostgreSQL takes a connection from its pool per call).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from adapters.errors import InboundError, InvalidSignature
from adapters.service import OrderService

__all__ = ["DEFAULT_BODY_TIMEOUT", "DEFAULT_MAX_BODY", "LOGGER", "READY_TIMEOUT", "WebhookApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: TikTok's webhooks are a few hundred bytes; 64 KiB leaves room and bounds the work.
DEFAULT_MAX_BODY = 64 * 1024
#: Seconds the body may take to arrive once the headers did; a few hundred bytes need far less.
DEFAULT_BODY_TIMEOUT = 10.0

LOGGER = logging.getLogger("adapters.entrypoints.webhook_app")


class _Disconnected(Exception):
    """The client went away before the body was complete."""


#: The probes a load balancer or an orchestrator asks, with GET, unsigned.
_PROBES = frozenset({"/healthz", "/readyz"})
#: Seconds `/readyz` waits for the store before it says the app is not ready.
READY_TIMEOUT = 2.0


class WebhookApp:
    """An ASGI application that keeps TikTok Shop webhooks in `service`'s inbox.

    `service` must have `app_key` and `app_secret` (the signature is always
    checked). `GET /healthz` says the process is up and `GET /readyz` that the
    store answers, without a signature; every other GET is still a 405.
    `max_body` bounds a body in bytes, `body_timeout` the seconds it may take
    to arrive (then 408, and the connection is closed); `process_inline` applies each
    new webhook before answering (the answer is 200 once the webhook is kept,
    even if applying it fails: a worker retries it).
    """

    def __init__(
        self,
        service: OrderService,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        process_inline: bool = False,
        logger: logging.Logger = LOGGER,
        ready_timeout: float = READY_TIMEOUT,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        if not (service.app_key and service.app_secret):
            raise ValueError("WebhookApp needs a service with app_key and app_secret")
        if max_body < 1:
            raise ValueError(f"max_body must be positive, got {max_body}")
        if not body_timeout > 0:
            raise ValueError(f"body_timeout must be positive, got {body_timeout}")
        self.body_timeout = body_timeout
        self.service = service
        self.max_body = max_body
        self.process_inline = process_inline
        self.logger = logger
        self.ready_timeout = ready_timeout

    def __repr__(self) -> str:
        return (
            f"WebhookApp(max_body={self.max_body}, body_timeout={self.body_timeout},"
            f" process_inline={self.process_inline})"
        )

    async def _probe(self, path: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
        """`/healthz`: the process answers. `/readyz`: the store answers within
        `ready_timeout` seconds. Neither needs a signature; neither reads an input."""
        if path == "/healthz":
            return 200, {"status": "ok"}, {"outcome": "healthy"}
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self.service.store.schema_version), self.ready_timeout
            )
        except Exception as error:
            return (
                503,
                {"status": "unavailable"},
                {"outcome": "not ready", "error": type(error).__name__},
            )
        return 200, {"status": "ready"}, {"outcome": "ready"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        try:
            status, body, fields = await self._handle(scope, receive)
        except _Disconnected:
            self._log(logging.INFO, {"status": 499, "outcome": "disconnected"})
            return
        headers = [(b"content-type", b"application/json")]
        probe = scope.get("path") in _PROBES
        if status == 405:
            headers.append((b"allow", b"GET, HEAD" if probe else b"POST"))
        if status in (408, 413):
            headers.append((b"connection", b"close"))
        payload = json.dumps(body).encode()
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        # A HEAD is answered with the headers a GET would get, and no body.
        head = scope.get("method") == "HEAD"
        await send({"type": "http.response.body", "body": b"" if head else payload})
        # A probe that passes is asked every few seconds: logged at DEBUG, not INFO.
        level = logging.DEBUG if probe and status == 200 else logging.INFO
        self._log(level if status < 500 else logging.ERROR, {"status": status, **fields})
        self.service.telemetry.request_answered(status)

    async def _handle(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, dict[str, Any], dict[str, Any]]:
        if scope.get("path") in _PROBES:
            if scope.get("method") in ("GET", "HEAD"):
                return await self._probe(scope["path"])
            return _refused(405, "MethodNotAllowed")  # a probe's path takes no webhook
        if scope.get("method") != "POST":
            return _refused(405, "MethodNotAllowed")
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope.get("headers", ())
        }
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return _refused(400, "BadContentLength")
            if int(length) > self.max_body:
                return _refused(413, "BodyTooLarge")
        try:
            raw = await asyncio.wait_for(self._read(receive), self.body_timeout)
        except TimeoutError:
            return _refused(408, "BodyTimeout")
        if raw is None:
            return _refused(413, "BodyTooLarge")
        try:
            accepted = await asyncio.to_thread(self.service.accept_webhook, raw, headers)
        except InvalidSignature as error:
            return _refused(401, type(error).__name__)
        except InboundError as error:
            return _refused(400, type(error).__name__)
        except Exception as error:  # the store failed: TikTok delivers again later
            return _refused(503, type(error).__name__)
        fields: dict[str, Any] = {"inbox_id": accepted.inbox_id, "order_id": accepted.order_id}
        if accepted.duplicate:
            return 200, {"status": "duplicate"}, {"outcome": "duplicate", **fields}
        if not self.process_inline:
            return 200, {"status": "accepted"}, {"outcome": "accepted", **fields}
        try:
            result = await asyncio.to_thread(
                self.service.process_webhook, accepted.inbox_id, raw, accepted.order_id
            )
        except Exception as error:  # kept in the inbox: a worker applies it later
            fields["error"] = type(error).__name__
            return 200, {"status": "accepted"}, {"outcome": "accepted", **fields}
        if result.error_type:
            fields["error"] = result.error_type
        return 200, {"status": result.outcome.value}, {"outcome": result.outcome.value, **fields}

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or `None` as soon as it grows past `max_body`."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _log(self, level: int, fields: dict[str, Any]) -> None:
        text = " ".join(f"{key}={value}" for key, value in fields.items() if value is not None)
        self.logger.log(level, "webhook %s", text, extra={"webhook": fields})


def _refused(status: int, error: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
    return status, {"error": error}, {"outcome": "refused", "error": error}


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
