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
the order the lifecycle produced them. `redrive` puts dead letters back.

`adapters.wiring.build_executors(partners, http)` wires the real clients from
their settings.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from attrs import field, frozen

from adapters.errors import (
    AdapterError,
    NoExecutor,
    RetryableError,
)
from adapters.http import REDACTOR, redact
from adapters.service._telemetry import NO_TELEMETRY, Telemetry
from adapters.store import OutboxEntry, Store
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
        batch_size: int = 20,
        max_attempts: int = 8,
        backoff: Backoff | None = None,
        lease: timedelta = timedelta(minutes=5),
        secrets: Iterable[str] = (),
        on_delivered: Callable[[OutboxEntry], None] | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self.store = store
        self.executors = dict(executors)
        self.clock = clock
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.backoff = backoff or Backoff()
        self.lease = lease
        self.on_delivered = on_delivered
        self.telemetry = telemetry
        self._secrets = tuple(s for s in secrets if s)
        REDACTOR.register(*self._secrets)

    def __repr__(self) -> str:
        return f"Dispatcher(kinds={sorted(self.executors)}, batch_size={self.batch_size})"

    def run_once(self) -> DispatchReport:
        """Claim one batch of due effects and carry each out, under a fenced lease.

        Before each call the lease is renewed when half of it has passed, and
        the claim must still hold it: an effect whose lease was lost (another
        dispatcher claimed it after a long stall) is left to that dispatcher,
        never sent twice by this one; its completion is refused the same way.
        """
        report = DispatchReport()
        claimed_at = self.clock()
        entries = self.store.claim(claimed_at, self.batch_size, self.lease)
        renewed_at = claimed_at
        for entry in entries:
            now = self.clock()
            token = entry.lease_token or ""
            if now - renewed_at >= self.lease / 2:
                renewed = self.store.renew(token, now + self.lease)
                self.telemetry.lease_renewed("outbox", renewed)
                renewed_at = now
            if not self.store.holds(entry.id, token, now):
                report = report + self._observed(entry, "lost", None)
                continue
            report = report + self._deliver(entry)
        return report

    def drain(self, max_batches: int = 10_000) -> DispatchReport:
        """Run batches until nothing is due now (retries scheduled later wait)."""
        report = DispatchReport()
        for _ in range(max_batches):
            batch = self.run_once()
            if not batch.handled:
                break
            report = report + batch
        return report

    def redrive(self, ids: Sequence[int] | None = None) -> int:
        """Dead letters (all, or these ids) back to pending; how many."""
        return self.store.redrive(self.clock(), ids)

    def _deliver(self, entry: OutboxEntry) -> DispatchReport:
        executor = self.executors.get(entry.kind)
        token = entry.lease_token or ""
        started = time.perf_counter()
        # The order's personal values, masked while the call runs and in any error kept.
        personal = personal_values(entry.order)
        try:
            if executor is None:
                raise NoExecutor(entry.kind)
            context = EffectContext(entry.order, self.store.refs(entry.order_id))
            with REDACTOR.personal(personal):
                refs = executor(entry.effect, context) or {}
        except RetryableError as error:
            text = self._describe(error, entry, personal)
            seconds = time.perf_counter() - started
            if entry.attempts >= self.max_attempts:
                buried = self.store.bury(entry.id, text, self.clock(), token=token)
                return self._observed(entry, "dead" if buried else "lost", seconds, error)
            at = self.clock() + self.backoff.delay(entry.attempts, entry.id, error)
            retried = self.store.retry_later(entry.id, text, at, token=token)
            return self._observed(entry, "retried" if retried else "lost", seconds, error)
        except Exception as error:  # parked with its type: a bug must not stop the others
            seconds = time.perf_counter() - started
            buried = self.store.bury(
                entry.id, self._describe(error, entry, personal), self.clock(), token=token
            )
            return self._observed(entry, "dead" if buried else "lost", seconds, error)
        seconds = time.perf_counter() - started
        if not self.store.complete(entry.id, self.clock(), refs, token=token):
            return self._observed(entry, "lost", seconds)
        if self.on_delivered is not None:
            self.on_delivered(entry)
        return self._observed(entry, "delivered", seconds)

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
