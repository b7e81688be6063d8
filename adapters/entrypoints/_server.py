"""The limits `order-lifecycle serve` puts on the endpoint under uvicorn.

uvicorn bounds the number of connections and requests (`limit_concurrency`:
beyond it a request is answered 503 at once), the idle time between two
requests of one connection (`timeout_keep_alive`), the size of a request's
headers (`h11_max_incomplete_event_size`) and the queue of connections the
kernel holds before they are accepted (`backlog`). It has no timeout for the
headers of a request (uvicorn 0.3x-0.5x arms its keep-alive timer only once
a response is complete): a client that connects and sends nothing, or its
headers a byte at a time (a slow-loris), would hold its connection, and a
place under `limit_concurrency`, for ever. `BoundedH11Protocol` adds that
timeout: a connection whose request headers are not complete within
`header_timeout` seconds of its first byte (or of its opening) is answered
408 and closed. (It subclasses uvicorn's h11 protocol, imported only when
`serve` runs: uvicorn is the `serve` extra.) The body's own read timeout is the app's
(`WebhookApp(body_timeout=...)`, also a 408).
"""

from __future__ import annotations

import asyncio
from typing import Any

from attrs import frozen

__all__ = ["ServerLimits", "bounded_h11_protocol"]

_TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\n"
    b"content-length: 0\r\nconnection: close\r\n\r\n"
)


@frozen
class ServerLimits:
    """What `serve` allows one client, with the defaults `order-lifecycle serve` uses.

    limit_concurrency:
        Connections and requests at once; beyond it uvicorn answers 503 (TikTok
        delivers again later). Default 1000: far above TikTok's webhook rate, and
        under the usual limit of open files (1024).
    timeout_keep_alive:
        Seconds a connection may stay idle between two requests. Default 5
        (uvicorn's own).
    header_timeout:
        Seconds a request's headers may take to arrive, from the connection's
        opening or the first byte after a response. Default 10.
    body_timeout:
        Seconds the whole body may take to arrive once the headers did; then 408.
        Default 10 (a TikTok webhook is a few hundred bytes).
    max_header_bytes:
        The largest request line and headers (h11's incomplete event size);
        beyond it uvicorn answers 400. Default 16 KiB (h11's own).
    backlog:
        Connections the kernel queues before they are accepted. Default 2048
        (uvicorn's own).
    """

    limit_concurrency: int = 1000
    timeout_keep_alive: float = 5.0
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_header_bytes: int = 16 * 1024
    backlog: int = 2048

    def uvicorn_config(self) -> dict[str, Any]:
        """The keyword arguments of `uvicorn.Config` these limits set."""
        return {
            "http": bounded_h11_protocol(self.header_timeout),
            "limit_concurrency": self.limit_concurrency,
            "timeout_keep_alive": self.timeout_keep_alive,
            "h11_max_incomplete_event_size": self.max_header_bytes,
            "backlog": self.backlog,
        }


def bounded_h11_protocol(header_timeout: float) -> type[Any]:
    """uvicorn's h11 protocol with a timeout of `header_timeout` seconds on each
    request's headers (`ServerLimits.uvicorn_config` passes it as `http`)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class BoundedH11Protocol(H11Protocol):
        """uvicorn's h11 protocol with a timeout on each request's headers (`timeout`, seconds).

        The timer runs while the connection waits for a request: from the
        opening, and again from the first byte after a finished response. If no
        request's headers are complete when it fires, the client is answered 408
        and the connection closed; a request in progress is left to the app.
        """

        timeout = header_timeout
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_header_timer()

        def data_received(self, data: bytes) -> None:
            if self._header_timer is None and self._between_requests():
                self._arm_header_timer()
            super().data_received(data)
            if not self._between_requests():
                self._disarm_header_timer()  # the headers are complete: a request runs

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_timer()
            super().connection_lost(exc)

        def _between_requests(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _arm_header_timer(self) -> None:
            self._disarm_header_timer()
            self._header_timer = self.loop.call_later(self.timeout, self._headers_too_slow)

        def _disarm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if not self._between_requests() or self.transport.is_closing():
                return  # a request is in progress: its body timeout is the app's
            self.transport.write(_TIMEOUT_ANSWER)
            self.transport.close()

    return BoundedH11Protocol
