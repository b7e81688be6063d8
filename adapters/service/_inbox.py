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
* ``rejected``: it cannot be used; `error_type` and `reason` say why;
* ``waiting``: it needs what TikTok must be asked first (the order's detail,
  for an order the store does not hold yet; the cancellation's or return's
  lines; the packages an order status implies). It is kept with the key of
  what it waits for (`InboxEntry.waits_for`) and applied, in arrival order,
  once that is known: never rejected only because the order was not known.
  With a reader, a webhook or command about an order whose earlier input
  still waits waits behind it, so one order's inputs apply in arrival order;
* ``ignored``: a correctly signed webhook of a type the library does not use.

Only ``applied`` changes anything besides the inbox. `tick(now)` applies the
timers that fall due, finding the orders through the indexed due-time column.

With `reads=True` (a `Reader` runs against TikTok), an input that waits also
queues the read it waits for, as a durable job (`Store.request_reads`), and
signals (package and address updates) queue re-reads of the orders they
name. Without a reader an unknown order's inputs wait until an order detail
of it arrives (a later line of a replay, a later replay into the same store),
and everything else applies with what the webhook says.

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

from adapters._util import shared_keys
from adapters.errors import (
    AlreadyProcessed,
    InboundError,
    MalformedPayload,
    TooManyConflicts,
    UntimelyWebhook,
    VersionConflict,
)
from adapters.partners.tiktok_shop import (
    CONVERTER,
    DEFAULT_VOCABULARY,
    AuthorizationExpiring,
    Cancellation,
    CancellationStatusChanged,
    OrderStatusChanged,
    PackageUpdated,
    RecipientAddressUpdated,
    Return,
    ReturnStatusChanged,
    SellerDeauthorized,
    TikTokVocabulary,
    UnusedWebhook,
    Webhook,
    cancellation_change,
    order_from_detail,
    parse_webhook,
    parse_webhook_object,
    return_change,
    verify_webhook,
    webhook_commands,
    webhook_order_ids,
)
from adapters.service._dispatch import error_text
from adapters.service._telemetry import NO_TELEMETRY, Telemetry
from adapters.store import (
    Change,
    InboxEntry,
    InputOutcome,
    ReadKind,
    ReadRequest,
    ReceiptState,
    Shard,
    Store,
    is_unavailable,
    waits_for,
)
from lifecycle import (
    DEFAULT_POLICY,
    Command,
    Effect,
    Initiator,
    LifecycleError,
    LineStatus,
    OmsAction,
    Order,
    OrderStatus,
    Origin,
    Policy,
    StaleObservation,
    StaleTime,
    due_timers,
    first_seen_actions,
    next_timer_at,
    reconcile,
)

__all__ = [
    "Accepted",
    "OrderService",
    "Result",
    "TooManyConflicts",
    "content_key",
]


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
    #: inputs that had waited for this one (an order detail, a read) and were
    #: applied right after it, in arrival order
    resumed: tuple[Result, ...] = ()


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
    """A decided change, or (`order is None`) an outcome without a change.

    `reads` are queued before the outcome is recorded; `waits_for` goes with
    `WAITING`.
    """

    outcome: InputOutcome
    order: Order | None = None
    effects: tuple[Effect, ...] = ()
    reason: str = ""
    error_type: str = ""
    steps: tuple[Order, ...] = ()
    reads: tuple[ReadRequest, ...] = ()
    waits_for: str | None = None
    #: what the OMS must do (the outcomes' `actions`), for the change feed
    actions: tuple[OmsAction, ...] = ()


#: Order statuses whose report implies packages: the order's detail names them,
#: with their tracking numbers and carriers, so a reader re-reads it first.
_PACKAGE_STATUSES = frozenset(
    {
        OrderStatus.PARTIALLY_SHIPPING,
        OrderStatus.AWAITING_COLLECTION,
        OrderStatus.IN_TRANSIT,
        OrderStatus.DELIVERED,
    }
)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_key(value: Any) -> str:
    """The dedup key of an input without an identity of its own: a hash of its content."""
    text = value if isinstance(value, str) else _canonical(value)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _rejected(error: Exception) -> _Plan:
    return _Plan(InputOutcome.REJECTED, reason=str(error), error_type=type(error).__name__)


def _stale(error: StaleObservation | StaleTime) -> _Plan:
    """What TikTok reported is older than the order's last change: kept as stale, the
    same whether the report (`StaleObservation`) or a step towards it (`StaleTime`) says so."""
    return _Plan(InputOutcome.STALE, reason=str(error), error_type=type(error).__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@frozen
class OrderService:
    """Apply inputs to the orders in `store` under `policy`.

    `clock` stamps inbox and outbox rows (not lifecycle events: those carry
    their own times). `app_key` / `app_secret`, when given, make `webhook`
    verify the signature header before anything is stored. `shop_id` is
    used for order details that do not say which shop they belong to (see
    `seed`). `reads` says a `Reader` runs against TikTok: inputs that need what a
    webhook leaves out wait for a read of it instead of applying without it.
    `max_attempts` is how often a worker tries an input that fails with an
    unexpected error before it parks it as `dead`.
    `accept_webhook` refuses a webhook whose envelope `timestamp` is older
    than `webhook_max_age` or later than `webhook_max_skew` past `clock()`:
    TikTok's retry window is not public (**unconfirmed**), so the age is a
    setting, generous by default. `vocabulary` is which TikTok strings mean
    what (`TikTokShopSettings.vocabulary`). `shard` makes the service one of
    several workers over one store, each handling its own orders.
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
    reads: bool = False
    max_attempts: int = 3
    #: counts and logs each input (`adapters.service.Telemetry`); by default, neither
    telemetry: Telemetry = field(default=NO_TELEMETRY, repr=False, eq=False)
    vocabulary: TikTokVocabulary = DEFAULT_VOCABULARY
    #: with several workers on one store (`replay` / `work --workers N`), the orders
    #: this one handles: `process_pending` and `tick` take only theirs
    shard: Shard | None = None
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
        return self._webhook(raw, _decoded(raw))

    def _webhook(self, raw: bytes, envelope: Any) -> Result:
        """`webhook` for a body decoded once (`_decoded`): identity and decision share it."""
        key, payload, order = _webhook_identity(raw, envelope)

        def decide(stored: Order | None) -> _Plan:
            return self._decide_webhook(raw, stored, None, envelope)

        return self._process("webhook", key, payload, order, decide, in_turn=True)

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
        envelope = _decoded(body)
        self._check_timestamp(_parse(body, envelope, self.vocabulary).timestamp)
        key, payload, order_id = _webhook_identity(body, envelope)
        receipt = self.store.receive("webhook", key, payload, self.clock(), order_id)
        self.telemetry.input_received("webhook")
        return Accepted(receipt.inbox_id, receipt.state, order_id)

    def process_webhook(
        self, inbox_id: int, body: bytes, order_id: str | None, waited: str | None = None
    ) -> Result:
        """Apply a webhook `accept_webhook` kept (or one a crash left unfinished).

        `waited` is what the webhook waited for before, if it did (its
        `InboxEntry.waits_for`): it is not waited for again.
        """

        def decide(stored: Order | None) -> _Plan:
            return self._decide_webhook(body, stored, waited)

        return self._apply(inbox_id, order_id, decide, in_turn=True)

    def process_pending(self, limit: int = 100) -> list[Result]:
        """Apply up to `limit` inputs kept but not processed yet, oldest first.

        These are webhooks `accept_webhook` kept, inputs a crash left
        unfinished, and waiting inputs woken because what they waited for
        arrived. Safe to run in several workers at once: an input another
        worker finished meanwhile comes back as a duplicate, never applied twice.
        """
        results = []
        for entry in self.store.pending(None, limit, shard=self.shard):
            result = self._attempt(entry)
            if result is not None:
                results.append(result)
        return results

    def _attempt(self, entry: InboxEntry) -> Result | None:
        """`process_entry`, and an input that keeps failing parked so the others go on.

        An unexpected error (a bug, an input nothing foresaw) is counted against
        the input and tried again, up to `max_attempts`, then the input is
        parked as `dead` with the error (`Store.redrive_inputs` puts it back).
        A store out of reach stops the worker instead: not the input's fault.
        `None`: left pending (other writers kept changing its order).
        """
        for attempt in range(self.max_attempts):
            try:
                return self._told(
                    entry.kind, entry.dedup_key, self.process_entry(entry), attempt + 1
                )
            except TooManyConflicts:
                return None
            except Exception as error:
                if is_unavailable(error):
                    raise
                reason = error_text(error)[:500] or type(error).__name__
                if self.store.fail(entry.id, type(error).__name__, reason, self.max_attempts):
                    dead = Result(
                        InputOutcome.DEAD,
                        entry.order_id,
                        entry.id,
                        reason=reason,
                        error_type=type(error).__name__,
                    )
                    return self._told(entry.kind, entry.dedup_key, dead, self.max_attempts)
        return None

    def process_entry(self, entry: InboxEntry) -> Result:
        """Apply one kept input of any kind, as it was received."""
        if entry.kind == "webhook":
            return self.process_webhook(
                entry.id, entry.payload.encode(), entry.order_id, entry.waits_for
            )
        raw = json.loads(entry.payload)
        if entry.kind == "order_detail":
            detail, shop, extensions = (
                raw["order_detail"],
                raw.get("shop_id"),
                raw.get("extensions"),
            )

            def decide(stored: Order | None) -> _Plan:
                return self._decide_detail(detail, shop, extensions, stored)

            result = self._apply(entry.id, entry.order_id, decide)
            return self._resumed(result, waits_for(ReadKind.ORDER_DETAIL, str(detail.get("id"))))
        if entry.kind == "command":
            from adapters.service._replay import _command  # the one parser of command documents

            command = _command(raw)
            return self._apply(
                entry.id,
                command.order_id,
                self._decide_command(command, entry.waits_for),
                in_turn=True,
            )
        if entry.kind in ("cancellation_detail", "return_detail"):
            found: Cancellation | Return = (
                CONVERTER.structure(raw["cancellation"], Cancellation)
                if entry.kind == "cancellation_detail"
                else CONVERTER.structure(raw["return"], Return)
            )
            decide_found = self._decide_read_result(found, raw.get("shop_id"), entry.waits_for)
            result = self._apply(entry.id, entry.order_id, decide_found)
            return self._resumed(result, _read_key(found))
        return self._apply(entry.id, entry.order_id, _unknown_kind(entry.kind))

    def resume(self, key: str) -> list[Result]:
        """Apply, in arrival order, the inputs that waited for `key` (a read landed)."""
        return [
            self._told(entry.kind, entry.dedup_key, self.process_entry(entry))
            for entry in self.store.wake(key)
        ]

    def _resumed(self, result: Result, key: str) -> Result:
        """`result`, with the results of the inputs that waited for `key` applied now."""
        resumed = self.resume(key)
        return attrs.evolve(result, resumed=tuple(resumed)) if resumed else result

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

        result = self._process(
            "order_detail",
            content_key(raw),
            _canonical(raw),
            str(order_id) if isinstance(order_id, str | int) else None,
            decide,
        )
        if not isinstance(order_id, str | int):
            return result
        return self._resumed(result, waits_for(ReadKind.ORDER_DETAIL, str(order_id)))

    def cancellation(self, found: Cancellation, *, shop_id: str | None = None) -> Result:
        """A cancellation as Search Cancellations returns it, with its lines.

        It applies like the webhook about it would, with the lines the webhook
        lacks; then the inputs that waited for it apply.
        """
        return self._read_result("cancellation", found, found.order_id, shop_id)

    def return_request(self, found: Return, *, shop_id: str | None = None) -> Result:
        """A return or refund request as Search Returns returns it, with its lines."""
        return self._read_result("return", found, found.order_id, shop_id)

    def _read_result(
        self, what: str, found: Cancellation | Return, order_id: str, shop_id: str | None
    ) -> Result:
        raw = {what: CONVERTER.unstructure(found), "shop_id": shop_id}
        result = self._process(
            f"{what}_detail",
            content_key(raw),
            _canonical(raw),
            order_id,
            self._decide_read_result(found, shop_id, None),
        )
        return self._resumed(result, _read_key(found))

    def _decide_read_result(
        self, found: Cancellation | Return, shop_id: str | None, waited: str | None
    ) -> Callable[[Order | None], _Plan]:
        def decide(stored: Order | None) -> _Plan:
            at = self.clock()
            change = (
                cancellation_change(found, shop_id or "", at, self.vocabulary)
                if isinstance(found, Cancellation)
                else return_change(found, shop_id or "", at, self.vocabulary)
            )
            return self._decide_change(change, stored, waited, read_first=False)

        return decide

    def command(self, command: Command, *, raw: Mapping[str, Any] | None = None) -> Result:
        """An OMS action (or any lifecycle command), applied through the fast path.

        A command about an order the store does not hold yet waits for the
        order's detail, like a webhook would.
        """
        document = dict(raw) if raw is not None else _command_document(command)
        return self._process(
            "command",
            content_key(document),
            _canonical(document),
            command.order_id,
            self._decide_command(command, None),
            in_turn=True,
        )

    def _decide_command(
        self, command: Command, waited: str | None
    ) -> Callable[[Order | None], _Plan]:
        def decide(stored: Order | None) -> _Plan:
            if stored is None:
                return self._wait(
                    ReadKind.ORDER_DETAIL,
                    "",
                    command.order_id,
                    waited,
                    f"order {command.order_id} is not in the store yet",
                )
            outcome = command.apply_to(stored, self.policy)
            return _Plan(
                InputOutcome.APPLIED, outcome.order, outcome.effects, actions=outcome.actions
            )

        return decide

    def tick(self, now: datetime) -> list[Result]:
        """Apply every timer due at `now`; one result per order that changed."""
        if now.utcoffset() is None:
            raise ValueError(f"now must be timezone-aware, got {now!r}")
        results = []
        for order_id in self.store.due_orders(now, shard=self.shard):
            result = self._tick_order(order_id, now)
            if result is not None:
                results.append(result)
                self.telemetry.timer_changed(order_id, result.version)
        return results

    # ------------------------------------------------------------------ deciding

    def _wait(
        self, kind: ReadKind, shop_id: str, target: str, waited: str | None, why: str
    ) -> _Plan:
        """Wait for a read of `target`; with a reader, queue it.

        An input woken because the read landed (`waited` is its key) and that
        still cannot apply (the detail did not seed the order) waits on
        without queueing the same read again.
        """
        key = waits_for(kind, target)
        reads: tuple[ReadRequest, ...] = ()
        if self.reads and waited != key:
            reads = (ReadRequest(kind, shop_id, target),)
        what = {
            ReadKind.ORDER_DETAIL: f"the detail of order {target}",
            ReadKind.CANCELLATION: f"cancellation {target} (its lines)",
            ReadKind.RETURN: f"return {target} (its lines)",
        }[kind]
        return _Plan(
            InputOutcome.WAITING,
            reason=f"{why}: waiting for {what}",
            reads=reads,
            waits_for=key,
        )

    def _read_first(
        self, webhook: OrderStatusChanged | CancellationStatusChanged | ReturnStatusChanged
    ) -> tuple[ReadKind, str, str] | None:
        """What a reader asks TikTok before `webhook` applies, and why; `None`: nothing."""
        if isinstance(webhook, CancellationStatusChanged):
            return ReadKind.CANCELLATION, webhook.cancel_id, "a cancellation webhook has no lines"
        if isinstance(webhook, ReturnStatusChanged):
            return ReadKind.RETURN, webhook.return_id, "a return webhook has no lines"
        if webhook.order_status in _PACKAGE_STATUSES:
            return (
                ReadKind.ORDER_DETAIL,
                webhook.order_id,
                f"{webhook.order_status} implies packages the webhook does not name",
            )
        return None

    def _decide_webhook(
        self, raw: bytes, stored: Order | None, waited: str | None, envelope: Any = None
    ) -> _Plan:
        webhook = _parse(raw, envelope, self.vocabulary)
        if isinstance(webhook, UnusedWebhook):
            return _Plan(
                InputOutcome.IGNORED,
                reason=f"webhook type {webhook.type} ({webhook.name}) is not used by this library",
            )
        if isinstance(webhook, SellerDeauthorized | AuthorizationExpiring):
            return _Plan(InputOutcome.APPLIED, reason=f"shop {webhook.shop_id}: no order change")
        if isinstance(webhook, PackageUpdated | RecipientAddressUpdated):
            order_ids = webhook_order_ids(webhook)
            if not self.reads:
                return _Plan(
                    InputOutcome.APPLIED,
                    reason=f"a signal about order {', '.join(order_ids)}: re-read the order"
                    " detail (no reader runs here)",
                )
            return _Plan(
                InputOutcome.APPLIED,
                reason=f"a signal: re-read of order {', '.join(order_ids)} queued",
                reads=tuple(
                    ReadRequest(ReadKind.ORDER_DETAIL, webhook.shop_id, order_id)
                    for order_id in order_ids
                ),
            )
        return self._decide_change(webhook, stored, waited, read_first=self.reads)

    def _decide_change(
        self,
        webhook: OrderStatusChanged | CancellationStatusChanged | ReturnStatusChanged,
        stored: Order | None,
        waited: str | None,
        *,
        read_first: bool,
    ) -> _Plan:
        """What a change TikTok reported about one order does to it (a webhook, or
        a cancellation or return as Search Cancellations / Search Returns give it)."""
        if stored is None:
            return self._wait(
                ReadKind.ORDER_DETAIL,
                webhook.shop_id,
                webhook.order_id,
                waited,
                f"order {webhook.order_id} is not in the store yet",
            )
        need = self._read_first(webhook) if read_first else None
        if need is not None and waited != waits_for(need[0], need[1]):
            return self._wait(need[0], webhook.shop_id, need[1], waited, need[2])
        if stored.shop_id is None and webhook.shop_id:
            stored = attrs.evolve(stored, shop_id=webhook.shop_id)
        try:
            commands = webhook_commands(
                webhook, stored, policy=self.policy, vocabulary=self.vocabulary
            )
            if commands:
                return self._run(stored, commands)
        except (StaleObservation, StaleTime) as error:
            return _stale(error)
        if stored.updated_at is not None and webhook.at < stored.updated_at:
            return _Plan(
                InputOutcome.STALE,
                reason=f"reported at {webhook.at.isoformat()}, before the order's last"
                f" update at {stored.updated_at.isoformat()}",
            )
        return _Plan(InputOutcome.DUPLICATE, reason="the order already reflects it")

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
        reported = order_from_detail(dict(detail), shop_id=shop or None, vocabulary=self.vocabulary)
        if stored is not None and stored.shop_id is None and reported.shop_id is not None:
            stored = attrs.evolve(stored, shop_id=reported.shop_id)
        if stored is None:
            if extensions:
                # The OMS's keys repeat in every order: one copy of each (`shared_keys`).
                reported = attrs.evolve(reported, extensions=shared_keys(dict(extensions)))
            return _Plan(InputOutcome.APPLIED, reported)
        observed_at = reported.updated_at or reported.created_at
        try:
            commands = self._detail_commands(stored, reported, observed_at)
            if commands:
                return self._run(stored, commands)
        except (StaleObservation, StaleTime) as error:
            return _stale(error)
        return _Plan(InputOutcome.DUPLICATE, reason=f"the order already is {stored.status}")

    def _detail_commands(
        self, stored: Order, reported: Order, observed_at: datetime
    ) -> tuple[Command, ...]:
        """What brings `stored` to what a re-read of its detail reports, as TikTok's reports.

        Lines the detail shows shipped, and the order has open, ship package by
        package with the detail's tracking numbers and carriers, so that SFCC
        hears of the parcels; then the status path does the rest.
        """

        def to(order: Order, status: OrderStatus) -> list[Command]:
            steps = reconcile(
                order,
                status,
                observed_at=observed_at,
                cancelled_by=reported.cancelled_by,
                policy=self.policy,
            )
            return [
                Command(order.order_id, step.event, step.initiator, observed_at, Origin.TIKTOK)
                for step in steps
            ]

        shipments = _shipments(stored, reported, observed_at)
        if not shipments or reported.status is OrderStatus.CANCELLED:
            return tuple(to(stored, reported.status))
        commands: list[Command] = []
        order = stored
        if order.status in (OrderStatus.UNPAID, OrderStatus.ON_HOLD):
            commands += to(order, OrderStatus.AWAITING_SHIPMENT)
            order = self._run(order, tuple(commands)).order or order
        if order.status not in (OrderStatus.AWAITING_SHIPMENT, OrderStatus.PARTIALLY_SHIPPING):
            return tuple(to(stored, reported.status))
        commands += shipments
        order = self._run(order, tuple(shipments)).order or order
        if order.status is not reported.status:
            commands += to(order, reported.status)
        return tuple(commands)

    def _run(self, order: Order, commands: tuple[Command, ...]) -> _Plan:
        effects: list[Effect] = []
        steps: list[Order] = []
        actions: list[OmsAction] = []
        for command in commands:
            outcome = command.apply_to(order, self.policy)
            order = outcome.order
            steps.append(order)
            effects.extend(outcome.effects)
            actions.extend(outcome.actions)
        return _Plan(
            InputOutcome.APPLIED, order, tuple(effects), steps=tuple(steps), actions=tuple(actions)
        )

    # ------------------------------------------------------------------ writing

    def _process(
        self,
        kind: str,
        key: str,
        payload: str,
        order_id: str | None,
        decide: Callable[[Order | None], _Plan],
        *,
        in_turn: bool = False,
    ) -> Result:
        receipt = self.store.receive(kind, key, payload, self.clock(), order_id)
        self.telemetry.input_received(kind)
        if receipt.state is ReceiptState.DONE:
            result = Result(
                InputOutcome.DUPLICATE,
                order_id,
                receipt.inbox_id,
                reason="the same input was received before",
            )
        else:
            result = self._apply(receipt.inbox_id, order_id, decide, in_turn=in_turn)
        return self._told(kind, key, result)

    def _told(self, kind: str, key: str, result: Result, attempt: int | None = None) -> Result:
        """`result`, told to the telemetry (a metric and a log line per input)."""
        self.telemetry.input_processed(
            kind,
            key,
            result.outcome,
            result.order_id,
            result.inbox_id,
            result.error_type,
            attempt,
        )
        return result

    def _apply(
        self,
        inbox_id: int,
        order_id: str | None,
        decide: Callable[[Order | None], _Plan],
        *,
        in_turn: bool = False,
    ) -> Result:
        if in_turn and self.reads and order_id is not None:
            decide = self._behind_waiting(inbox_id, order_id, decide)
        for _ in range(self.max_conflicts):
            stored = self._load(order_id) if order_id is not None else None
            try:
                plan = decide(stored)
            except (InboundError, LifecycleError) as error:
                plan = _rejected(error)
            if plan.order is None:
                if plan.reads:
                    # Queued first: a crash before the outcome leaves the input
                    # pending, and doing it again queues nothing new.
                    self.store.request_reads(plan.reads, self.clock())
                finished = self.store.finish(
                    inbox_id, plan.outcome, plan.reason, plan.error_type, plan.waits_for
                )
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

    def _behind_waiting(
        self, inbox_id: int, order_id: str, decide: Callable[[Order | None], _Plan]
    ) -> Callable[[Order | None], _Plan]:
        """`decide`, unless an earlier input about the order still waits for a read:
        then this one waits behind it, for the same thing, so that one order's
        webhooks and commands apply in arrival order (a platform cancellation must
        not overtake the buyer's request that waits for its lines)."""

        def in_turn(stored: Order | None) -> _Plan:
            ahead = [
                entry
                for entry in self.store.waiting(order_id)
                if entry.id < inbox_id and entry.waits_for
            ]
            if not ahead:
                return decide(stored)
            first = ahead[0]
            return _Plan(
                InputOutcome.WAITING,
                reason=f"input {first.id} about order {order_id} came first and waits for"
                f" {first.waits_for}: waiting behind it",
                waits_for=first.waits_for,
            )

        return in_turn

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
        records = order.history[before:]
        effects, actions = plan.effects, plan.actions
        if stored is None and not records:
            first = first_seen_actions(order)
            actions = (*first, *actions)
            if self.policy.push_oms_actions:
                effects = (*effects, *first)
        self.store.commit(
            Change(
                order=order,
                expected_version=None if stored is None else stored.version,
                records=records,
                effects=effects,
                next_timer_at=next_timer_at(order, self.policy),
                inbox_id=inbox_id,
                outcome=plan.outcome,
                reason=plan.reason,
                steps=plan.steps,
                actions=actions,
            ),
            self.clock(),
        )
        self._keep(order)

    def _tick_order(self, order_id: str, now: datetime) -> Result | None:
        for _ in range(self.max_conflicts):
            stored = self._load(order_id)
            if stored is None:
                return None
            try:
                fired = due_timers(stored, now, self.policy)
            except StaleTime as error:  # this order's own; the other due orders go on
                return Result(
                    InputOutcome.REJECTED,
                    order_id,
                    version=stored.version,
                    reason=str(error),
                    error_type=type(error).__name__,
                )
            if not fired:
                return None
            order = fired[-1].outcome.order
            steps = [each.outcome.order for each in fired]
            effects = [effect for each in fired for effect in each.outcome.effects]
            actions = tuple(action for each in fired for action in each.outcome.actions)
            plan = _Plan(
                InputOutcome.APPLIED, order, tuple(effects), steps=tuple(steps), actions=actions
            )
            try:
                self._commit(stored, plan, None)
            except VersionConflict:
                continue
            return Result(InputOutcome.APPLIED, order_id, None, order.version, tuple(effects))
        raise TooManyConflicts(f"order {order_id}: gave up ticking after repeated conflicts")


def _shipments(stored: Order, reported: Order, at: datetime) -> list[Command]:
    """One `ship` per package of lines the detail shows shipped and `stored` has open."""
    known = {line.line_item_id: line for line in stored.lines}
    packages: dict[str | None, list[Any]] = {}
    for line in reported.lines:
        mine = known.get(line.line_item_id)
        if (
            line.status is LineStatus.SHIPPED
            and mine is not None
            and mine.status is LineStatus.OPEN
        ):
            packages.setdefault(line.package_id or line.tracking_number, []).append(line)
    commands = []
    for lines in packages.values():
        first = lines[0]
        params = {
            "line_item_ids": tuple(line.line_item_id for line in lines),
            "package_id": first.package_id,
            "tracking_number": first.tracking_number,
            "shipping_provider_id": first.shipping_provider_id,
            "shipping_provider_name": first.shipping_provider_name,
        }
        commands.append(
            Command(
                stored.order_id,
                "ship",
                Initiator.SELLER,
                at,
                Origin.TIKTOK,
                {key: value for key, value in params.items() if value is not None},
            )
        )
    return commands


def _read_key(found: Cancellation | Return) -> str:
    if isinstance(found, Cancellation):
        return waits_for(ReadKind.CANCELLATION, found.cancel_id)
    return waits_for(ReadKind.RETURN, found.return_id)


def _unknown_kind(kind: str) -> Callable[[Order | None], _Plan]:
    def decide(_stored: Order | None) -> _Plan:
        raise MalformedPayload(f"the inbox holds an input of unknown kind {kind!r}")

    return decide


def _decoded(raw: bytes) -> Any:
    """The webhook body decoded once, or `None` when it is not JSON."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _parse(raw: bytes, envelope: Any, vocabulary: TikTokVocabulary) -> Webhook:
    """The webhook from its decoded body; from the bytes when that did not decode.

    An undecodable body (or a bare `null`) goes through `parse_webhook`, so its
    error says what is wrong with the body.
    """
    if envelope is None:
        return parse_webhook(raw, vocabulary=vocabulary)
    return parse_webhook_object(envelope, vocabulary=vocabulary)


def _webhook_identity(raw: bytes, envelope: Any) -> tuple[str, str, str | None]:
    """A webhook's dedup key, its payload as kept, and the order it names (if any).

    `envelope` is the body decoded (`_decoded`), `None` when it is not JSON.
    """
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
