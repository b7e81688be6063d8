"""Random interleavings of webhooks (duplicated, reordered, late), OMS and buyer commands,
order details that arrive late, and ticks, against the reference model of the rules.

Hypothesis drives the store (through the service) and, beside it, the
reference of `tests/lifecycle/reference.py`, which shares no code with the
library: it decides, from the rules alone, what each input must do. The test
models the service's inbox on top of it: an input seen before is a duplicate;
an input about an order whose detail has not arrived waits, and applies in
arrival order once the detail arrives; a status report older than the
order's last change is stale, one the order already reflects a duplicate,
one no sequence of TikTok's events explains rejected, as is a command the
rules refuse. After every step the stored order has the reference's status,
lines, cancellation request and history (event, initiator, origin, time),
and its version is the length of its history; every input got the
reference's outcome, and each tick changed exactly the orders whose timers
the reference says were due.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import event as label
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from adapters.service import OrderService, Result
from adapters.store import InputOutcome, SqliteStore
from lifecycle import Command, Initiator
from tests.factories import T0
from tests.lifecycle.reference import Ref, Refused
from tests.store.helpers import seed_detail, status_webhook

H, D = timedelta(hours=1), timedelta(days=1)
#: What TikTok reports of each order over its life, and when (after T0).
PLANS = {
    "delivered": [
        ("ON_HOLD", 0 * H),
        ("AWAITING_SHIPMENT", 1 * H),
        ("AWAITING_COLLECTION", 5 * H),
        ("IN_TRANSIT", 1 * D),
        ("DELIVERED", 3 * D),
        ("COMPLETED", 18 * D),
    ],
    "cancelled": [("ON_HOLD", 0 * H), ("AWAITING_SHIPMENT", 1 * H), ("CANCELLED", 2 * D)],
    # A partial shipment TikTok reports without its lines; then the rest.
    "split": [
        ("ON_HOLD", 0 * H),
        ("PARTIALLY_SHIPPING", 3 * H),
        ("AWAITING_COLLECTION", 6 * H),
        ("IN_TRANSIT", 2 * D),
    ],
}
ORDERS = ("O1", "O2")
LINES = ("L1", "L2")
#: (initiator, event, params) of the commands an OMS (or TikTok, for the buyer) sends.
ACTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("SELLER", "ship", {"tracking_number": "1Z-1", "shipping_provider_name": "UPS"}),
    (
        "SELLER",
        "ship",
        {"line_item_ids": ["L1"], "tracking_number": "1Z-2", "shipping_provider_id": "7117"},
    ),
    ("SELLER", "ship", {"shipping_provider_name": "UPS"}),  # no tracking number: refused
    ("SELLER", "cancel", {}),
    ("BUYER", "cancel", {}),
    ("BUYER", "request_cancellation", {"cancel_id": "C1"}),
    ("BUYER", "request_cancellation", {"cancel_id": "C2", "line_item_ids": ["L2"]}),
    ("SELLER", "reject_cancellation", {}),
    ("SELLER", "approve_cancellation", {}),
    ("BUYER", "withdraw_cancellation", {}),
)
Input = tuple[str, Any]  # ("webhook", (status, at)) or ("command", (who, event, at, params))


def _fresh() -> Ref:
    """An order as its detail seeds it: unpaid, two open lines."""
    return Ref(status="UNPAID", lines=dict.fromkeys(LINES, "OPEN"), paid_at=T0)


class StoreAgainstReference(RuleBasedStateMachine):
    @initialize(plans=st.tuples(*(st.sampled_from(sorted(PLANS)) for _ in ORDERS)))
    def start(self, plans: tuple[str, ...]) -> None:
        self.store = SqliteStore(":memory:")
        self.service = OrderService(self.store, clock=lambda: T0)
        self.plans = dict(zip(ORDERS, plans, strict=True))
        self.clock = T0
        #: the reference per order whose detail arrived; inputs waiting for the others
        self.ref: dict[str, Ref] = {}
        self.waiting: dict[str, list[Input]] = {order: [] for order in ORDERS}
        self.seen: set[Any] = set()
        # The first order's detail is there from the start; the second's comes when it comes.
        self.detail_arrives(ORDERS[0])

    def teardown(self) -> None:
        if hasattr(self, "store"):
            self.store.close()

    # ------------------------------------------------------------------ the reference

    def _outcome(self, order_id: str, item: Input) -> InputOutcome:
        """What the reference says `item` does to a known order, applying it if it applies."""
        ref = self.ref[order_id]
        kind, what = item
        if kind == "command":
            who, event, at, params = what
            try:
                self.ref[order_id] = ref.step(event, who, None, at, params)
            except Refused:
                return InputOutcome.REJECTED
            return InputOutcome.APPLIED
        status, at = what
        if status == ref.status:
            late = ref.updated_at is not None and at < ref.updated_at
            return InputOutcome.STALE if late else InputOutcome.DUPLICATE
        if ref.updated_at is not None and at < ref.updated_at:
            return InputOutcome.STALE
        try:
            moves = ref.reported(status)
            for event, who in moves:
                ref = ref.step(event, who, "TIKTOK", at, {})
        except Refused:
            return InputOutcome.REJECTED
        self.ref[order_id] = ref
        return InputOutcome.APPLIED

    def _expect(self, order_id: str, key: Any, item: Input) -> InputOutcome:
        """The outcome the service must give a new input; unknown orders' inputs wait."""
        if key in self.seen:
            return InputOutcome.DUPLICATE
        self.seen.add(key)
        if order_id not in self.ref:
            self.waiting[order_id].append(item)
            return InputOutcome.WAITING
        return self._outcome(order_id, item)

    # ------------------------------------------------------------------ the rules

    @rule(order=st.sampled_from(ORDERS), pick=st.integers(0, 5))
    def webhook(self, order: str, pick: int) -> None:
        """Any planned report, in any order, any number of times, before or after the detail."""
        plan = PLANS[self.plans[order]]
        status, offset = plan[pick % len(plan)]
        body = status_webhook(order, status, T0 + offset)
        result = self.service.webhook(body)
        expected = self._expect(order, ("webhook", body), ("webhook", (status, T0 + offset)))
        label(f"webhook {status}: {expected}")
        assert result.outcome is expected, (order, status, result.reason, expected)

    @rule(order=st.sampled_from(ORDERS), act=st.sampled_from(ACTS))
    def someone_acts(self, order: str, act: tuple[str, str, dict[str, Any]]) -> None:
        """A seller's or buyer's command, at the current time."""
        who, event, params = act
        command = Command(order, event, Initiator(who), self.clock, params=params)
        result = self.service.command(command)
        key = _command_key(order, act, self.clock)
        item = ("command", (who, event, self.clock, dict(params)))
        expected = self._expect(order, key, item)
        label(f"{who} {event}: {expected}")
        assert result.outcome is expected, (order, who, event, result.reason, expected)

    @rule(order=st.sampled_from(ORDERS), data=st.data())
    def someone_acts_as_the_rules_allow(self, order: str, data: st.DataObject) -> None:
        """A command the reference accepts now, when there is one: walks get deep
        (requests answered, partial shipments) instead of being refused early."""
        ref = self.ref.get(order)
        legal = [
            act
            for act in ACTS
            if ref is not None
            and _accepts(ref, act, self.clock)
            and _command_key(order, act, self.clock) not in self.seen
        ]
        # Cancelling is legal almost everywhere; mostly prefer the rest, and where
        # only a cancel is legal (the hold) mostly let time pass instead.
        if data.draw(st.integers(0, 4)):
            onward = [act for act in legal if act[1] != "cancel"]
            if legal and not onward:
                self.tick(step=2 * H)
                return
            legal = onward
        self.someone_acts(order=order, act=data.draw(st.sampled_from(legal or list(ACTS))))

    @rule(order=st.sampled_from(ORDERS))
    def detail_arrives(self, order: str) -> None:
        """Get Order Detail's answer: the order is stored, and what waited for it applies."""
        result = self.service.seed(seed_detail(order, lines=len(LINES)), shop_id="S1")
        if ("detail", order) in self.seen:
            assert result.outcome is InputOutcome.DUPLICATE
            assert result.resumed == ()
            return
        self.seen.add(("detail", order))
        assert result.outcome is InputOutcome.APPLIED
        self.ref[order] = _fresh()
        queued, self.waiting[order] = self.waiting[order], []
        expected = [self._outcome(order, item) for item in queued]
        label(f"resumed {len(expected)}")
        assert [r.outcome for r in result.resumed] == expected, _reasons(result.resumed)

    @rule(step=st.sampled_from([timedelta(minutes=30), 2 * H, D, 3 * D, 16 * D]))
    def tick(self, step: timedelta) -> None:
        self.clock += step
        changed = {r.order_id for r in self.service.tick(self.clock)}
        expected = set()
        for order_id, ref in self.ref.items():
            after = ref.tick(self.clock)
            if after.history != ref.history:
                label(f"timer {', '.join(e for e, *_ in after.history[len(ref.history) :])}")
                expected.add(order_id)
                self.ref[order_id] = after
        assert changed == expected

    # ------------------------------------------------------------------ what is stored

    @invariant()
    def the_store_holds_what_the_reference_decided(self) -> None:
        if not hasattr(self, "store"):
            return
        for order_id in ORDERS:
            stored = self.store.load(order_id)
            if order_id not in self.ref:
                assert stored is None
                assert len(self.store.waiting(order_id)) == len(self.waiting[order_id])
                continue
            ref = self.ref[order_id]
            assert stored is not None
            label(f"status {ref.status}")
            assert stored.status.value == ref.status
            assert {line.line_item_id: line.status.value for line in stored.lines} == ref.lines
            request = stored.cancellation
            assert (request and (request.cancel_id, request.status.value)) == (
                ref.request and (ref.request["id"], ref.request["status"])
            )
            assert stored.cancelled_after_shipped == ref.after_shipped
            history = self.store.history(order_id)
            assert [(t.event, t.initiator, t.origin, t.at) for t in history] == ref.history
            assert stored.version == len(ref.history) == len(stored.history)
            assert [t.version for t in history] == list(range(1, stored.version + 1))
            assert self.store.waiting(order_id) == []


def _command_key(order: str, act: tuple[str, str, dict[str, Any]], at: datetime) -> Any:
    """Two commands are the same input when order, who, event, time and parameters agree."""
    who, event, params = act
    return ("command", order, who, event, at, repr(sorted(params.items())))


def _accepts(ref: Ref, act: tuple[str, str, dict[str, Any]], at: datetime) -> bool:
    who, event, params = act
    try:
        ref.step(event, who, None, at, params)
    except Refused:
        return False
    return True


def _reasons(results: tuple[Result, ...]) -> list[tuple[str, str]]:
    return [(r.outcome.value, r.reason) for r in results]


StoreAgainstReference.TestCase.settings = settings(
    max_examples=min(settings().max_examples, 150), stateful_step_count=30
)
test_store_agrees_with_the_reference = StoreAgainstReference.TestCase
