"""Carry out the outbox: each effect through the adapter of its partner, at least once.

`Dispatcher` claims due outbox rows (on PostgreSQL with `FOR UPDATE SKIP
LOCKED`, so many dispatchers share the work), leases them, and hands each to
the executor registered for its kind. Then:

* success: the row is marked done, together with what the partner gave back
  that later calls need (the SFCC `order_no`), in one transaction;
* `RetryableError` (timeouts, 5xx, 429, "try again" codes): retried later,
  with exponential backoff, up to `max_attempts`, then parked as a dead letter;
* `RejectedError` and anything else: parked at once as a dead letter, with the
  error's type and message. What is kept of a partner's answer is its
  structured fields only (status, code, message, request id); while an effect
  is carried out its order's personal values (`personal_values`) are in
  flight for the redactor (`adapters.http.REDACTOR`), which also knows every
  secret registered, configured or obtained at run time, so neither reaches
  an error, a log line or the store.

A dispatcher killed mid-batch leaves its rows leased; they fall due again when
the lease ends, so every effect is delivered at least once. Each effect
carries a stable idempotency key (order, version, kind) that the partners
use to apply a repeat once. Effects of one order and one partner go out in
the order the lifecycle produced them, one after the other: a claim holds
only the first effect of each order and partner not done yet, so one that
failed holds back the rest until its retry went through or it was parked.
`redrive` puts dead letters back.

`concurrency` is how many partner calls are in flight at once. At 1 (the
default) each call is made on the calling thread and its outcome recorded
before the next call. Above 1 the calls of different orders go out from a
pool of threads (every executor must then be safe to call from several
threads: the wired clients are, and `OmsCallable` calls the OMS's function
from one thread at a time), the lease is renewed while they are in flight,
the next batch is claimed before the last calls of the one before have
ended, and what became of the calls that ended together is recorded in one
transaction (`Store.settle`). The outbox's bookkeeping (claims, leases,
settlements) stays on the dispatcher's own thread.

`adapters.wiring.build_executors(partners, http)` wires the real clients from
their settings.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from typing import Protocol

from attrs import define, field, frozen

from adapters.errors import (
    AdapterError,
    NoExecutor,
    RetryableError,
)
from adapters.http import REDACTOR, redact
from adapters.service._telemetry import NO_TELEMETRY, Telemetry
from adapters.store import OutboxEntry, OutboxStatus, Settlement, Store
from lifecycle import (
    Effect,
    LifecycleError,
    Order,
)

__all__ = [
    "SFCC_ORDER_NO",
    "Backoff",
    "DispatchReport",
    "Dispatcher",
    "EffectContext",
    "Executor",
    "NoExecutor",
]

#: The external reference under which the SFCC order number is kept.
SFCC_ORDER_NO = "sfcc_order_no"


@frozen
class EffectContext:
    """What an executor may need besides the effect: the order as it was when the
    effect was asked for (an SFCC order is created with the lines it had then,
    even if it was cancelled since), and the order's external references."""

    order: Order | None
    refs: Mapping[str, str]


class Executor(Protocol):
    """Carries out one effect; returns external references to keep (or `None`)."""

    def __call__(self, effect: Effect, context: EffectContext) -> Mapping[str, str] | None: ...


@frozen
class Backoff:
    """Delay before retry `n` (1-based): `initial * factor**(n-1)`, at most `maximum`.

    A deterministic spread of up to `spread` of the delay (from the row id)
    keeps many rows that failed together from retrying together.
    """

    initial: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    maximum: timedelta = timedelta(hours=1)
    spread: float = 0.1
    #: the longest `Retry-After` honoured: a partner asking for more is tried then
    retry_after_cap: timedelta = timedelta(hours=1)

    def delay(self, attempt: int, seed: int = 0, error: BaseException | None = None) -> timedelta:
        """The wait before retry `attempt`; at least what the partner's `Retry-After`
        asked (`RetryableError.retry_after`), up to `retry_after_cap`."""
        base = min(self.initial * (self.factor ** max(attempt - 1, 0)), self.maximum)
        fraction = int(hashlib.sha256(str(seed).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        wait = base * (1 + self.spread * fraction)
        asked = error.retry_after if isinstance(error, RetryableError) else None
        if asked is not None:
            wait = max(wait, min(asked, self.retry_after_cap))
        return wait


@frozen
class DispatchReport:
    """How many effects a run delivered, scheduled for retry, parked as dead letters,
    and left to another dispatcher that took over their lease."""

    done: int = 0
    retried: int = 0
    dead: int = 0
    kinds: Mapping[str, int] = field(factory=dict)
    #: effects this dispatcher's claim lost to another one (its lease ran out)
    lost: int = 0

    def __add__(self, other: DispatchReport) -> DispatchReport:
        kinds = dict(self.kinds)
        for kind, count in other.kinds.items():
            kinds[kind] = kinds.get(kind, 0) + count
        return DispatchReport(
            self.done + other.done,
            self.retried + other.retried,
            self.dead + other.dead,
            kinds,
            self.lost + other.lost,
        )

    @property
    def handled(self) -> int:
        return self.done + self.retried + self.dead + self.lost


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    """Deliver the outbox of `store` through `executors` (effect kind -> executor)."""

    def __init__(
        self,
        store: Store,
        executors: Mapping[str, Executor],
        *,
        clock: Callable[[], datetime] = _utc_now,
        batch_size: int | None = None,
        max_attempts: int = 8,
        backoff: Backoff | None = None,
        lease: timedelta = timedelta(minutes=5),
        secrets: Iterable[str] = (),
        on_delivered: Callable[[OutboxEntry], None] | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
        concurrency: int = 1,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.store = store
        self.executors = dict(executors)
        self.clock = clock
        #: effects claimed at once: by default 20, or 4 per call in flight if that is more
        self.batch_size = batch_size or max(20, 4 * concurrency)
        self.max_attempts = max_attempts
        self.backoff = backoff or Backoff()
        self.lease = lease
        self.on_delivered = on_delivered
        self.telemetry = telemetry
        #: partner calls in flight at once (1: one after the other, on the calling thread)
        self.concurrency = concurrency
        self._secrets = tuple(s for s in secrets if s)
        REDACTOR.register(*self._secrets)

    def __repr__(self) -> str:
        return (
            f"Dispatcher(kinds={sorted(self.executors)}, batch_size={self.batch_size},"
            f" concurrency={self.concurrency})"
        )

    def run_once(self) -> DispatchReport:
        """Claim one batch of due effects and carry each out, under a fenced lease.

        Up to `concurrency` calls are in flight at once (see `drain`). Before
        each call the lease is renewed when half of it has passed (and while
        calls are in flight), and the claim must still hold it: an effect
        whose lease was lost (another dispatcher claimed it after a long
        stall) is left to that dispatcher, never sent twice by this one; its
        settlement is refused the same way.
        """
        return self._run(1)

    def drain(self, max_batches: int = 10_000) -> DispatchReport:
        """Run batches until nothing is due now (retries scheduled later wait).

        With `concurrency` above 1 the calls go out from a pool of that many
        threads, made for the drain, and the next batch is claimed while the
        last calls of the one before are still in flight, so the partners
        always have that many calls to answer. A claim holds at most one
        effect of each order and channel, and none whose predecessor is still
        in flight or waits for its retry, so the effects of one order and one
        partner still go out one after the other, in the order they were
        produced. What became of the calls that ended together is recorded in
        one transaction (`Store.settle`).
        """
        return self._run(max_batches)

    def _run(self, max_claims: int) -> DispatchReport:
        if self.concurrency == 1:
            report = DispatchReport()
            for _ in range(max_claims):
                batch = self._claim()
                if batch is None:
                    break
                for entry in batch.entries:
                    if batch.admit(entry):
                        batch.settle([self._attempt(entry, batch.context(entry))])
                report = report + batch.report
            return report
        return self._flow(max_claims)

    def _claim(self) -> _Batch | None:
        claimed_at = self.clock()
        entries = self.store.claim(claimed_at, self.batch_size, self.lease)
        return _Batch(self, entries, claimed_at) if entries else None

    def _flow(self, max_claims: int) -> DispatchReport:
        """Up to `concurrency` calls in flight, claiming anew as the claimed run out."""
        claims = 0
        active: list[_Batch] = []  # the batches with effects not settled yet
        waiting: list[tuple[_Batch, OutboxEntry]] = []
        running: dict[Future[_Attempt], tuple[_Batch, tuple[str, str]]] = {}
        ended: dict[_Batch, list[_Attempt]] = {}  # calls over, not settled yet
        report = DispatchReport()
        # Another claim finds nothing new until a call in flight has ended.
        may_claim = True
        tick = max(self.lease.total_seconds() / 4, 0.01)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="dispatch") as pool:
            while True:
                if not waiting and len(running) < self.concurrency:
                    if ended:  # a claim must see the settled effects' successors
                        may_claim = self._settle(ended) or may_claim
                    if may_claim and claims < max_claims:
                        batch = self._claim()
                        may_claim = batch is not None
                        if batch is not None:
                            claims += 1
                            active.append(batch)
                            waiting += [(batch, entry) for entry in batch.entries]
                for batch in active:
                    batch.keep_lease()
                busy = {key for _, key in running.values()}
                for item in list(waiting):
                    if len(running) >= self.concurrency:
                        break
                    batch, entry = item
                    key = (entry.order_id, entry.channel)
                    if key in busy:
                        continue  # after the one in flight, in the order they were produced
                    waiting.remove(item)
                    busy.add(key)
                    if batch.admit(entry):
                        call = pool.submit(self._attempt, entry, batch.context(entry))
                        running[call] = (batch, key)
                # While the calls just sent are in flight: one transaction for what ended.
                self._settle(ended)
                if running:
                    over, _ = wait(running, timeout=tick, return_when=FIRST_COMPLETED)
                    for call in over:
                        ended.setdefault(running.pop(call)[0], []).append(call.result())
                for batch in [b for b in active if not b.open]:
                    active.remove(batch)
                    report = report + batch.report
                if not (waiting or running or ended or (may_claim and claims < max_claims)):
                    break
        return report

    @staticmethod
    def _settle(ended: dict[_Batch, list[_Attempt]]) -> bool:
        """Settle the calls that `ended` (and forget them); whether there were any."""
        for batch, attempts in ended.items():
            batch.settle(attempts)
        found = bool(ended)
        ended.clear()
        return found

    def redrive(self, ids: Sequence[int] | None = None) -> int:
        """Dead letters (all, or these ids) back to pending; how many."""
        return self.store.redrive(self.clock(), ids)

    def _attempt(self, entry: OutboxEntry, context: EffectContext) -> _Attempt:
        """Carry `entry` out (on any thread: it touches no store); what became of it."""
        executor = self.executors.get(entry.kind)
        started = time.perf_counter()
        # The order's personal values, masked while the call runs and in any error kept.
        personal = personal_values(entry.order)
        try:
            if executor is None:
                raise NoExecutor(entry.kind)
            with REDACTOR.personal(personal):
                refs = executor(entry.effect, context) or {}
        except Exception as error:  # parked with its type: a bug must not stop the others
            text = self._describe(error, entry, personal)
            return _Attempt(entry, time.perf_counter() - started, error=error, text=text)
        return _Attempt(entry, time.perf_counter() - started, refs=refs)

    def _settlement(self, attempt: _Attempt) -> tuple[Settlement, str]:
        """How the store is to record `attempt`, and the outcome it means if it is."""
        entry, error = attempt.entry, attempt.error
        now = self.clock()
        if error is None:
            return Settlement(entry.id, OutboxStatus.DONE, now, refs=attempt.refs), "delivered"
        if isinstance(error, RetryableError) and entry.attempts < self.max_attempts:
            at = now + self.backoff.delay(entry.attempts, entry.id, error)
            return Settlement(entry.id, OutboxStatus.PENDING, at, attempt.text), "retried"
        return Settlement(entry.id, OutboxStatus.DEAD, now, attempt.text), "dead"

    def _observed(
        self,
        entry: OutboxEntry,
        outcome: str,
        seconds: float | None,
        error: BaseException | None = None,
    ) -> DispatchReport:
        """The report of one attempt, told to the telemetry on the way."""
        self.telemetry.effect_attempted(entry, outcome, seconds, error)
        if outcome == "delivered":
            return DispatchReport(done=1, kinds={entry.kind: 1})
        if outcome == "retried":
            return DispatchReport(retried=1)
        if outcome == "dead":
            return DispatchReport(dead=1)
        return DispatchReport(lost=1)

    def _describe(self, error: BaseException, entry: OutboxEntry, personal: tuple[str, ...]) -> str:
        with REDACTOR.personal(personal):
            return describe_error(error, entry.attempts, self._secrets)


@define
class _Attempt:
    """One call's end: the references it gave back, or the error and its kept text."""

    entry: OutboxEntry
    seconds: float
    refs: Mapping[str, str] = field(factory=dict)
    error: Exception | None = None
    text: str = ""


class _Batch:
    """The bookkeeping of one claim, on the dispatcher's own thread: its lease, its
    admissions and settlements, its report."""

    def __init__(
        self, dispatcher: Dispatcher, entries: Sequence[OutboxEntry], claimed_at: datetime
    ) -> None:
        self.dispatcher = dispatcher
        self.store = dispatcher.store
        self.entries = entries
        self.token = entries[0].lease_token or ""
        self.renewed_at = claimed_at
        self.report = DispatchReport()
        #: how many of its effects are not settled yet
        self.open = len(entries)

    def keep_lease(self) -> datetime:
        """Renew the lease when half of it has passed; the time now."""
        dispatcher = self.dispatcher
        now = dispatcher.clock()
        if now - self.renewed_at >= dispatcher.lease / 2:
            renewed = self.store.renew(self.token, now + dispatcher.lease)
            dispatcher.telemetry.lease_renewed("outbox", renewed)
            self.renewed_at = now
        return now

    def admit(self, entry: OutboxEntry) -> bool:
        """Whether `entry` may go out: the claim still holds its lease (else it is lost)."""
        now = self.keep_lease()
        if self.store.holds(entry.id, self.token, now):
            return True
        self.open -= 1
        self.report = self.report + self.dispatcher._observed(entry, "lost", None)
        return False

    def context(self, entry: OutboxEntry) -> EffectContext:
        return EffectContext(entry.order, self.store.refs(entry.order_id))

    def settle(self, attempts: Sequence[_Attempt]) -> None:
        """Record `attempts` in one transaction, then tell the telemetry and `on_delivered`."""
        if not attempts:
            return
        dispatcher = self.dispatcher
        planned = [dispatcher._settlement(attempt) for attempt in attempts]
        held = self.store.settle([settlement for settlement, _ in planned], token=self.token)
        self.open -= len(attempts)
        for attempt, (_, outcome), kept in zip(attempts, planned, held, strict=True):
            outcome = outcome if kept else "lost"
            if outcome == "delivered" and dispatcher.on_delivered is not None:
                dispatcher.on_delivered(attempt.entry)
            self.report = self.report + dispatcher._observed(
                attempt.entry, outcome, attempt.seconds, attempt.error
            )


def describe_error(error: BaseException, attempts: int, secrets: Iterable[str] = ()) -> str:
    """An error as kept in the store: its type, message and attempt.

    Our errors say what was wrong from structured fields; any other error (a
    bug, a driver's) may quote what it read, so its text is redacted as a
    partner's message is. Then every secret the redactor knows, `secrets`, and
    the personal values in flight are masked as `***`.
    """
    return f"{type(error).__name__}: {error_text(error, secrets)} (attempt {attempts})"


def error_text(error: BaseException, secrets: Iterable[str] = ()) -> str:
    """The message of `error` as it may be kept or logged (see `describe_error`)."""
    text = str(error)
    if not isinstance(error, AdapterError | LifecycleError):
        text = redact(text)
    return REDACTOR.mask(text, secrets)


_WORDS = re.compile(r"[\s,;]+")


def personal_values(order: Order | None) -> tuple[str, ...]:
    """The values of `order` a partner's echo must not carry into an error: the
    buyer's email and message, the recipient's name, address, zip code and phone,
    and each word of the name and the address (a partner may quote them split,
    as SFCC's first and last name)."""
    if order is None:
        return ()
    values = [order.buyer_email, order.buyer_message]
    recipient = order.recipient
    if recipient is not None:
        values += [recipient.name, recipient.full_address, recipient.zipcode, recipient.phone]
        values += _WORDS.split(recipient.name)
        values += [word for word in _WORDS.split(recipient.full_address) if len(word) > 3]
    return tuple(value for value in values if value and len(value) > 1)


# --------------------------------------------------------------------------- wiring
