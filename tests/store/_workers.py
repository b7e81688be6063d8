"""Worker processes for the concurrency and crash tests (run with `python -m`).

python -m tests.store._workers ship URL WORKER WORKERS ORDERS LINES
    ship lines WORKER, WORKER+WORKERS, ... of every order, one command each
python -m tests.store._workers dispatch URL SANDBOX_URL NOW_ISO KILL_AFTER
    dispatch the outbox; with KILL_AFTER > 0, SIGKILL itself right after that
    many ApproveTikTokCancellation calls went through, before marking them done
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta

import httpx

from adapters.sandbox.local_partners import sandbox_settings
from adapters.service import Dispatcher, EffectContext, Executor, OrderService
from adapters.store import open_store
from adapters.wiring import build_executors
from lifecycle import Command, Effect, Initiator

T_SHIP = datetime.fromisoformat("2026-11-20T12:00:00+00:00")


def ship(url: str, worker: int, workers: int, orders: int, lines: int) -> None:
    store = open_store(url)
    service = OrderService(store)
    applied = 0
    for line in range(worker, lines, workers):
        for number in range(orders):
            command = Command(
                f"O{number}",
                "ship",
                Initiator.SELLER,
                T_SHIP + timedelta(minutes=line),
                params={
                    "line_item_ids": (f"L{line + 1}",),
                    "tracking_number": f"T{line}",
                    "shipping_provider_name": "UPS",
                },
            )
            applied += service.command(command).outcome == "applied"
    store.close()
    print(applied)


def dispatch(url: str, sandbox: str, now: str, kill_after: int) -> None:
    store = open_store(url)
    moment = datetime.fromisoformat(now)
    approvals = 0
    with httpx.Client(timeout=10) as http:
        executors = build_executors(sandbox_settings(sandbox), http)
        approve = executors["ApproveTikTokCancellation"]

        def approve_then_maybe_die(
            effect: Effect, context: EffectContext
        ) -> Mapping[str, str] | None:
            nonlocal approvals
            result = approve(effect, context)
            approvals += 1
            if kill_after and approvals == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        wired: dict[str, Executor] = {
            **executors,
            "ApproveTikTokCancellation": approve_then_maybe_die,
        }
        report = Dispatcher(store, wired, clock=lambda: moment, batch_size=100).drain()
    store.close()
    print(report.done, report.dead)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "ship":
        ship(args[0], *map(int, args[1:]))
    else:
        dispatch(args[0], args[1], args[2], int(args[3]))
