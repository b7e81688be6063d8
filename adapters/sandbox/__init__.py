"""Local fakes of the partners' HTTP APIs, served for real on 127.0.0.1."""

from ._server import DROP, Received, Reply, Route, SandboxServer

__all__ = ["DROP", "Received", "Reply", "Route", "SandboxServer"]
