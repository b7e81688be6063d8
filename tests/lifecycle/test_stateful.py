"""Random event sequences against an independent reference model of the rules.

At every step: the table (`check`) and the machine (`send`) agree with the
reference on whether the event is legal; a legal event changes the order as
the reference says, reports to exactly the feeds the reference expects under
the drawn policy, and adds exactly one history record; an illegal one raises
`IllegalTransition` and changes nothing; and the invariants hold, among them
the OMS actions' unit arithmetic (docs/oms.md).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import event as label
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from lifecycle import (
    EVENTS,
    CancellationStatus,
    IllegalTransition,
    Initiator,
    LineStatus,
    OmsAction,
    OrderLifecycle,
    OrderStatus,
    Origin,
    Policy,
    ReleaseForFulfilment,
    ReleaseInventory,
    ReserveInventory,
    StopFulfilment,
    apply,
)
from tests.factories import T0, new_order
from tests.lifecycle.reference import Ref, Refused

TIKTOK_SHOP_EFFECTS = {
    "ShipTikTokPackage",
    "CancelTikTokOrder",
    "ApproveTikTokCancellation",
    "RejectTikTokCancellation",
    "ApproveTikTokReturn",
}
REPORTING_EFFECTS = {"SyncOrderInfo", "ReportTikTokEvent"}
_ENDINGS = {"cancel", "approve_cancellation"}
_ENOUGH = {
    "request_cancellation": {"cancel_id": "C-new"},
    "request_return": {"return_id": "R-new"},
    "ship": {"tracking_number": "1Z", "shipping_provider_name": "UPS"},
}
STEPS = st.sampled_from(
    [
        timedelta(0),
        timedelta(minutes=10),
        timedelta(minutes=30),
        timedelta(minutes=59),
        timedelta(hours=1),
        timedelta(hours=25),
        timedelta(days=2),
        timedelta(days=15),
    ]
)


class LifecycleAgainstReference(RuleBasedStateMachine):
    @initialize(
        lines=st.integers(min_value=1, max_value=4),
        seller_partial_cancel=st.booleans(),
        report_sync_order_info=st.booleans(),
        report_events_api=st.booleans(),
        push_oms_actions=st.booleans(),
    )
    def start(
        self,
        lines: int,
        seller_partial_cancel: bool,
        report_sync_order_info: bool,
        report_events_api: bool,
        push_oms_actions: bool,
    ) -> None:
        policy = Policy(
            seller_partial_cancel=seller_partial_cancel,
            report_sync_order_info=report_sync_order_info,
            report_events_api=report_events_api,
            push_oms_actions=push_oms_actions,
        )
        self.lifecycle = OrderLifecycle(new_order(lines), policy)
        self.ref = Ref(
            status="UNPAID",
            lines={f"L{i}": "OPEN" for i in range(1, lines + 1)},
            paid_at=T0,
            seller_partial_cancel=seller_partial_cancel,
            report_sync_order_info=report_sync_order_info,
            report_events_api=report_events_api,
        )
        self.now = T0
        self.counter = 0
        # The OMS's ledger per line: units reserved, released and shipped, and
        # the lines told to stop.
        self.reserved = dict.fromkeys(self.ref.lines, 0)
        self.released = dict.fromkeys(self.ref.lines, 0)
        self.shipped = dict.fromkeys(self.ref.lines, 0)
        self.stopped: set[str] = set()

    def _params(self, data: st.DataObject, event: str) -> dict[str, Any]:
        ids = list(self.ref.lines)
        params: dict[str, Any] = {}
        if event in ("cancel", "ship", "request_cancellation", "request_return") and data.draw(
            st.booleans()
        ):
            params["line_item_ids"] = data.draw(
                st.lists(st.sampled_from(ids), min_size=1, max_size=len(ids), unique=True)
            )
        if event == "ship" and data.draw(st.booleans()):
            params["tracking_number"] = f"1Z{self.counter}"
        if event == "ship":
            # TikTok's carriers by id (Get Shipping Providers), by name, both, or neither.
            carrier = data.draw(st.sampled_from(["id", "name", "both", "id", "name", "none"]))
            if carrier in ("id", "both"):
                params["shipping_provider_id"] = data.draw(st.sampled_from(["7117", "6617"]))
            if carrier in ("name", "both"):
                params["shipping_provider_name"] = data.draw(st.sampled_from(["UPS", "USPS"]))
        if event == "request_cancellation" and data.draw(st.integers(0, 4)):
            params["cancel_id"] = f"C{self.counter}"
        answers = ("approve_cancellation", "reject_cancellation", "withdraw_cancellation")
        if event in answers and data.draw(st.integers(0, 3)) == 0:
            params["cancel_id"] = data.draw(st.sampled_from(["C0", f"C{self.counter - 1}"]))
        if event == "request_return":
            if data.draw(st.integers(0, 4)):
                params["return_id"] = f"R{self.counter}"
            params["return_type"] = data.draw(
                st.sampled_from(["REFUND", "RETURN_AND_REFUND", "REPLACEMENT"])
            )
        elif event.endswith("_return") or event == "refund":
            known = [r["id"] for r in self.ref.returns]
            if known and data.draw(st.booleans()):
                params["return_id"] = data.draw(st.sampled_from([*known, "R-unknown"]))
        return params

    @rule(
        data=st.data(),
        event=st.sampled_from(EVENTS),
        who=st.sampled_from(list(Initiator)),
        origin=st.sampled_from([None, *Origin]),
        step=STEPS,
    )
    def send(
        self,
        data: st.DataObject,
        event: str,
        who: Initiator,
        origin: Origin | None,
        step: timedelta,
    ) -> None:
        self.counter += 1
        self.now += step
        params = self._params(data, event)
        try:
            expected = self.ref.step(event, who.value, origin and origin.value, self.now, params)
        except Refused:
            expected = None

        decision = self.lifecycle.check(event, initiator=who, origin=origin, now=self.now, **params)
        assert decision.allowed == (expected is not None), (event, who, origin, params, decision)

        before = self.lifecycle.order
        try:
            effects = self.lifecycle.send(
                event, initiator=who, origin=origin, now=self.now, **params
            )
        except IllegalTransition as error:
            assert expected is None, (event, who, params, error)
            assert error.reason
            assert self.lifecycle.order is before
            return
        assert expected is not None, (event, who, origin, params)
        reports = expected.reports(before=self.ref.status)
        self.ref = expected
        after = self.lifecycle.order
        assert len(after.history) == len(before.history) + 1
        assert after.history[: len(before.history)] == before.history
        assert after.version == before.version + 1

        kinds = {effect.kind for effect in effects}
        sent_by = origin or Origin.default_for(who)
        if not (who is Initiator.SELLER and sent_by is Origin.OMS):
            assert not kinds & TIKTOK_SHOP_EFFECTS, (event, who, sent_by, kinds)
        # Reporting is opt-in per feed; the policy's switches decide, then the status.
        assert kinds & REPORTING_EFFECTS == reports, (event, after.status, kinds)
        assert all(effect.version == after.version for effect in effects)
        self._follow_oms_actions(event, who, sent_by, before, params, effects)

    def _follow_oms_actions(
        self,
        event: str,
        who: Initiator,
        sent_by: Origin,
        before: Any,
        params: dict[str, Any],
        effects: Any,
    ) -> None:
        """Keep the OMS's ledger from the transition's actions, checking each as it comes."""
        policy = self.lifecycle.policy
        outcome = apply(
            before, event, initiator=who, origin=sent_by, now=self.now, policy=policy, **params
        )
        after = self.lifecycle.order
        assert outcome.order == after
        pushed = tuple(effect for effect in effects if isinstance(effect, OmsAction))
        assert pushed == (outcome.actions if policy.push_oms_actions else ())
        keys = [action.idempotency_key for action in outcome.actions]
        assert len(set(keys)) == len(keys), keys
        for old, new in zip(before.lines, after.lines, strict=True):
            if old.status is LineStatus.OPEN and new.status is LineStatus.SHIPPED:
                self.shipped[new.line_item_id] += new.quantity
        by_the_oms = who is Initiator.SELLER and sent_by is Origin.OMS
        for action in outcome.actions:
            ids = {line.line_item_id for line in action.lines}
            label(f"oms {action.what}")
            assert action.version == after.version
            if isinstance(action, ReserveInventory):
                for line in action.lines:
                    self.reserved[line.line_item_id] += line.quantity
            elif isinstance(action, ReleaseInventory):
                for line in action.lines:
                    self.released[line.line_item_id] += line.quantity
            elif isinstance(action, StopFulfilment):
                # The echo rule: the OMS is never told to stop what it cancelled itself.
                assert not by_the_oms, (event, who, sent_by)
                self.stopped |= ids
            elif isinstance(action, ReleaseForFulfilment):
                assert after.paid_at is not None
                # TikTok's word that the hold is over is a fact, whatever our clock says.
                early = self.now < after.paid_at + policy.hold
                assert not early or sent_by is Origin.TIKTOK, "released during the hold"
                assert not ids & self.stopped, ("released after a stop", ids, self.stopped)

    def _steer(self, data: st.DataObject, step: timedelta) -> None:
        """Pick an (event, initiator) the reference calls legal, preferring ones that go deeper."""
        later = self.now + step
        legal = []
        for event in EVENTS:
            for who in Initiator:
                try:
                    self.ref.step(event, who.value, None, later, _ENOUGH.get(event, {}))
                except Refused:
                    continue
                legal.append((event, who))
        # Cancelling is legal almost everywhere; prefer the rest so walks get deep.
        onward = [p for p in legal if p[0] not in _ENDINGS] if data.draw(st.integers(0, 9)) else []
        event, who = data.draw(st.sampled_from(onward or legal or [("pay", Initiator.BUYER)]))
        self.send(data=data, event=event, who=who, origin=None, step=step)

    @rule(data=st.data(), step=STEPS)
    def send_what_the_reference_allows(self, data: st.DataObject, step: timedelta) -> None:
        self._steer(data, step)

    @rule(data=st.data(), step=STEPS)
    def send_what_the_reference_allows_again(self, data: st.DataObject, step: timedelta) -> None:
        """A second rule of the same kind, so two thirds of the steps are steered."""
        self._steer(data, step)

    @invariant()
    def agrees_with_reference(self) -> None:
        if not hasattr(self, "ref"):
            return
        order = self.lifecycle.order
        label(f"status {order.status}")
        assert order.status.value == self.ref.status
        assert {line.line_item_id: line.status.value for line in order.lines} == self.ref.lines
        pending = order.pending_cancellation
        ref_pending = self.ref.pending
        assert (pending and pending.cancel_id) == (ref_pending and ref_pending["id"])
        assert [(r.return_id, r.status.value) for r in order.returns] == [
            (r["id"], r["status"]) for r in self.ref.returns
        ]
        assert order.cancelled_after_shipped == self.ref.after_shipped
        shipments = {
            line.line_item_id: (
                line.tracking_number,
                line.shipping_provider_id,
                line.shipping_provider_name,
            )
            for line in order.lines
            if line.line_item_id in self.ref.shipments
            or (line.tracking_number, line.shipping_provider_id, line.shipping_provider_name)
            != (None, None, None)
        }
        assert shipments == self.ref.shipments

    @invariant()
    def oms_units_add_up(self) -> None:
        """Per line: units reserved - released - shipped = units still open (0 before payment)."""
        if not hasattr(self, "lifecycle"):
            return
        order = self.lifecycle.order
        paid = any(record.event == "pay" for record in order.history)
        for line in order.lines:
            line_id = line.line_item_id
            still_open = line.quantity if paid and line.status is LineStatus.OPEN else 0
            balance = self.reserved[line_id] - self.released[line_id] - self.shipped[line_id]
            assert balance == still_open, (line_id, line.status, balance, order.history)
            assert self.reserved[line_id] <= line.quantity

    @invariant()
    def allows_what_the_reference_allows(self) -> None:
        """`allowed()` for each initiator equals what the reference accepts right now."""
        if not hasattr(self, "ref"):
            return
        for who in Initiator:
            expected = []
            for event in EVENTS:
                options = [_ENOUGH.get(event, {})]
                if (event.endswith("_return") and event != "request_return") or event == "refund":
                    options += [{"return_id": r["id"]} for r in self.ref.returns]
                for params in options:
                    try:
                        self.ref.step(event, who.value, None, self.now, params)
                    except Refused:
                        continue
                    expected.append(event)
                    break
            assert self.lifecycle.allowed(who, now=self.now) == tuple(expected), who

    @invariant()
    def holds_the_invariants(self) -> None:
        if not hasattr(self, "lifecycle"):
            return
        order = self.lifecycle.order
        for line in order.lines:
            # No line is both shipped and cancelled.
            if line.status is LineStatus.CANCELLED:
                assert line.tracking_number is None
            assert line.sale_price >= Decimal(0)
        if order.cancelled_after_shipped:
            assert order.status is OrderStatus.CANCELLED
            assert order.history[-1].initiator is Initiator.PLATFORM
        if order.status.is_final:
            assert self.lifecycle.allowed(now=self.now) == ()
        if order.status is OrderStatus.AWAITING_COLLECTION:
            assert not order.open_line_ids
        if order.cancellation is not None and order.cancellation.is_pending:
            assert all(
                order.line(i).status is LineStatus.OPEN for i in order.cancellation.line_item_ids
            )
        assert order.version == len(order.history)
        assert (
            order.pending_cancellation is None
            or order.cancellation.status is CancellationStatus.PENDING
        )  # type: ignore[union-attr]


LifecycleAgainstReference.TestCase.settings = settings(stateful_step_count=40)
TestLifecycleAgainstReference = LifecycleAgainstReference.TestCase
