"""A reference model of the order rules, written from docs/rules.md's table alone.

It shares no code with `lifecycle`: plain dicts and if-statements, one
function per event. The stateful test drives both and compares them; where
they disagree, one of them misreads the rules. Beside the events it knows
what TikTok does by itself when time passes (`due`, `tick`) and which events
a status TikTok reports implies (`reported`), so the store's stateful test can
use it as its oracle too.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

HOLD = timedelta(hours=1)
AUTO_APPROVE = timedelta(hours=48)
COMPLETE_AFTER = timedelta(days=14)

PRE = {"UNPAID", "ON_HOLD"}
AS, PS = "AWAITING_SHIPMENT", "PARTIALLY_SHIPPING"
POST = {"AWAITING_COLLECTION", "IN_TRANSIT", "DELIVERED"}
SHIPPED_STATES = {PS, *POST}
FINAL = {"COMPLETED", "CANCELLED"}
RETURN_STEPS = {
    "approve_return": {"REQUESTED"},
    "reject_return": {"REQUESTED", "BUYER_SHIPPED", "RECEIVED"},
    "ship_return": {"AWAITING_BUYER_SHIPMENT"},
    "receive_return": {"AWAITING_BUYER_SHIPMENT", "BUYER_SHIPPED"},
    "refund": {"APPROVED", "RECEIVED"},
    "withdraw_return": {"REQUESTED", "APPROVED", "AWAITING_BUYER_SHIPMENT"},
}
DEFAULT_ORIGIN = {"BUYER": "TIKTOK", "SELLER": "OMS", "PLATFORM": "TIMER"}
#: The effects table of the rules page: a reporting shop tells Sync Order
#: Information of these statuses, and the Events API of completion (the
#: default status maps).
SYNC_REPORTED = {"CANCELLED", "COMPLETED"}
EVENT_REPORTED = {"COMPLETED"}
#: TikTok cancels an order not shipped this long after payment (the rules page's SLA).
SHIP_BY = timedelta(days=15)
#: The statuses an order goes through, in order, and the event by which TikTok's
#: report of each follows from the one before (None: no report reaches it alone).
STATUS_PATH: tuple[tuple[str, tuple[str, str] | None], ...] = (
    ("UNPAID", None),
    ("ON_HOLD", ("pay", "PLATFORM")),
    ("AWAITING_SHIPMENT", ("release_hold", "PLATFORM")),
    # A report of a partial shipment does not say which lines shipped.
    (PS, None),
    ("AWAITING_COLLECTION", ("ship", "SELLER")),
    ("IN_TRANSIT", ("collect", "PLATFORM")),
    ("DELIVERED", ("deliver", "PLATFORM")),
    ("COMPLETED", ("complete", "PLATFORM")),
)


class Refused(Exception):
    """The reference refuses the event."""


@dataclass
class Ref:
    status: str
    lines: dict[str, str]
    paid_at: datetime
    request: dict[str, Any] | None = None
    returns: list[dict[str, Any]] = field(default_factory=list)
    delivered_at: datetime | None = None
    after_shipped: bool = False
    seller_partial_cancel: bool = False
    #: line -> (tracking number, carrier id, carrier name) it shipped with
    shipments: dict[str, tuple[str | None, str | None, str | None]] = field(default_factory=dict)
    report_sync_order_info: bool = False
    report_events_api: bool = False
    #: the latest moment of an event applied, and (event, who, origin, when) of each
    updated_at: datetime | None = None
    history: list[tuple[str, str, str, datetime]] = field(default_factory=list)

    def ids(self, status: str) -> list[str]:
        return [i for i, s in self.lines.items() if s == status]

    @property
    def live(self) -> set[str]:
        return {i for i, s in self.lines.items() if s in ("OPEN", "SHIPPED")}

    @property
    def pending(self) -> dict[str, Any] | None:
        if self.request is not None and self.request["status"] == "PENDING":
            return self.request
        return None

    def open_returns(self) -> list[dict[str, Any]]:
        return [r for r in self.returns if r["status"] not in ("REFUNDED", "REJECTED", "CANCELLED")]

    def reports(self, before: str) -> set[str]:
        """The reporting effects of moving from status `before` to this one."""
        if self.status == before:
            return set()
        kinds = set()
        if self.report_sync_order_info and self.status in SYNC_REPORTED:
            kinds.add("SyncOrderInfo")
        if self.report_events_api and self.status in EVENT_REPORTED:
            kinds.add("ReportTikTokEvent")
        return kinds

    # ------------------------------------------------------------------ the events

    def step(
        self, event: str, who: str, origin: str | None, now: datetime, p: dict[str, Any]
    ) -> Ref:
        """The next reference state, or `Refused`."""
        origin = origin or DEFAULT_ORIGIN[who]
        if self.status in FINAL:
            raise Refused("final")
        nxt = copy.deepcopy(self)
        getattr(nxt, "_" + event)(who, origin, now, p)
        nxt.updated_at = now if self.updated_at is None else max(self.updated_at, now)
        nxt.history.append((event, who, origin, now))
        return nxt

    # ------------------------------------------------------------------ TikTok by itself

    def due(self) -> list[tuple[datetime, str]]:
        """The timers the order has now: (when, event), earliest first."""
        found = []
        if self.status == "ON_HOLD":
            found.append((self.paid_at + HOLD, "release_hold"))
        if self.status == AS:
            found.append((self.paid_at + SHIP_BY, "cancel"))
        if self.pending is not None:
            found.append((self.pending["at"] + AUTO_APPROVE, "approve_cancellation"))
        if self.status == "DELIVERED" and not self.open_returns():
            assert self.delivered_at is not None
            found.append((self.delivered_at + COMPLETE_AFTER, "complete"))
        return sorted(found, key=lambda timer: timer[0])

    def tick(self, now: datetime) -> Ref:
        """The order once every timer due at `now` has fired, one after the other, at `now`."""
        order = self
        while True:
            for when, event in order.due():
                if when > now:
                    continue
                try:
                    order = order.step(event, "PLATFORM", "TIMER", now, {})
                except Refused:
                    continue
                break
            else:
                return order

    def reported(self, status: str) -> list[tuple[str, str]]:
        """The events (event, who) by which the order reaches `status` as TikTok reports it.

        `[]` when the order is there already; `Refused` when no report explains
        it: a status behind the order's, a final order, or a partial shipment.
        A cancellation of the whole order while a buyer's request for all of it
        is pending is that request approved.
        """
        if status == self.status:
            return []
        if self.status in FINAL:
            raise Refused("final")
        if status == "CANCELLED":
            pending = self.pending
            if pending is not None and set(pending["lines"]) >= self.live:
                return [("approve_cancellation", "PLATFORM")]
            return [("cancel", "PLATFORM")]
        order = [name for name, _ in STATUS_PATH]
        here, there = order.index(self.status), order.index(status)
        moves = [move for _, move in STATUS_PATH[here + 1 : there + 1] if move is not None]
        if there <= here or STATUS_PATH[there][1] is None:
            raise Refused("not reachable by a report")
        return moves

    def _pay(self, who: str, origin: str, now: datetime, p: dict[str, Any]) -> None:
        if self.status != "UNPAID" or who == "SELLER":
            raise Refused
        self.status, self.paid_at = "ON_HOLD", now

    def _release_hold(self, who: str, origin: str, now: datetime, p: dict[str, Any]) -> None:
        if self.status != "ON_HOLD" or who != "PLATFORM":
            raise Refused
        if origin != "TIKTOK" and now < self.paid_at + HOLD:
            raise Refused
        self.status = AS

    def _cancel_lines(self, ids: list[str], whole: bool) -> None:
        gone = self.ids("OPEN") if whole else ids
        for i in gone:
            self.lines[i] = "CANCELLED"
        if self.pending is not None and set(self.pending["lines"]) <= set(gone):
            self.request["status"] = "APPROVED"  # type: ignore[index]
        elif self.pending is not None:
            # Lines cancelled outright leave the request; it still asks for the rest.
            self.request["lines"] = [i for i in self.pending["lines"] if i not in gone]  # type: ignore[index]
        if whole:
            self.after_shipped = self.status in SHIPPED_STATES
            self.status = "CANCELLED"
        elif not self.ids("OPEN"):
            self.status = "AWAITING_COLLECTION"

    def _cancel(self, who: str, origin: str, now: datetime, p: dict[str, Any]) -> None:
        given = p.get("line_item_ids")
        pending = self.pending
        if given is None and who == "SELLER" and pending is not None:
            ids = list(pending["lines"])
            whole = set(ids) >= self.live
        elif given is None:
            ids, whole = self.ids("OPEN"), True
        else:
            ids, whole = list(given), set(given) >= self.live
        if self.status in (AS, PS) and who == "BUYER":
            raise Refused("buyer requests after the hold")
        if self.status in SHIPPED_STATES and whole and who != "PLATFORM":
            raise Refused("only TikTok cancels after shipment")
        if self.status in POST and not whole:
            raise Refused("no line left to cancel partially")
        matches_request = pending is not None and set(ids) == set(pending["lines"])
        if self.status in (AS, PS) and who == "SELLER" and pending and not matches_request:
            raise Refused("seller cancel must match the pending request")
        if not whole:
            if who == "SELLER" and not self.seller_partial_cancel and not matches_request:
                raise Refused("seller partial cancel")
            if not ids or any(self.lines[i] != "OPEN" for i in ids):
                raise Refused("lines not open")
        self._cancel_lines(ids, whole)

    def _request_cancellation(
        self, who: str, origin: str, now: datetime, p: dict[str, Any]
    ) -> None:
        if self.status not in (AS, PS) or who != "BUYER" or self.pending is not None:
            raise Refused
        ids = list(p.get("line_item_ids") or self.ids("OPEN"))
        if not ids or any(self.lines[i] != "OPEN" for i in ids):
            raise Refused
        if p.get("cancel_id") is None:
            raise Refused("cancel_id is mandatory")
        self.request = {"id": p["cancel_id"], "lines": ids, "status": "PENDING", "at": now}

    def _answerable(self, p: dict[str, Any]) -> dict[str, Any]:
        if self.status not in (AS, PS) or self.pending is None:
            raise Refused
        if p.get("cancel_id") not in (None, self.pending["id"]):
            raise Refused
        return self.pending

    def _approve_cancellation(
        self, who: str, origin: str, now: datetime, p: dict[str, Any]
    ) -> None:
        request = self._answerable(p)
        if who == "BUYER":
            raise Refused
        if who == "PLATFORM" and origin != "TIKTOK" and now < request["at"] + AUTO_APPROVE:
            raise Refused
        ids = list(request["lines"])
        self._cancel_lines(ids, set(ids) >= self.live)

    def _reject_cancellation(self, who: str, origin: str, now: datetime, p: dict[str, Any]) -> None:
        request = self._answerable(p)
        if who == "BUYER":
            raise Refused
        request["status"] = "REJECTED"

    def _withdraw_cancellation(
        self, who: str, origin: str, now: datetime, p: dict[str, Any]
    ) -> None:
        request = self._answerable(p)
        if who != "BUYER":
            raise Refused
        request["status"] = "WITHDRAWN"

    def _ship(self, who: str, origin: str, now: datetime, p: dict[str, Any]) -> None:
        if self.status not in (AS, PS) or who == "BUYER":
            raise Refused
        ids = list(p.get("line_item_ids") or self.ids("OPEN"))
        if not ids or any(self.lines[i] != "OPEN" for i in ids):
            raise Refused
        if who == "SELLER" and origin == "OMS" and p.get("tracking_number") is None:
            raise Refused("tracking number is mandatory for TikTok")
        carrier = (p.get("shipping_provider_id"), p.get("shipping_provider_name"))
        if who == "SELLER" and origin == "OMS" and carrier == (None, None):
            raise Refused("TikTok's Ship Package names the carrier, by id or by name")
        for i in ids:
            self.lines[i] = "SHIPPED"
            self.shipments[i] = (p.get("tracking_number"), *carrier)
        if self.pending is not None and set(self.pending["lines"]) & set(ids):
            self.request["status"] = "REJECTED"  # type: ignore[index]
        self.status = PS if self.ids("OPEN") else "AWAITING_COLLECTION"

    def _collect(self, who: str, origin: str, now: datetime, p: dict[str, Any]) -> None:
        if self.status != "AWAITING_COLLECTION" or who != "PLATFORM":
            raise Refused
        self.status = "IN_TRANSIT"

    def _deliver(self, who: str, origin: str, now: datetime, p: dict[str, Any]) -> None:
        if self.status != "IN_TRANSIT" or who != "PLATFORM":
            raise Refused
        self.status, self.delivered_at = "DELIVERED", now

    def _complete(self, who: str, origin: str, now: datetime, p: dict[str, Any]) -> None:
        if self.status != "DELIVERED" or who != "PLATFORM":
            raise Refused
        if origin != "TIKTOK":
            if self.open_returns():
                raise Refused
            assert self.delivered_at is not None
            if now < self.delivered_at + COMPLETE_AFTER:
                raise Refused
        self.status = "COMPLETED"

    def _request_return(self, who: str, origin: str, now: datetime, p: dict[str, Any]) -> None:
        if self.status not in SHIPPED_STATES or who != "BUYER":
            raise Refused
        busy = {i for r in self.open_returns() for i in r["lines"]}
        given = p.get("line_item_ids")
        ids = list(given) if given else [i for i in self.ids("SHIPPED") if i not in busy]
        if p.get("return_id") is None or p["return_id"] in {r["id"] for r in self.returns}:
            raise Refused
        if not ids or any(self.lines[i] != "SHIPPED" or i in busy for i in ids):
            raise Refused
        kind = p.get("return_type") or "RETURN_AND_REFUND"
        self.returns.append(
            {"id": p["return_id"], "lines": ids, "type": kind, "status": "REQUESTED"}
        )

    def _the_return(self, event: str, p: dict[str, Any]) -> dict[str, Any]:
        if self.status not in SHIPPED_STATES:
            raise Refused
        if p.get("return_id") is not None:
            found = [r for r in self.returns if r["id"] == p["return_id"]]
            if not found:
                raise Refused("no such return")
            chosen = found[0]
        else:
            candidates = [r for r in self.returns if r["status"] in RETURN_STEPS[event]]
            if len(candidates) != 1:
                raise Refused("none or ambiguous")
            chosen = candidates[0]
        if chosen["status"] not in RETURN_STEPS[event]:
            raise Refused
        return chosen

    def _approve_return(self, who: str, origin: str, now: datetime, p: dict[str, Any]) -> None:
        r = self._the_return("approve_return", p)
        if who == "BUYER":
            raise Refused
        r["status"] = "APPROVED" if r["type"] == "REFUND" else "AWAITING_BUYER_SHIPMENT"

    def _reject_return(self, who: str, origin: str, now: datetime, p: dict[str, Any]) -> None:
        r = self._the_return("reject_return", p)
        if who == "BUYER" or origin == "OMS":
            raise Refused
        r["status"] = "REJECTED"

    def _ship_return(self, who: str, origin: str, now: datetime, p: dict[str, Any]) -> None:
        r = self._the_return("ship_return", p)
        if who != "BUYER":
            raise Refused
        r["status"] = "BUYER_SHIPPED"

    def _receive_return(self, who: str, origin: str, now: datetime, p: dict[str, Any]) -> None:
        r = self._the_return("receive_return", p)
        if who == "BUYER":
            raise Refused
        r["status"] = "RECEIVED"

    def _refund(self, who: str, origin: str, now: datetime, p: dict[str, Any]) -> None:
        r = self._the_return("refund", p)
        if who != "PLATFORM":
            raise Refused
        r["status"] = "REFUNDED"
        if r["type"] != "REPLACEMENT":
            for i in r["lines"]:
                self.lines[i] = "REFUNDED"

    def _withdraw_return(self, who: str, origin: str, now: datetime, p: dict[str, Any]) -> None:
        r = self._the_return("withdraw_return", p)
        if who != "BUYER":
            raise Refused
        r["status"] = "CANCELLED"
