"""Incremental readers of the engine's ``ready_log``.

Why: several consumers keep per-request state that only changes when a request becomes ready
(the heaps of static-key schedulers, the env's candidate orderings, the early-miss tracker). The
engine appends each request to ``Simulator.ready_log`` every time it becomes ready, so a consumer
only needs the entries added since its last read -- and must start over when it is handed
another simulator, or the same one after ``reset()``. That bookkeeping lives here once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from relmas.sim.request import Request

if TYPE_CHECKING:
    from relmas.sim.engine import Simulator

_NOTHING: list[Request] = []  # returned (never mutated) when nothing became ready


class ReadyLogCursor:
    """A read position in one simulator's ``ready_log``.

    The cursor remembers the log *list* it read, not the simulator: ``reset()`` and a snapshot
    each give the simulator a new list, so either one restarts the cursor, while a log that
    merely grew does not.
    """

    __slots__ = ("_log", "pos")

    def __init__(self) -> None:
        self._log: list[Request] | None = None
        self.pos = 0

    def restarted(self, sim: Simulator) -> bool:
        """True, with the position rewound to 0, if ``sim``'s log is not the one read so far."""
        if sim.ready_log is self._log:
            return False
        self._log, self.pos = sim.ready_log, 0
        return True

    def pending(self, sim: Simulator) -> bool:
        """Whether entries were added since the last :meth:`take` (call :meth:`restarted` first)."""
        return len(sim.ready_log) > self.pos

    def take(self, sim: Simulator) -> list[Request]:
        """The entries added since the last call, in order (call :meth:`restarted` first)."""
        log, pos = sim.ready_log, self.pos
        if len(log) == pos:
            return _NOTHING
        self.pos = len(log)
        return log[pos:]
