"""The scheduler interface every policy (heuristic or learned) implements.

A scheduler sees the live :class:`~relmas.sim.engine.Simulator` (read-only by contract) at each
decision point -- some sub-accelerator is free and some request has a layer ready -- and returns
dispatches (which request's next layer(s) go to which free sub-accelerator) and drops. Returning
nothing means "wait until the next event". Layer granularity makes every decision point a
preemption point, as in PREMA and Dysta's layer-level simulators.
"""

from __future__ import annotations

import abc
import heapq
from collections.abc import Callable, Iterable, Sequence
from heapq import heappop, heappush, heappushpop
from typing import ClassVar

import numpy as np
from mypy_extensions import mypyc_attr

from relmas.schedulers._params import SchedulerParams
from relmas.sim.engine import Simulator
from relmas.sim.ready_log import ReadyLogCursor
from relmas.sim.request import WAITING, Dispatch, Drop, Request

Decision = Dispatch | Drop

__all__ = [
    "Decision",
    "OrderingScheduler",
    "Scheduler",
    "SchedulerParams",
    "best_free_accel",
    "place_in_order",
    "top_k",
]


# Subclassable from Python when this module is compiled (docs/simulator.md: the compiled build).
@mypyc_attr(allow_interpreted_subclasses=True)
class Scheduler(abc.ABC):
    """Base class: subclasses set ``Params`` (optional) and implement :meth:`decide`.

    Class attributes:
        name: Registry name, set by :func:`relmas.schedulers.registry.register_scheduler`.
        bandwidth_policy: DRAM sharing policy the scheduler needs (``None``: the scenario's).
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type[SchedulerParams]] = SchedulerParams
    bandwidth_policy: ClassVar[str | None] = None

    def __init__(self, params: SchedulerParams | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self.rng = np.random.default_rng(0)

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None:
        """Called once before a run; override to precompute per-run state (call super)."""
        self.rng = rng

    @abc.abstractmethod
    def decide(self, sim: Simulator) -> Sequence[Decision]:
        """Return the dispatches and drops for this decision point (empty: wait)."""


def best_free_accel(sim: Simulator, req: Request, free: Sequence[int]) -> int:
    """The free sub-accelerator with the lowest isolated latency for the request's next layer.

    Ties go to the lowest index, which keeps runs deterministic.
    """
    lat = sim.chip.latency_s[req.model]
    types = sim.chip.accel_type
    layer = req.next_layer
    best = free[0]
    best_s = lat[types[best]][layer]
    for a in free:  # a loop, not min(key=...): no call per unit (compiled, a plain compare)
        s = lat[types[a]][layer]
        if s < best_s:  # strict: the first of equals wins, as min() picks it
            best, best_s = a, s
    return best


def place_in_order(
    sim: Simulator,
    ordered: Iterable[Request],
    choose: Callable[[Simulator, Request, Sequence[int]], int] = best_free_accel,
) -> list[Decision]:
    """Give free sub-accelerators to requests in the given order, one layer each."""
    free = sim.free_accels
    if len(free) == 1:  # the common case: one unit just finished
        for req in ordered:
            return [Dispatch(req, free[0])]
        return []
    free = list(free)
    out: list[Decision] = []
    for req in ordered:
        if not free:
            break
        a = choose(sim, req, free)
        free.remove(a)
        out.append(Dispatch(req, a))
    return out


def top_k(sim: Simulator, key: Callable[[Request], float]) -> list[Request]:
    """The ``len(free_accels)`` ready requests with the smallest key, in key order.

    ``heapq.nsmallest`` is stable, so ties keep the ready order (arrival order for new requests).
    """
    k = len(sim.free_accels)
    ready = sim.ready.values()
    if k == 1:
        return [min(ready, key=key)]
    return heapq.nsmallest(k, ready, key=key)


@mypyc_attr(allow_interpreted_subclasses=True)
class OrderingScheduler(Scheduler):
    """A scheduler defined by a priority key (smaller runs first) and best-free-type placement.

    FCFS, SJF, EDF, least-laxity and other list schedulers differ only in the key. When the key of
    a waiting request cannot change while it waits (``static_key = True``), requests are kept in a
    heap fed by the engine's ``ready_log``, so a decision costs O(log n) instead of a scan of the
    whole queue -- the difference between ~50k and ~200k dispatches/s under overload.
    """

    static_key: ClassVar[bool] = False

    def __init__(self, params: SchedulerParams | None = None) -> None:
        super().__init__(params)
        self._static = self.static_key  # an instance field: a class lookup costs more compiled
        self._heap: list[tuple[float, int, int, Request]] = []
        self._cursor = ReadyLogCursor()  # a new simulator (or a reset one) restarts the heap

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None:
        """Forget the heap of a previous run."""
        super().reset(sim, rng)
        self._heap = []
        self._cursor = ReadyLogCursor()

    @abc.abstractmethod
    def key(self, sim: Simulator, req: Request) -> float:
        """Priority of a ready request at ``sim.now_s``; the smallest is dispatched first."""

    def decide(self, sim: Simulator) -> list[Decision]:
        """Dispatch the best-keyed requests onto their fastest free sub-accelerators."""
        if not self._static:
            return place_in_order(sim, top_k(sim, lambda r: self.key(sim, r)))
        return place_in_order(sim, self._pop_valid(sim, len(sim.free_accels)))

    def _pop_valid(self, sim: Simulator, k: int) -> list[Request]:
        """The ``k`` best-keyed waiting requests, stale heap entries discarded on the way.

        The last newly ready request is pushed and the best entry popped in one
        ``heappushpop``: the same entry as a push then a pop (entries are totally ordered, by
        ``rid`` and layer after the key), in one sift instead of two, and none when the new
        request is the best.
        """
        cursor = self._cursor
        if cursor.restarted(sim):  # another simulator, or this one after reset()
            self._heap = []
        heap = self._heap
        picked: list[Request] = []
        if k < 1:
            return picked
        new = cursor.take(sim)
        entry: tuple[float, int, int, Request] | None
        if new:
            for i in range(len(new) - 1):  # indices, not new[:-1]: no copy of the list
                r = new[i]
                heappush(heap, (self.key(sim, r), r.rid, r.next_layer, r))
            r = new[-1]
            entry = heappushpop(heap, (self.key(sim, r), r.rid, r.next_layer, r))
        else:
            entry = heappop(heap) if heap else None
        while entry is not None:
            _, _, layer, r = entry
            if r.state == WAITING and r.next_layer == layer:  # else a stale entry
                picked.append(r)
                if len(picked) == k:
                    break
            entry = heappop(heap) if heap else None
        return picked
