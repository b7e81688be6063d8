"""Run one command's work in N processes on one store: `replay` and `work --workers N`.

Each worker is a process of its own (so the lifecycle's decisions run on as
many cores as there are workers), started with multiprocessing's `spawn`
context: a fresh interpreter that imports the library again, holding none of
the parent's open connections, threads or locks (a `fork` would copy a
PostgreSQL pool and its threads half way through their work). The worker
function and its arguments are pickled across, and its result comes back
through a pipe as plain values (counts, rejected lines), so no output text
has to be parsed.

Worker `i` of `N` gets `Shard(i, N)`; the store's shard rule
(`adapters.store.shard_of`) decides which orders are its own. The parent
waits for them all. A worker that raises, or dies without a result (killed,
out of memory), is named in `WorkerFailed`, and the others are asked to
stop (SIGTERM): the command then exits non-zero. SIGTERM to the parent is
passed on to every worker, and so is Ctrl-C (which the terminal also sends
to the whole process group).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from attrs import frozen

from adapters.errors import CliError
from adapters.store import Shard

__all__ = ["WorkerFailed", "run_workers"]

#: Seconds a worker asked to stop has before it is killed.
STOP_GRACE = 30.0


class WorkerFailed(CliError):
    """A worker process raised or died: the command's work is not complete."""


@frozen
class _Outcome:
    """What a worker sent back: its result, the error it stopped on, or that it was
    stopped (asked to, by SIGTERM or Ctrl-C) before it finished."""

    result: Any = None
    error: str = ""
    stopped: bool = False


def _child(
    target: Callable[..., Any], shard: Shard, args: tuple[Any, ...], pipe: Connection
) -> None:
    """A worker's main: run `target(shard, *args)`, send back its result or its error."""
    # Asked to stop, a worker ends like one interrupted (a `work` loop installs its own).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        outcome = _Outcome(result=target(shard, *args))
    except KeyboardInterrupt:
        outcome = _Outcome(stopped=True)
    except Exception as error:
        outcome = _Outcome(error=f"{type(error).__name__}: {error}")
    try:
        pipe.send(outcome)
    finally:
        pipe.close()


def run_workers(
    count: int,
    target: Callable[..., Any],
    args: tuple[Any, ...] = (),
    *,
    poll: Callable[[], None] | None = None,
    on_start: Callable[[list[int]], None] | None = None,
) -> list[Any | None]:
    """`target(Shard(i, count), *args)` in `count` processes; their results, by shard.

    `target` must be a module-level function (it is pickled by name). `poll`
    is called every tenth of a second while they run (a progress bar);
    `on_start` with the workers' process ids once all have started. A worker
    stopped before it finished (SIGTERM to this process) has `None` for a
    result. Raises `WorkerFailed` naming each worker that raised or died
    unasked, after the others stopped.
    """
    context = multiprocessing.get_context("spawn")
    workers: list[tuple[BaseProcess, Connection]] = []
    stopping = threading.Event()
    with _forward_sigterm(lambda: _stop(workers, stopping)):
        try:
            for index in range(count):
                ours, theirs = context.Pipe(duplex=False)
                process = context.Process(
                    target=_child,
                    args=(target, Shard(index, count), args, theirs),
                    name=f"worker {index}/{count}",
                )
                process.start()
                theirs.close()
                workers.append((process, ours))
            if on_start is not None:
                on_start([process.pid or 0 for process, _ in workers])
            outcomes = _gather(workers, stopping, poll)
        except BaseException:
            _stop(workers, stopping)
            _reap(workers)
            raise
    failures = [
        f"worker {index} of {count} {outcome.error}"
        for index, outcome in enumerate(outcomes)
        if outcome.error
    ]
    if failures:
        raise WorkerFailed("; ".join(failures))
    return [outcome.result for outcome in outcomes]


def _gather(
    workers: list[tuple[BaseProcess, Connection]],
    stopping: threading.Event,
    poll: Callable[[], None] | None,
) -> list[_Outcome]:
    outcomes: dict[int, _Outcome] = {}
    while len(outcomes) < len(workers):
        waiting = [i for i in range(len(workers)) if i not in outcomes]
        ready = wait(
            [workers[i][1] for i in waiting] + [workers[i][0].sentinel for i in waiting],
            timeout=0.1,
        )
        if poll is not None:
            poll()
        for index in waiting:
            process, pipe = workers[index]
            if pipe not in ready and process.sentinel not in ready:
                continue
            outcome = _received(pipe)
            process.join()
            if outcome is None:
                # Killed by the stop this process asked for, or before it could
                # install its handler: stopped; killed by anything else: failed.
                outcome = (
                    _Outcome(stopped=True)
                    if stopping.is_set()
                    else _Outcome(error=_death(process.exitcode))
                )
            outcomes[index] = outcome
            if outcome.error and not stopping.is_set():
                _stop(workers, stopping)  # its shard's work stops: so does the command's
    return [outcomes[i] for i in range(len(workers))]


def _received(pipe: Connection) -> _Outcome | None:
    """The worker's outcome, or `None` when it closed its end without one (it died)."""
    try:
        if pipe.poll():
            outcome = pipe.recv()
            return outcome if isinstance(outcome, _Outcome) else None
    except (EOFError, OSError):
        return None
    return None


def _death(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"died: killed by {name}"
    return f"died with exit status {code} and no result"


def _stop(workers: list[tuple[BaseProcess, Connection]], stopping: threading.Event) -> None:
    """Ask every running worker to stop (SIGTERM): each finishes like one interrupted."""
    stopping.set()
    for process, _ in workers:
        if process.pid is not None and process.exitcode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)


def _reap(workers: list[tuple[BaseProcess, Connection]]) -> None:
    """Wait for stopped workers; kill those that outlast `STOP_GRACE`."""
    for process, pipe in workers:
        process.join(STOP_GRACE)
        if process.exitcode is None:
            process.kill()
            process.join()
        pipe.close()


@contextlib.contextmanager
def _forward_sigterm(stop: Callable[[], None]) -> Iterator[None]:
    """SIGTERM to this process asks the workers to stop (in the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda _number, _frame: stop())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
