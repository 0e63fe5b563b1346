"""Herald: EDP-balanced dataflow-affinity layer assignment on a heterogeneous-dataflow accelerator.

Paper: H. Kwon, L. Lai, M. Pellauer, T. Krishna, Y.-H. Chen, V. Chandra, "Heterogeneous Dataflow
Accelerators for Multi-DNN Workloads", HPCA 2021 (arXiv 1909.07437). No public Herald code; the
rule is ``DoEDPBalanceAssignment`` from XRBench (same authors, MLSys 2023,
``HET_proccessor-assignment-engine.hpp``), see ``peers.md`` §7.

Rule, for each layer ``l`` of a request in order (``T`` = isolated latency, ``E`` = energy of the
layer on that sub-accelerator's type)::

    best  = argmin_a E(a, l) * T(a, l)                  # dataflow affinity by EDP
    least = argmin_a load[a]
    if least != best and EDP(least, l) < balance_factor * EDP(best, l): best = least
    assign l -> best;  load[best] += T(best, l)

Why EDP with a balance factor: pure EDP-greedy piles every conv layer on the dataflow that suits
convs and leaves the other unit idle; the factor (2 in XRBench) lets a layer move to the least
loaded unit when that costs at most 2x its EDP.

Adaptations to this system (online, multi-tenant, shared DRAM):

- Herald plans a known batch of models offline; here a request's whole plan is computed when it
  first becomes visible to the scheduler, in arrival order.
- ``load[a]`` is the *outstanding* work of unit ``a``: the remaining time of its running layer
  plus the isolated latency of layers assigned to it and not yet dispatched. XRBench's ledger only
  grows (one offline batch); an online ledger that never shrinks would balance history rather
  than the present queue. Finished and dropped requests release their unstarted layers.
- Ties (several instances of one type share an EDP) go to the lowest unit index.
- Execution: ready requests are served in arrival order; each waits for its assigned unit
  (Herald's per-unit queues). With ``fallback=True`` a request whose unit is busy instead takes
  the free unit with the lowest EDP for its next layer, and its plan is updated; the default is
  the faithful non-work-conserving version.
- DRAM contention is ignored by the plan (Herald's cost model assumes a static BW partition);
  the engine's bandwidth policy applies at run time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field

from relmas.schedulers.base import Decision, Scheduler, SchedulerParams
from relmas.schedulers.registry import register_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import DONE, DROPPED, Dispatch, Request


class HeraldParams(SchedulerParams):
    """Herald's tunables."""

    balance_factor: float = Field(
        2.0,
        ge=1.0,
        description="Move a layer to the least-loaded unit if its EDP there is "
        "below this factor times the best EDP (XRBench: 2; 1 = pure EDP-greedy).",
    )
    fallback: bool = Field(
        False,
        description="If the assigned unit is busy, take the free unit with the best EDP "
        "instead of waiting (work-conserving variant; Herald itself waits).",
    )


@register_scheduler("herald")
class HeraldScheduler(Scheduler):
    """Per-request EDP-balanced layer-to-unit plan, executed in arrival order."""

    Params = HeraldParams

    def __init__(self, params: SchedulerParams | None = None) -> None:
        super().__init__(params)
        self.plans: dict[int, list[int]] = {}
        self.backlog_s: list[float] = []

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None:
        """Forget plans and loads of a previous run."""
        super().reset(sim, rng)
        self.plans = {}
        self.backlog_s = [0.0] * sim.chip.num_accels

    def _edp(self, sim: Simulator, req: Request, accel: int, layer: int) -> float:
        ty = sim.chip.accel_type[accel]
        m = req.model
        return sim.chip.energy_j[m][ty][layer] * sim.chip.latency_s[m][ty][layer]

    def _latency_s(self, sim: Simulator, req: Request, accel: int, layer: int) -> float:
        return sim.chip.latency_s[req.model][sim.chip.accel_type[accel]][layer]

    def _plan(self, sim: Simulator, req: Request) -> list[int]:
        """Assign each remaining layer of ``req`` to a unit (the Herald rule)."""
        p = self.params
        assert isinstance(p, HeraldParams)
        units = range(sim.chip.num_accels)
        load = [self.backlog_s[a] + sim.busy_remaining_s(a) for a in units]
        plan = [-1] * req.num_layers
        for layer in range(req.next_layer, req.num_layers):
            edp = [self._edp(sim, req, a, layer) for a in units]
            best = min(units, key=edp.__getitem__)
            least = min(units, key=load.__getitem__)
            if least != best and edp[least] < p.balance_factor * edp[best]:
                best = least
            plan[layer] = best
            work_s = self._latency_s(sim, req, best, layer)
            load[best] += work_s
            self.backlog_s[best] += work_s
        return plan

    def _release(self, sim: Simulator) -> None:
        """Return the unstarted layers of finished or dropped requests to the load ledger."""
        for rid in [r for r, _ in self.plans.items() if sim.requests[r].state in (DONE, DROPPED)]:
            req = sim.requests[rid]
            plan = self.plans.pop(rid)
            start = req.next_layer if req.state == DROPPED else req.num_layers
            for layer in range(start, req.num_layers):
                self.backlog_s[plan[layer]] -= self._latency_s(sim, req, plan[layer], layer)

    def _take(self, sim: Simulator, req: Request, accel: int) -> Dispatch:
        """Dispatch ``req``'s next layer on ``accel``, moving it in the ledger if re-planned."""
        plan, layer = self.plans[req.rid], req.next_layer
        self.backlog_s[plan[layer]] -= self._latency_s(sim, req, plan[layer], layer)
        plan[layer] = accel
        return Dispatch(req, accel)

    def decide(self, sim: Simulator) -> Sequence[Decision]:
        """Arrival order; each request takes its planned unit (with fallback: any free one)."""
        p = self.params
        assert isinstance(p, HeraldParams)
        if len(self.backlog_s) != sim.chip.num_accels:  # used without reset()
            self.reset(sim, self.rng)
        self._release(sim)
        ordered = sorted(sim.ready.values(), key=lambda r: (r.arrival_s, r.rid))
        for req in ordered:
            if req.rid not in self.plans:
                self.plans[req.rid] = self._plan(sim, req)
        free = set(sim.free_accels)
        out: list[Decision] = []
        for req in ordered:
            if not free:
                break
            accel = self.plans[req.rid][req.next_layer]
            if accel not in free:
                if not p.fallback:
                    continue
                accel = min(sorted(free), key=lambda a: self._edp(sim, req, a, req.next_layer))
            free.discard(accel)
            out.append(self._take(sim, req, accel))
        return out
