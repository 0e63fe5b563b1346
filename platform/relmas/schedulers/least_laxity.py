"""Least laxity first (LLF; Mok, MIT PhD thesis 1983), at layer granularity.

Formula: ``laxity(r) = deadline_s - now_s - remaining_best_s[model][next_layer]`` -- how long the
request can still wait and finish by its deadline if the rest ran in isolation on the best types;
the least laxity is dispatched first onto its fastest free sub-accelerator. Negative laxity means
the deadline is already out of reach (those requests sort first; combine with
``drop_hopeless=True`` to shed them instead).

LLF is the deadline-and-work-aware counterpart of EDF and the ordering CD-MSA (Wang et al., TPDS
2023) builds on ("deadline- and laxity-aware").

Adaptations to this system:
- Remaining time is the best-type isolated estimate (no DRAM contention, no knowledge of the type
  the request will actually get), so laxity is optimistic under contention.
- Laxity is re-evaluated only at decision points (layer boundaries, arrivals), not continuously,
  which also avoids LLF's classic thrashing between equal-laxity jobs.
"""

from __future__ import annotations

from relmas.schedulers.base import OrderingScheduler
from relmas.schedulers.registry import register_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Request


class LeastLaxityScheduler(OrderingScheduler):
    """Least slack left after the remaining isolated work, first."""

    # Laxity minus the common ``now_s`` term orders requests identically and does not change
    # while a request waits, so the heap of OrderingScheduler applies.
    static_key = True

    def key(self, sim: Simulator, req: Request) -> float:
        """Laxity plus ``now_s`` (the same for every request): deadline minus remaining work."""
        return req.deadline_s - sim.chip.remaining_best_s[req.model][req.next_layer]


# Registered by a call, not as a decorator: mypyc compiles no decorated class as a native one
# (this module is compiled in the compiled build, docs/simulator.md).
register_scheduler("least-laxity")(LeastLaxityScheduler)
