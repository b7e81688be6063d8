"""A small real HTTP server on 127.0.0.1 that partner fakes plug routes into.

Each partner fake (TikTok Shop, Sync Order Information, Events API, SFCC)
is a list of `Route`s; `SandboxServer` serves any mix of them on one port,
in a background thread, and keeps every request it received for inspection.
It uses only the standard library, so tests and users need nothing else to
run it. `fault` lets a test answer some requests with an error or drop the
connection before any route sees them, or (through `route`) after.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from attrs import field, frozen


@frozen
class Received:
    """One request as the sandbox received it."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


@frozen
class Reply:
    """What a route answers: a status and a JSON body (or raw bytes)."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    headers: Mapping[str, str] = field(factory=dict)

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return b"" if self.body is None else json.dumps(self.body).encode()


#: Returned by a fault hook to close the connection without answering.
DROP = Reply(status=0)

Handler = Callable[[Received, "re.Match[str]"], Reply]


@frozen
class Route:
    """`method` and a full-match regular expression on the path, and who answers."""

    method: str
    pattern: str
    handler: Handler

    def match(self, method: str, path: str) -> re.Match[str] | None:
        if method != self.method:
            return None
        return re.fullmatch(self.pattern, path)


class SandboxServer:
    """Serve `routes` on 127.0.0.1 until `stop()`; use it as a context manager."""

    def __init__(
        self,
        routes: Iterable[Route],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        fault: Callable[[Received], Reply | None] | None = None,
        max_body: int = 4 * 1024 * 1024,
    ) -> None:
        self.routes = list(routes)
        self.fault = fault
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._max_body = max_body
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests(self, method: str | None = None, path: str | None = None) -> list[Received]:
        """What was received so far, optionally only one method and path pattern."""
        with self._lock:
            seen = list(self.received)
        return [
            r
            for r in seen
            if (method is None or r.method == method)
            and (path is None or re.fullmatch(path, r.path))
        ]

    def answer(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
        if self.fault is not None:
            reply = self.fault(request)
            if reply is not None:
                return reply
        return self.route(request)

    def route(self, request: Received) -> Reply:
        """What the routes answer, past any fault: a fault hook may call it to let a
        request through and then spoil the answer."""
        for route in self.routes:
            match = route.match(request.method, request.path)
            if match is not None:
                return route.handler(request, match)
        return Reply(404, {"error": f"no sandbox route for {request.method} {request.path}"})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are written apart; with Nagle's algorithm on, each
            # answer waits for the client's delayed ACK (40 ms instead of ~1 ms).
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return  # requests are kept in `received`, not printed

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > server._max_body:
                    self.send_error(413)
                    return
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
                request = Received(
                    self.command, split.path, query, dict(self.headers.items()), body
                )
                reply = server.answer(request)
                if reply is DROP:
                    self.close_connection = True
                    self.connection.close()
                    return
                payload = reply.encode()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        return _Handler
