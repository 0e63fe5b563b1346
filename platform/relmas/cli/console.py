"""Quiet consoles: what Ray, RLlib, MLflow and their dependencies print goes to a log file.

Why: a sweep or a training used to open with start-up banners, deprecation notices and
warnings from four libraries, and the lines relmas itself prints (progress, where the run went,
what to do next) were lost among them. Inside :func:`library_output_to`:

* file descriptors 1 and 2 point at the log file, so everything written below Python (Ray's
  core, raylet and GCS processes it starts, C++ glog lines) and every stream a library bound at
  import time lands there;
* ``sys.stdout`` goes to the log, and ``sys.stderr`` is a router: a line starting with
  ``relmas:`` (the house prefix of every relmas message) goes to the console *and* the log,
  anything else (warnings, a library's logging handler made later) to the log only;
* :func:`console` is the terminal itself, for relmas's progress display.

Errors still reach the user: a UserError and a bug's traceback are printed by ``main`` after
the block has restored the streams, and the log's path is named on the way out of a command that
ended normally.
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

PREFIX = "relmas:"
_CONSOLE: list[IO[str]] = []


def console() -> IO[str]:
    """The terminal's stderr, also while library output is diverted (for progress lines)."""
    return _CONSOLE[-1] if _CONSOLE else sys.stderr


class _Router(io.TextIOBase):
    """A text stream that sends ``relmas:`` lines to the console and the log, others to the log."""

    def __init__(self, console_stream: IO[str], log: IO[str]) -> None:
        super().__init__()
        self._console = console_stream
        self._log = log
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            if line.startswith(PREFIX):
                self._console.write(line + "\n")
                self._console.flush()
            self._log.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self._console.flush()
        self._log.flush()

    def isatty(self) -> bool:
        return False


def _console_stream(saved_fd: int) -> tuple[IO[str], bool]:
    """The stream relmas's own lines go to: the current ``sys.stderr`` unless it is fd 2
    (about to be redirected), else a new stream on a copy of the original fd 2."""
    try:
        on_fd2 = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        on_fd2 = False  # pytest's capsys, a notebook: not a file descriptor
    if not on_fd2:
        return sys.stderr, False
    encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
    stream = os.fdopen(os.dup(saved_fd), "w", buffering=1, encoding=encoding, errors="replace")
    return stream, True


@contextmanager
def library_output_to(log_path: Path) -> Iterator[Path]:
    """Send library output (fd 1 and 2, Python warnings, library logging) to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "a", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
    log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} relmas {' '.join(sys.argv[1:])}\n")
    start = log.tell()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    console_stream, owned = _console_stream(saved[2])
    old = (sys.stdout, sys.stderr)
    for fd in (1, 2):
        os.dup2(log.fileno(), fd)
    sys.stdout, sys.stderr = log, _Router(console_stream, log)
    _CONSOLE.append(console_stream)
    try:
        yield log_path
    finally:
        _restore(saved, old, log)
        _CONSOLE.pop()
        if owned:
            console_stream.close()
    # Only after a normal end: an error or an interruption stays the one line it always was.
    if log_path.stat().st_size > start:
        print(f"relmas: full log, with Ray/MLflow messages: {log_path}", file=sys.stderr)


def _restore(saved: dict[int, int], old: tuple[Any, Any], log: IO[str]) -> None:
    """Put fd 1/2 and ``sys.stdout``/``sys.stderr`` back and close the log."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    for fd, copy in saved.items():
        os.dup2(copy, fd)
        os.close(copy)
    sys.stdout, sys.stderr = old
    log.close()
