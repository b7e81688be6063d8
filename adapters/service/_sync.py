"""Catch up with TikTok: the net behind the webhooks.

Webhooks are lost, late or never sent (a change made in TikTok Seller
Center). `Syncer.run_once` asks TikTok, for each shop, what changed since
the shop's watermark (a mark kept in the store) and feeds every answer to
the service exactly as a read would:

* Search Orders (`POST /order/202309/orders/search`, body `update_time_ge` /
  `update_time_lt`, paged with `page_token`): each order that changed is
  re-read and reconciled (`OrderService.seed`); an order the store never saw
  is seeded, and the inputs that waited for it apply;
* Search Cancellations and Search Returns over the same window: each request
  applies with its real lines.

Then the watermark moves to the window's end. The next window starts
`overlap` before it, so a change stamped at the edge (TikTok's clocks, its
indexing delay) is seen twice rather than missed: seeing it twice is
harmless, the same answer is the same input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from attrs import frozen

from adapters.partners.tiktok_shop import CONVERTER, Page, TikTokShopClient
from adapters.service._inbox import OrderService
from adapters.store import InputOutcome

__all__ = ["WATERMARK_PREFIX", "SyncReport", "Syncer", "watermark_name"]

T = TypeVar("T")


@frozen
class SyncReport:
    """What one catch-up saw: orders seen, changed by it, and seeded (unknown before)."""

    shops: int = 0
    seen: int = 0
    changed: int = 0
    seeded: int = 0
    cancellations: int = 0
    returns: int = 0
    calls: int = 0
    since: datetime | None = None
    until: datetime | None = None

    def __add__(self, other: SyncReport) -> SyncReport:
        return SyncReport(
            self.shops + other.shops,
            self.seen + other.seen,
            self.changed + other.changed,
            self.seeded + other.seeded,
            self.cancellations + other.cancellations,
            self.returns + other.returns,
            self.calls + other.calls,
            min(filter(None, (self.since, other.since)), default=None),
            max(filter(None, (self.until, other.until)), default=None),
        )


def _utc_now() -> datetime:
    return datetime.now(UTC)


#: The catch-up's watermarks are the marks named this, then the shop id ('-' for none).
WATERMARK_PREFIX = "sync.watermark:"


def watermark_name(shop_id: str) -> str:
    """The mark under which the catch-up keeps a shop's watermark."""
    return f"{WATERMARK_PREFIX}{shop_id or '-'}"


@frozen
class Syncer:
    """Catch `service`'s store up with TikTok, shop by shop.

    `shops` are the shop ids to search (`('',)` for the one-shop form);
    `first_window` is how far back a shop with no watermark yet is searched.
    """

    service: OrderService
    client_for: Callable[[str], TikTokShopClient]
    shops: Sequence[str] = ("",)
    clock: Callable[[], datetime] = _utc_now
    overlap: timedelta = timedelta(minutes=5)
    first_window: timedelta = timedelta(days=1)
    max_pages: int = 10_000

    def watermark(self, shop_id: str) -> datetime | None:
        kept = self.service.store.mark(watermark_name(shop_id))
        return None if kept is None else datetime.fromisoformat(kept)

    def run_once(self, since: datetime | None = None) -> SyncReport:
        """One catch-up of every shop; `since` overrides the watermarks."""
        report = SyncReport()
        for shop_id in self.shops:
            report = report + self._shop(shop_id, since)
        self.service.telemetry.sync_ran(report.until)
        return report

    def _shop(self, shop_id: str, since: datetime | None) -> SyncReport:
        until = self.clock()
        if since is None:
            mark = self.watermark(shop_id)
            since = until - self.first_window if mark is None else mark - self.overlap
        client = self.client_for(shop_id)
        store, service, shop = self.service.store, self.service, shop_id or None
        window: dict[str, Any] = {"update_time_ge": since, "update_time_lt": until}
        seen = changed = seeded = cancellations = returns = calls = 0
        for page in self._pages(lambda token: client.search_orders(**window, page_token=token)):
            calls += 1
            for order in page.items:
                known = store.version(order.id) is not None
                result = service.seed(CONVERTER.unstructure(order), shop_id=shop)
                seen += 1
                if result.outcome is InputOutcome.APPLIED:
                    changed += known
                    seeded += not known
        for found in self._pages(
            lambda token: client.search_cancellations(**window, page_token=token)
        ):
            calls += 1
            for cancellation in found.items:
                service.cancellation(cancellation, shop_id=shop)
                cancellations += 1
        for found_returns in self._pages(
            lambda token: client.search_returns(**window, page_token=token)
        ):
            calls += 1
            for request in found_returns.items:
                service.return_request(request, shop_id=shop)
                returns += 1
        store.set_mark(watermark_name(shop_id), until.isoformat(), until)
        return SyncReport(1, seen, changed, seeded, cancellations, returns, calls, since, until)

    def _pages(self, search: Callable[[str | None], Page[T]]) -> Iterator[Page[T]]:
        token: str | None = None
        for _ in range(self.max_pages):
            page = search(token)
            yield page
            token = page.next_page_token
            if not token:
                return
