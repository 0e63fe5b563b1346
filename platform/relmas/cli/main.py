"""Entry point of the ``relmas`` command.

Every sub-command returns an exit code. A :class:`~relmas.errors.UserError` (a mistake the user
can fix) becomes one line on stderr and exit code 2, never a traceback; anything else is a bug
and propagates with its traceback so it can be reported.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from relmas import __version__
from relmas.cli.common import Terminated, claim_sigterm, was_terminated
from relmas.cli.parser import OneLineParser
from relmas.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    """The full parser; command modules register their own sub-commands."""
    from relmas.cli import (
        capacity,
        compare,
        ensemble,
        headroom,
        hw,
        quickstart,
        route,
        simulate,
        tracking_cmds,
        train,
        tune,
    )

    parser = OneLineParser(
        prog="relmas",
        description="Online scheduling of multi-tenant DNN inference on heterogeneous "
        "multi-accelerators (Simba-like + Eyeriss-like sharing DRAM): hardware cost models, "
        "a discrete-event simulator, peer schedulers and an RL scheduler.",
    )
    parser.add_argument("--version", action="version", version=f"relmas {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    quickstart.register(sub)
    hw.register(sub)
    simulate.register(sub)
    compare.register(sub)
    headroom.register(sub)
    capacity.register(sub)
    train.register(sub)
    ensemble.register(sub)
    route.register(sub)
    tune.register(sub)
    tracking_cmds.register(sub)
    _add_bench(sub)
    parser.set_defaults(func=lambda _a: _help(parser))
    return parser


def _add_bench(sub: Any) -> None:
    """``relmas bench sim|rl|imitate|tune``."""
    from relmas.cli import bench_imitate, bench_rl, bench_sim, bench_tune

    bench = sub.add_parser("bench", help="benchmarks with JSON output (sim, rl, imitate, tune)")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="{sim,rl,imitate,tune}")
    bench.set_defaults(func=lambda _a: _help(bench))
    bench_sim.register_bench(bench_sub)
    bench_rl.register_bench(bench_sub)
    bench_imitate.register_bench(bench_sub)
    bench_tune.register_bench(bench_sub)


# The optional extras of pyproject.toml by the top-level module their packages provide
# (tests/cli/test_core_install.py checks it against pyproject.toml).
EXTRA_OF_MODULE = {
    "ray": "rl",
    "torch": "rl",
    "gymnasium": "rl",
    "mlflow": "tracking",
    "optuna": "search",
    "hyperopt": "search",
    "zigzag": "zigzag",
}


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = claim_sigterm()
    try:
        return int(args.func(args))
    except UserError as exc:
        print(f"relmas: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # a command of an optional extra, on a core install
        top = (exc.name or "").split(".")[0]
        extra = EXTRA_OF_MODULE.get(top)
        if extra is None or importlib.util.find_spec(top) is not None:  # installed: a real bug
            raise
        also = " or pass --no-track" if extra == "tracking" else ""
        fix = f'pip install "relmas[{extra}]" (or "relmas[all]"){also}'
        what = f"{args.command}: needs the `{extra}` extra ({exc})"
        print(f"relmas: error: {what}; install it: {fix}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `relmas ... --json | head`: the reader left, not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as exc:
        if isinstance(exc, Terminated) or was_terminated():
            print("relmas: terminated", file=sys.stderr)
            return 143
        print("relmas: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:  # in-process callers (tests, notebooks) get theirs back
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
