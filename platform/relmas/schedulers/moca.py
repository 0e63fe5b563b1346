"""MoCA: priority- and SLA-aware dispatch plus score-weighted DRAM bandwidth throttling.

Paper: S. Kim, H. Genc, V. V. Nikiforov, K. Asanović, B. Nikolić, Y. S. Shao, "MoCA: Memory-Centric,
Adaptive Execution for Multi-Tenant Deep Neural Networks", HPCA 2023 (arXiv 2305.05843). Formulas
read from the artifact code github.com/SeahK/gemmini-rocc-tests-moca-ae@0e37739 (``peers.md`` §1).

1. Dispatch order (``workload.h: workload_priority_mp``), highest first::

       task_score_i = priority_i + (now - arrival_i) / isolated_latency_i

   (the artifact multiplies both terms by 1e5; user priority dominates until a request has waited
   longer than its isolated latency).
2. Runtime score of a running or starting layer (``gemmini.h``), slack floored at ``min_slack_s``::

       slack_i = deadline_i - now;  togo_i = isolated time of i's remaining layers
       score_i = floor((1 + priority_i) / 4) + round(10 * togo_i / slack_i)

3. Bandwidth cap of a layer being dispatched, demands ``ideal`` in bytes/s::

       if ideal_i + others > util * B:                      # contention
           excess  = ideal_i + others - util * B
           w       = sum_j score_j * ideal_j   (variant "paper")
                   = score_i * others          (variant "ae")
           cap_i   = max(min_share * B, ideal_i - excess * w / (score_i * ideal_i + w))
       else: cap_i = inf

   The artifact weights co-runners with the *local* score (``other_weight_sum += this_score *
   util[j]``), which cancels the scores and makes the split demand-proportional; this looks like a
   bug, so the default ``variant="paper"`` implements the score-weighted intent and
   ``variant="ae"`` reproduces the artifact.

Adaptations to this system:

- Layer granularity: the cap is chosen at each layer dispatch (MoCA reconfigures before each
  layer); co-runners keep the caps they were dispatched with until their layer ends. Layers
  dispatched earlier in the same decision count as co-runners.
- MoCA's ``DRAM_MAX_UTIL`` of 150% refers to its percent-of-peak accounting; in the fluid DRAM model
  of this simulator contention starts at 100% of ``B`` (``util=1.0``). ``min_share`` = 25% of ``B``
  as in the artifact.
- Placement: the free sub-accelerator with the lowest isolated latency (MoCA picks the least-loaded
  tile group of a homogeneous chip; there is no dataflow choice there). No tile grouping: a
  sub-accelerator is the unit; MoCA's 2-tile co-location pairs have no counterpart.
- ``togo`` uses the best-type isolated latency of the remaining layers (MoCA's pre-compiled table).
- The caps only act under the ``capped`` bandwidth policy, which this scheduler requests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from relmas.schedulers.base import Decision, Scheduler, SchedulerParams, best_free_accel
from relmas.schedulers.registry import register_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Dispatch, Request


class MocaParams(SchedulerParams):
    """MoCA's tunables."""

    variant: Literal["paper", "ae"] = Field(
        "paper",
        description="'paper': co-runners weighted by their own scores (the paper's "
        "intent); 'ae': the artifact code's local-score weighting (demand-proportional split).",
    )
    contention_util: float = Field(
        1.0,
        gt=0.0,
        description="Contention when summed demand exceeds this fraction of the DRAM bandwidth.",
    )
    min_share: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="Floor of a cap as a fraction of the DRAM bandwidth (artifact: 25%).",
    )
    min_slack_s: float = Field(
        1e-8, gt=0.0, description="Slack floor for late requests (artifact: 10 cycles at 1 GHz)."
    )


def task_score(sim: Simulator, req: Request) -> float:
    """Queue score: user priority plus waiting time in units of the model's isolated latency."""
    wait_s = sim.now_s - req.arrival_s
    return req.priority + wait_s / sim.chip.isolated_latency_s[req.model]


@register_scheduler("moca")
class MocaScheduler(Scheduler):
    """Highest task score first, fastest free unit, score-weighted bandwidth cap per layer."""

    Params = MocaParams
    bandwidth_policy = "capped"

    def runtime_score(self, sim: Simulator, req: Request) -> float:
        """MoCA's dynamic priority: user priority class plus remaining work over slack."""
        p = self.params
        assert isinstance(p, MocaParams)
        slack_s = max(req.deadline_s - sim.now_s, p.min_slack_s)
        togo_s = sim.chip.remaining_best_s[req.model][req.next_layer]
        return (1 + req.priority) // 4 + round(10 * togo_s / slack_s)

    def cap_bytes_per_s(
        self, sim: Simulator, req: Request, accel: int, corunners: Sequence[tuple[float, float]]
    ) -> float:
        """Cap for ``req``'s next layer on ``accel``; ``corunners`` = (score, demand) pairs."""
        p = self.params
        assert isinstance(p, MocaParams)
        ideal = sim.chip.demand_bytes_per_s[req.model][sim.chip.accel_type[accel]][req.next_layer]
        others = sum(d for _, d in corunners)
        bw = sim.chip.bandwidth_bytes_per_s
        if ideal + others <= p.contention_util * bw or ideal <= 0.0:
            return math.inf
        excess = ideal + others - p.contention_util * bw
        score = self.runtime_score(sim, req)
        weight = sum(s * d for s, d in corunners) if p.variant == "paper" else score * others
        denominator = score * ideal + weight
        share = weight / denominator if denominator > 0 else others / (ideal + others)
        return max(p.min_share * bw, ideal - excess * share)

    def decide(self, sim: Simulator) -> Sequence[Decision]:
        """Sort by task score, place on the fastest free unit, cap the layer's bandwidth."""
        ordered = sorted(sim.ready.values(), key=lambda r: (-task_score(sim, r), r.arrival_s))
        corunners = [
            (self.runtime_score(sim, running), sim.demand_bytes_per_s[a])
            for a in sim.busy
            if (running := sim.accel_request[a]) is not None
        ]
        free = list(sim.free_accels)
        out: list[Decision] = []
        for req in ordered[: len(free)]:
            accel = best_free_accel(sim, req, free)
            free.remove(accel)
            cap = self.cap_bytes_per_s(sim, req, accel, corunners)
            out.append(Dispatch(req, accel, bandwidth_cap_bytes_per_s=cap))
            demand = sim.chip.demand_bytes_per_s[req.model][sim.chip.accel_type[accel]]
            corunners.append((self.runtime_score(sim, req), demand[req.next_layer]))
        return out
