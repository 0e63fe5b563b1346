"""A single background thread that performs MLflow I/O in submission order.

Why: Tune calls logger callbacks on its driver event loop. A short heuristic trial finishes in
a fraction of a second, and on sqlite every MLflow write waits on an fsync (measured ~150 ms wall
but ~40 ms CPU per trial), so doing it inline starved the loop and cost ~40% of a 288-trial
sweep's wall time. One thread keeps order (a trial's end after its results) without locks on
the callback's state, and errors that are bugs (not store failures, which fall back offline
inside ``TrackedRun``) are re-raised on the driver at the next submit or drain.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable

_LIVE: weakref.WeakSet[IoWorker] = weakref.WeakSet()


class IoWorker:
    """FIFO executor with one daemon thread; ``drain`` waits for all submitted work."""

    def __init__(self, name: str = "relmas-mlflow") -> None:
        self._queue: queue.Queue[Callable[[], None]] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()
        _LIVE.add(self)

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if self._error is None:
                    job()
            except BaseException as exc:  # kept and re-raised on the driver thread
                self._error = exc
            finally:
                self._queue.task_done()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, job: Callable[[], None]) -> None:
        """Queue ``job``; raises a pending error from an earlier job first."""
        self._raise()
        self._queue.put(job)

    def drain(self) -> None:
        """Block until every submitted job ran; re-raise the first error."""
        self._queue.join()
        self._raise()


def drain_all() -> None:
    """Drain every worker of this process (the driver calls it after ``Tuner.fit``, because
    Tune restores its own copy of the callback on resume and may skip its end hook on Ctrl-C)."""
    for worker in list(_LIVE):
        worker.drain()
