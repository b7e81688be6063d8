"""Apply inputs to stored orders: inbox -> lifecycle -> order + history + outbox, atomically.

An input (a TikTok webhook, an order detail that seeds or re-reads an order,
an OMS command) is first kept in the inbox, deduplicated by TikTok's
notification id where the envelope has one (`tts_notification_id`) and by a
hash of its content otherwise. Then the stored order is loaded, the lifecycle
decides (the fast path `lifecycle.apply`), and the next order, its new
history and the effects are written in one transaction, only if the order is
still at the version that was read. A writer that lost the race reads again
and decides again, so no update is lost and nothing is applied twice.

Every input ends with one outcome in the inbox:

* ``applied``: the order changed (or the input is a signal that changes nothing);
* ``duplicate``: the same input was seen before, or the order already reflects it;
* ``stale``: it reports something older than the order's last change;
* ``rejected``: it cannot be used; `error_type` and `reason` say why.

Only ``applied`` changes anything besides the inbox. `tick(now)` applies the
timers that fall due, finding the orders through the indexed due-time column.

A webhook endpoint that must answer TikTok quickly splits `webhook` in two:
`accept_webhook` verifies the signature, parses the envelope, checks its
timestamp and keeps it in the inbox (nothing else); `process_pending`, run by
a worker, applies the webhooks kept but not processed yet, oldest first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from attrs import field, frozen

from adapters.errors import InboundError, MalformedPayload, UntimelyWebhook
from adapters.partners.tiktok_shop import (
    AuthorizationExpiring,
    PackageUpdated,
    RecipientAddressUpdated,
    SellerDeauthorized,
    UnusedWebhook,
    order_from_detail,
    parse_webhook,
    verify_webhook,
    webhook_commands,
)
from adapters.store import (
    AlreadyProcessed,
    Change,
    InputOutcome,
    ReceiptState,
    Store,
    StoreError,
    VersionConflict,
)
from lifecycle import (
    DEFAULT_POLICY,
    Command,
    Effect,
    Initiator,
    LifecycleError,
    Order,
    Origin,
    Policy,
    StaleObservation,
    apply,
    due_timers,
    next_timer_at,
    reconcile,
)

__all__ = [
    "Accepted",
    "OrderService",
    "Result",
    "TooManyConflicts",
    "UnknownOrder",
    "content_key",
]


class UnknownOrder(InboundError):
    """The input is about an order the store does not hold."""

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        super().__init__(
            f"order {order_id} is not in the store: seed it with its order detail first"
        )


class TooManyConflicts(StoreError):
    """Other writers kept changing the order; the input stays in the inbox, unfinished."""


@frozen
class Result:
    """What became of one input (or of one order's due timers)."""

    outcome: InputOutcome
    order_id: str | None
    inbox_id: int | None = None
    version: int | None = None
    effects: tuple[Effect, ...] = ()
    reason: str = ""
    error_type: str = ""


@frozen
class Accepted:
    """A webhook kept in the inbox by `accept_webhook`, not processed yet.

    `duplicate` is true when the same webhook was received before (processed
    or not): nothing new is to be done for it.
    """

    inbox_id: int
    state: ReceiptState
    order_id: str | None

    @property
    def duplicate(self) -> bool:
        return self.state is not ReceiptState.NEW


@frozen
class _Plan:
    """A decided change, or (`order is None`) an outcome without a change."""

    outcome: InputOutcome
    order: Order | None = None
    effects: tuple[Effect, ...] = ()
    reason: str = ""
    error_type: str = ""
    steps: tuple[Order, ...] = ()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_key(value: Any) -> str:
    """The dedup key of an input without an identity of its own: a hash of its content."""
    text = value if isinstance(value, str) else _canonical(value)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _rejected(error: Exception) -> _Plan:
    return _Plan(InputOutcome.REJECTED, reason=str(error), error_type=type(error).__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@frozen
class OrderService:
    """Apply inputs to the orders in `store` under `policy`.

    `clock` stamps inbox and outbox rows (not lifecycle events: those carry
    their own times). `app_key` / `app_secret`, when given, make `webhook`
    verify the signature header before anything is stored. `shop_id` is
    used for order details that do not say which shop they belong to (see
    `seed`).
    `accept_webhook` refuses a webhook whose envelope `timestamp` is older
    than `webhook_max_age` or later than `webhook_max_skew` past `clock()`:
    TikTok's retry window is not public (**unconfirmed**), so the age is a
    setting, generous by default.
    """

    store: Store
    policy: Policy = DEFAULT_POLICY
    clock: Callable[[], datetime] = _utc_now
    app_key: str | None = None
    app_secret: str | None = field(default=None, repr=False)
    shop_id: str | None = None
    max_conflicts: int = 50
    webhook_max_age: timedelta = timedelta(days=7)
    webhook_max_skew: timedelta = timedelta(minutes=15)
    order_cache: int = 0
    _cached: dict[str, Order] = field(factory=dict, init=False, repr=False, eq=False)

    # ------------------------------------------------------------------ inputs

    def webhook(self, body: bytes | str, headers: Mapping[str, str] | None = None) -> Result:
        """A TikTok webhook, its raw body exactly as posted.

        With `app_key` / `app_secret` set and `headers` given, the signature is
        checked first: a forged one raises `InvalidSignature` and nothing is kept.
        """
        raw = body.encode() if isinstance(body, str) else body
        if headers is not None and self.app_key and self.app_secret:
            verify_webhook(headers, raw, self.app_key, self.app_secret)
        key, payload, order = _webhook_identity(raw)

        def decide(stored: Order | None) -> _Plan:
            return self._decide_webhook(raw, stored)

        return self._process("webhook", key, payload, order, decide)

    def accept_webhook(self, body: bytes, headers: Mapping[str, str]) -> Accepted:
        """Keep a TikTok webhook in the inbox without processing it (one transaction).

        Checked first, in this order, and nothing is stored when a check fails:
        the signature (`InvalidSignature`), UTF-8 and the envelope and payload
        (`MalformedPayload`, `UnknownValue`), and the envelope's `timestamp`
        (`UntimelyWebhook`). A webhook received before is not kept again as
        new input (`Accepted.duplicate`). `process_pending` applies it later.
        """
        if not (self.app_key and self.app_secret):
            raise ValueError("accept_webhook needs app_key and app_secret to check signatures")
        verify_webhook(headers, body, self.app_key, self.app_secret)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPayload("the webhook body is not UTF-8") from None
        self._check_timestamp(parse_webhook(body).timestamp)
        key, payload, order_id = _webhook_identity(body)
        receipt = self.store.receive("webhook", key, payload, self.clock(), order_id)
        return Accepted(receipt.inbox_id, receipt.state, order_id)

    def process_webhook(self, inbox_id: int, body: bytes, order_id: str | None) -> Result:
        """Apply a webhook `accept_webhook` kept (or one a crash left unfinished)."""

        def decide(stored: Order | None) -> _Plan:
            return self._decide_webhook(body, stored)

        return self._apply(inbox_id, order_id, decide)

    def process_pending(self, limit: int = 100) -> list[Result]:
        """Apply up to `limit` webhooks kept but not processed yet, oldest first.

        Safe to run in several workers at once: an input another worker
        finished meanwhile comes back as a duplicate, never applied twice.
        """
        return [
            self.process_webhook(entry.id, entry.payload.encode(), entry.order_id)
            for entry in self.store.pending("webhook", limit)
        ]

    def _check_timestamp(self, sent: datetime) -> None:
        now = self.clock()
        if sent < now - self.webhook_max_age:
            raise UntimelyWebhook(
                f"the webhook was sent at {sent.isoformat()}, more than"
                f" {self.webhook_max_age} ago: refused as a replay"
            )
        if sent > now + self.webhook_max_skew:
            raise UntimelyWebhook(
                f"the webhook claims to be sent at {sent.isoformat()}, more than"
                f" {self.webhook_max_skew} in the future"
            )

    def seed(
        self,
        detail: Mapping[str, Any],
        *,
        shop_id: str | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> Result:
        """An order object as Get Order Detail returns it: stores a new order, or
        brings a stored one to the status the detail reports (a re-read).

        TikTok's order object does not name its shop. The order's shop is
        `shop_id` when given, else the stored order's, else the service's
        `shop_id`, else the `shop_id` of a webhook about the order kept in the
        store (`Store.webhook_shop`); failing all of these the order is kept
        without a shop, and takes one from the first later input that names
        one and changes the order.
        """
        raw = {"order_detail": dict(detail), "shop_id": shop_id, "extensions": extensions}
        order_id = detail.get("id")

        def decide(stored: Order | None) -> _Plan:
            return self._decide_detail(detail, shop_id, extensions, stored)

        return self._process(
            "order_detail",
            content_key(raw),
            _canonical(raw),
            str(order_id) if isinstance(order_id, str | int) else None,
            decide,
        )

    def command(self, command: Command, *, raw: Mapping[str, Any] | None = None) -> Result:
        """An OMS action (or any lifecycle command), applied through the fast path."""
        document = dict(raw) if raw is not None else _command_document(command)

        def decide(stored: Order | None) -> _Plan:
            if stored is None:
                raise UnknownOrder(command.order_id)
            outcome = command.apply_to(stored, self.policy)
            return _Plan(InputOutcome.APPLIED, outcome.order, outcome.effects)

        return self._process(
            "command", content_key(document), _canonical(document), command.order_id, decide
        )

    def tick(self, now: datetime) -> list[Result]:
        """Apply every timer due at `now`; one result per order that changed."""
        if now.utcoffset() is None:
            raise ValueError(f"now must be timezone-aware, got {now!r}")
        results = []
        for order_id in self.store.due_orders(now):
            result = self._tick_order(order_id, now)
            if result is not None:
                results.append(result)
        return results

    # ------------------------------------------------------------------ deciding

    def _decide_webhook(self, raw: bytes, stored: Order | None) -> _Plan:
        webhook = parse_webhook(raw)
        if isinstance(webhook, SellerDeauthorized | AuthorizationExpiring):
            return _Plan(InputOutcome.APPLIED, reason=f"shop {webhook.shop_id}: no order change")
        if isinstance(webhook, UnusedWebhook):
            return _Plan(
                InputOutcome.APPLIED, reason=f"type {webhook.type} ({webhook.name}): unused"
            )
        if isinstance(webhook, PackageUpdated | RecipientAddressUpdated):
            return _Plan(
                InputOutcome.APPLIED, reason="a package or address signal: re-read the order detail"
            )
        if stored is None:
            raise UnknownOrder(webhook.order_id)
        if stored.shop_id is None and webhook.shop_id:
            stored = attrs.evolve(stored, shop_id=webhook.shop_id)
        try:
            commands = webhook_commands(webhook, stored, policy=self.policy)
        except StaleObservation as error:
            return _Plan(InputOutcome.STALE, reason=str(error), error_type=type(error).__name__)
        if not commands:
            if stored.updated_at is not None and webhook.at < stored.updated_at:
                return _Plan(
                    InputOutcome.STALE,
                    reason=f"reported at {webhook.at.isoformat()}, before the order's last"
                    f" update at {stored.updated_at.isoformat()}",
                )
            return _Plan(InputOutcome.DUPLICATE, reason="the order already reflects it")
        return self._run(stored, commands)

    def _decide_detail(
        self,
        detail: Mapping[str, Any],
        shop_id: str | None,
        extensions: Mapping[str, Any] | None,
        stored: Order | None,
    ) -> _Plan:
        shop = shop_id or (stored.shop_id if stored is not None else None) or self.shop_id
        order_id = detail.get("id")
        if not shop and isinstance(order_id, str | int):
            shop = self.store.webhook_shop(str(order_id))
        reported = order_from_detail(dict(detail), shop_id=shop or None)
        if stored is not None and stored.shop_id is None and reported.shop_id is not None:
            stored = attrs.evolve(stored, shop_id=reported.shop_id)
        if stored is None:
            if extensions:
                reported = attrs.evolve(reported, extensions=dict(extensions))
            return _Plan(InputOutcome.APPLIED, reported)
        observed_at = reported.updated_at or reported.created_at
        try:
            steps = reconcile(
                stored,
                reported.status,
                observed_at=observed_at,
                cancelled_by=reported.cancelled_by,
                policy=self.policy,
            )
        except StaleObservation as error:
            return _Plan(InputOutcome.STALE, reason=str(error), error_type=type(error).__name__)
        if not steps:
            return _Plan(InputOutcome.DUPLICATE, reason=f"the order already is {stored.status}")
        commands = tuple(
            Command(stored.order_id, step.event, step.initiator, observed_at, Origin.TIKTOK)
            for step in steps
        )
        return self._run(stored, commands)

    def _run(self, order: Order, commands: tuple[Command, ...]) -> _Plan:
        effects: list[Effect] = []
        steps: list[Order] = []
        for command in commands:
            outcome = command.apply_to(order, self.policy)
            order = outcome.order
            steps.append(order)
            effects.extend(outcome.effects)
        return _Plan(InputOutcome.APPLIED, order, tuple(effects), steps=tuple(steps))

    # ------------------------------------------------------------------ writing

    def _process(
        self,
        kind: str,
        key: str,
        payload: str,
        order_id: str | None,
        decide: Callable[[Order | None], _Plan],
    ) -> Result:
        receipt = self.store.receive(kind, key, payload, self.clock(), order_id)
        if receipt.state is ReceiptState.DONE:
            return Result(
                InputOutcome.DUPLICATE,
                order_id,
                receipt.inbox_id,
                reason="the same input was received before",
            )
        return self._apply(receipt.inbox_id, order_id, decide)

    def _apply(
        self, inbox_id: int, order_id: str | None, decide: Callable[[Order | None], _Plan]
    ) -> Result:
        for _ in range(self.max_conflicts):
            stored = self._load(order_id) if order_id is not None else None
            try:
                plan = decide(stored)
            except (InboundError, LifecycleError, ValueError) as error:
                plan = _rejected(error)
            if plan.order is None:
                finished = self.store.finish(inbox_id, plan.outcome, plan.reason, plan.error_type)
                outcome = plan.outcome if finished else InputOutcome.DUPLICATE
                return Result(
                    outcome,
                    order_id,
                    inbox_id,
                    None if stored is None else stored.version,
                    reason=plan.reason,
                    error_type=plan.error_type,
                )
            try:
                self._commit(stored, plan, inbox_id)
            except VersionConflict:
                continue
            except AlreadyProcessed:
                self._cached.pop(plan.order.order_id, None)
                return Result(
                    InputOutcome.DUPLICATE,
                    order_id,
                    inbox_id,
                    reason="another worker processed the same input",
                )
            return Result(
                InputOutcome.APPLIED,
                plan.order.order_id,
                inbox_id,
                plan.order.version,
                plan.effects,
                plan.reason,
            )
        raise TooManyConflicts(
            f"order {order_id}: gave up after {self.max_conflicts} concurrent changes;"
            f" inbox entry {inbox_id} stays unfinished: processed again by a worker"
            " or on redelivery"
        )

    def _load(self, order_id: str) -> Order | None:
        """The stored order; with `order_cache`, a kept copy while its version is current.

        Reading the version is a one-column query; reading the order means
        parsing and structuring its whole body. A copy is used only when the
        stored version still equals its own, so other writers are never missed.
        """
        if not self.order_cache:
            return self.store.load(order_id)
        kept = self._cached.get(order_id)
        if kept is not None and self.store.version(order_id) == kept.version:
            return kept
        order = self.store.load(order_id)
        self._keep(order)
        return order

    def _keep(self, order: Order | None) -> None:
        if order is None or not self.order_cache:
            return
        cache = self._cached
        cache.pop(order.order_id, None)
        cache[order.order_id] = order
        if len(cache) > self.order_cache:
            del cache[next(iter(cache))]

    def _commit(self, stored: Order | None, plan: _Plan, inbox_id: int | None) -> None:
        order = plan.order
        assert order is not None
        before = 0 if stored is None else len(stored.history)
        self.store.commit(
            Change(
                order=order,
                expected_version=None if stored is None else stored.version,
                records=order.history[before:],
                effects=plan.effects,
                next_timer_at=next_timer_at(order, self.policy),
                inbox_id=inbox_id,
                outcome=plan.outcome,
                reason=plan.reason,
                steps=plan.steps,
            ),
            self.clock(),
        )
        self._keep(order)

    def _tick_order(self, order_id: str, now: datetime) -> Result | None:
        for _ in range(self.max_conflicts):
            stored = self._load(order_id)
            if stored is None:
                return None
            order, effects, steps = stored, list[Effect](), list[Order]()
            for timer in due_timers(stored, now, self.policy):
                outcome = apply(
                    order,
                    timer.event,
                    initiator=Initiator.PLATFORM,
                    origin=Origin.TIMER,
                    now=now,
                    policy=self.policy,
                    reason=timer.reason,
                )
                order = outcome.order
                steps.append(order)
                effects.extend(outcome.effects)
            if order is stored:
                return None
            plan = _Plan(InputOutcome.APPLIED, order, tuple(effects), steps=tuple(steps))
            try:
                self._commit(stored, plan, None)
            except VersionConflict:
                continue
            return Result(InputOutcome.APPLIED, order_id, None, order.version, tuple(effects))
        raise TooManyConflicts(f"order {order_id}: gave up ticking after repeated conflicts")


def _webhook_identity(raw: bytes) -> tuple[str, str, str | None]:
    """A webhook's dedup key, its payload as kept, and the order it names (if any)."""
    try:
        envelope = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        envelope = None
    data = envelope.get("data") if isinstance(envelope, dict) else None
    order_id = data.get("order_id") if isinstance(data, dict) else None
    notification = envelope.get("tts_notification_id") if isinstance(envelope, dict) else None
    if notification:
        key = f"tiktok:{notification}"
    elif envelope is not None:
        key = content_key(envelope)
    else:
        key = "sha256:" + hashlib.sha256(raw).hexdigest()
    payload = raw.decode("utf-8", "backslashreplace")
    return key, payload, str(order_id) if isinstance(order_id, str | int) else None


def _command_document(command: Command) -> dict[str, Any]:
    return {
        "command": command.event,
        "order_id": command.order_id,
        "initiator": command.initiator.value,
        "at": command.at.isoformat(),
        "origin": None if command.origin is None else command.origin.value,
        **{k: list(v) if isinstance(v, tuple) else v for k, v in command.params.items()},
    }
