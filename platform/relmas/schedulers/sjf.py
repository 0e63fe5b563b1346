"""Shortest (remaining) job first, at layer granularity.

Formula: ``key(r) = remaining_best_s[model][next_layer]`` -- the isolated time the request still
needs if every remaining layer ran on its fastest sub-accelerator type at full DRAM bandwidth;
the smallest key is dispatched first onto its fastest free sub-accelerator.

SJF is the classic mean-latency baseline (it minimises mean turnaround on one preemptive unit) and
is one of the baselines in PREMA (Choi & Rhu, HPCA 2020), MAGMA's job-ordering heuristics (Kao &
Krishna, HPCA 2022) and Dysta's simulator (Fan et al., MICRO 2023), whose ``SJF_Scheduler`` sums
the estimated latencies of the layers not yet run.

Adaptations to this system:
- "Remaining time" uses the best-type suffix sum, so it ignores DRAM contention and the type the
  request will actually get; it is an estimate, exactly like Dysta's average-latency LUT.
- Every layer boundary is a decision point, so SJF here is shortest-*remaining*-time-first
  (preemptive at layer boundaries), as in Dysta.
"""

from __future__ import annotations

from relmas.schedulers.base import OrderingScheduler
from relmas.schedulers.registry import register_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Request


class SjfScheduler(OrderingScheduler):
    """Least remaining isolated (best-type) time first."""

    static_key = True  # never changes while the request waits

    def key(self, sim: Simulator, req: Request) -> float:
        """Remaining best-type isolated time of the request."""
        return sim.chip.remaining_best_s[req.model][req.next_layer]


# Registered by a call, not as a decorator: mypyc compiles no decorated class as a native one
# (this module is compiled in the compiled build, docs/simulator.md).
register_scheduler("sjf")(SjfScheduler)
