"""Uniform random scheduling: the no-information floor every policy must beat.

At each decision point: while some sub-accelerator is free and some request is ready, pick a
ready request uniformly at random and put its next layer on a free sub-accelerator picked
uniformly at random (both without replacement). All randomness comes from ``self.rng`` (given in
:meth:`reset`), so a seed reproduces the run exactly.

This is the "RANDOM" job-order x "RANDOM" core-choice baseline of MAGMA (Kao & Krishna, HPCA
2022). Module name is ``uniform`` (not ``random``) so it cannot shadow the stdlib module.

Adaptations to this system: it is work-conserving (never waits while a unit is free and work is
ready), like every other list scheduler here, so it isolates the effect of ordering/placement.
"""

from __future__ import annotations

from relmas.schedulers.base import Decision, Scheduler
from relmas.schedulers.registry import register_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Dispatch


@register_scheduler("random")
class UniformRandomScheduler(Scheduler):
    """Uniform random ready request onto a uniform random free sub-accelerator."""

    def decide(self, sim: Simulator) -> list[Decision]:
        """Random matching of ready requests to free sub-accelerators."""
        # Sort by rid first: the draw must not depend on dict insertion order.
        ready = sorted(sim.ready.values(), key=lambda r: r.rid)
        free = list(sim.free_accels)
        k = min(len(ready), len(free))
        picked = self.rng.choice(len(ready), size=k, replace=False)
        units = self.rng.choice(len(free), size=k, replace=False)
        return [Dispatch(ready[int(i)], free[int(j)]) for i, j in zip(picked, units, strict=True)]
