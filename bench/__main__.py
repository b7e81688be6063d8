"""Run the benchmarks and print one table per benchmark.

    python -m bench            # the full run, figures for docs/performance.md
    python -m bench --quick    # a short run: CI checks that it runs, not the figures
    python -m bench allowed    # only some benchmarks, by name

Every result is a ratio to a reference measured in the same run. Targets are
reported as met or MISSED; the exit status does not depend on them.
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Callable

from bench import core, dispatch, latency, replay, workers

BENCHMARKS: dict[str, Callable[[bool], tuple[str, list[tuple[str, bool]]]]] = {
    "allowed": core.bench_allowed,
    "apply": core.bench_apply,
    "memory": core.bench_memory,
    "replay": replay.bench_replay,
    "replay_postgres": replay.bench_replay_postgres,
    "dispatch": dispatch.bench_dispatch,
    "latency": latency.bench_latency,
    "latency_postgres": latency.bench_latency_postgres,
    "workers": workers.bench_workers,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, for CI")
    parser.add_argument(
        "names",
        nargs="*",
        choices=[[], *BENCHMARKS],
        metavar="NAME",
        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})",
    )
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    print(
        f"# Benchmarks ({'quick' if args.quick else 'full'}) on Python {platform.python_version()}"
        f", {platform.machine()}"
    )
    summary = []
    for name in names:
        text, checks = BENCHMARKS[name](args.quick)
        print(text, flush=True)
        summary += checks
    met = sum(ok for _, ok in summary)
    print(f"\nTargets: {met} met, {len(summary) - met} missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
