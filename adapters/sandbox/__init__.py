"""Local fakes of the partners' HTTP APIs, served for real on 127.0.0.1."""

from adapters._util import publish as _publish

from ._server import DROP, Received, Reply, Route, SandboxServer

__all__ = ["DROP", "Received", "Reply", "Route", "SandboxServer"]

_publish(__name__, globals())
