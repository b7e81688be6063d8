"""What SQLite's `synchronous=FULL` costs the endpoint: webhooks kept per second, FULL / NORMAL.

    python -m bench.durability            # 2000 webhooks per round, three rounds
    python -m bench.durability --quick

Each webhook is kept by `OrderService.accept_webhook`, one commit each, as
the endpoint keeps it before answering 200; the rounds alternate NORMAL and
FULL on fresh files in a temporary folder, and the figure is the ratio of
the medians. Absolute rates are for information: they are the disk's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.partners.tiktok_shop import webhook_signature
from adapters.service import OrderService
from adapters.store import open_store

KEY, SECRET = "bench-key", "bench-secret"


def _webhook(number: int, now: datetime) -> bytes:
    at = int((now - timedelta(seconds=5)).timestamp())
    envelope = {
        "type": 1,
        "shop_id": "7494049642642441621",
        "timestamp": at,
        "tts_notification_id": f"n{number}",
        "data": {"order_id": f"O{number}", "order_status": "ON_HOLD", "update_time": at},
    }
    return json.dumps(envelope).encode()


def keep_rate(folder: Path, level: str, count: int) -> float:
    """Webhooks per second `accept_webhook` keeps in a new store at `synchronous=level`."""
    now = datetime.now(UTC)
    store = open_store(f"sqlite:///{folder}/{level}-{time.monotonic_ns()}.db?synchronous={level}")
    try:
        service = OrderService(store, app_key=KEY, app_secret=SECRET, clock=lambda: now)
        bodies = [_webhook(number, now) for number in range(count)]
        signed = [
            (body, {"Authorization": webhook_signature(body, KEY, SECRET)}) for body in bodies
        ]
        start = time.perf_counter()
        for body, headers in signed:
            service.accept_webhook(body, headers)
        return count / (time.perf_counter() - start)
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.durability")
    parser.add_argument("--quick", action="store_true", help="a short run (200 webhooks)")
    args = parser.parse_args(argv)
    count, rounds = (200, 1) if args.quick else (2000, 3)
    rates: dict[str, list[float]] = {"NORMAL": [], "FULL": []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(rounds):
            for level in rates:
                rates[level].append(keep_rate(Path(folder), level, count))
    normal, full = (statistics.median(rates[level]) for level in ("NORMAL", "FULL"))
    print(f"webhooks kept per second, {count} per round, {rounds} round(s)")
    for level, values in rates.items():
        shown = ", ".join(f"{value:.0f}" for value in values)
        print(f"    synchronous={level:<7} median {statistics.median(values):7.0f}  ({shown})")
    print(f"    FULL / NORMAL                {full / normal:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
