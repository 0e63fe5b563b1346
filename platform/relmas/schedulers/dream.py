"""DREAM-style MapScore scheduling with frame dropping (a reconstruction: DREAM has no public code).

Paper: S. Kim, H. Kwon, J. Song, J. Jo, Y.-H. Chen, L. Lai, V. Chandra, "DREAM: A Dynamic Scheduler
for Dynamic Real-time Multi-model ML Workloads", ASPLOS 2023 (vol. 4; arXiv 2212.03414, v1 titled
SDRM3). The urgency and fairness terms follow the public SDRM3 re-implementation in
github.com/SamsungLabs/Sparse-Multi-DNN-Scheduling (``SDRM3_Scheduler``); the per-unit preference
term and the weights are our reconstruction of DREAM's heterogeneous MapScore (``peers.md`` §2).
This is "DREAM-style", not the authors' algorithm.

Score of ready request ``i`` on free sub-accelerator ``a`` (next layer ``l``, type ``t(a)``)::

    urgency_i   = min(1, remaining_best_i / (deadline_i - now))
    fairness_i  = (now - last_run_end_i) / latency_best(l)
    pref_ia     = beta * E_min(l) / E_t(a)(l) + gamma * T_min(l) / T_t(a)(l)   # both in (0, 1]
    MapScore_ia = urgency_i + alpha * fairness_i + pref_ia

Pairs are taken greedily by descending MapScore (ties: earlier arrival, then lower unit index),
each request and each free unit at most once per decision.

Frame dropping: a waiting request that can no longer meet its deadline even with every remaining
layer on its best type at full bandwidth (``now + remaining_best_i > deadline_i``) is dropped, as
XRBench's ``DropLateFrames`` and DREAM do (a drop counts as a violation but saves the energy).

Adaptations to this system:

- DREAM's weights are tuned online by a gradient-descent-like search on measured UXCost; here they
  are fixed ``Params`` (tune them with the platform's sweep tooling instead).
- The drop test is earlier than XRBench's ``now > deadline``: it uses the best-case remaining time,
  so hopeless requests stop consuming units before their deadline passes.
- No Supernet switching (every model has one variant in this system) and no cascaded-frame drops
  (requests here have no inter-model dependencies).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from relmas.schedulers.base import Decision, Scheduler, SchedulerParams
from relmas.schedulers.registry import register_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Dispatch, Drop, Request


class DreamParams(SchedulerParams):
    """DREAM-style weights."""

    alpha: float = Field(
        1.0, ge=0.0, description="Weight of the fairness (starvation) term (SDRM3 default 1.0)."
    )
    beta: float = Field(
        0.5,
        ge=0.0,
        description="Weight of the energy preference of a unit (E_min / E on its type).",
    )
    gamma: float = Field(
        0.5, ge=0.0, description="Weight of the speed preference of a unit (T_min / T on its type)."
    )
    drop_late: bool = Field(
        True, description="Drop requests that can no longer meet their deadline (frame dropping)."
    )


@register_scheduler("dream")
class DreamScheduler(Scheduler):
    """Greedy max-MapScore (request, unit) matching plus frame dropping."""

    Params = DreamParams

    def hopeless(self, sim: Simulator, req: Request) -> bool:
        """True if even the best-case remaining time overruns the deadline."""
        return sim.now_s + sim.chip.remaining_best_s[req.model][req.next_layer] > req.deadline_s

    def request_score(self, sim: Simulator, req: Request) -> float:
        """Urgency plus weighted fairness (the unit-independent part of MapScore)."""
        p = self.params
        assert isinstance(p, DreamParams)
        chip, layer = sim.chip, req.next_layer
        slack_s = req.deadline_s - sim.now_s
        remaining_s = chip.remaining_best_s[req.model][layer]
        urgency = 1.0 if slack_s <= 0 else min(1.0, remaining_s / slack_s)
        best_s = remaining_s - chip.remaining_best_s[req.model][layer + 1]
        fairness = (sim.now_s - req.last_run_end_s) / best_s if best_s > 0 else 0.0
        return urgency + p.alpha * fairness

    def preference(self, sim: Simulator, req: Request, accel: int) -> float:
        """How well ``accel``'s type suits the next layer: energy and speed ratios in (0, 1]."""
        p = self.params
        assert isinstance(p, DreamParams)
        chip, m, layer = sim.chip, req.model, req.next_layer
        ty = chip.accel_type[accel]
        energies = [chip.energy_j[m][t][layer] for t in range(chip.num_types)]
        latencies = [chip.latency_s[m][t][layer] for t in range(chip.num_types)]
        e_term = min(energies) / energies[ty] if energies[ty] > 0 else 1.0
        t_term = min(latencies) / latencies[ty] if latencies[ty] > 0 else 1.0
        return p.beta * e_term + p.gamma * t_term

    def decide(self, sim: Simulator) -> Sequence[Decision]:
        """Drop hopeless requests, then match the rest to free units by descending MapScore."""
        p = self.params
        assert isinstance(p, DreamParams)
        out: list[Decision] = []
        live: list[Request] = []
        for req in sorted(sim.ready.values(), key=lambda r: (r.arrival_s, r.rid)):
            if p.drop_late and self.hopeless(sim, req):
                out.append(Drop(req))
            else:
                live.append(req)
        pairs = []
        for rank, req in enumerate(live):
            base = self.request_score(sim, req)
            for accel in sim.free_accels:
                pairs.append((-(base + self.preference(sim, req, accel)), rank, accel, req))
        pairs.sort(key=lambda x: x[:3])
        taken_reqs: set[int] = set()
        taken_units: set[int] = set()
        for _, _, accel, req in pairs:
            if req.rid in taken_reqs or accel in taken_units:
                continue
            taken_reqs.add(req.rid)
            taken_units.add(accel)
            out.append(Dispatch(req, accel))
        return out
