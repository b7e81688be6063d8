"""`order-lifecycle serve`, `work` and `dispatch` as real subprocesses, always stopped.

Each process writes its stdout and stderr to files (kept for the secrets
scan); `kill()` sends SIGKILL, `stop()` SIGTERM and then SIGKILL if it lingers.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from adapters.settings import CONFIG_ENV, read_policy
from tests.reliability.workload import APP_KEY, APP_SECRET, CONFIG, POLICY

#: Generous: only a hang, never a slow machine, should reach it.
WAIT = 120.0


def wait_until(done: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)  # the test's polling must not starve the processes it waits for


def metrics_url(proc: Proc) -> str:
    """Where a process started with `--metrics-port` serves its metrics, once it says so."""
    found: list[str] = []

    def said() -> bool:
        if not proc.alive():
            raise AssertionError(f"{proc.name} exited: {proc.stderr()}")
        found.extend(re.findall(r"metrics on (http://\S+)", proc.stdout()))
        return bool(found)

    wait_until(said, f"{proc.name} to serve its metrics")
    return found[0]


class Proc:
    def __init__(self, name: str, args: Sequence[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.args = list(args)
        self.stdout_path = logs / f"{name}.out"
        self.stderr_path = logs / f"{name}.err"
        with self.stdout_path.open("ab") as out, self.stderr_path.open("ab") as err:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "adapters", *args], stdout=out, stderr=err, env=env
            )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=WAIT)

    def stop(self) -> int:
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=WAIT)
        return self.popen.returncode

    def wait(self, timeout: float = WAIT) -> int:
        return self.popen.wait(timeout=timeout)

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


class Processes:
    """The subprocesses of one test."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[Proc] = []
        self._names: dict[str, int] = {}
        self.config = logs / "lifecycle.toml"
        self.config.write_text(CONFIG)
        assert read_policy(self.config) == POLICY  # the processes run as the checks expect

    def start(self, kind: str, *args: str, db: str) -> Proc:
        number = self._names.get(kind, 0) + 1
        self._names[kind] = number
        env = {
            **os.environ,
            "ORDER_LIFECYCLE_DB": db,
            "TIKTOK_APP_KEY": APP_KEY,
            "TIKTOK_APP_SECRET": APP_SECRET,
            CONFIG_ENV: str(self.config),
        }
        proc = Proc(f"{kind}-{number}", [kind, *args], env, self.logs)
        self.started.append(proc)
        return proc

    def serve(self, db: str, *args: str) -> tuple[Proc, str]:
        """The endpoint on a free port of 127.0.0.1, and its URL once it listens."""
        proc = self.start("serve", "--port", "0", "--seconds", "900", *args, db=db)
        found: list[str] = []

        def listening() -> bool:
            if not proc.alive():
                raise AssertionError(f"serve exited: {proc.stderr()}")
            found.extend(re.findall(r"listening on (http://\S+)", proc.stdout()))
            return bool(found)

        wait_until(listening, "the webhook endpoint to listen")
        return proc, found[0]

    def work(self, db: str, *args: str) -> Proc:
        return self.start("work", "--interval", "0.05", "--seconds", "900", *args, db=db)

    def dispatch(self, db: str, sandbox: str, *args: str) -> Proc:
        return self.start(
            "dispatch",
            "--sandbox",
            sandbox,
            "--interval",
            "0.05",
            "--retry-after",
            "0.05",
            "--max-attempts",
            "30",
            "--lease",
            "3",
            "--http-timeout",
            "0.5",
            "--seconds",
            "900",
            *args,
            db=db,
        )

    def captured(self) -> str:
        """Everything every process printed."""
        return "\n".join(p.stdout() + p.stderr() for p in self.started)

    def stop_all(self) -> None:
        for proc in self.started:
            proc.stop()
