"""Random interleavings of webhooks (duplicated, reordered, late), OMS commands and ticks.

Hypothesis drives the store (through the service) and, beside it, the
in-memory lifecycle fed the same inputs deduplicated, in arrival order. After
every step the stored orders equal the in-memory ones exactly (status,
lines, requests, history with times, version), every input got the outcome
the lifecycle implies (applied, duplicate, stale, rejected), and the stored
history has no gap.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from adapters.partners.tiktok_shop import order_from_detail, parse_webhook, webhook_commands
from adapters.service import OrderService
from adapters.store import InputOutcome, SqliteStore
from lifecycle import (
    Command,
    IllegalTransition,
    Initiator,
    Order,
    StaleObservation,
    apply,
    due_timers,
)
from tests.factories import T0
from tests.store.helpers import seed_detail, status_webhook

H, D = timedelta(hours=1), timedelta(days=1)
PLANS = {
    "delivered": [
        ("ON_HOLD", 0 * H),
        ("AWAITING_SHIPMENT", 1 * H),
        ("AWAITING_COLLECTION", 5 * H),
        ("IN_TRANSIT", 1 * D),
        ("DELIVERED", 3 * D),
    ],
    "cancelled": [("ON_HOLD", 0 * H), ("AWAITING_SHIPMENT", 1 * H), ("CANCELLED", 2 * D)],
}
ORDERS = ("O1", "O2")


class StoreAgainstLifecycle(RuleBasedStateMachine):
    @initialize(plans=st.tuples(*(st.sampled_from(sorted(PLANS)) for _ in ORDERS)))
    def start(self, plans: tuple[str, ...]) -> None:
        self.store = SqliteStore(":memory:")
        self.service = OrderService(self.store, clock=lambda: T0)
        self.model: dict[str, Order] = {}
        self.seen: set[bytes] = set()
        self.plans = dict(zip(ORDERS, plans, strict=True))
        self.clock = T0
        for order_id in ORDERS:
            detail = seed_detail(order_id)
            assert self.service.seed(detail, shop_id="S1").outcome is InputOutcome.APPLIED
            self.model[order_id] = order_from_detail(detail, shop_id="S1")

    def teardown(self) -> None:
        if hasattr(self, "store"):
            self.store.close()

    def _expect(self, outcome: InputOutcome, expected: InputOutcome | set[InputOutcome]) -> None:
        allowed = expected if isinstance(expected, set) else {expected}
        assert outcome in allowed, (outcome, allowed)

    @rule(order=st.sampled_from(ORDERS), pick=st.integers(0, 4))
    def webhook(self, order: str, pick: int) -> None:
        """Any planned webhook, in any order, any number of times."""
        status, offset = PLANS[self.plans[order]][pick % len(PLANS[self.plans[order]])]
        body = status_webhook(order, status, T0 + offset)
        result = self.service.webhook(body)
        if body in self.seen:
            self._expect(result.outcome, InputOutcome.DUPLICATE)
            return
        self.seen.add(body)
        hook = parse_webhook(body)
        current = self.model[order]
        try:
            commands = webhook_commands(hook, current)
        except StaleObservation:
            self._expect(result.outcome, InputOutcome.STALE)
            return
        except Exception:
            self._expect(result.outcome, InputOutcome.REJECTED)
            return
        if not commands:
            self._expect(result.outcome, {InputOutcome.DUPLICATE, InputOutcome.STALE})
            return
        for command in commands:
            current = command.apply_to(current).order
        self.model[order] = current
        self._expect(result.outcome, InputOutcome.APPLIED)

    @rule(order=st.sampled_from(ORDERS), event=st.sampled_from(["ship", "cancel"]))
    def seller_acts(self, order: str, event: str) -> None:
        params = (
            {"tracking_number": f"1Z-{order}", "shipping_provider_name": "UPS"}
            if event == "ship"
            else {}
        )
        command = Command(order, event, Initiator.SELLER, self.clock, params=params)
        result = self.service.command(command)
        seen = repr(command).encode()
        if seen in self.seen:
            self._expect(result.outcome, InputOutcome.DUPLICATE)
            return
        self.seen.add(seen)
        try:
            self.model[order] = command.apply_to(self.model[order]).order
        except IllegalTransition:
            self._expect(result.outcome, InputOutcome.REJECTED)
            return
        self._expect(result.outcome, InputOutcome.APPLIED)

    @rule(step=st.sampled_from([timedelta(minutes=30), 2 * H, D, 16 * D]))
    def tick(self, step: timedelta) -> None:
        self.clock += step
        changed = {r.order_id for r in self.service.tick(self.clock)}
        expected = set()
        for order_id, order in self.model.items():
            current = order
            for fired in due_timers(order, self.clock):
                current = apply(
                    current,
                    fired.timer.event,
                    initiator=Initiator.PLATFORM,
                    origin="TIMER",
                    now=self.clock,
                    reason=fired.timer.reason,
                ).order
            if current is not order:
                expected.add(order_id)
                self.model[order_id] = current
        assert changed == expected

    @invariant()
    def the_store_holds_what_the_lifecycle_computed(self) -> None:
        if not hasattr(self, "store"):
            return
        for order_id, expected in self.model.items():
            stored = self.store.load(order_id)
            assert stored == expected
            history = self.store.history(order_id)
            assert [t.version for t in history] == list(range(1, expected.version + 1))
            assert [t.event for t in history] == [h.event for h in expected.history]


StoreAgainstLifecycle.TestCase.settings = settings(
    max_examples=min(settings().max_examples, 60), stateful_step_count=20
)
test_store_agrees_with_the_lifecycle = StoreAgainstLifecycle.TestCase
