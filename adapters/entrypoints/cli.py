"""`order-lifecycle`: the command-line tool (also `python -m adapters`).

Commands: `replay`, `allowed`, `history`, `show`, `changes`, `status`, `dead`,
`serve`, `work`, `sync`, `dispatch`, `tick`, `diagram`, `sandbox` and `demo`;
see docs/cli.md. Every command that reads or writes orders takes `--db URL`
(`sqlite:///path.db`, `sqlite:///:memory:`, `postgresql://...`); the default
is `sqlite:///order-lifecycle.db` in the working directory, or
`$ORDER_LIFECYCLE_DB`. Commands that only read (`allowed`, `history`, `show`,
`changes`, `status`, `dead`) never create a store: a missing one is an error naming
where it was looked for. Every command that applies the lifecycle takes
`--config FILE` (default `$ORDER_LIFECYCLE_CONFIG`), whose `[policy]` table
sets the `Policy` (`adapters.settings`). Errors are printed as one line naming
what was wrong, with exit status 2 (1 when the command ran but found a
problem, such as dead letters or rejected replay inputs).

This module parses arguments and runs the commands; the partners file is
loaded by `adapters.settings`, and what the commands print about stored
orders is formatted by `adapters.entrypoints._reports`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import attrs
import httpx
import stamina

from adapters.entrypoints._reports import (
    DEAD_KINDS,
    REPLAY_SHOWN_REJECTIONS,
    STATUS_BREACHED,
    STATUS_THRESHOLDS,
    change_document,
    change_text,
    dead_document,
    dead_text,
    order_document,
    order_documents,
    rejected_inputs,
    replay_summary,
    show_text,
    status_document,
    status_text,
)
from adapters.entrypoints._server import ServerLimits
from adapters.entrypoints._workers import run_workers
from adapters.errors import (
    AdapterError,
    BadTime,
    CliError,
    GraphvizMissing,
    StoreNotFound,
)
from adapters.http import log_retry
from adapters.partners.tiktok_shop import DEFAULT_VOCABULARY, TikTokVocabulary
from adapters.service import (
    Backoff,
    Dispatcher,
    LineResult,
    LogFormat,
    Metrics,
    OrderService,
    Reader,
    ReadReport,
    ReplayPart,
    ReplayReport,
    Result,
    Syncer,
    Telemetry,
    replay,
    serve_metrics,
)
from adapters.settings import (
    CONFIG_ENV,
    check_reporting,
    choose_policy,
    load_partners,
)
from adapters.store import (
    DEFAULT_URL,
    OutboxStatus,
    ReadStatus,
    Shard,
    Store,
    open_store,
)
from adapters.wiring import (
    PartnerSettings,
    TikTokShopPartner,
    build_executors,
    http_limits,
    tiktok_clients,
)
from lifecycle import (
    EVENTS,
    TABLE,
    Initiator,
    LifecycleError,
    OrderLifecycle,
    Policy,
    allowed_events,
    dot_diagram,
    mermaid_diagram,
)

__all__ = ["BadTime", "CliError", "GraphvizMissing", "diagram", "main"]

DB_ENV = "ORDER_LIFECYCLE_DB"
#: Orders a replay keeps parsed between inputs (checked against the stored version).
REPLAY_ORDER_CACHE = 10_000
#: The limits `serve` puts on each client by default (flags change them).
_SERVER_LIMITS = ServerLimits()
#: Where `serve` reads the TikTok app's credentials (never from the command line,
#: where every user of the machine could read them).
APP_KEY_ENV = "TIKTOK_APP_KEY"
APP_SECRET_ENV = "TIKTOK_APP_SECRET"


#: The help of every `--now`.
NOW_HELP = (
    "the moment to act at, an ISO-8601 time with a zone"
    " (2026-11-20T09:30:00Z, 2026-11-20T10:30:00+01:00); default: the clock"
)


def _now() -> datetime:
    return datetime.now(UTC)


def _moment(value: str | None, option: str = "--now") -> datetime:
    """The time a `--now` option names, or the clock's when it is not given."""
    if value is None:
        return _now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadTime(option, value, "is not an ISO-8601 time") from None
    if moment.utcoffset() is None:
        raise BadTime(option, value, "has no zone")
    return moment


def _non_negative(value: str) -> float:
    """A threshold: a number of seconds or a count, zero or more."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"{value!r} is below zero")
    return number


def _policy(args: argparse.Namespace) -> Policy:
    """The policy from `--config` (or `$ORDER_LIFECYCLE_CONFIG`) and `--partners`, if any."""
    return choose_policy(args.config, getattr(args, "partners", None))


@contextmanager
def _opened(url: str | None, *, create: bool = True) -> Iterator[Store]:
    """The store `--db` names; `create=False` for commands that only read it."""
    try:
        store = open_store(url or os.environ.get(DB_ENV) or DEFAULT_URL, create=create)
    except StoreNotFound as error:
        raise StoreNotFound(
            error.where,
            f"{error.reason}; this command only reads a store, it creates none:"
            " make one with `order-lifecycle replay`, or name another with --db",
        ) from None
    try:
        yield store
    finally:
        store.close()


# --------------------------------------------------------------------------- replay


class _Progress:
    """A one-line progress bar with rate and time left, on a terminal; nothing otherwise.

    Redrawn at most every `interval` seconds of `clock` (and at the last
    line), so a fast replay does not spend its time writing to the terminal.
    The rate is the average since the start, which keeps the estimate steady.
    """

    def __init__(
        self,
        total: int,
        stream: TextIO,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = 0.1,
        columns: int | None = None,
    ) -> None:
        self.total = max(total, 1)
        self.stream = stream
        self.enabled = stream.isatty()
        self.clock = clock
        self.interval = interval
        columns = columns or (_columns(stream) if self.enabled else 80)
        # Fixed, so the bar does not jump as the counts and the rate grow.
        self.width = max(10, min(40, columns - 2 * len(str(self.total)) - 40))
        self.started: float | None = None  # the first line, not the store's opening
        self.done = 0
        self._drawn_at: float | None = None

    def __call__(self, done: int) -> None:
        self.done = done
        if not self.enabled:
            return
        now = self.clock()
        if self.started is None:
            self.started = now
        if (
            self._drawn_at is not None
            and now - self._drawn_at < self.interval
            and done != self.total
        ):
            return
        self._draw(now)

    def note(self, text: str) -> None:
        """Write a line of its own (a skipped line's message) above the bar."""
        if self.enabled and self._drawn_at is not None:
            self.stream.write("\r\x1b[K" + text)
            self._draw(self.clock())
        else:
            self.stream.write(text)

    def close(self) -> None:
        if self.enabled:
            self._draw(self.clock(), finished=True)
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, now: float, *, finished: bool = False) -> None:
        self._drawn_at = now
        elapsed = now - (now if self.started is None else self.started)
        rate = self.done / elapsed if elapsed > 0 else 0.0
        if finished:
            tail = f"{rate:,.0f} lines/s, took {_duration(elapsed)}"
        else:
            left = (self.total - self.done) / rate if rate else None
            tail = f"{rate:,.0f} lines/s, {_duration(left)} left"
        filled = self.width * min(self.done, self.total) // self.total
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} {tail}\x1b[K")
        self.stream.flush()


def _columns(stream: TextIO) -> int:
    """The width of the terminal `stream` writes to (stdout may be redirected meanwhile)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        return shutil.get_terminal_size().columns


def _duration(seconds: float | None) -> str:
    """`1:02:03`, `2:03`, or `?:??` before there is a rate to estimate from."""
    if seconds is None:
        return "?:??"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


#: The keys of an order as `replay --json` prints it; `show --json` adds `lines`.
def _replay(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.workers != 1:
        return _replay_workers(args, out, err)
    policy = _policy(args)
    path = Path(args.file)
    try:
        with path.open(encoding="utf-8", errors="surrogateescape") as counting:
            total = sum(1 for _ in counting) if err.isatty() else 0
        source = path.open(encoding="utf-8", errors="surrogateescape")
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None

    bad_lines = 0
    progress = _Progress(total, err)

    def skipped(line: LineResult) -> None:
        # With --json this is the only record of a bad line; otherwise the summary lists it.
        nonlocal bad_lines
        bad_lines += 1
        if args.json or bad_lines <= REPLAY_SHOWN_REJECTIONS:
            progress.note(f"line {line.line}: {line.error_type}: {line.reason} (skipped)\n")
        elif bad_lines == REPLAY_SHOWN_REJECTIONS + 1:
            progress.note(
                "... more bad lines are skipped (the summary counts them; --json for all)\n"
            )

    with source, _opened(args.db) as store:
        service = OrderService(store, policy, shop_id=args.shop_id, order_cache=REPLAY_ORDER_CACHE)
        report = replay(
            service, source, progress=progress, on_bad_line=skipped, batch_size=args.batch
        )
        progress.close()
        return _replayed(args, store, report, out, err)


def _replayed(
    args: argparse.Namespace, store: Store, report: ReplayReport, out: TextIO, err: TextIO
) -> int:
    """What `replay` prints once the inputs are in: the orders, or the summary."""
    if args.json:
        for document in order_documents(store, report):
            out.write(json.dumps(document, sort_keys=False) + "\n")
    else:
        replay_summary(store, report, out)
    rejected = report.rejected()
    if rejected and args.json:
        err.write(f"order-lifecycle replay: {rejected_inputs(rejected)} (exit status 1)\n")
    return 1 if rejected else 0


def _workers(value: str) -> int:
    """`--workers N`: a count of processes, 1 or more."""
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: at least one worker")
    return count


def _shared_store(args: argparse.Namespace) -> None:
    """Refuse `--workers N` on a store the workers could not share (SQLite in memory)."""
    url = args.db or os.environ.get(DB_ENV) or DEFAULT_URL
    if url.startswith("sqlite://") and ":memory:" in url:
        raise CliError(
            "--workers N shares one store between processes: a SQLite file or PostgreSQL,"
            " not sqlite:///:memory:"
        )


def _replay_workers(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`replay --workers N`: N processes read the file, each applies its orders' lines."""
    _shared_store(args)
    path = Path(args.file)
    try:
        with path.open(encoding="utf-8", errors="surrogateescape") as counting:
            total = sum(1 for _ in counting) if err.isatty() else 0
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None
    _policy(args)  # a bad --config is one error here, not one per worker
    with _opened(args.db) as store, tempfile.TemporaryDirectory() as folder:
        # Created and migrated once, here, before the workers open it.
        done = run_workers(args.workers, _replay_worker, (args, folder, total))
        parts = [part for part in done if part is not None]
        if len(parts) < len(done):
            raise CliError(
                "stopped before every worker finished: replay the file again to finish"
                " (what was kept is recognised as duplicates)"
            )
        report = ReplayReport.merged([part for part, _ in parts])
        bad = sorted((line for _, lines in parts for line in lines), key=lambda bad: bad[0])
        for count, (number, error_type, reason) in enumerate(bad, start=1):
            if args.json or count <= REPLAY_SHOWN_REJECTIONS:
                err.write(f"line {number}: {error_type}: {reason} (skipped)\n")
            elif count == REPLAY_SHOWN_REJECTIONS + 1:
                err.write(
                    "... more bad lines are skipped (the summary counts them; --json for all)\n"
                )
        return _replayed(args, store, report, out, err)


def _replay_worker(
    shard: Shard, args: argparse.Namespace, folder: str, total: int
) -> tuple[ReplayPart, list[tuple[int, str, str]]]:
    """One worker of `replay --workers N` (in a process of its own): its shard's lines.

    Shard 0 draws the progress bar (it reads every line, as they all do).
    """
    bad: list[tuple[int, str, str]] = []
    progress = _Progress(total, sys.stderr) if total and shard.index == 0 else None

    def skipped(line: LineResult) -> None:
        bad.append((line.line, line.error_type, line.reason))

    with (
        Path(args.file).open(encoding="utf-8", errors="surrogateescape") as source,
        _opened(args.db) as store,
    ):
        service = OrderService(
            store,
            _policy(args),
            shop_id=args.shop_id,
            order_cache=REPLAY_ORDER_CACHE,
            shard=shard,
        )
        report = replay(
            service, source, progress=progress, on_bad_line=skipped, batch_size=args.batch
        )
    if progress is not None:
        progress.close()
    return report.part(str(Path(folder) / f"touched-{shard.index}.db")), bad


# --------------------------------------------------------------------------- orders


def _allowed(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    now = _moment(args.now)
    policy = _policy(args)
    with _opened(args.db, create=False) as store:
        order = store.load(args.order_id)
    if order is None:
        raise CliError(f"order {args.order_id} is not in the store")
    lifecycle = OrderLifecycle(order, policy)
    who = [Initiator(args.initiator)] if args.initiator else list(Initiator)
    out.write(f"order {order.order_id} is {order.status} (version {order.version})\n")
    for initiator in who:
        allowed = allowed_events(order, initiator, now=now, policy=policy)
        out.write(f"{initiator.lower():<9}may {', '.join(allowed) or 'nothing'}\n")
        for event in EVENTS if args.initiator else ():
            if event in allowed or (order.status, event) not in TABLE:
                continue
            decision = lifecycle.check(event, initiator=initiator, now=now)
            if not decision.allowed:
                out.write(f"{'':<9}not {event}: {decision.reason}\n")
    return 0


def _history(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with _opened(args.db, create=False) as store:
        order = store.load(args.order_id)
        if order is None:
            raise CliError(f"order {args.order_id} is not in the store")
        transitions = store.history(args.order_id)
        refs = store.refs(args.order_id)
        outbox = store.outbox(args.order_id)
    out.write(f"order {order.order_id}: {order.status}, version {order.version}\n")
    for t in transitions:
        reason = f"  ({t.reason})" if t.reason else ""
        out.write(
            f"{t.version:>3}  {t.at:%Y-%m-%d %H:%M}  {t.event:<22}{t.source} -> {t.target}"
            f"  by {t.initiator} via {t.origin}{reason}\n"
        )
    if outbox:
        out.write("effects:\n")
        for entry in outbox:
            error = f"  {entry.last_error}" if entry.last_error else ""
            out.write(
                f"{entry.version:>3}  {entry.kind:<28}{entry.status:<10}"
                f" attempts {entry.attempts}{error}\n"
            )
    for system, ref in sorted(refs.items()):
        out.write(f"{system}: {ref}\n")
    return 0


def _tick(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    now = _moment(args.now)
    policy = _policy(args)
    _log_to(err, json=args.log_json)
    with _telemetry(args, out) as telemetry, _opened(args.db) as store:
        results = OrderService(store, policy, telemetry=telemetry).tick(now)
        telemetry.measure_backlog(store, _now())
    for result in results:
        if result.error_type:  # a --now too far before the order's last change
            out.write(f"{result.order_id}: {result.outcome.value} ({result.error_type}):")
            out.write(f" {result.reason}\n")
            continue
        kinds = ", ".join(effect.kind for effect in result.effects) or "no effects"
        out.write(f"{result.order_id}: version {result.version}: {kinds}\n")
    out.write(f"{len(results)} orders had timers due at {now.isoformat()}\n")
    return 0


# --------------------------------------------------------------------------- dispatch


def _partners(args: argparse.Namespace, *, required: bool = True) -> PartnerSettings | None:
    """The partners `--partners FILE.json` or `--sandbox URL` name."""
    if args.sandbox:
        from adapters.sandbox.local_partners import sandbox_settings

        return sandbox_settings(args.sandbox)
    if args.partners:
        return load_partners(Path(args.partners))
    if not required:
        return None
    raise CliError(
        "say where the partners are: --partners FILE.json, or --sandbox URL for the"
        " local fakes (order-lifecycle sandbox)"
    )


def _vocabulary(partners: PartnerSettings | None) -> TikTokVocabulary:
    """Which TikTok strings mean what, from the TikTok Shop partner settings (or the default)."""
    if partners is None or partners.tiktok_shop is None:
        return DEFAULT_VOCABULARY
    return partners.tiktok_shop.settings.vocabulary


def _tiktok(partners: PartnerSettings, command: str) -> TikTokShopPartner:
    if partners.tiktok_shop is None:
        raise CliError(f"{command} reads TikTok Shop: the partners file has no tiktok_shop")
    return partners.tiktok_shop


#: `dispatch --concurrency`'s default: enough calls in flight to hide a partner's
#: round trip, few enough for one client's connection pool per partner
DISPATCH_CONCURRENCY = 8


def _concurrency(value: str) -> int:
    """`--concurrency`: a whole number of calls, one or more."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return int(value)


def _dispatch(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    partners = _partners(args)
    assert partners is not None
    # Dispatch applies no lifecycle; it refuses a policy whose reports it cannot deliver.
    check_reporting(_policy(args), partners)
    with (
        _retries_logged_to(err, json=args.log_json),
        _telemetry(args, out) as telemetry,
        _opened(args.db) as store,
        httpx.Client(
            timeout=args.http_timeout, limits=http_limits(partners, args.concurrency)
        ) as http,
    ):
        secrets = list(partners.secrets())
        dispatcher = Dispatcher(
            store,
            build_executors(partners, http, store=store, register_secret=secrets.append),
            secrets=secrets,
            max_attempts=args.max_attempts,
            backoff=Backoff(initial=timedelta(seconds=args.retry_after)),
            lease=timedelta(seconds=args.lease),
            telemetry=telemetry,
            concurrency=args.concurrency,
        )
        if args.redrive:
            out.write(f"{dispatcher.redrive()} dead letters back to pending\n")
        stop = _stop_after(args.seconds)
        total = dispatcher.drain()
        telemetry.measure_backlog(store, _now())
        while not args.once and not stop.wait(args.interval):
            total = total + dispatcher.drain()
            telemetry.measure_backlog(store, _now())
        dead = len(store.outbox(status=OutboxStatus.DEAD))
    out.write(
        f"delivered {total.done}, retrying {total.retried}, dead letters {total.dead}"
        f" (dead letters in the store: {dead})\n"
    )
    return 1 if total.dead else 0


@contextmanager
def _retries_logged_to(err: TextIO, *, json: bool = False) -> Iterator[None]:
    """Each retry inside a partner call as one readable line on `err`, not stamina's own
    (with the other log lines of `adapters`; one JSON object each with `json`).

    stamina's hooks and the logger are global: both are put back on the way out.
    """
    handler = logging.StreamHandler(err)
    handler.setFormatter(
        LogFormat(json=True) if json else logging.Formatter("%(asctime)s %(name)s %(message)s")
    )
    logger = logging.getLogger("adapters")
    level, hooks = logger.level, stamina.instrumentation.get_on_retry_hooks()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    stamina.instrumentation.set_on_retry_hooks([log_retry])
    try:
        yield
    finally:
        stamina.instrumentation.set_on_retry_hooks(hooks)
        logger.removeHandler(handler)
        logger.setLevel(level)


def _stop_after(seconds: float | None) -> threading.Event:
    """An event that is set after `seconds` (never, for `None`)."""
    stop = threading.Event()
    if seconds is not None:
        timer = threading.Timer(seconds, stop.set)
        timer.daemon = True
        timer.start()
    return stop


# --------------------------------------------------------------------------- serve, work


def _log_to(err: TextIO, *, json: bool = False) -> None:
    """The `adapters` log lines on `err`: text, or one JSON object each (`--log-json`).

    The handler a previous command of this process installed is replaced, not added to.
    """
    logger = logging.getLogger("adapters")
    for old in [h for h in logger.handlers if getattr(h, "order_lifecycle_cli", False)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(err)
    handler.setFormatter(LogFormat(json=json))
    handler.order_lifecycle_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


@contextmanager
def _telemetry(args: argparse.Namespace, out: TextIO) -> Iterator[Telemetry]:
    """A long-running command's telemetry: a log line per input and effect, and with
    `--metrics-port` its metrics served over HTTP (the address printed) while it runs."""
    if args.metrics_port is None:
        yield Telemetry(log=True)
        return
    metrics = Metrics()
    with contextlib.ExitStack() as stack:
        try:
            port = stack.enter_context(serve_metrics(metrics, args.metrics_host, args.metrics_port))
        except OSError as error:
            raise CliError(
                f"cannot serve metrics on {args.metrics_host}:{args.metrics_port}:"
                f" {error.strerror or error}"
            ) from None
        out.write(f"metrics on http://{args.metrics_host}:{port}/metrics\n")
        out.flush()
        yield Telemetry(metrics, log=True)


def _serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        import uvicorn
    except ImportError:
        raise CliError(
            "serve needs uvicorn, which the serve extra installs: from the repository"
            " checkout, python -m pip install -e '.[serve]'"
        ) from None
    from adapters.entrypoints.webhook_app import WebhookApp

    key, secret = os.environ.get(APP_KEY_ENV), os.environ.get(APP_SECRET_ENV)
    if not key or not secret:
        raise CliError(
            f"serve checks TikTok's signatures: set ${APP_KEY_ENV} and ${APP_SECRET_ENV}"
        )
    policy = _policy(args)
    _log_to(err, json=args.log_json)
    with _telemetry(args, out) as telemetry, _opened(args.db) as store:
        service = OrderService(store, policy, app_key=key, app_secret=secret, telemetry=telemetry)
        limits = ServerLimits(
            limit_concurrency=args.limit_concurrency,
            timeout_keep_alive=args.timeout_keep_alive,
            header_timeout=args.header_timeout,
            body_timeout=args.body_timeout,
            max_header_bytes=args.max_header_bytes,
            backlog=args.backlog,
        )
        app = WebhookApp(
            service,
            max_body=args.max_body,
            process_inline=args.inline,
            body_timeout=limits.body_timeout,
        )
        sock = listening_socket(args.host, args.port, limits.backlog)
        host, port = sock.getsockname()[:2]
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level="warning",
                access_log=False,
                lifespan="on",
                **limits.uvicorn_config(),
            )
        )
        if args.seconds is not None:
            timer = threading.Timer(args.seconds, lambda: setattr(server, "should_exit", True))
            timer.daemon = True
            timer.start()
        out.write(f"webhook endpoint listening on http://{host}:{port}\n")
        out.flush()
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
    out.write("webhook endpoint stopped\n")
    return 0


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """The endpoint's socket, bound and listening before uvicorn runs on it.

    Bound here, not by uvicorn, so that `--port 0` can say which port it got;
    listening before "listening on" is printed, so a client that reads the line
    and connects at once is queued until uvicorn accepts, never refused. It is
    made with `IPPROTO_TCP` named: asyncio turns Nagle's algorithm off
    (`TCP_NODELAY`) only on sockets whose protocol says TCP, and without it each
    answer, written as headers then body, waited about 40 ms for the client's
    delayed acknowledgement.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as error:
        sock.close()
        raise CliError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    return sock


def _work(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.workers != 1:
        return _work_workers(args, out, err)
    _log_to(err, json=args.log_json)
    outcomes, reads, reader, left = _work_loop(args, out, None)
    return _worked(left, outcomes, reads, reader, out)


def _work_workers(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`work --workers N`: N processes over one inbox, each applying its orders' inputs."""
    _shared_store(args)
    _policy(args)  # a bad --config or partners file is one error here, not one per worker
    partners = _partners(args, required=False)
    with _opened(args.db) as store:  # created and migrated once, before the workers open it
        if args.redrive:
            out.write(f"{store.redrive_inputs()} dead inputs back to pending\n")
            if partners is not None:
                out.write(f"{store.redrive_reads(_now())} dead reads back to pending\n")
    args.redrive = False

    def started(pids: list[int]) -> None:
        out.write(f"{len(pids)} workers, by order id: pids {' '.join(map(str, pids))}\n")
        out.flush()

    parts = run_workers(args.workers, _work_worker, (args,), on_start=started)
    outcomes: Counter[str] = Counter()
    reads = ReadReport()
    for part in parts:
        if part is None:
            continue  # stopped before it finished a batch: its inputs stay pending
        counts, read = part
        outcomes.update(counts)
        reads = reads + read
    with _opened(args.db) as store:
        left = _left(store)
    return _worked(left, outcomes, reads, partners is not None, out)


def _work_worker(shard: Shard, args: argparse.Namespace) -> tuple[dict[str, int], ReadReport]:
    """One worker of `work --workers N` (a process of its own): its orders' inputs.

    It logs to its own stderr and, with `--metrics-port P`, serves its
    metrics on port P + its index (any free port for 0). SIGTERM stops it
    after the batch in hand.
    """
    _log_to(sys.stderr, json=args.log_json)
    if args.metrics_port:
        args.metrics_port += shard.index
    outcomes, reads, _, _ = _work_loop(args, sys.stdout, shard)
    return dict(outcomes), attrs.evolve(reads, results=())


def _work_loop(
    args: argparse.Namespace, out: TextIO, shard: Shard | None
) -> tuple[Counter[str], ReadReport, bool, tuple[int, int, int]]:
    """`work`'s loop: apply pending inputs (of `shard`'s orders) and carry out reads.

    The outcomes counted, the reads' report, whether a reader ran, and what
    is left in the store at the end (`_left`).
    """
    outcomes: Counter[str] = Counter()
    policy = _policy(args)
    reads = ReadReport()
    partners = _partners(args, required=False)
    with (
        _telemetry(args, out) as telemetry,
        _opened(args.db) as store,
        httpx.Client(timeout=args.http_timeout) as http,
    ):
        reader = None
        secrets: list[str] = []
        if partners is not None:
            secrets += partners.secrets()
            client_for = tiktok_clients(
                _tiktok(partners, "work"),
                http,
                partners.retry,
                store=store,
                register_secret=secrets.append,
            )
        service = OrderService(
            store,
            policy,
            reads=partners is not None,
            telemetry=telemetry,
            vocabulary=_vocabulary(partners),
            shard=shard,
        )
        if args.redrive:
            out.write(f"{store.redrive_inputs()} dead inputs back to pending\n")
        if partners is not None:
            reader = Reader(
                service,
                client_for,
                lease=timedelta(seconds=args.lease),
                secrets=tuple(secrets),
            )
            if args.redrive:
                out.write(f"{reader.redrive()} dead reads back to pending\n")
            if shard is None or shard.index == 0:
                reader.sweep()
        stop = _stop_after(args.seconds)
        # A worker of several stops on SIGTERM after its batch (one alone: as before).
        with _stop_on_sigterm(stop) if shard is not None else contextlib.nullcontext():
            while not stop.is_set():
                results = service.process_pending(args.batch)
                for result in _with_resumed(results):
                    outcomes[result.outcome.value] += 1
                batch = reader.run_once() if reader is not None else ReadReport()
                reads = reads + batch
                for result in _with_resumed(batch.results):
                    outcomes[result.outcome.value] += 1
                telemetry.measure_backlog(store, _now())
                if not results and not batch.claimed and (args.once or stop.wait(args.interval)):
                    break
        left = _left(store)
    return outcomes, reads, reader is not None, left


def _left(store: Store) -> tuple[int, int, int]:
    """The inputs waiting, the dead inputs and the dead reads in the store."""
    return len(store.waiting()), len(store.parked()), len(store.reads(ReadStatus.DEAD))


def _worked(
    left: tuple[int, int, int],
    outcomes: Counter[str],
    reads: ReadReport,
    reader: bool,
    out: TextIO,
) -> int:
    """`work`'s summary: what was processed, the reads, and what waits or is dead."""
    waiting, dead_inputs, dead_reads = left
    done = ", ".join(f"{count} {name}" for name, count in sorted(outcomes.items()))
    out.write(f"processed {sum(outcomes.values())} inputs{': ' + done if done else ''}\n")
    if reader:
        out.write(
            f"reads: {reads.done} done in {reads.calls} calls, {reads.retried} retrying,"
            f" {reads.dead} dead (dead reads in the store: {dead_reads})\n"
        )
    out.write(f"inputs waiting: {waiting}\n")
    if dead_inputs:
        out.write(f"dead inputs in the store: {dead_inputs} (work --redrive puts them back)\n")
    return 0


def _with_resumed(results: Sequence[Result]) -> Iterator[Result]:
    """Each result, then the results of the inputs that waited for it."""
    for result in results:
        yield result
        yield from _with_resumed(result.resumed)


def _sync(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    _log_to(err, json=args.log_json)
    partners = _partners(args)
    assert partners is not None
    tiktok = _tiktok(partners, "sync")
    since = None if args.since is None else _moment(args.since, "--since")
    with (
        _telemetry(args, out) as telemetry,
        _opened(args.db) as store,
        httpx.Client(timeout=args.http_timeout) as http,
    ):
        secrets = list(partners.secrets())
        client_for = tiktok_clients(
            tiktok, http, partners.retry, store=store, register_secret=secrets.append
        )
        service = OrderService(
            store,
            _policy(args),
            reads=True,
            telemetry=telemetry,
            vocabulary=tiktok.settings.vocabulary,
        )
        syncer = Syncer(service, client_for, shops=tiktok.shop_ids() or ("",))
        stop = _stop_after(args.seconds)
        while True:
            report = syncer.run_once(since)
            since = None
            out.write(
                f"sync of {report.shops} shop(s) from {_iso(report.since)} to"
                f" {_iso(report.until)}: {report.seen} orders seen, {report.changed} changed,"
                f" {report.seeded} unknown (seeded); {report.cancellations} cancellations,"
                f" {report.returns} returns\n"
            )
            out.flush()
            if args.interval is None or stop.wait(args.interval):
                break
    return 0


def _iso(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(timespec="seconds")


def _show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with _opened(args.db, create=False) as store:
        document = order_document(store, args.order_id)
    if document["status"] is None and not document["waiting"] and not document["rejected"]:
        raise CliError(f"order {args.order_id} is not in the store")
    if args.json:
        out.write(json.dumps(document, sort_keys=True) + "\n")
        return 0
    out.write(show_text(document))
    return 0


# --------------------------------------------------------------------------- status, dead


def _status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    now = _moment(args.now)
    with _opened(args.db, create=False) as store:
        view = store.overview(now)
    limits = {name: getattr(args, name) for name in STATUS_THRESHOLDS}
    document = status_document(view, now, limits)
    if args.json:
        out.write(json.dumps(document, sort_keys=False) + "\n")
    else:
        out.write(status_text(document))
    return STATUS_BREACHED if document["breaches"] else 0


def _dead(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    kinds = (args.kind,) if args.kind else DEAD_KINDS
    if args.redrive is None:
        if args.all:
            raise CliError("--all re-drives every dead one: give it with --redrive")
        with _opened(args.db, create=False) as store:
            document = dead_document(store, kinds)
        out.write(json.dumps(document) + "\n" if args.json else dead_text(document))
        return 1 if any(document.values()) else 0
    ids: list[int] = args.redrive
    if ids and args.all:
        raise CliError("--redrive takes ids or --all, not both")
    if not ids and not args.all:
        raise CliError("say what to re-drive: --redrive ID [ID ...] --kind K, or --redrive --all")
    if ids and not args.kind:
        raise CliError("ids are counted per kind: say which with --kind inputs, effects or reads")
    with _opened(args.db, create=False) as store:
        if ids:
            listed = dead_document(store, kinds)[args.kind]
            unknown = sorted(set(ids) - {entry["id"] for entry in listed})
            if unknown:
                raise CliError(
                    f"no dead {args.kind} with id {', '.join(map(str, unknown))}"
                    f" (order-lifecycle dead --kind {args.kind} lists them); nothing re-driven"
                )
        redriven = _redrive(store, kinds, ids or None, _now())
    if args.json:
        out.write(json.dumps({"redriven": redriven}) + "\n")
    else:
        for kind, count in redriven.items():
            out.write(f"{count} dead {kind} back to pending\n")
        left = len(set(ids)) - sum(redriven.values())
        if ids and left > 0:
            # A dead read whose target already has a pending job stays dead: that job reads it.
            out.write(f"{left} stayed dead: a pending job already does the same work\n")
    return 0


def _redrive(
    store: Store, kinds: Sequence[str], ids: Sequence[int] | None, now: datetime
) -> dict[str, int]:
    """Put the dead of `kinds` (all, or these ids) back; how many of each."""
    done = {}
    if "inputs" in kinds:
        done["inputs"] = store.redrive_inputs(ids)
    if "effects" in kinds:
        done["effects"] = store.redrive(now, ids)
    if "reads" in kinds:
        done["reads"] = store.redrive_reads(now, ids)
    return done


# --------------------------------------------------------------------------- diagram


def diagram(fmt: str = "mermaid") -> str:
    """The lifecycle as a state diagram, drawn from the machine by `lifecycle.mermaid_diagram`."""
    if fmt == "mermaid":
        return mermaid_diagram() + "\n"
    if fmt not in ("dot", "svg"):
        raise CliError(f"unknown diagram format {fmt!r}; use mermaid, dot or svg")
    text = dot_diagram() + "\n"
    if fmt == "dot":
        return text
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing()
    result = subprocess.run([dot, "-Tsvg"], input=text, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CliError(f"Graphviz dot failed: {result.stderr.strip()}")
    return result.stdout


def _diagram(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    out.write(diagram(args.format))
    return 0


# --------------------------------------------------------------------------- sandbox, demo


def _sandbox(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from adapters.errors import SandboxInputError
    from adapters.sandbox.local_partners import (
        SANDBOX_CREDENTIALS,
        SANDBOX_SHOP_ID,
        local_partners,
    )
    from adapters.sandbox.oms import OMS_PATH
    from adapters.sandbox.tiktok_shop import CONTROL_PATH, read_orders

    if args.announce and not args.webhook_url:
        raise CliError("--announce sends webhooks: give --webhook-url URL too")
    orders: list[dict[str, Any]] = []
    try:
        if args.orders:
            with Path(args.orders).open(encoding="utf-8") as lines:
                orders = read_orders(lines, source=args.orders)
        partners = local_partners(port=args.port, webhook_url=args.webhook_url)
    except OSError as error:
        raise CliError(f"cannot read {args.orders}: {error.strerror or error}") from None
    except SandboxInputError as error:
        raise CliError(str(error)) from None
    for order in orders:
        partners.tiktok_shop.add_order(order)
    with partners:
        out.write(f"sandbox listening on {partners.url}\n")
        out.write(
            "  TikTok Shop API and token refresh, Sync Order Information, Events API, SFCC,"
            f" and an OMS taking pushed OMS actions at {partners.url}{OMS_PATH}"
            " (signature checked)\n"
        )
        for name, value in SANDBOX_CREDENTIALS.items():
            out.write(f"  {name} = {value}\n")
        out.write(f"  tiktok_shop_id = {SANDBOX_SHOP_ID}\n")
        if args.orders:
            out.write(f"holding {len(orders)} orders from {args.orders}\n")
        if args.webhook_url:
            creds = SANDBOX_CREDENTIALS
            out.write(
                f"webhooks to {args.webhook_url}, signed with the sandbox's app key and secret;"
                f" receive them with {APP_KEY_ENV}={creds['tiktok_app_key']}"
                f" {APP_SECRET_ENV}={creds['tiktok_app_secret']} order-lifecycle serve\n"
            )
        move = CONTROL_PATH.replace("([^/]+)", "ORDER_ID")
        out.write(f'move an order as TikTok would: POST {move} {{"status": "IN_TRANSIT"}}\n')
        out.write(f"dispatch to it: order-lifecycle dispatch --sandbox {partners.url}\n")
        if args.announce:
            partners.tiktok_shop.announce()
        out.flush()
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait(args.seconds)
        calls = partners.calls()
    out.write(f"sandbox stopped after {sum(calls.values())} requests\n")
    if partners.webhooks is not None:
        sent, failed = len(partners.webhooks.delivered), len(partners.webhooks.failed)
        out.write(f"  webhooks: {sent} delivered, {failed} given up\n")
    oms = partners.oms
    out.write(
        f"  OMS actions: {len(oms.received)} received ({len(oms.applied)} distinct),"
        f" {oms.refused} refused for a bad signature\n"
    )
    return 0


def _demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from adapters.sandbox.demo import run_demo

    return run_demo(Path(args.db_file), out, err, policy=_policy(args))


# --------------------------------------------------------------------------- changes

#: Rows of the change feed read per query.
CHANGES_PAGE = 500


@contextmanager
def _stop_on_sigterm(stop: threading.Event) -> Iterator[None]:
    """SIGTERM sets `stop` (in the main thread; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda _number, _frame: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _changes(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.after < 0:
        raise CliError(f"--after is a cursor, 0 or more; got {args.after}")
    if args.interval <= 0:
        raise CliError(f"--interval must be a positive number of seconds; got {args.interval}")
    stop = _stop_after(args.seconds)
    cursor = args.after
    with _opened(args.db, create=False) as store, _stop_on_sigterm(stop):
        try:
            while not stop.is_set():
                page = store.changes(after=cursor, limit=CHANGES_PAGE)
                for change in page:
                    document = change_document(change)
                    out.write((json.dumps(document) if args.json else change_text(change)) + "\n")
                    cursor = change.cursor
                out.flush()
                if len(page) == CHANGES_PAGE:
                    continue
                if not args.follow:
                    break
                stop.wait(args.interval)
        except KeyboardInterrupt:
            pass  # Ctrl-C ends --follow cleanly: every row printed was whole
    return 0


# --------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="order-lifecycle",
        description="The TikTok Shop order lifecycle: replay inputs, inspect orders,"
        " dispatch effects, run timers, draw the machine, serve partner fakes.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[..., int], help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    def with_db(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--db",
            metavar="URL",
            help=f"database URL (default ${DB_ENV} or {DEFAULT_URL})",
        )

    def with_telemetry(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--metrics-port",
            type=int,
            metavar="PORT",
            help="serve Prometheus metrics at http://HOST:PORT/metrics (0: any free port)",
        )
        sub.add_argument(
            "--metrics-host", default="127.0.0.1", help="address of the metrics (default 127.0.0.1)"
        )
        sub.add_argument(
            "--log-json", action="store_true", help="log lines as one JSON object each"
        )

    def with_config(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--config",
            metavar="FILE.toml",
            help=f"the lifecycle policy from this file's [policy] table, or a partners"
            f" .json file's \"policy\" (default ${CONFIG_ENV}; none: Policy's defaults)",
        )

    sub = command("replay", _replay, "feed a JSON-lines file of inputs through the store")
    sub.add_argument("file", metavar="FILE.jsonl")
    with_db(sub)
    with_config(sub)
    sub.add_argument("--json", action="store_true", help="print one JSON object per order")
    sub.add_argument("--shop-id", help="shop of order details that do not name one")
    sub.add_argument(
        "--batch",
        type=int,
        default=500,
        metavar="N",
        help="inputs per database transaction (default 500; 1 commits each input)",
    )
    sub.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="processes, each applying the lines of its share of the orders (by order id),"
        " into one store (default 1); pays on PostgreSQL: SQLite takes one writer at a time",
    )

    sub = command("allowed", _allowed, "what each initiator may do with an order now, and why not")
    sub.add_argument("order_id", metavar="ORDER_ID")
    sub.add_argument("--initiator", choices=[i.value for i in Initiator], type=str.upper)
    sub.add_argument("--now", metavar="ISO", help=NOW_HELP)
    with_db(sub)
    with_config(sub)

    sub = command("history", _history, "an order's transitions, effects and references")
    sub.add_argument("order_id", metavar="ORDER_ID")
    with_db(sub)

    sub = command(
        "changes", _changes, "the change feed: every committed transition and its OMS actions"
    )
    sub.add_argument(
        "--after", type=int, default=0, metavar="N", help="only rows after cursor N (default 0)"
    )
    sub.add_argument("--follow", action="store_true", help="keep polling for new rows")
    sub.add_argument(
        "--interval", type=float, default=1.0, help="seconds between polls (default 1)"
    )
    sub.add_argument("--seconds", type=float, help="with --follow, stop after this long")
    sub.add_argument("--json", action="store_true", help="one JSON object per row (JSON Lines)")
    with_db(sub)

    sub = command("serve", _serve, "receive TikTok webhooks over HTTP into the inbox (uvicorn)")
    sub.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    sub.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
    sub.add_argument(
        "--max-body", type=int, default=64 * 1024, help="largest body in bytes (default 64 KiB)"
    )
    sub.add_argument("--inline", action="store_true", help="apply each webhook before answering")
    limits = _SERVER_LIMITS
    sub.add_argument(
        "--limit-concurrency",
        type=int,
        default=limits.limit_concurrency,
        help=f"connections and requests at once, then 503 (default {limits.limit_concurrency})",
    )
    sub.add_argument(
        "--timeout-keep-alive",
        type=float,
        default=limits.timeout_keep_alive,
        help=f"seconds idle between requests (default {limits.timeout_keep_alive:g})",
    )
    sub.add_argument(
        "--header-timeout",
        type=float,
        default=limits.header_timeout,
        help=f"seconds for a request's headers, then 408 (default {limits.header_timeout:g})",
    )
    sub.add_argument(
        "--body-timeout",
        type=float,
        default=limits.body_timeout,
        help=f"seconds for a request's body, then 408 (default {limits.body_timeout:g})",
    )
    sub.add_argument(
        "--max-header-bytes",
        type=int,
        default=limits.max_header_bytes,
        help="largest request line and headers, then 400 (default 16 KiB)",
    )
    sub.add_argument(
        "--backlog",
        type=int,
        default=limits.backlog,
        help=f"connections queued before accepted (default {limits.backlog})",
    )
    sub.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    with_db(sub)
    with_telemetry(sub)
    with_config(sub)

    def with_partners(sub: argparse.ArgumentParser, what: str) -> None:
        sub.add_argument(
            "--partners", metavar="FILE.json", help=f"partner settings, {what} (see docs/cli.md)"
        )
        sub.add_argument("--sandbox", metavar="URL", help="use a running sandbox's partners")
        sub.add_argument(
            "--http-timeout", type=float, default=30.0, help="seconds per partner call (default 30)"
        )

    sub = command(
        "work",
        _work,
        "apply the inputs kept in the inbox; with partners, read TikTok for what they lack",
    )
    sub.add_argument("--once", action="store_true", help="until nothing is pending, then exit")
    sub.add_argument("--batch", type=int, default=100, help="inputs per batch (default 100)")
    sub.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="processes over one inbox, each applying the inputs of its share of the"
        " orders (by order id); one dying stops all, exit 2 (default 1); pays on"
        " PostgreSQL: SQLite takes one writer at a time",
    )
    sub.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    sub.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    sub.add_argument(
        "--redrive", action="store_true", help="first put dead inputs and dead reads back"
    )
    sub.add_argument(
        "--lease",
        type=float,
        default=300.0,
        help="seconds a claimed read job is this worker's; a killed worker's reads"
        " fall due again after it (default 300)",
    )
    with_partners(sub, "to read TikTok Shop (without: inputs that need a read wait)")
    with_db(sub)
    with_telemetry(sub)
    with_config(sub)

    sub = command("sync", _sync, "catch up with TikTok: re-read what changed since the watermark")
    sub.add_argument("--since", metavar="ISO", help="search from here, not from the watermark")
    sub.add_argument("--interval", type=float, metavar="S", help="repeat every S seconds")
    sub.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    with_partners(sub, "for TikTok Shop")
    with_config(sub)
    with_db(sub)
    with_telemetry(sub)

    sub = command("show", _show, "one stored order: status, lines, parcels, inputs waiting")
    sub.add_argument("order_id", metavar="ORDER_ID")
    sub.add_argument("--json", action="store_true", help="one JSON object (see docs/cli.md)")
    with_db(sub)

    sub = command(
        "status", _status, "the backlog, the lag and the dead, counted; exit 3 past a threshold"
    )
    sub.add_argument("--json", action="store_true", help="one JSON object (see docs/cli.md)")
    sub.add_argument("--now", metavar="ISO", help=NOW_HELP)
    for name, what in STATUS_THRESHOLDS.items():
        sub.add_argument(
            "--" + name.replace("_", "-"),
            type=_non_negative,
            metavar="N" if name == "max_dead" else "SECONDS",
            help=f"exit 3 when {what} is past this",
        )
    with_db(sub)

    sub = command("dead", _dead, "list the dead inputs, dead letters and dead reads; re-drive them")
    sub.add_argument("--kind", choices=DEAD_KINDS, help="only these (default: all three)")
    sub.add_argument("--json", action="store_true", help="one JSON object (see docs/cli.md)")
    sub.add_argument(
        "--redrive",
        nargs="*",
        type=int,
        metavar="ID",
        help="put these dead ones (of --kind) back to pending, or every one with --all",
    )
    sub.add_argument("--all", action="store_true", help="with --redrive: every dead one")
    with_db(sub)

    sub = command("dispatch", _dispatch, "carry out the outbox through the partner adapters")
    sub.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    sub.add_argument("--partners", metavar="FILE.json", help="partner settings (see docs/cli.md)")
    sub.add_argument("--sandbox", metavar="URL", help="deliver to a running sandbox")
    sub.add_argument("--redrive", action="store_true", help="first put dead letters back")
    sub.add_argument("--interval", type=float, default=5.0, help="seconds between polls")
    sub.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    sub.add_argument(
        "--http-timeout", type=float, default=30.0, help="seconds per partner call (default 30)"
    )
    sub.add_argument(
        "--max-attempts", type=int, default=8, help="tries before a dead letter (default 8)"
    )
    sub.add_argument(
        "--retry-after",
        type=float,
        default=30.0,
        help="seconds before the first retry, doubling each time (default 30)",
    )
    sub.add_argument(
        "--lease",
        type=float,
        default=300.0,
        help="seconds a claimed effect stays leased; a crashed dispatcher's effects fall"
        " due again after it (default 300)",
    )
    sub.add_argument(
        "--concurrency",
        type=_concurrency,
        default=DISPATCH_CONCURRENCY,
        metavar="N",
        help="partner calls in flight at once, each order's calls to one partner still one"
        f" after the other (default {DISPATCH_CONCURRENCY}; 1: strictly one at a time)",
    )
    with_db(sub)
    with_telemetry(sub)
    with_config(sub)

    sub = command("tick", _tick, "apply the timers due now (or at --now)")
    sub.add_argument("--now", metavar="ISO", help=NOW_HELP)
    with_db(sub)
    with_telemetry(sub)
    with_config(sub)

    sub = command("diagram", _diagram, "draw the state machine")
    sub.add_argument("--format", choices=("mermaid", "dot", "svg"), default="mermaid")

    sub = command("sandbox", _sandbox, "serve every partner fake on 127.0.0.1")
    sub.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    sub.add_argument(
        "--orders",
        metavar="FILE.jsonl",
        help="hold these orders: one Get Order Detail order object (or response) per line",
    )
    sub.add_argument(
        "--webhook-url",
        metavar="URL",
        help="POST the signed webhook TikTok would send for each change (e.g. to serve)",
    )
    sub.add_argument(
        "--announce",
        action="store_true",
        help="at start, send an order status webhook for every order held",
    )
    sub.add_argument(
        "--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)"
    )

    sub = command(
        "demo", _demo, "run the live loop on a bundled sample against the sandbox and show it"
    )
    sub.add_argument(
        "--db-file",
        default="order-lifecycle-demo.db",
        help="SQLite file for the demo, recreated each run (default order-lifecycle-demo.db)",
    )
    with_config(sub)
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args, out, err)
    except (AdapterError, LifecycleError) as error:
        err.write(f"order-lifecycle {args.command}: {type(error).__name__}: {error}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as shell tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return code
