"""Read TikTok for what its webhooks leave out: durable read jobs, like the outbox.

An input that needs something TikTok must be asked first (an unknown
order's detail, a cancellation's or a return's lines, the packages an order
status implies) waits in the inbox, and `OrderService` queues a read job for
it (`Store.request_reads`: one pending job per thing to read, so a storm of
webhooks about one order makes one read). `Reader.run_once` then:

1. claims due jobs under a lease with a fresh lease token (a crashed reader's
   jobs fall due again when the lease ends; a reader whose lease ran out
   cannot complete them any more);
2. reads them in batches per shop and kind: Get Order Detail takes up to 50
   order ids in one call, Search Cancellations and Search Returns take lists
   of ids;
3. feeds each answer to the service as an input of its own (`seed` for an
   order detail, `cancellation` / `return_request` for the searches), which
   applies it and then, in arrival order, the inputs that waited for it;
4. marks the jobs done; a `RetryableError` (timeouts, 5xx, 429, TikTok's
   busy codes) is retried with the dispatcher's `Backoff`, up to
   `max_attempts`; anything else, and an id TikTok does not return, parks the
   job as dead with TikTok's code and message. Its inputs keep waiting, never
   lost: `redrive` puts dead jobs back.

A read that is done twice (a crash between applying and marking done) is
harmless: the same answer is the same input, kept once.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from attrs import field, frozen

from adapters.errors import (
    NotReturned,
    RetryableError,
)
from adapters.http import REDACTOR
from adapters.partners.tiktok_shop import CONVERTER, TikTokShopClient
from adapters.service._dispatch import Backoff, describe_error
from adapters.service._inbox import OrderService, Result
from adapters.store import ReadJob, ReadKind, ReadRequest, Store

__all__ = ["GET_ORDER_DETAIL_MAX_IDS", "ReadReport", "Reader"]

#: Get Order Detail takes at most this many order ids per call (TikTok Shop
#: Open API 202309, Get Order Detail: `ids`, "maximum 50").
GET_ORDER_DETAIL_MAX_IDS = 50


@frozen
class ReadReport:
    """What one run of the reader did."""

    claimed: int = 0
    done: int = 0
    retried: int = 0
    dead: int = 0
    calls: int = 0
    results: tuple[Result, ...] = ()

    def __add__(self, other: ReadReport) -> ReadReport:
        return ReadReport(
            self.claimed + other.claimed,
            self.done + other.done,
            self.retried + other.retried,
            self.dead + other.dead,
            self.calls + other.calls,
            self.results + other.results,
        )

    @property
    def applied(self) -> int:
        """Inputs applied because of these reads: the answers and what waited for them."""
        return sum(1 + len(result.resumed) for result in self.results)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@frozen
class Reader:
    """Run the read jobs of `service.store` against TikTok Shop.

    `client_for(shop_id)` gives the client of a shop (its `shop_cipher` and
    tokens); `''` is the shop of an input that names none (an OMS command).
    """

    service: OrderService
    client_for: Callable[[str], TikTokShopClient]
    clock: Callable[[], datetime] = _utc_now
    batch_size: int = 200
    max_attempts: int = 8
    backoff: Backoff = field(factory=lambda: Backoff(initial=timedelta(seconds=5)))
    lease: timedelta = timedelta(minutes=5)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def __attrs_post_init__(self) -> None:
        REDACTOR.register(*self.secrets)

    @property
    def store(self) -> Store:
        return self.service.store

    def sweep(self) -> int:
        """Queue the reads that inputs kept waiting without a reader need; how many are new.

        Inputs that waited while no reader ran (a `work` without partners, a
        replay) wait for an order's detail and queued nothing. The shop is the
        one the input names, if it names one.
        """
        requests = []
        for entry in self.store.waiting():
            kind, _, target = (entry.waits_for or "").partition(":")
            if kind and target:
                requests.append(ReadRequest(ReadKind(kind), _shop_of(entry.payload), target))
        return self.store.request_reads(requests, self.clock()) if requests else 0

    def run_once(self) -> ReadReport:
        """Claim one batch of due read jobs and carry them out."""
        jobs = self.store.claim_reads(self.clock(), self.batch_size, self.lease)
        groups: dict[tuple[ReadKind, str], list[ReadJob]] = defaultdict(list)
        for job in jobs:
            groups[(job.kind, job.shop_id)].append(job)
        report = ReadReport(claimed=len(jobs))
        for (kind, shop_id), group in groups.items():
            for chunk in _chunks(group, GET_ORDER_DETAIL_MAX_IDS):
                report = report + self._read(kind, shop_id, chunk)
        return report

    def drain(self, max_batches: int = 1000) -> ReadReport:
        """Run batches until no read job is due now."""
        report = ReadReport()
        for _ in range(max_batches):
            batch = self.run_once()
            if not batch.claimed:
                break
            report = report + batch
        return report

    def redrive(self, ids: Sequence[int] | None = None) -> int:
        """Dead read jobs (all, or these ids) back to pending; how many."""
        return self.store.redrive_reads(self.clock(), ids)

    # ------------------------------------------------------------------ reading

    def _read(self, kind: ReadKind, shop_id: str, jobs: list[ReadJob]) -> ReadReport:
        targets = list(dict.fromkeys(job.target for job in jobs))
        try:
            client = self.client_for(shop_id)
            started = time.perf_counter()
            try:
                found = self._fetch(client, kind, shop_id, targets)
            finally:  # a failed call is timed too
                self.service.telemetry.read_call(kind.value, time.perf_counter() - started)
        except RetryableError as error:
            return self._failed(jobs, error, retry=True, calls=1)
        except Exception as error:  # parked with its type: one bad read must not stop the rest
            return self._failed(jobs, error, retry=False, calls=1)
        report = ReadReport(calls=1)
        for job in jobs:
            feed = found.get(job.target)
            if feed is None:
                missing = NotReturned("tiktok_shop", _not_returned(kind, job.target, shop_id))
                report = report + self._failed([job], missing, retry=False, calls=0)
                continue
            try:
                result = feed()
            except Exception as error:  # the answer is kept by the inbox as rejected
                report = report + self._failed([job], error, retry=False, calls=0)
                continue
            if self.store.finish_read(job.id, job.lease_token or "", self.clock()):
                self.service.telemetry.read_attempted(job, "done")
                report = report + ReadReport(done=1, results=(result,))
            else:
                self.service.telemetry.read_attempted(job, "lost")
        return report

    def _fetch(
        self, client: TikTokShopClient, kind: ReadKind, shop_id: str, targets: list[str]
    ) -> dict[str, Callable[[], Result]]:
        """Ask TikTok once; for each target it answered, the input that applies the answer."""
        service = self.service
        shop = shop_id or None
        if kind is ReadKind.ORDER_DETAIL:
            orders = client.get_order_detail(targets)
            return {
                order.id: _bind(service.seed, CONVERTER.unstructure(order), shop)
                for order in orders
            }
        if kind is ReadKind.CANCELLATION:
            page = client.search_cancellations(cancel_ids=targets)
            return {item.cancel_id: _bind(service.cancellation, item, shop) for item in page.items}
        page_returns = client.search_returns(return_ids=targets)
        return {
            item.return_id: _bind(service.return_request, item, shop) for item in page_returns.items
        }

    def _failed(
        self, jobs: Iterable[ReadJob], error: BaseException, *, retry: bool, calls: int
    ) -> ReadReport:
        report = ReadReport(calls=calls)
        now = self.clock()
        for job in jobs:
            text = describe_error(error, job.attempts, self.secrets)
            token = job.lease_token or ""
            if retry and job.attempts < self.max_attempts:
                at = now + self.backoff.delay(job.attempts, job.id, error)
                if self.store.retry_read(job.id, token, text, at):
                    report = report + ReadReport(retried=1)
                    self.service.telemetry.read_attempted(job, "retried", error)
                else:
                    self.service.telemetry.read_attempted(job, "lost", error)
            elif self.store.bury_read(job.id, token, text, now):
                report = report + ReadReport(dead=1)
                self.service.telemetry.read_attempted(job, "dead", error)
            else:
                self.service.telemetry.read_attempted(job, "lost", error)
        return report


def _bind(apply: Callable[..., Result], value: object, shop: str | None) -> Callable[[], Result]:
    return lambda: apply(value, shop_id=shop)


def _chunks(jobs: list[ReadJob], size: int) -> Iterable[list[ReadJob]]:
    for start in range(0, len(jobs), size):
        yield jobs[start : start + size]


def _not_returned(kind: ReadKind, target: str, shop_id: str) -> str:
    shop = f" of shop {shop_id}" if shop_id else ""
    what = {
        ReadKind.ORDER_DETAIL: ("Get Order Detail", "order"),
        ReadKind.CANCELLATION: ("Search Cancellations", "cancellation"),
        ReadKind.RETURN: ("Search Returns", "return"),
    }[kind]
    return (
        f"{what[0]} did not return {what[1]} {target}{shop}: it does not exist, or belongs"
        " to a shop these credentials do not open"
    )


def _shop_of(payload: str) -> str:
    try:
        raw = json.loads(payload)
    except ValueError:
        return ""
    shop = raw.get("shop_id") if isinstance(raw, dict) else None
    return str(shop) if isinstance(shop, str | int) else ""
