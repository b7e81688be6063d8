"""The test's TikTok: posts signed webhooks to the endpoint over real HTTP on 127.0.0.1.

Orders are sent side by side (`concurrency` at a time), each order's webhooks
one after the other, the next only once the previous was answered, as TikTok
does for one order. Some answered webhooks are sent again at once (a
redelivery), drawn with `seed`.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from collections.abc import Iterable

import httpx

from tests.reliability.workload import Webhook


async def _send_all(
    url: str, webhooks: Iterable[Webhook], concurrency: int, resend: float, seed: int
) -> Counter[str]:
    by_order: dict[str, list[Webhook]] = defaultdict(list)
    for webhook in webhooks:
        by_order[webhook.order_id].append(webhook)
    queue: asyncio.Queue[list[Webhook]] = asyncio.Queue()
    for stream in by_order.values():
        queue.put_nowait(stream)
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def post(webhook: Webhook) -> str:
            response = await client.post(url, content=webhook.body, headers=webhook.headers)
            counts[f"HTTP {response.status_code}"] += 1
            return str(response.json().get("status"))

        async def sender() -> None:
            while not queue.empty():
                for webhook in queue.get_nowait():
                    counts[await post(webhook)] += 1
                    if rng.random() < resend:
                        counts["resent"] += 1
                        counts["resent answered " + await post(webhook)] += 1

        await asyncio.gather(*(sender() for _ in range(concurrency)))
    return counts


def send(
    url: str,
    webhooks: Iterable[Webhook],
    *,
    concurrency: int = 16,
    resend: float = 0.0,
    seed: int = 0,
    timeout: float = 600,
) -> Counter[str]:
    """Post every webhook; counts of answers (`HTTP 200`, `accepted`, `duplicate`, ...)."""
    return asyncio.run(
        asyncio.wait_for(_send_all(url, webhooks, concurrency, resend, seed), timeout)
    )
