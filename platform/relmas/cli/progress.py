"""Progress of long commands: a rich bar on a terminal, timed plain lines anywhere else.

Why: a rich live bar draws nothing when its stream is not a terminal (``nohup``, a CI log, a
batch job's output file, ``2> run.log``), so a 40-minute DAgger labelling or a headroom run
printed nothing until it ended and looked hung. Off a terminal, :class:`LineProgress` writes one
line per task every ``every_s`` seconds and one when it completes, each starting with the house
prefix ``relmas:`` (so the console router of :mod:`relmas.cli.console` shows it):

    relmas: imitate: 14/84 (17%), 5:02 elapsed, 1,211 states labelled/s

Used as a context manager, it also writes a due line for a task that has not advanced (a
heartbeat): a headroom run whose first oracle episode takes a quarter of an hour otherwise
printed nothing for that long.

Both share the three calls the commands make (``add_task``, ``update``, ``advance``), so a
command builds its columns once and gets whichever suits the stream.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from relmas.cli.console import PREFIX

EVERY_S = 30.0  # a line per half minute: a log stays readable over an hour-long run


@dataclass
class _Task:
    description: str
    total: float | None
    fields: dict[str, Any]
    completed: float = 0.0
    started: float = field(default_factory=time.monotonic)
    shown: float = field(default_factory=time.monotonic)
    done_shown: bool = False


class LineProgress:
    """The calls of ``rich.progress.Progress`` that relmas uses, as timed plain lines."""

    def __init__(self, stream: IO[str], every_s: float = EVERY_S) -> None:
        self._stream = stream
        self._every_s = every_s
        self._tasks: list[_Task] = []
        self._lock = threading.Lock()  # the heartbeat and the updates write the same stream
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def __enter__(self) -> LineProgress:
        self._stop.clear()
        self._heartbeat = threading.Thread(target=self._beat, name="relmas-progress", daemon=True)
        self._heartbeat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
        return None  # an error is reported by whoever catches it, as the only line

    def _beat(self) -> None:
        """Every unfinished task whose last line is ``every_s`` old gets one more."""
        tick = min(max(self._every_s / 4, 0.01), 5.0)
        while not self._stop.wait(tick):
            now = time.monotonic()
            with self._lock:
                for task in self._tasks:
                    finished = task.total is not None and task.completed >= task.total
                    if not finished and now - task.shown >= self._every_s:
                        task.shown = now
                        self._stream.write(line_of(task, now) + "\n")
                        self._stream.flush()

    def add_task(self, description: str, total: float | None = None, **fields: Any) -> int:
        with self._lock:
            self._tasks.append(_Task(description, total, dict(fields)))
            return len(self._tasks) - 1

    def advance(self, task_id: int, advance: float = 1.0) -> None:
        self.update(task_id, advance=advance)

    def update(
        self,
        task_id: int,
        *,
        advance: float | None = None,
        completed: float | None = None,
        **fields: Any,
    ) -> None:
        with self._lock:
            self._update(self._tasks[task_id], advance, completed, fields)

    def _update(
        self, task: _Task, advance: float | None, completed: float | None, fields: dict[str, Any]
    ) -> None:
        if completed is not None:
            task.completed = completed
        if advance is not None:
            task.completed += advance
        task.fields.update(fields)
        now = time.monotonic()
        finished = task.total is not None and task.completed >= task.total
        if (finished and not task.done_shown) or now - task.shown >= self._every_s:
            task.shown, task.done_shown = now, finished
            self._stream.write(line_of(task, now) + "\n")
            self._stream.flush()


def line_of(task: _Task, now: float) -> str:
    """``relmas: <what>: <done>/<total> (<pct>), <m:ss> elapsed[, <status>]``."""
    done = f"{task.completed:g}"
    if task.total:
        done += f"/{task.total:g} ({100 * task.completed / task.total:.0f}%)"
    elapsed = int(now - task.started)
    text = f"{PREFIX} {task.description}: {done}, {elapsed // 60}:{elapsed % 60:02d} elapsed"
    status = str(task.fields.get("status", "")).strip()
    return f"{text}, {status}" if status else text


@contextmanager
def progress(columns: tuple[Any, ...], stream: IO[str], transient: bool = False) -> Iterator[Any]:
    """A rich bar with ``columns`` if ``stream`` is a terminal (by rich's own test, which
    honours ``TTY_COMPATIBLE`` and ``FORCE_COLOR``) or a notebook, else a
    :class:`LineProgress` on it."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(file=stream)
    if not (console.is_terminal or console.is_jupyter):
        with LineProgress(stream) as lines:
            yield lines
        return
    with Progress(*columns, transient=transient, console=console) as bar:
        yield bar
