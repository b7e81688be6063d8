"""Sandbox routes for TikTok's reporting APIs: Sync Order Information and the Events API.

`reporting_routes()` returns the routes to serve with `SandboxServer` and a
`ReportingState` that keeps what arrived. The fakes check what the real APIs
are documented to check: the access token, the Events API body shape and
batch size, and Sync Order Information's mandatory fields per status, their
JSON types and the two money rules. The Sync Order Information check is the
sandbox's own, written from the Commanders Act TikTok Sync Order Information
destination's field table, not the adapter's validator: a body the adapter
builds wrongly and also validates wrongly is still refused here. They answer
in TikTok's envelope `{code, message, request_id, data}`.

Sync Order Information's real path is not public, so the sandbox serves it
at `SYNC_ORDER_INFO_PATH`; the error codes it answers are the sandbox's own
(`SANDBOX_INVALID`), except 40105 for a bad token, which TikTok uses.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any

from attrs import define, field

from adapters.partners.events_api import EventSource

from ._server import Received, Reply, Route

__all__ = [
    "EVENTS_PATH",
    "OFFLINE_PATH",
    "SANDBOX_INVALID",
    "SYNC_ORDER_INFO_PATH",
    "ReportingState",
    "reporting_routes",
    "sync_order_info_refusals",
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


# --- Sync Order Information, from the destination's field table -------------------------------

_TEXT, _SECONDS, _COUNT, _AMOUNT, _CURRENCY = (
    "text",
    "unix seconds",
    "a whole number",
    "an amount >= 0",
    "an ISO 4217 code",
)

#: The rows marked [*] (mandatory whatever the status), as paths under `order_info`
#: ([3]: the SKU sits in `spu_list.0.sku_list.0`), each with the JSON type it takes.
_ALWAYS: tuple[tuple[str, str], ...] = (
    ("order_id", _TEXT),
    ("third_merchant_id", _TEXT),
    ("third_shop_id", _TEXT),
    ("third_shop_name", _TEXT),
    ("order_status", _TEXT),
    ("order_country", _TEXT),
    ("create_time", _SECONDS),
    ("update_time", _SECONDS),
    ("value.currency", _CURRENCY),
    ("value.payment_value", _AMOUNT),
    ("value.total_value", _AMOUNT),
    ("extra.length_of_stay", _COUNT),
    ("extra.amount_of_room", _COUNT),
    ("extra.check_in_date", _TEXT),
    ("extra.check_out_date", _TEXT),
    ("spu_list.0.sku_list.0.third_sku_id", _TEXT),
    ("spu_list.0.sku_list.0.third_sku_name", _TEXT),
)
#: [2]: mandatory for CANCEL_ORDER, either MERCHANT or CUSTOMER.
_CANCEL_STATUS, _INITIATORS = "CANCEL_ORDER", ("MERCHANT", "CUSTOMER")
#: [4] and [5]: mandatory for COMPLETE_ORDER, the commission in `value.commission_value.0`.
_COMPLETE_STATUS = "COMPLETE_ORDER"
_ON_COMPLETE: tuple[tuple[str, str], ...] = (
    ("value.fulfillment_value", _AMOUNT),
    ("value.fulfillment_tax", _AMOUNT),
    ("value.fulfillment_service_fee", _AMOUNT),
    ("value.commission_value.0.currency", _CURRENCY),
    ("value.commission_value.0.commission_base_amount", _AMOUNT),
)
#: Optional amounts of the table: when sent they must be amounts too.
_OPTIONAL_AMOUNTS = (
    "value.discounts",
    "value.total_room_fee",
    "value.total_tax",
    "value.total_service_fee",
    "promotion_info.saved_amount",
)
_ABSENT = object()


def _at(info: Any, path: str) -> Any:
    """The value at a dotted path (digits index lists), or `_ABSENT`."""
    here = info
    for step in path.split("."):
        if isinstance(here, dict) and step in here:
            here = here[step]
        elif isinstance(here, list) and step.isdigit() and int(step) < len(here):
            here = here[int(step)]
        else:
            return _ABSENT
    return here


def _amount(value: Any) -> Decimal | None:
    """A JSON number or a decimal string as an exact amount; `None` when it is neither."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _is_type(value: Any, kind: str) -> bool:
    if kind == _TEXT:
        return isinstance(value, str) and value.strip() != ""
    if kind == _CURRENCY:
        return isinstance(value, str) and re.fullmatch("[A-Z]{3}", value) is not None
    if kind == _AMOUNT:
        amount = _amount(value)
        return amount is not None and amount >= 0
    # unix seconds, counts: JSON integers (a bool is not one)
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _type_problem(value: Any, kind: str) -> str | None:
    return None if _is_type(value, kind) else f"must be {kind}, got {value!r}"


def sync_order_info_refusals(info: Any) -> list[str]:
    """Why the fake Sync Order Information endpoint refuses `order_info`; `[]`: accepted.

    Written from the Commanders Act TikTok Sync Order Information destination's
    field table alone: every mandatory field for the status, of its JSON type;
    `initiator` MERCHANT or CUSTOMER for CANCEL_ORDER; the fulfilment amounts
    and the commission for COMPLETE_ORDER; and, compared exactly,
    `payment_value = total_value - discounts` (no discounts: none) and
    `total_value = total_room_fee + total_tax + total_service_fee` (when any
    of the three is sent; one not sent counts as none). Each refusal names its
    path.
    """
    if not isinstance(info, dict):
        return ["order_info: must be an object"]
    rows = list(_ALWAYS)
    status = info.get("order_status")
    if status == _COMPLETE_STATUS:
        rows += _ON_COMPLETE
    refusals = []
    for path, kind in rows:
        value = _at(info, path)
        problem = "missing" if value is _ABSENT or value is None else _type_problem(value, kind)
        if problem:
            refusals.append(f"{path}: {problem}")
    if status == _CANCEL_STATUS and info.get("initiator") not in _INITIATORS:
        refusals.append(f"initiator: must be MERCHANT or CUSTOMER, got {info.get('initiator')!r}")
    for path in _OPTIONAL_AMOUNTS:
        value = _at(info, path)
        if value is not _ABSENT and (problem := _type_problem(value, _AMOUNT)):
            refusals.append(f"{path}: {problem}")
    return refusals + _money_refusals(info)


def _money_refusals(info: dict[str, Any]) -> list[str]:
    def amount(name: str) -> Decimal | None:
        found = _amount(_at(info, f"value.{name}"))
        return found if found is not None and found >= 0 else None

    payment, total = amount("payment_value"), amount("total_value")
    if total is None:
        return []
    refusals = []
    discounts = amount("discounts") or Decimal(0)
    if payment is not None and payment != total - discounts:
        refusals.append(
            f"value.payment_value: {payment} is not total_value {total} - discounts {discounts}"
        )
    parts = [
        _at(info, f"value.{name}") for name in ("total_room_fee", "total_tax", "total_service_fee")
    ]
    if any(part is not _ABSENT for part in parts):
        summed = sum((_amount(part) or Decimal(0) for part in parts), Decimal(0))
        if total != summed:
            refusals.append(
                f"value.total_value: {total} is not total_room_fee + total_tax"
                f" + total_service_fee = {summed}"
            )
    return refusals


def _sync_order_info(state: ReportingState, header: str) -> Any:
    def handle(request: Received, _match: re.Match[str]) -> Reply:
        if request.header(header) != state.access_token:
            return _envelope(state, BAD_TOKEN, "Access token is incorrect or has been revoked.")
        try:
            # Numbers as exact decimals: the money rules are compared to the digit.
            body = json.loads(request.body, parse_float=Decimal) if request.body else None
        except ValueError:
            body = None
        info = body.get("order_info") if isinstance(body, dict) else None
        if not isinstance(info, dict):
            return _envelope(state, SANDBOX_INVALID, "body must hold order_info")
        refusals = sync_order_info_refusals(info)
        if refusals:
            return _envelope(state, SANDBOX_INVALID, "; ".join(refusals))
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
