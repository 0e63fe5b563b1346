"""Least-loaded sub-accelerator choice with first-come first-served request order.

Order: earliest arrival first (ties: lowest request id). Placement: the free sub-accelerator with
the least *assigned work* so far, where

    load_s[a] = sum, over every layer this scheduler dispatched to a, of
                chip.latency_s[model][type(a)][layer]   (isolated, full-bandwidth latency)

ties going to the lowest index. This is MAGMA's "GREEDY" core-selection baseline (Kao & Krishna,
HPCA 2022), which keeps a per-core load equal to the summed runtimes of the jobs mapped to it and
puts each job on the least-loaded core.

Adaptations to this system:
- Load counts *assigned isolated* work, as MAGMA does, not measured busy time: it is charged at
  dispatch, so it does not depend on how DRAM contention later stretched the layer, and it is the
  same under every bandwidth policy. A slower type is charged its own (longer) latency, so it
  accumulates load faster for the same layer.
- Only free sub-accelerators are candidates (online dispatch), so the globally least-loaded one
  is used only if it is free; MAGMA's offline mapping would queue behind it instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from relmas.schedulers.base import Decision, Scheduler, SchedulerParams, place_in_order
from relmas.schedulers.registry import register_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Request


@register_scheduler("least-loaded")
class LeastLoadedScheduler(Scheduler):
    """FCFS order; each layer on the free sub-accelerator with the least assigned work."""

    def __init__(self, params: SchedulerParams | None = None) -> None:
        super().__init__(params)
        self.load_s: list[float] = []

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None:
        """Every sub-accelerator starts with zero assigned work."""
        super().reset(sim, rng)
        self.load_s = [0.0] * sim.chip.num_accels

    def _least_loaded(self, sim: Simulator, req: Request, free: Sequence[int]) -> int:
        """The free sub-accelerator with the least load; charges it this layer's latency."""
        if len(self.load_s) != sim.chip.num_accels:  # decide() without reset(): start empty
            self.load_s = [0.0] * sim.chip.num_accels
        a = min(free, key=lambda i: (self.load_s[i], i))
        self.load_s[a] += sim.chip.latency_s[req.model][sim.chip.accel_type[a]][req.next_layer]
        return a

    def decide(self, sim: Simulator) -> list[Decision]:
        """Oldest requests first, each on the least-loaded free sub-accelerator."""
        ordered = sorted(sim.ready.values(), key=lambda r: (r.arrival_s, r.rid))
        return place_in_order(sim, ordered, self._least_loaded)
