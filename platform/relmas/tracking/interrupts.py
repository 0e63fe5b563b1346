"""Store writes that a first Ctrl-C or SIGTERM cannot cut in half.

Why: Python raises a signal's exception at the next bytecode, which can be inside SQLAlchemy
between a sqlite ``INSERT`` and its ``COMMIT``. The interrupted session keeps its write lock while
the traceback holds it alive, so the run's own "end as KILLED" write then fails with "database is
locked" and the run fell back offline with a misleading "store unavailable" warning (seen in CI:
``tests/reliability/test_interrupts.py``). Holding the first signal until the write returns
keeps each write whole; a second signal still interrupts at once, so a hung store never traps
the user.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Run the block with SIGINT/SIGTERM held; re-deliver the first one after it (to the
    handlers that were in place, so Ctrl-C and ``kill`` behave as they would have).

    A no-op off the main thread (Python runs handlers only there) and when a handler was not
    installed from Python (it could not be put back).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in HELD_SIGNALS}
    if any(handler is None for handler in previous.values()):
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        if caught:  # a second signal: the user insists, interrupt now (and only once)
            caught.clear()
            _restore(previous)
            signal.raise_signal(signum)
            return
        caught.append(signum)

    for sig in HELD_SIGNALS:
        signal.signal(sig, hold)
    try:
        yield
    finally:
        _restore(previous)
        if caught:
            signal.raise_signal(caught[0])


def _restore(previous: dict[signal.Signals, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
