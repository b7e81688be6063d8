"""The declared machine compiled into a lookup table, and the fast path over it.

`TABLE[(status, event)]` lists the transitions of `OrderMachine` out of one
status for one event, each with its target, selectors and guards, read off
the machine class once at import. Questions asked in hot loops (what is
allowed, why not, what would happen) are answered here without building a
python-statemachine instance; `apply` is the fast path a replay uses.
A property test proves that this table and the machine agree.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from attrs import frozen

from ._actions import Outcome, perform
from ._model import Initiator, Order, OrderStatus, Origin
from ._policy import DEFAULT_POLICY, Policy
from ._rules import (
    EVENTS,
    NO_TRANSITION,
    RETURN_FROM,
    Context,
    Guard,
    Selector,
    make_context,
    missing_params,
    resolve_params,
)
from .errors import (
    IllegalTransition,
    InvalidParameters,
    LifecycleError,
    NaiveTime,
    ParameterError,
    StaleTime,
    UnknownEvent,
    UnknownName,
)


@frozen
class Decision:
    """Whether an event may happen now, and if not, why not.

    Truthy when allowed. `target` is the status the order would reach.
    """

    event: str
    allowed: bool
    reason: str = ""
    target: OrderStatus | None = None

    def __bool__(self) -> bool:
        return self.allowed


@frozen
class Entry:
    """One declared transition: where it goes, what chooses it, what may refuse it."""

    target: OrderStatus
    selectors: tuple[Selector, ...]
    guards: tuple[Guard, ...]
    decision: Decision


def compile_table(machine: type[Any]) -> dict[tuple[OrderStatus, str], tuple[Entry, ...]]:
    """Read every transition off a declared machine class, in declaration order."""
    table: dict[tuple[OrderStatus, str], list[Entry]] = {}
    for state in machine.states:
        for transition in state.transitions:
            selectors = tuple(spec.func for spec in transition.cond if spec.expected_value)
            guards = tuple(spec.func for spec in transition.cond if not spec.expected_value)
            target = OrderStatus(transition.target.value)
            for event in transition.events:
                entry = Entry(target, selectors, guards, Decision(event.id, True, target=target))
                table.setdefault((OrderStatus(state.value), event.id), []).append(entry)
    return {key: tuple(entries) for key, entries in table.items()}


class _CompiledTable(Mapping[tuple[OrderStatus, str], tuple[Entry, ...]]):
    """`TABLE`: compiled from `OrderMachine` on first use, then kept.

    Importing `lifecycle` stays free of python-statemachine, which imports
    asyncio and with it `socket`: the core's import loads nothing that talks
    to the network, and a process that only asks questions never pays for it.
    """

    def __init__(self) -> None:
        self._table: dict[tuple[OrderStatus, str], tuple[Entry, ...]] | None = None

    def _compiled(self) -> dict[tuple[OrderStatus, str], tuple[Entry, ...]]:
        if self._table is None:
            from ._machine import OrderMachine

            self._table = compile_table(OrderMachine)
            # From now on `TABLE.get` is the dict's own: the fast path asks it on every event.
            self.get = self._table.get  # type: ignore[method-assign, assignment]
        return self._table

    def __getitem__(self, key: tuple[OrderStatus, str]) -> tuple[Entry, ...]:
        return self._compiled()[key]

    def get(self, key: tuple[OrderStatus, str], default: Any = None) -> Any:
        return self._compiled().get(key, default)

    def __iter__(self) -> Iterator[tuple[OrderStatus, str]]:
        return iter(self._compiled())

    def __len__(self) -> int:
        return len(self._compiled())


TABLE: Mapping[tuple[OrderStatus, str], tuple[Entry, ...]] = _CompiledTable()
_EVENTS = frozenset(EVENTS)
#: Each event name as the table's own copy: records keep it, not the caller's equal string.
_EVENT_NAMES = {event: event for event in EVENTS}


#: The statuses in the order the lifecycle goes through them (their declaration order).
_PLACE = {status: place for place, status in enumerate(OrderStatus)}


@functools.cache
def _statuses_with(event: str) -> tuple[OrderStatus, ...]:
    return tuple(status for status in OrderStatus if (status, event) in TABLE)


@functools.cache
def _waits_for(status: OrderStatus) -> str | None:
    """The event that takes an order on from `status` to the status declared next."""
    following = [s for s in OrderStatus if _PLACE[s] == _PLACE[status] + 1]
    for event in EVENTS:
        entries = TABLE.get((status, event), ())
        if following and any(entry.target is following[0] for entry in entries):
            return event
    return None


def why_no_transition(status: OrderStatus, event: str) -> str:
    """Why `event` has no transition at all out of `status`.

    Which statuses have the event is read off the table; only the sentence is
    declared, in `NO_TRANSITION`.
    """
    if status.is_final:
        return f"{status} is final: nothing more happens to the order"
    having = _statuses_with(event)
    place = None
    if having and _PLACE[status] < _PLACE[having[0]]:
        place = "before"
    elif having and _PLACE[status] > _PLACE[having[-1]]:
        place = "after"
    keys: list[Any] = [(event, None)]
    if place is not None:
        keys[:0] = [(event, place, _waits_for(status)), (event, place)]
    for key in keys:
        if key in NO_TRANSITION:
            return NO_TRANSITION[key]
    return f"{event} does not apply to an order that is {status}"


def _initiator(value: Initiator | str) -> Initiator:
    if value.__class__ is Initiator:
        return value
    try:
        return Initiator(value)
    except ValueError:
        raise UnknownName(
            f"unknown initiator {value!r}; expected one of {', '.join(Initiator)}"
        ) from None


def _origin(value: Origin | str | None, initiator: Initiator) -> Origin:
    if value is None:
        return Origin.default_for(initiator)
    if value.__class__ is Origin:
        return value
    try:
        return Origin(value)
    except ValueError:
        raise UnknownName(
            f"unknown origin {value!r}; expected one of {', '.join(Origin)}"
        ) from None


def aware(now: datetime) -> datetime:
    """`now` in UTC: every time enters the core in UTC, so that arithmetic on it
    (the hold, the deadlines) is elapsed time, never wall-clock time across a
    daylight-saving change. Raises `NaiveTime` for a time without its offset."""
    if now.__class__ is datetime and now.tzinfo is UTC:
        return now  # already in UTC: most times are, and this runs on every event
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise NaiveTime(f"now must be a timezone-aware datetime, got {now!r}")
    return now.astimezone(UTC)


def forward(order: Order, now: datetime, policy: Policy) -> datetime:
    """`now` (in UTC) as a change to `order` may use it: time only moves forward.

    A `now` at most `policy.clock_skew` before the order's last change becomes
    that change's time; one further back raises `StaleTime`. Every path that
    changes an order passes here (`send`, `apply`, the timers, the searches
    behind `reconcile`).
    """
    last = order.updated_at
    if last is None or now >= last:
        return now
    if last - now > policy.clock_skew:
        raise StaleTime(order.order_id, now, last)
    return last


def context(
    order: Order,
    event: str,
    *,
    initiator: Initiator | str,
    now: datetime,
    origin: Origin | str | None = None,
    policy: Policy = DEFAULT_POLICY,
    params: Mapping[str, Any] | None = None,
) -> Context:
    """Build the `Context` the rules judge; raises on an unknown event or bad parameters."""
    if event not in _EVENTS:
        raise UnknownEvent(event, EVENTS)
    event = _EVENT_NAMES[event]
    who = _initiator(initiator)
    where = _origin(origin, who)
    try:
        resolved = resolve_params(order, event, who, params or {})
    except ParameterError as error:
        allowed = allowed_events(order, who, now=now, origin=where, policy=policy)
        raise InvalidParameters(event, order.status, who, str(error), allowed) from None
    return make_context(
        order, event, who, where, forward(order, aware(now), policy), policy, resolved
    )


def judge(ctx: Context) -> Decision:
    """Decide one event in one context from the table: its target, or why it is refused."""
    entries = TABLE.get((ctx.order.status, ctx.event))
    if not entries:
        reason = f"{ctx.initiator.lower()} cannot {ctx.event}: order is {ctx.order.status}; "
        return Decision(ctx.event, False, reason + why_no_transition(ctx.order.status, ctx.event))
    for entry in entries:
        for select in entry.selectors:
            if not select(ctx):
                break
        else:
            for guard in entry.guards:
                refusal = guard(ctx)
                if refusal:
                    return Decision(ctx.event, False, refusal)
            return entry.decision
    return Decision(
        ctx.event,
        False,
        f"{ctx.initiator.lower()} cannot {ctx.event}: order is {ctx.order.status};"
        " no transition fits these parameters",
    )


def _default_params(order: Order, event: str) -> Iterator[dict[str, Any]]:
    """The parameter sets `allowed` tries: none, or each return the event could apply to."""
    if event in RETURN_FROM:
        candidates = [r.return_id for r in order.returns if r.status in RETURN_FROM[event]]
        if len(candidates) > 1:
            for return_id in candidates:
                yield {"return_id": return_id}
            return
    yield {}


def _is_allowed(
    order: Order, event: str, who: Initiator, where: Origin, now: datetime, policy: Policy
) -> bool:
    for params in _default_params(order, event):
        resolved = resolve_params(order, event, who, params)
        if judge(Context(order, event, who, where, now, policy, resolved)).allowed:
            return True
    return False


def allowed_events(
    order: Order,
    initiator: Initiator | str | None = None,
    *,
    now: datetime,
    origin: Origin | str | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> tuple[str, ...]:
    """The events that would succeed now, for `initiator` or for anyone, in table order.

    An event counts as allowed when it can happen given the right parameters
    (a `request_cancellation` still needs its `cancel_id` when sent).
    """
    now = aware(now)
    if order.status.is_final:
        return ()
    who_all = tuple(Initiator) if initiator is None else (_initiator(initiator),)
    events = []
    for event in EVENTS:
        if (order.status, event) not in TABLE:
            continue
        for who in who_all:
            where = _origin(origin, who)
            if _is_allowed(order, event, who, where, now, policy):
                events.append(event)
                break
    return tuple(events)


def check(ctx: Context) -> Decision:
    """`judge` plus the mandatory parameters: the full answer to "may I send this?"."""
    decision = judge(ctx)
    if decision.allowed:
        missing = missing_params(ctx)
        if missing:
            return Decision(ctx.event, False, missing)
    return decision


def refuse(ctx: Context, decision: Decision) -> IllegalTransition:
    """The error for a refused decision, listing what the initiator may do instead."""
    allowed = allowed_events(
        ctx.order, ctx.initiator, now=ctx.now, origin=ctx.origin, policy=ctx.policy
    )
    error = InvalidParameters if missing_params(ctx) and judge(ctx).allowed else IllegalTransition
    return error(ctx.event, ctx.order.status, ctx.initiator, decision.reason, allowed)


def apply(
    order: Order,
    event: str,
    *,
    initiator: Initiator | str,
    now: datetime,
    origin: Origin | str | None = None,
    policy: Policy = DEFAULT_POLICY,
    **params: Any,
) -> Outcome:
    """The fast path: apply one event to an order without a machine instance.

    Same rules, same next order, same effects as `OrderLifecycle.send`; raises
    `IllegalTransition` (or `InvalidParameters`, `UnknownEvent`) likewise.
    """
    ctx = context(
        order, event, initiator=initiator, now=now, origin=origin, policy=policy, params=params
    )
    decision = check(ctx)
    if not decision.allowed:
        raise refuse(ctx, decision)
    assert decision.target is not None
    return perform(ctx, decision.target)


def attempt(
    order: Order,
    event: str,
    *,
    initiator: Initiator | str,
    now: datetime,
    origin: Origin | str | None = None,
    policy: Policy = DEFAULT_POLICY,
    **params: Any,
) -> Outcome | None:
    """`apply`, answering `None` instead of raising when the event is refused.

    For searches that try many events (`reconcile`, `due_timers`): building an
    `IllegalTransition` lists every allowed event, which such a search never reads.
    """
    if TABLE.get((order.status, event)) is None:
        return None  # no transition at all: skip the context and the refusal's sentence
    try:
        ctx = context(
            order, event, initiator=initiator, now=now, origin=origin, policy=policy, params=params
        )
    except StaleTime:
        raise  # a time out of order is the caller's error, not a refused event
    except LifecycleError:
        return None
    decision = check(ctx)
    if decision.target is None or not decision.allowed:
        return None
    return perform(ctx, decision.target)
