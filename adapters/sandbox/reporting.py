"""Sandbox routes for TikTok's reporting APIs: Sync Order Information and the Events API.

`reporting_routes()` returns the routes to serve with `SandboxServer` and a
`ReportingState` that keeps what arrived. The fakes check what the real APIs
are documented to check: the access token, the Events API body shape and
batch size, and Sync Order Information's mandatory fields and money rules
(with the adapter's own validator, so the two cannot disagree). They answer
in TikTok's envelope `{code, message, request_id, data}`.

Sync Order Information's real path is not public, so the sandbox serves it
at `SYNC_ORDER_INFO_PATH`; the error codes it answers are the sandbox's own
(`SANDBOX_INVALID`), except 40105 for a bad token, which TikTok uses.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

from attrs import define, field

from adapters.partners.events_api import EventSource
from adapters.partners.sync_order_info import order_info_problems

from ._server import Received, Reply, Route

__all__ = [
    "EVENTS_PATH",
    "OFFLINE_PATH",
    "SANDBOX_INVALID",
    "SYNC_ORDER_INFO_PATH",
    "ReportingState",
    "reporting_routes",
]

EVENTS_PATH = "/open_api/v1.3/event/track/"
OFFLINE_PATH = "/open_api/v1.3/offline/track/"
SYNC_ORDER_INFO_PATH = "/sandbox/tiktok/sync_order_info"
SANDBOX_INVALID = 40002
BAD_TOKEN = 40105
_SOURCES = frozenset(source.value for source in EventSource)


@define
class ReportingState:
    """What the reporting fakes received, and how many times each event id was seen."""

    access_token: str = field(repr=False)
    max_batch: int = 1000
    events: list[dict[str, Any]] = field(factory=list)
    offline_events: list[dict[str, Any]] = field(factory=list)
    order_infos: list[dict[str, Any]] = field(factory=list)
    seen_event_ids: Counter[tuple[str, str, str]] = field(factory=Counter)
    _lock: threading.Lock = field(factory=threading.Lock, repr=False)
    _requests: int = 0

    def request_id(self) -> str:
        with self._lock:
            self._requests += 1
            return f"sandbox-{self._requests}"

    @property
    def duplicates(self) -> int:
        """Events received again with the same source, event and event id (TikTok dedupes them)."""
        return sum(count - 1 for count in self.seen_event_ids.values())

    def statuses(self, order_id: str) -> list[str]:
        """The Sync Order Information statuses received for `order_id`, in order."""
        return [i["order_status"] for i in self.order_infos if i.get("order_id") == order_id]


def _envelope(state: ReportingState, code: int = 0, message: str = "OK") -> Reply:
    return Reply(200, {"code": code, "message": message, "request_id": state.request_id()})


def _authorised(state: ReportingState, request: Received) -> bool:
    return request.header("Access-Token") == state.access_token


def _body(request: Received) -> Any:
    try:
        return request.json()
    except ValueError:
        return None


def _event_problems(event: Any) -> list[str]:
    if not isinstance(event, dict):
        return ["data[] items must be objects"]
    problems = [name for name in ("event", "event_time") if not event.get(name)]
    if not isinstance(event.get("event_time", 0), int):
        problems.append("event_time must be unix seconds")
    return problems


def _track(state: ReportingState) -> Any:
    def handle(request: Received, _match: re.Match[str]) -> Reply:
        if not _authorised(state, request):
            return _envelope(state, BAD_TOKEN, "Access token is incorrect or has been revoked.")
        body = _body(request)
        if not isinstance(body, dict):
            return _envelope(state, SANDBOX_INVALID, "body must be a JSON object")
        data = body.get("data")
        problems = []
        if body.get("event_source") not in _SOURCES:
            problems.append("event_source")
        if not body.get("event_source_id"):
            problems.append("event_source_id")
        if not isinstance(data, list) or not 1 <= len(data) <= state.max_batch:
            problems.append(f"data must hold 1..{state.max_batch} events")
        else:
            problems += [p for event in data for p in _event_problems(event)]
        if problems:
            return _envelope(state, SANDBOX_INVALID, "invalid: " + ", ".join(problems))
        assert isinstance(data, list)
        for event in data:
            key = (body["event_source_id"], event["event"], str(event.get("event_id", "")))
            state.seen_event_ids[key] += 1
            state.events.append({**event, "event_source": body["event_source"]})
        return _envelope(state)

    return handle


def _offline(state: ReportingState) -> Any:
    def handle(request: Received, _match: re.Match[str]) -> Reply:
        if not _authorised(state, request):
            return _envelope(state, BAD_TOKEN, "Access token is incorrect or has been revoked.")
        body = _body(request)
        required = ("event_set_id", "event", "timestamp")
        if not isinstance(body, dict) or any(not body.get(name) for name in required):
            return _envelope(state, SANDBOX_INVALID, "invalid: " + ", ".join(required))
        key = (body["event_set_id"], body["event"], str(body.get("event_id", "")))
        state.seen_event_ids[key] += 1
        state.offline_events.append(body)
        return _envelope(state)

    return handle


def _sync_order_info(state: ReportingState, header: str) -> Any:
    def handle(request: Received, _match: re.Match[str]) -> Reply:
        if request.header(header) != state.access_token:
            return _envelope(state, BAD_TOKEN, "Access token is incorrect or has been revoked.")
        body = _body(request)
        info = body.get("order_info") if isinstance(body, dict) else None
        if not isinstance(info, dict):
            return _envelope(state, SANDBOX_INVALID, "body must hold order_info")
        problems = order_info_problems(info)
        if problems:
            return _envelope(state, SANDBOX_INVALID, "; ".join(map(str, problems)))
        state.order_infos.append(info)
        return _envelope(state)

    return handle


def reporting_routes(
    access_token: str = "sandbox-access-token",
    *,
    max_batch: int = 1000,
    sync_order_info_path: str = SYNC_ORDER_INFO_PATH,
    sync_order_info_header: str = "Access-Token",
) -> tuple[list[Route], ReportingState]:
    """Routes faking the Events API (2.0, offline) and Sync Order Information, and their state."""
    state = ReportingState(access_token=access_token, max_batch=max_batch)
    routes = [
        Route("POST", re.escape(EVENTS_PATH), _track(state)),
        Route("POST", re.escape(OFFLINE_PATH), _offline(state)),
        Route(
            "POST",
            re.escape(sync_order_info_path),
            _sync_order_info(state, sync_order_info_header),
        ),
    ]
    return routes, state
