"""Shared CLI helpers: argument types that reject bad numbers early, JSON and table output."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from relmas.errors import UserError


def positive_int(value: str) -> int:
    """argparse type: an integer > 0."""
    try:
        n = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected an integer, got {value!r}") from exc
    if n <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {n}")
    return n


def non_negative_int(value: str) -> int:
    """argparse type: an integer >= 0 (seeds: numpy's SeedSequence refuses negatives)."""
    try:
        n = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected an integer, got {value!r}") from exc
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def port(value: str) -> int:
    """argparse type: a TCP port, 1..65535."""
    n = positive_int(value)
    if n > 65535:
        raise argparse.ArgumentTypeError(f"must be a port in 1..65535, got {n}")
    return n


def positive_float(value: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        x = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from exc
    if not math.isfinite(x) or x <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {value}")
    return x


def float_list(value: str) -> list[float]:
    """argparse type: comma-separated positive numbers, e.g. ``0.5,0.8,1.1`` (at least one)."""
    values = [positive_float(v) for v in value.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected numbers like 0.5,0.8, got {value!r}")
    return values


def check_output(path: Path, field: str, *, directory: bool) -> None:
    """Refuse an output path that cannot be written, before any work is done.

    Why up front: a command that simulates for minutes and then fails on ``--out`` wastes the
    run, and one that fails half-way through writing leaves partial files behind. Nothing is
    created here; the command creates the path only once it has something to write.
    """
    if path.exists() and path.is_dir() != directory:
        kind = "a directory" if directory else "a file"
        raise UserError(field, f"{path} exists and is not {kind}", "choose another path")
    parent = path if directory else path.parent
    for ancestor in (parent, *parent.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise UserError(field, f"{ancestor} is not a directory", "choose another path")
            if not os.access(ancestor, os.W_OK | os.X_OK):
                raise UserError(field, f"{ancestor} is not writable", "choose another path")
            return


@contextmanager
def output_errors(field: str) -> Iterator[None]:
    """Turn an OS refusal to write a user-named output (full disk, no permission) into a
    one-line UserError; :func:`check_output` catches the common cases earlier."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or "the output"
        problem = f"cannot write {where} ({exc.strerror or exc})"
        raise UserError(field, problem, "choose another path") from None


def fmt(value: Any, unit: str = "") -> str:
    """Human formatting for tables: 3 significant digits, SI-ish units."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}{unit}"
    return f"{value}{unit}"


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a rich table."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title))
    for i, col in enumerate(columns):
        table.add_column(escape(col), justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    # Piped output (logs, CI) has no terminal width; do not squeeze tables into 80 columns.
    Console(width=None if sys.stdout.isatty() else 200).print(table)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so the same cleanup runs (Ray shut down, runs
    KILLED, temporary files removed); ``kill``, ``timeout`` and batch schedulers send it."""


_SIGTERM_SEEN = threading.Event()


def _raise_terminated(signum: int, frame: object) -> None:
    _SIGTERM_SEEN.set()
    raise Terminated


def was_terminated() -> bool:
    """Whether SIGTERM arrived (libraries such as Ray may re-raise it as a plain Ctrl-C)."""
    return _SIGTERM_SEEN.is_set()


def claim_sigterm() -> Any:
    """Turn SIGTERM into :class:`Terminated`; returns the previous handler (``None`` off the
    main thread, where Python cannot set handlers).

    Call it again right after ``ray.init``: Ray's driver installs a C-level SIGTERM handler
    that aborts the process (exit -6), skipping ``ray.shutdown`` and leaving actors behind.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


def run_script(main: Any, name: str) -> None:
    """Run a script's ``main()`` under the CLI's contract: a :class:`UserError` is one line on
    stderr and exit code 2, never a traceback (``scripts/*.py`` are part of the product)."""
    try:
        main()
    except UserError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
