"""Round-robin sub-accelerator choice with first-come first-served request order.

Order: earliest arrival first (ties: lowest request id). Placement: the sub-accelerators are
visited in a fixed cyclic order 0, 1, ..., n-1, 0, ...; each dispatch takes the first *free*
sub-accelerator at or after the cursor and moves the cursor just past it.

This is the "RR" core-selection heuristic of MAGMA's baselines (Kao & Krishna, "MAGMA: An
Optimization Framework for Mapping Multiple DNNs on Multiple Accelerator Cores", HPCA 2022),
which sends job i to core ``i mod n``. It ignores the dataflow fit of a layer on purpose: it is
the load-spreading, type-oblivious reference that shows what heterogeneity-aware placement buys.

Adaptations to this system:
- MAGMA's RR assigns a whole batch offline, so core ``i mod n`` may be busy and the job queues
  behind it. Online, a dispatch may only target a free sub-accelerator, so a busy one in the
  cycle is skipped (the cursor still advances past the one actually used).
- The cursor persists across decision points and layers, so consecutive layers of one request
  are spread over the cycle as well.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from relmas.schedulers.base import Decision, Scheduler, SchedulerParams, place_in_order
from relmas.schedulers.registry import register_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Request


@register_scheduler("round-robin")
class RoundRobinScheduler(Scheduler):
    """FCFS order; sub-accelerators taken in cyclic order, skipping busy ones."""

    def __init__(self, params: SchedulerParams | None = None) -> None:
        super().__init__(params)
        self._cursor = 0

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None:
        """Start the cycle at sub-accelerator 0."""
        super().reset(sim, rng)
        self._cursor = 0

    def _next_free(self, sim: Simulator, req: Request, free: Sequence[int]) -> int:
        """First free sub-accelerator at or after the cursor (cyclically); advances the cursor."""
        n = sim.chip.num_accels
        free_set = set(free)
        for step in range(n):
            a = (self._cursor + step) % n
            if a in free_set:
                self._cursor = (a + 1) % n
                return a
        raise AssertionError("place_in_order only asks when some sub-accelerator is free")

    def decide(self, sim: Simulator) -> list[Decision]:
        """Oldest requests first, each on the next free sub-accelerator in the cycle."""
        ordered = sorted(sim.ready.values(), key=lambda r: (r.arrival_s, r.rid))
        return place_in_order(sim, ordered, self._next_free)
