"""Dysta: SJF nudged by remaining slack and a preemption penalty (static level, no monitor).

Paper: Hongxiang Fan, Stylianos I. Venieris, Alexandros Kouris and Nicholas D. Lane,
"Sparse-DySta: Sparsity-Aware Dynamic and Static Scheduling for Sparse Multi-DNN Workloads",
MICRO 2023 (arXiv 2310.11096); formula as coded in ``Dysta_Scheduler`` of their public simulator
(SamsungLabs/Sparse-Multi-DNN-Scheduling, dysta_scheduler/scheduler.py).

Formula, for every ready request r at time ``now`` (the smallest score runs first):
    rem_r     = gamma_r * remaining estimated latency of r           (gamma_r = 1 here)
    urgency_r = max(0, (deadline_r - now) - rem_r)                    (slack left after the work)
    penalty_r = (now - last_exec_r) / isolated_latency_r / N          (N = requests in the system)
    score_r   = rem_r + beta * (urgency_r + penalty_r)                (beta = 0.01 in the paper)

With a small beta this is SJF whose ties and near-ties go to the request with less slack and to
the one that ran most recently. Note the sign: under argmin the penalty *disfavours* requests
that have been idle long, i.e. it discourages switching tasks (Dysta's code comment: "avoid task
switch ... encourage resuming the already running task"). It is not an anti-starvation term.
Units are mixed as in Dysta's code (rem and urgency in seconds, penalty a dimensionless ratio):
each unit of normalised idle time costs beta seconds of score.

Adaptations to this system:
- No hardware sparsity monitor: inputs are dense in our cost model, so gamma = 1 and ``rem`` is
  the best-type isolated remaining time (``chip.remaining_best_s``); this is Dysta's static
  level only. DRAM contention is not predicted.
- ``last_exec_r`` is the end of r's last layer, or its arrival if it has not run yet.
- N: Dysta divides by the number of unfinished tasks on its single accelerator, which are all
  ready at a scheduling point. With several sub-accelerators we use the unfinished requests that
  have arrived (ready + running), keeping "tasks in the system" as the meaning.
- Several free sub-accelerators: the lowest scores are dispatched in order, each onto its
  fastest free type (Dysta picks one task for one accelerator).
"""

from __future__ import annotations

from pydantic import Field

from relmas.schedulers.base import OrderingScheduler, SchedulerParams
from relmas.schedulers.registry import register_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Request


class DystaParams(SchedulerParams):
    """Dysta's weighting knob."""

    beta: float = Field(
        0.01,
        ge=0.0,
        description="Weight of (urgency + preemption penalty) against the remaining time; "
        "0 gives pure SJF (Dysta default 0.01).",
    )


@register_scheduler("dysta")
class DystaScheduler(OrderingScheduler):
    """argmin of remaining time + beta * (remaining slack + preemption penalty)."""

    Params = DystaParams

    def key(self, sim: Simulator, req: Request) -> float:
        """Dysta's score of the request at ``sim.now_s`` (smaller runs first)."""
        p = self.params
        assert isinstance(p, DystaParams)
        chip = sim.chip
        rem_s = chip.remaining_best_s[req.model][req.next_layer]
        urgency_s = max(0.0, req.deadline_s - sim.now_s - rem_s)
        in_system = len(sim.ready) + len(sim.busy)
        idle_s = sim.now_s - req.last_run_end_s
        penalty = idle_s / chip.isolated_latency_s[req.model] / in_system
        return rem_s + p.beta * (urgency_s + penalty)
