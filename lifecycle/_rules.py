"""The rules: who may do what, and when.

Two kinds of pure functions of one `Context` (order, event, initiator,
origin, now, policy, parameters), both named after what they check and
referenced by name in the transition table of `_machine.py`:

* **guards** return `None` when the rule is met and the refusal, a sentence a
  person can read, when it is not. The table declares them as `unless=`, so a
  refusal (a non-empty string) blocks the transition.
* **selectors** return `True` or `False` and choose between the targets of one
  event (a partial cancellation keeps the status, a whole one cancels); the
  table declares them as `cond=`. The targets of one event in one state are
  mutually exclusive, so a refusal always comes from a guard.

docs/rules.md names each rule's public source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from attrs import frozen

from ._deadlines import auto_approval_at, completes_at, hold_ends
from ._model import (
    CancellationRequest,
    Initiator,
    LineStatus,
    Order,
    Origin,
    ReturnRequest,
    ReturnStatus,
    ReturnType,
    _unchecked_make,
)
from ._policy import Policy
from .errors import ParameterError

EVENTS: tuple[str, ...] = (
    "pay",
    "release_hold",
    "cancel",
    "request_cancellation",
    "approve_cancellation",
    "reject_cancellation",
    "withdraw_cancellation",
    "ship",
    "collect",
    "deliver",
    "complete",
    "request_return",
    "approve_return",
    "reject_return",
    "ship_return",
    "receive_return",
    "refund",
    "withdraw_return",
)

_LINES = ("line_item_ids",)
_SHIPMENT = ("package_id", "tracking_number", "shipping_provider_id", "shipping_provider_name")
_RETURN = ("return_id",)

#: The parameters each event takes, under TikTok's names. `reason` goes everywhere.
EVENT_PARAMS: Mapping[str, frozenset[str]] = {
    event: frozenset((*names, "reason"))
    for event, names in {
        "pay": (),
        "release_hold": (),
        "cancel": (*_LINES, "cancel_id"),
        "request_cancellation": (*_LINES, "cancel_id"),
        "approve_cancellation": ("cancel_id",),
        "reject_cancellation": ("cancel_id",),
        "withdraw_cancellation": ("cancel_id",),
        "ship": (*_LINES, *_SHIPMENT),
        "collect": (),
        "deliver": (),
        "complete": (),
        "request_return": (
            *_LINES,
            *_RETURN,
            "return_type",
            "return_tracking_number",
            "requested_at",
        ),
        "approve_return": _RETURN,
        "reject_return": _RETURN,
        "ship_return": (*_RETURN, "return_tracking_number"),
        "receive_return": _RETURN,
        "refund": _RETURN,
        "withdraw_return": _RETURN,
    }.items()
}

#: The statuses a return must be in for each return event to apply to it.
RETURN_FROM: Mapping[str, frozenset[ReturnStatus]] = {
    "approve_return": frozenset({ReturnStatus.REQUESTED}),
    "reject_return": frozenset(
        {ReturnStatus.REQUESTED, ReturnStatus.BUYER_SHIPPED, ReturnStatus.RECEIVED}
    ),
    "ship_return": frozenset({ReturnStatus.AWAITING_BUYER_SHIPMENT}),
    "receive_return": frozenset({ReturnStatus.AWAITING_BUYER_SHIPMENT, ReturnStatus.BUYER_SHIPPED}),
    "refund": frozenset({ReturnStatus.APPROVED, ReturnStatus.RECEIVED}),
    "withdraw_return": frozenset(
        {ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.AWAITING_BUYER_SHIPMENT}
    ),
}


@frozen
class Params:
    """An event's parameters, checked and resolved against the order.

    `line_item_ids` is what the caller gave; `lines` is what the event works
    on (the default when nothing was given); `whole` says a cancellation
    covers every line that is not already cancelled.
    """

    given: Mapping[str, Any]
    line_item_ids: tuple[str, ...] | None = None
    lines: tuple[str, ...] = ()
    whole: bool = False
    cancel_id: str | None = None
    return_id: str | None = None
    return_type: ReturnType = ReturnType.RETURN_AND_REFUND
    package_id: str | None = None
    tracking_number: str | None = None
    shipping_provider_id: str | None = None
    shipping_provider_name: str | None = None
    reason: str = ""
    return_tracking_number: str | None = None
    requested_at: datetime | None = None


#: `Params(...)` without attrs' `__init__`: every field is given, none is validated.
make_params = _unchecked_make(Params)


@frozen
class Context:
    """Everything a rule may look at. Rules never look at anything else."""

    order: Order
    event: str
    initiator: Initiator
    origin: Origin
    now: datetime
    policy: Policy
    params: Params

    @property
    def request(self) -> CancellationRequest | None:
        return self.order.pending_cancellation

    @property
    def return_request(self) -> ReturnRequest | None:
        if self.params.return_id is None:
            return None
        try:
            return self.order.return_request(self.params.return_id)
        except KeyError:
            return None

    @property
    def to_tiktok_shop(self) -> bool:
        """Whether the change must be sent to TikTok Shop: the seller's own act, from the OMS."""
        return self.initiator is Initiator.SELLER and self.origin is Origin.OMS


#: `Context(...)` without attrs' `__init__`, for the core's own hot paths.
make_context = _unchecked_make(Context)


# --------------------------------------------------------------------------- parameters


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _ids(order: Order, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ParameterError(f"line_item_ids must be a list of line item ids, got {value!r}")
    ids = tuple(_text("line_item_ids[]", item) for item in value)
    if not ids:
        raise ParameterError(
            "line_item_ids must not be empty; leave it out to mean every open line"
        )
    if len(set(ids)) != len(ids):
        raise ParameterError(f"line_item_ids repeats a line: {list(ids)}")
    known = {line.line_item_id for line in order.lines}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ParameterError(f"order {order.order_id} has no line {', '.join(unknown)}")
    return ids


def _moment(name: str, value: str) -> datetime:
    """An ISO-8601 time with its offset, as a parameter carries it (history keeps text)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ParameterError(f"{name} must be an ISO-8601 time, got {value!r}") from None
    if moment.utcoffset() is None:
        raise ParameterError(f"{name} must carry its UTC offset, got {value!r}")
    return moment


def _live_line_ids(order: Order) -> frozenset[str]:
    return frozenset(
        line.line_item_id
        for line in order.lines
        if line.status in (LineStatus.OPEN, LineStatus.SHIPPED)
    )


def _default_return(order: Order, event: str) -> str | None:
    candidates = [r.return_id for r in order.returns if r.status in RETURN_FROM[event]]
    if len(candidates) > 1:
        raise ParameterError(
            f"return_id is needed: order {order.order_id} has several returns"
            f" {event} could apply to ({', '.join(candidates)})"
        )
    return candidates[0] if candidates else None


Lines = tuple[tuple[str, ...], bool]


def _named(order: Order, initiator: Initiator, given: tuple[str, ...] | None) -> Lines:
    """The lines the caller named, or none."""
    return given or (), False


def _named_or_open(order: Order, initiator: Initiator, given: tuple[str, ...] | None) -> Lines:
    """The lines named, or every open line."""
    return (order.open_line_ids if given is None else given), False


def _cancelled(order: Order, initiator: Initiator, given: tuple[str, ...] | None) -> Lines:
    """The lines named, else the request a seller's cancel approves, else the whole order."""
    pending = order.pending_cancellation
    if given is None and initiator is Initiator.SELLER and pending is not None:
        # Logicbroker TikTok Shop connector: a seller cancel with a request pending approves it.
        given = pending.line_item_ids
    elif given is None:
        return order.open_line_ids, True
    return given, set(given) >= _live_line_ids(order)


def _requested(order: Order, initiator: Initiator, given: tuple[str, ...] | None) -> Lines:
    """The lines of the pending cancellation request, which an answer settles."""
    pending = order.pending_cancellation
    if pending is None:
        return given or (), False
    return pending.line_item_ids, set(pending.line_item_ids) >= _live_line_ids(order)


def _returnable(order: Order, initiator: Initiator, given: tuple[str, ...] | None) -> Lines:
    """The lines named, or every shipped line no open return covers yet."""
    if given is not None:
        return given, False
    in_returns = {i for r in order.open_returns for i in r.line_item_ids}
    return tuple(i for i in order.shipped_line_ids if i not in in_returns), False


#: Which lines each event works on, and whether they cancel the whole order (every
#: line not already cancelled), from the lines the caller named (`None`: none named).
#: Other events work on the lines named; a return event on its return's lines.
EVENT_LINES: Mapping[str, Callable[[Order, Initiator, tuple[str, ...] | None], Lines]] = {
    "cancel": _cancelled,
    "request_cancellation": _named_or_open,
    "approve_cancellation": _requested,
    "reject_cancellation": _requested,
    "withdraw_cancellation": _requested,
    "ship": _named_or_open,
    "request_return": _returnable,
}

_NOT_TEXT = frozenset({"line_item_ids", "return_type"})
_DEFAULT_RETURN_TYPE = ReturnType.RETURN_AND_REFUND


def resolve_params(
    order: Order, event: str, initiator: Initiator, raw: Mapping[str, Any]
) -> Params:
    """Check `raw` against what `event` takes and resolve the defaults.

    Raises `ParameterError` naming the first thing wrong.
    """
    given: dict[str, Any] = {}
    # The text fields given (`requested_at` is a time); the others are None ("" for reason).
    fields: dict[str, Any] = {}
    line_item_ids: tuple[str, ...] | None = None
    return_type = _DEFAULT_RETURN_TYPE
    if raw:
        accepted = EVENT_PARAMS[event]
        if not accepted.issuperset(raw):
            unknown = sorted(set(raw) - accepted)
            raise ParameterError(
                f"{event} takes no parameter {', '.join(unknown)};"
                f" it takes {', '.join(sorted(accepted))}"
            )
        given = {k: v for k, v in raw.items() if v is not None}
        for name, value in given.items():
            if name not in _NOT_TEXT:
                fields[name] = (
                    value if value.__class__ is str and value.strip() else _text(name, value)
                )
        if "line_item_ids" in given:
            line_item_ids = given["line_item_ids"] = _ids(order, given["line_item_ids"])
        if "return_type" in given:
            try:
                return_type = ReturnType(given["return_type"])
            except ValueError:
                raise ParameterError(
                    f"unknown return_type {given['return_type']!r}; expected one of"
                    f" {', '.join(t.value for t in ReturnType)}"
                ) from None
        if "requested_at" in fields:
            fields["requested_at"] = _moment("requested_at", fields["requested_at"])
    text = fields.get

    lines, whole = EVENT_LINES.get(event, _named)(order, initiator, line_item_ids)
    return_id = text("return_id")
    if event in RETURN_FROM:
        if return_id is None:
            return_id = _default_return(order, event)
        elif return_id not in {r.return_id for r in order.returns}:
            raise ParameterError(f"order {order.order_id} has no return {return_id}")
        if return_id is not None:
            lines = order.return_request(return_id).line_item_ids

    return make_params(
        given,
        line_item_ids,
        lines,
        whole,
        text("cancel_id"),
        return_id,
        return_type,
        text("package_id"),
        text("tracking_number"),
        text("shipping_provider_id"),
        text("shipping_provider_name"),
        text("reason", ""),
        text("return_tracking_number"),
        text("requested_at"),
    )


def missing_params(ctx: Context) -> str | None:
    """The mandatory parameter the event lacks, if any.

    Asked by `check` and `send`, not by `allowed`: an event is allowed when
    it can happen given the right parameters.
    """
    event, params = ctx.event, ctx.params
    if event == "request_cancellation" and params.cancel_id is None:
        return "request_cancellation needs the cancel_id TikTok gave the request"
    if event == "request_return" and params.return_id is None:
        return "request_return needs the return_id TikTok gave the request"
    if event == "ship" and ctx.to_tiktok_shop:
        if params.tracking_number is None:
            return (
                "ship needs a tracking_number: TikTok's Ship Package takes one tracking number"
                " per package (split by line to ship in several parcels)"
            )
        if params.shipping_provider_id is None and params.shipping_provider_name is None:
            return (
                "ship needs a shipping_provider_id or a shipping_provider_name: TikTok's Ship"
                " Package names the carrier (a name is looked up in Get Shipping Providers)"
            )
    return None


# --------------------------------------------------------------------------- wording


def refusal(ctx: Context, why: str) -> str:
    """`"<initiator> cannot <event>: order is <STATUS>; <why>"`."""
    return f"{ctx.initiator.lower()} cannot {ctx.event}: order is {ctx.order.status}; {why}"


def _at(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes")


def _tiktok_reports(ctx: Context) -> bool:
    """TikTok's own report is a fact: TikTok runs its timers, the library only predicts them."""
    return ctx.origin is Origin.TIKTOK


Guard = Callable[[Context], "str | None"]
Selector = Callable[[Context], bool]

# --------------------------------------------------------------------------- guards


def buyer_or_platform_pays(ctx: Context) -> str | None:
    """The buyer pays in TikTok; the seller never does."""
    if ctx.initiator is Initiator.SELLER:
        return refusal(ctx, "the buyer pays in TikTok; the payment reaches the OMS from TikTok")
    return None


def hold_is_over(ctx: Context) -> str | None:
    """Only TikTok ends the remorse hold, one hour after payment.

    Sources: Logicbroker TikTok Shop connector; TikTok for SFCC: Order Management.
    """
    if ctx.initiator is not Initiator.PLATFORM:
        return refusal(ctx, "only TikTok releases the order when the one-hour remorse hold ends")
    ends = hold_ends(ctx.order, ctx.policy)
    if ctx.now < ends and not _tiktok_reports(ctx):
        return refusal(ctx, f"the remorse hold lasts until {_at(ends)}")
    return None


def buyer_requests_after_hold(ctx: Context) -> str | None:
    """After the hold a buyer's cancellation is a request the seller answers.

    Source: TikTok for SFCC: Order Management.
    """
    if ctx.initiator is Initiator.BUYER:
        return refusal(
            ctx,
            "after the hold a buyer's cancellation is a request the seller answers"
            " (request_cancellation)",
        )
    return None


def only_tiktok_cancels_after_shipment(ctx: Context) -> str | None:
    """Once tracking is uploaded only TikTok cancels; buyers and sellers go through returns."""
    if ctx.initiator is Initiator.SELLER:
        return refusal(ctx, "cancellations close once tracking is uploaded")
    if ctx.initiator is Initiator.BUYER:
        return refusal(ctx, "after shipment the buyer asks for a return or refund (request_return)")
    return None


def partial_cancel_permitted(ctx: Context) -> str | None:
    """Cancelling some lines only is the buyer's right, the seller's where the policy allows."""
    if ctx.initiator is not Initiator.SELLER or ctx.policy.seller_partial_cancel:
        return None
    request = ctx.request
    if request is not None and set(ctx.params.lines) == set(request.line_item_ids):
        return None  # approving the buyer's own partial request
    return refusal(
        ctx,
        "a seller cannot cancel some lines only (Policy.seller_partial_cancel allows it"
        " where TikTok does)",
    )


def lines_are_open(ctx: Context) -> str | None:
    """An event on lines needs every one of them still open (not shipped, not cancelled)."""
    order = ctx.order
    lines = ctx.params.lines
    if lines and {
        line.line_item_id for line in order.lines if line.status is LineStatus.OPEN
    }.issuperset(lines):
        return None
    closed = [i for i in lines if order.line(i).status is not LineStatus.OPEN]
    if closed:
        states = ", ".join(f"{i} is {order.line(i).status}" for i in closed)
        return refusal(ctx, f"line {states}")
    if not ctx.params.lines:
        return refusal(ctx, "no line is open")
    return None


def request_matches_seller_cancel(ctx: Context) -> str | None:
    """A seller cancel with a buyer request pending approves exactly that request.

    Source: Logicbroker TikTok Shop connector.
    """
    request = ctx.request
    if ctx.initiator is not Initiator.SELLER or request is None:
        return None
    if set(ctx.params.lines) != set(request.line_item_ids):
        return refusal(
            ctx,
            f"the buyer's cancellation request {request.cancel_id} is pending for lines"
            f" {', '.join(request.line_item_ids)}: approve it (approve_cancellation) or"
            " cancel exactly those lines",
        )
    return None


def only_the_buyer_requests(ctx: Context) -> str | None:
    """A cancellation request is the buyer's; sellers and TikTok cancel outright."""
    if ctx.initiator is not Initiator.BUYER:
        return refusal(ctx, "only the buyer requests a cancellation; use cancel")
    return None


def no_request_pending(ctx: Context) -> str | None:
    """One cancellation request at a time."""
    request = ctx.request
    if request is not None:
        return refusal(ctx, f"cancellation request {request.cancel_id} is already pending")
    return None


def request_is_pending(ctx: Context) -> str | None:
    """Answering a cancellation request needs one pending, and the right one."""
    request = ctx.request
    if request is None:
        return refusal(ctx, "no cancellation request is pending")
    if ctx.params.cancel_id is not None and ctx.params.cancel_id != request.cancel_id:
        return refusal(
            ctx,
            f"cancellation request {ctx.params.cancel_id} is not the pending one"
            f" ({request.cancel_id})",
        )
    return None


def seller_answers_request(ctx: Context) -> str | None:
    """The seller answers a request; TikTok approves it itself once the window passes."""
    if ctx.initiator is Initiator.BUYER:
        return refusal(ctx, "the seller answers the buyer's cancellation request")
    request = ctx.request
    if (
        ctx.initiator is Initiator.PLATFORM
        and ctx.event == "approve_cancellation"
        and request is not None
        and not _tiktok_reports(ctx)
    ):
        due = auto_approval_at(request, ctx.policy)
        if ctx.now < due:
            return refusal(
                ctx, f"TikTok approves an unanswered request automatically at {_at(due)}"
            )
    return None


def only_the_buyer_withdraws(ctx: Context) -> str | None:
    """Only the buyer withdraws the buyer's own request."""
    if ctx.initiator is not Initiator.BUYER:
        return refusal(ctx, "only the buyer withdraws a request")
    return None


def seller_ships(ctx: Context) -> str | None:
    """The seller ships, or TikTok for orders it fulfils itself.

    Source: Logicbroker TikTok Shop connector.
    """
    if ctx.initiator is Initiator.BUYER:
        return refusal(ctx, "the seller ships the order")
    return None


def only_tiktok_tracks_parcels(ctx: Context) -> str | None:
    """Collection, delivery and completion are TikTok's reports of the carrier and its timers."""
    if ctx.initiator is not Initiator.PLATFORM:
        return refusal(ctx, "TikTok reports this from the carrier's tracking")
    return None


def completion_is_due(ctx: Context) -> str | None:
    """An order completes some days after delivery if no return is open (CedCommerce)."""
    if _tiktok_reports(ctx):
        return None
    open_returns = ctx.order.open_returns
    if open_returns:
        return refusal(ctx, f"return {open_returns[0].return_id} is still open")
    due = completes_at(ctx.order, ctx.policy)
    if ctx.now < due:
        return refusal(ctx, f"the order completes at {_at(due)}, after the return window")
    return None


def only_the_buyer_asks_returns(ctx: Context) -> str | None:
    """Return and refund requests are the buyer's."""
    if ctx.initiator is not Initiator.BUYER:
        return refusal(ctx, "only the buyer asks for a return or refund")
    return None


def return_lines_are_shipped(ctx: Context) -> str | None:
    """A return covers shipped lines that no other open return covers."""
    order = ctx.order
    if ctx.params.return_id is not None and ctx.params.return_id in {
        r.return_id for r in order.returns
    }:
        return refusal(ctx, f"return {ctx.params.return_id} already exists")
    if not ctx.params.lines:
        return refusal(ctx, "no shipped line is left to return")
    not_shipped = [i for i in ctx.params.lines if order.line(i).status is not LineStatus.SHIPPED]
    if not_shipped:
        states = ", ".join(f"{i} is {order.line(i).status}" for i in not_shipped)
        return refusal(ctx, f"only shipped lines can be returned: line {states}")
    busy = {i for r in order.open_returns for i in r.line_item_ids} & set(ctx.params.lines)
    if busy:
        return refusal(ctx, f"line {', '.join(sorted(busy))} is already in an open return")
    return None


def return_is_in_step(ctx: Context) -> str | None:
    """Each return event applies to a return at the right step of its own lifecycle."""
    request = ctx.return_request
    expected = RETURN_FROM[ctx.event]
    if request is None:
        return refusal(ctx, "no return is at a step this event applies to")
    if request.status not in expected:
        wanted = " or ".join(sorted(s.value for s in expected))
        return refusal(ctx, f"return {request.return_id} is {request.status}, not {wanted}")
    return None


def seller_or_tiktok_answers_return(ctx: Context) -> str | None:
    """The seller (or TikTok) answers a return; the seller may approve through the API."""
    if ctx.initiator is Initiator.BUYER:
        return refusal(ctx, "the seller answers the buyer's return")
    return None


def returns_rejected_in_tiktok(ctx: Context) -> str | None:
    """Rejecting a return is done by hand in TikTok, never through the integration.

    Source: Logicbroker TikTok Shop connector.
    """
    if ctx.initiator is Initiator.BUYER:
        return refusal(ctx, "the seller answers the buyer's return")
    if ctx.origin is Origin.OMS:
        return refusal(
            ctx,
            "returns are rejected by hand in TikTok Seller Center; the rejection reaches"
            " the OMS from TikTok",
        )
    return None


def only_the_buyer_ships_returns(ctx: Context) -> str | None:
    """The buyer sends the goods back, and may withdraw the request."""
    if ctx.initiator is not Initiator.BUYER:
        return refusal(ctx, "only the buyer does this")
    return None


def only_tiktok_refunds(ctx: Context) -> str | None:
    """TikTok pays the refund out; the OMS hears of it."""
    if ctx.initiator is not Initiator.PLATFORM:
        return refusal(ctx, "TikTok pays refunds out")
    return None


# --------------------------------------------------------------------------- selectors


def _open_after(ctx: Context) -> set[str]:
    lines = ctx.params.lines
    return {
        line.line_item_id
        for line in ctx.order.lines
        if line.status is LineStatus.OPEN and line.line_item_id not in lines
    }


def cancels_whole_order(ctx: Context) -> bool:
    """The cancellation covers every line not already cancelled."""
    return ctx.params.whole


def leaves_open_lines(ctx: Context) -> bool:
    """Lines that stay open after this event: the status stays as it is."""
    return not ctx.params.whole and bool(_open_after(ctx))


def leaves_only_shipped_lines(ctx: Context) -> bool:
    """No open line left after this event, but shipped ones: the order awaits collection."""
    return not ctx.params.whole and not _open_after(ctx)


def ships_every_open_line(ctx: Context) -> bool:
    """After this shipment no line is open: the whole order awaits collection."""
    return not _open_after(ctx)


def ships_some_lines(ctx: Context) -> bool:
    """Lines stay open after this shipment: the order is partially shipping."""
    return bool(_open_after(ctx))


# --------------------------------------------------------------------------- absent transitions

_ANSWERS = ("approve_cancellation", "reject_cancellation", "withdraw_cancellation")
_RETURN_EVENTS = ("request_return", *RETURN_FROM)

#: Why an event has no transition at all out of a status, in a sentence. Keyed by the
#: event and where the status lies against the statuses that have the event (read off
#: the table): `"before"` all of them or `"after"` them, `None` for either, and for a
#: status before them optionally the event the order waits for there (`pay`, ...).
NO_TRANSITION: Mapping[tuple[str, str | None] | tuple[str, str, str], str] = {
    ("pay", None): "only an unpaid order is paid",
    ("release_hold", None): "only an order on hold is released",
    ("ship", "before", "pay"): "the order is not paid yet",
    ("ship", "before", "release_hold"): (
        "the order is in the one-hour remorse hold: the seller must not ship or add"
        " tracking until TikTok releases it"
    ),
    ("ship", "after"): "every line is already shipped or cancelled",
    ("request_cancellation", "before"): (
        "until the hold is over the buyer cancels directly (cancel), with no request"
    ),
    **{
        (event, "before"): "no cancellation request exists before the hold is over"
        for event in _ANSWERS
    },
    **{
        (event, "after"): (
            "cancellations close once tracking is uploaded; the buyer asks for a"
            " return or refund (request_return)"
        )
        for event in ("request_cancellation", *_ANSWERS)
    },
    ("collect", None): "the carrier collects an order once every line is shipped",
    ("deliver", None): "only an order in transit is delivered",
    ("complete", None): "only a delivered order completes",
    **{
        (event, "before"): "returns follow shipment and nothing is shipped yet"
        for event in _RETURN_EVENTS
    },
}


GUARDS: tuple[Guard, ...] = (
    buyer_or_platform_pays,
    hold_is_over,
    buyer_requests_after_hold,
    only_tiktok_cancels_after_shipment,
    partial_cancel_permitted,
    lines_are_open,
    request_matches_seller_cancel,
    only_the_buyer_requests,
    no_request_pending,
    request_is_pending,
    seller_answers_request,
    only_the_buyer_withdraws,
    seller_ships,
    only_tiktok_tracks_parcels,
    completion_is_due,
    only_the_buyer_asks_returns,
    return_lines_are_shipped,
    return_is_in_step,
    seller_or_tiktok_answers_return,
    returns_rejected_in_tiktok,
    only_the_buyer_ships_returns,
    only_tiktok_refunds,
)
