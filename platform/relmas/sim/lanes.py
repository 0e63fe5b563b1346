"""Layers that progress at one shared rate, kept sorted by remaining work and updated lazily.

Why: under the ``proportional`` DRAM policy every running layer with DRAM traffic runs at one
common rate (``B / sum(d)`` when oversubscribed, else 1) and every layer without traffic at full
speed. The engine used to subtract ``rate * dt`` from each running layer at every event, which
made an event O(running layers). Those subtractions are what the results are made of, so they
must stay exactly the same floating-point operations; what can change is *when* they are done:

- A lane holds the layers sharing one rate. At every event the lane appends the decrement
  ``rate * dt`` (negated) to its log instead of applying it; a layer's remaining work is its
  value at some log position plus the log entries after it, folded left to right -- the same
  sequence of subtractions the eager loop performed, hence the same bits.
- Subtracting one value from every member is monotone in IEEE arithmetic, so the order of the
  members by remaining work never changes. A lane keeps its members in that order: the next
  layer to finish is always at the front, and the layers finishing at an event are a prefix.
- Insertion needs the position among members whose values are stale. Each member keeps an
  approximate key (its remaining work plus the lane's virtual time when it was last brought up
  to date, as fair-queueing schedulers do) for a bisection; the neighbours are then compared
  exactly whenever their keys are too close to tell, so the order is exact, not approximate.

So a start or a finish costs O(log n) comparisons plus the replay of the log entries a member
missed, done in C (``sum`` folds left to right in Python 3.11; later versions compensate, so
``functools.reduce`` takes over there).
"""

from __future__ import annotations

import operator
import sys
from bisect import bisect_right
from collections.abc import Callable, Iterable
from functools import reduce
from typing import Final

if sys.version_info < (3, 12):
    fold: Callable[[Iterable[float], float], float] = sum  # plain left-to-right double adds
else:  # pragma: no cover - sum() of floats became compensated (Neumaier) in 3.12

    def fold(values: Iterable[float], start: float) -> float:
        """``start + v0 + v1 + ...`` strictly left to right, one rounding per addition."""
        return reduce(operator.add, values, start)


# Whether this module runs compiled (relmas.compiled): a mypyc module's file is the extension.
_COMPILED: Final = not __file__.endswith(".py")


def replay(log: list[float], m: int, value: float) -> float:
    """``value + log[m] + log[m + 1] + ...`` left to right: a member brought up to date.

    Pure Python: :func:`fold` over a slice, the additions in C. Compiled: a plain loop, which
    there is native code and skips the slice; the same additions in the same order.
    """
    if _COMPILED:
        for i in range(m, len(log)):
            value += log[i]
        return value
    return fold(log[m:], value)


# Log length that triggers a rebase: bounds the keys' error, memory and a snapshot's copy of the
# log. (``Final``: the compiled build reads these as constants, not module lookups.)
REKEY_EVENTS: Final = 1024
# Keys closer than KEY_TOL x (virtual time + key) are compared exactly: the keys' own error
# after <= REKEY_EVENTS rounded additions is below 2**-40 of that, so the margin is ~1000x.
KEY_TOL: Final = 2.0**-30


class Lane:
    """Running layers that share one rate; see the module docstring.

    Attributes:
        units: Sub-accelerators in the lane, by exact remaining work (smallest first).
        keys: Approximate virtual finish of each member (``v`` then + its remaining work then).
        log: Negated per-event decrements ``-(rate * dt)`` since the last rebase.
        v: Virtual time: the sum of the decrements since the last rebase (for keys only).
        rate: Fraction of full speed the lane's layers run at now.
    """

    __slots__ = ("keys", "log", "rate", "units", "v")

    def __init__(self, rate: float = 1.0) -> None:
        self.units: list[int] = []
        self.keys: list[float] = []
        self.log: list[float] = []
        self.v = 0.0
        self.rate = rate

    def copy(self) -> Lane:
        """A copy sharing nothing mutable (with the same members, keys and log)."""
        lane = Lane(self.rate)
        lane.units, lane.keys, lane.log, lane.v = self.units[:], self.keys[:], self.log[:], self.v
        return lane


def sync(lane: Lane, a: int, rem: list[float], mark: list[int]) -> float:
    """Bring ``rem[a]`` up to date with the lane's log and return it."""
    log, m = lane.log, mark[a]
    n = len(log)
    if m == n:
        return rem[a]
    value = rem[a] + log[m] if n - m == 1 else replay(log, m, rem[a])
    rem[a], mark[a] = value, n
    return value


def insert(lane: Lane, a: int, work: float, rem: list[float], mark: list[int]) -> None:
    """Add unit ``a`` with ``work`` seconds of full-speed work left, at its exact rank."""
    rem[a], mark[a] = work, len(lane.log)
    key = lane.v + work
    units, keys = lane.units, lane.keys
    pos = bisect_right(keys, key)
    tol = KEY_TOL * (lane.v + key)
    if pos and keys[pos - 1] > key - tol:  # too close to call from the keys: compare exactly
        while pos and sync(lane, units[pos - 1], rem, mark) > work:
            pos -= 1
    if pos < len(units) and keys[pos] < key + tol:
        while pos < len(units) and sync(lane, units[pos], rem, mark) < work:
            pos += 1
    units.insert(pos, a)
    keys.insert(pos, key)


def rebase(lane: Lane, rem: list[float], mark: list[int]) -> None:
    """Sync every member, empty the log and restart virtual time (order is unchanged)."""
    for a in lane.units:
        sync(lane, a, rem, mark)
        mark[a] = 0
    lane.keys = [rem[a] for a in lane.units]
    lane.log = []
    lane.v = 0.0


def advance(lane: Lane, t0: float, t: float, rem: list[float], mark: list[int]) -> list[int]:
    """Move the lane from ``t0`` to ``t``; return (and remove) the members that finish by ``t``:
    those whose projected end ``t0 + rem / rate`` (the engine's next-event expression, so the
    layer that set ``t`` always ends) is not after ``t``. The front is kept up to date."""
    units, rate, log = lane.units, lane.rate, lane.log
    done = 0
    if t0 + rem[units[0]] / rate <= t:
        done, count, logged = 1, len(units), len(log)
        while done < count:
            a = units[done]
            m = mark[a]
            if m != logged:  # sync(), inlined: this runs at almost every event
                rem[a] = rem[a] + log[m] if logged - m == 1 else replay(log, m, rem[a])
                mark[a] = logged
            if t0 + rem[a] / rate > t:
                break
            done += 1
    x = rate * (t - t0)
    log.append(-x)
    lane.v += x
    if done:
        finished = units[:done]
        del units[:done]
        del lane.keys[:done]
        if not units:  # nobody left to replay the log: restart it
            lane.log = []
            lane.v = 0.0
            return finished
    else:
        finished = []
        if len(log) > REKEY_EVENTS:
            rebase(lane, rem, mark)
            return finished
    front = units[0]  # synced before this event by the loop above: one step behind
    rem[front] -= x
    mark[front] = len(log)
    return finished
