"""`OrderLifecycle`: one order bound to the declared state machine."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from ._actions import perform
from ._effects import Effect
from ._model import Initiator, Order, OrderStatus, Origin
from ._policy import DEFAULT_POLICY, Policy
from ._reconcile import reconcile
from ._rules import missing_params
from ._search import Step
from ._table import Decision, allowed_events, check, context, judge, refuse
from ._timers import Timer, due_timers, stable_between, timers
from .errors import LifecycleError


class _Slot:
    """The mutable holder python-statemachine writes the state onto; the order stays frozen."""

    __slots__ = ("state",)

    def __init__(self, state: OrderStatus) -> None:
        self.state = state


class _Answer(NamedTuple):
    """A kept answer of `allowed`, true from `since` until just before `until`."""

    since: datetime
    until: datetime | None
    events: tuple[str, ...]


class OrderLifecycle:
    """An order and what may happen to it next.

    Questions (`allowed`, `check`, `due`, `reconcile`) are answered from the
    compiled table and change nothing. `send` runs the declared
    python-statemachine machine: an illegal event raises `IllegalTransition`
    and an error in a callback propagates; in both cases `order` is left
    exactly as it was. Each successful `send` replaces `order` with the next
    order (one more history record) and returns the effects to carry out.

    Example::

        lifecycle = OrderLifecycle(order)
        lifecycle.allowed(Initiator.SELLER, now=now)
        effects = lifecycle.send("ship", initiator=Initiator.SELLER, now=now,
                                 tracking_number="1Z999", shipping_provider_name="UPS")
    """

    __slots__ = ("_allowed", "_machine", "_order", "_slot", "policy")

    def __init__(self, order: Order, policy: Policy = DEFAULT_POLICY) -> None:
        self._order = order
        self.policy = policy
        self._slot = _Slot(order.status)
        self._machine: Any = None  # the OrderMachine, built on the first send
        self._allowed: dict[tuple[object, object], _Answer] = {}

    def __repr__(self) -> str:
        return f"OrderLifecycle(order_id={self._order.order_id!r}, status={self.status})"

    @property
    def order(self) -> Order:
        """The order as it stands after the last successful `send`."""
        return self._order

    @property
    def status(self) -> OrderStatus:
        return self._order.status

    def allowed(
        self,
        initiator: Initiator | str | None = None,
        *,
        now: datetime,
        origin: Origin | str | None = None,
    ) -> tuple[str, ...]:
        """The events that would succeed now, for `initiator` or for anyone.

        The answer only changes when the order does or when one of its timers
        falls due, so it is kept until then: an OMS grid asking about the same
        orders on every page view pays for the rules once per change.
        """
        answer = self._allowed.get((initiator, origin))
        if (
            answer is not None
            and answer.since <= now
            and (answer.until is None or now < answer.until)
        ):
            return answer.events
        events = allowed_events(self._order, initiator, now=now, origin=origin, policy=self.policy)
        since, until = stable_between(self._order, now, self.policy)
        self._allowed[(initiator, origin)] = _Answer(since, until, events)
        return events

    def check(
        self,
        event: str,
        *,
        initiator: Initiator | str,
        now: datetime,
        origin: Origin | str | None = None,
        **params: Any,
    ) -> Decision:
        """Whether `event` would succeed now, and the reason when it would not.

        Bad parameters are a refusal here, not an exception; an unknown event
        name still raises `UnknownEvent`.
        """
        try:
            ctx = context(
                self._order,
                event,
                initiator=initiator,
                now=now,
                origin=origin,
                policy=self.policy,
                params=params,
            )
        except LifecycleError as error:
            reason = getattr(error, "reason", None)
            if reason is None:
                raise
            return Decision(event, False, reason)
        return check(ctx)

    def send(
        self,
        event: str,
        *,
        initiator: Initiator | str,
        now: datetime,
        origin: Origin | str | None = None,
        **params: Any,
    ) -> tuple[Effect, ...]:
        """Apply `event` and return the effects it asks for.

        `origin` says which system reported the event (default: TikTok for the
        buyer, the OMS for the seller, a timer for the platform); effects never
        echo back to it.
        """
        ctx = context(
            self._order,
            event,
            initiator=initiator,
            now=now,
            origin=origin,
            policy=self.policy,
            params=params,
        )
        if missing_params(ctx) is not None:
            raise refuse(ctx, check(ctx))
        # Imported here: importing lifecycle stays free of python-statemachine (see TABLE).
        from statemachine.exceptions import TransitionNotAllowed

        machine = self._machine
        if machine is None:
            from ._machine import OrderMachine

            machine = self._machine = OrderMachine(model=self._slot)
        slot = self._slot
        try:
            machine.send(event, ctx=ctx)
            outcome = perform(ctx, slot.state)
        except TransitionNotAllowed:
            slot.state = self._order.status
            decision = judge(ctx)
            if decision.allowed:
                raise LifecycleError(
                    f"internal error: the table allows {event} from {self.status} but the"
                    " machine refused it"
                ) from None
            raise refuse(ctx, decision) from None
        except BaseException:
            slot.state = self._order.status
            raise
        self._allowed.clear()
        self._order = outcome.order
        return outcome.effects

    def timers(self) -> tuple[Timer, ...]:
        """The order's timers, earliest first, whether due or not."""
        return timers(self._order, self.policy)

    def due(self, now: datetime) -> tuple[str, ...]:
        """The timer events due at `now`, to send in this order with initiator PLATFORM."""
        return tuple(fired.timer.event for fired in due_timers(self._order, now, self.policy))

    def run_due(self, now: datetime) -> tuple[Effect, ...]:
        """Apply every due timer event (origin TIMER) and return all their effects."""
        fired = due_timers(self._order, now, self.policy)
        if not fired:
            return ()
        self._allowed.clear()
        self._order = fired[-1].outcome.order
        self._slot.state = self._order.status
        return tuple(effect for each in fired for effect in each.outcome.effects)

    def reconcile(
        self,
        observed_status: OrderStatus | str,
        *,
        observed_at: datetime,
        cancelled_by: Initiator | None = None,
    ) -> tuple[Step, ...]:
        """The shortest legal sequence of events to the status TikTok reports."""
        return reconcile(
            self._order,
            observed_status,
            observed_at=observed_at,
            cancelled_by=cancelled_by,
            policy=self.policy,
        )
