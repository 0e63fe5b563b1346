"""Entry point of the ``relmas`` command.

Every sub-command returns an exit code. A :class:`~relmas.errors.UserError` (a mistake the user
can fix) becomes one line on stderr and exit code 2, never a traceback; anything else is a bug
and propagates with its traceback so it can be reported.
"""

from __future__ import annotations

import argparse
import difflib
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from relmas import __version__
from relmas.cli.common import Terminated, claim_sigterm, was_terminated
from relmas.errors import UserError, did_you_mean, one_line


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, like a UserError, and suggest names.

    argparse prints the whole usage block before its error; in a log that buries the one line
    that matters. Sub-command parsers inherit this class (``add_subparsers`` reuses the
    parent's class), so every command gets the same behaviour. Exit code stays 2.
    """

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message[; did you mean ...]; see --help`` and exit 2."""
        text = one_line(" ".join(message.split()))  # argv may hold control characters
        hint = self._option_hint(message)
        sep = f"; did you mean {hint!r}? " if hint else "; "
        self.exit(2, f"{self.prog}: error: {text}{sep}see '{self.prog} --help'\n")

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """Invalid choices (a sub-command typo) get a did-you-mean instead of a long list."""
        choices = action.choices
        if choices is not None and value not in choices:
            hint = did_you_mean(str(value), [str(c) for c in choices])
            raise argparse.ArgumentError(action, f"invalid choice {value!r}; {hint}")

    def _option_hint(self, message: str) -> str:
        """For ``unrecognized arguments: --sheduler x``, the closest option of any command."""
        prefix = "unrecognized arguments:"
        if not message.startswith(prefix):
            return ""
        options = sorted(set(_option_strings(self)))
        for token in message[len(prefix) :].split():
            others = [o for o in options if o != token]
            close = difflib.get_close_matches(token, others, n=1, cutoff=0.75)
            if token[:1] == "-" and close:
                return close[0]
        return ""


def _option_strings(parser: argparse.ArgumentParser) -> Iterator[str]:
    """Every ``--option`` of ``parser`` and of all its sub-command parsers."""
    for action in parser._actions:
        yield from action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _option_strings(sub)


def build_parser() -> argparse.ArgumentParser:
    """The full parser; command modules register their own sub-commands."""
    from relmas.cli import (
        bench_rl,
        bench_sim,
        capacity,
        compare,
        headroom,
        hw,
        quickstart,
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
    tune.register(sub)
    tracking_cmds.register(sub)
    bench = sub.add_parser("bench", help="benchmarks with JSON output (sim, rl)")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="{sim,rl}")
    bench.set_defaults(func=lambda _a: _help(bench))
    bench_sim.register_bench(bench_sub)
    bench_rl.register_bench(bench_sub)
    parser.set_defaults(func=lambda _a: _help(parser))
    return parser


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
