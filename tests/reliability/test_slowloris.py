"""A slow-loris does not hold the endpoint: valid webhooks are answered 200 throughout.

`order-lifecycle serve` runs under uvicorn on a free port of 127.0.0.1 with
short header and body timeouts. Three hundred connections attack it: a third
connect and send nothing, a third send their headers a byte at a time, a
third send complete headers and then stall in the body. Meanwhile signed
webhooks are posted one after the other: each is answered 200 and kept. Then
every attacking connection is closed by the server (the header timeout's or
the body timeout's 408), none by the client. The latency figures are
informational; nothing asserts on time but the bounded waits.
"""

from __future__ import annotations

import contextlib
import socket
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from adapters.store import open_store
from tests.reliability._procs import Processes
from tests.reliability.conftest import SEED
from tests.reliability.workload import interleaved, plan_orders

ATTACKERS = 300
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
#: Generous: a bounded wait for the server to close what it must, never a timing claim.
CLOSE_WAIT = 60.0
TRICKLE = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=CLOSE_WAIT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _closed_by_server(sock: socket.socket) -> bytes | None:
    """What the server sent before it closed, or `None` if it kept the connection open."""
    sock.settimeout(0.05)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        return None
    except OSError:
        return received
    return received


def test_a_slow_loris_of_300_connections_does_not_stop_valid_webhooks(
    database: Callable[[str], str],
    processes: Processes,
    figures: Callable[..., None],
) -> None:
    url = database("sqlite")
    _, endpoint = processes.serve(
        url,
        "--header-timeout",
        str(HEADER_TIMEOUT),
        "--body-timeout",
        str(BODY_TIMEOUT),
    )
    port = int(endpoint.rsplit(":", 1)[1].rstrip("/"))
    idle = [_connect(port) for _ in range(ATTACKERS // 3)]
    trickling = [_connect(port) for _ in range(ATTACKERS // 3)]
    stalled = [_connect(port) for _ in range(ATTACKERS - 2 * (ATTACKERS // 3))]
    for sock in stalled:
        sock.sendall(TRICKLE + b"Content-Length: 500\r\n\r\n{")
    stop = threading.Event()

    def trickle() -> None:
        for index in range(len(TRICKLE)):
            if stop.is_set():
                return
            for sock in trickling:
                # OSError: closed by the server's header timeout, which is what should happen
                with contextlib.suppress(OSError):
                    sock.send(TRICKLE[index : index + 1])
            stop.wait(0.05)

    attacker = threading.Thread(target=trickle, daemon=True)
    attacker.start()
    webhooks = list(interleaved(plan_orders(20, SEED + 40, datetime.now(UTC), prefix="L"), SEED))
    latencies: list[float] = []
    answers: list[int] = []
    try:
        with httpx.Client(timeout=30) as client:
            for webhook in webhooks:
                started = time.perf_counter()
                response = client.post(endpoint, content=webhook.body, headers=webhook.headers)
                latencies.append(time.perf_counter() - started)
                answers.append(response.status_code)
        closed: dict[int, bytes] = {}
        attack = [*idle, *trickling, *stalled]
        deadline = time.monotonic() + CLOSE_WAIT
        while len(closed) < len(attack) and time.monotonic() < deadline:
            for number, sock in enumerate(attack):
                if number not in closed and (answer := _closed_by_server(sock)) is not None:
                    closed[number] = answer
    finally:
        stop.set()
        attacker.join(timeout=10)
        for sock in [*idle, *trickling, *stalled]:
            sock.close()
    assert answers == [200] * len(webhooks)
    store = open_store(url)
    try:
        kept = len(store.inbox())
    finally:
        store.close()
    assert kept == len(webhooks)
    assert len(closed) == ATTACKERS, "every attacking connection is closed by the server"
    timeouts = sum(answer.startswith(b"HTTP/1.1 408") for answer in closed.values())
    assert timeouts == ATTACKERS, "each gets the header or body timeout's 408"
    ordered = sorted(latencies)
    figures(
        **{
            "attacking connections": f"{ATTACKERS} (idle / byte a time / stalled body)",
            "header / body timeout": f"{HEADER_TIMEOUT:g} s / {BODY_TIMEOUT:g} s",
            "valid webhooks answered 200 (kept)": f"{answers.count(200)} of {len(webhooks)}"
            f" ({kept})",
            "latency median / p99 / max (info)": f"{statistics.median(ordered) * 1000:.1f} /"
            f" {ordered[int(len(ordered) * 0.99) - 1] * 1000:.1f} / {ordered[-1] * 1000:.1f} ms",
            "attackers closed by the server (408)": f"{len(closed)} ({timeouts})",
        }
    )
