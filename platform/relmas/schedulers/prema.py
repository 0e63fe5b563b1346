"""PREMA: token-based predictive multi-task scheduling, preemptive at layer boundaries.

Paper: Yujeong Choi and Minsoo Rhu, "PREMA: A Predictive Multi-task Scheduling Algorithm For
Preemptible Neural Processing Units", HPCA 2020 (arXiv 1909.04548), Algorithm 2; as re-implemented
in Dysta's public simulator (SamsungLabs/Sparse-Multi-DNN-Scheduling, ``PREMA_Scheduler``).

Formula, at every decision point:
    token_r  = priority_r                                  when r arrives (Alg. 2 line 3)
    token_r += priority_r * waited_s / isolated_latency_s  (Alg. 2 line 7, per Dysta's comments)
    threshold = the largest of thresholds (9, 3, 1) that max_r token_r reaches
    candidates = {r : token_r >= threshold}; run the candidate with the shortest estimated
                 remaining time (SJF among candidates, line 10 onwards)
Priorities are 1 / 3 / 9 (low / mid / high), the levels PREMA and Dysta use.

What "waited" is decides how fast tokens grow; two forms (``--param form=...``):

- ``dysta`` (default since issue 15): Dysta's ``PREMA_Scheduler`` line by line. At every
  scheduling call each request adds ``priority x (now - end of its last layer) / isolated
  latency``, so an interval of waiting is added again at every call and tokens grow roughly
  quadratically in the waiting time: once tokens pass 9, PREMA orders like SJF. A request's
  first call only sets its token to its priority and leaves it out of the maximum that picks the
  threshold (the code sets ``max_task_id`` but not ``max_prema_token`` there), and candidates
  are ranked by SJF alone, whatever their own class.
- ``relmas`` (the default before): each waiting interval is credited once, so a request's token
  is ``priority x (1 + its total queueing time / isolated latency)``, whatever the number of
  decision points. Low priorities then need ``9 / p - 1`` isolated latencies of waiting to reach
  the top class.

We could not read Alg. 2's text here (only the paper's abstract is reachable), so neither form
is claimed to be "the" PREMA, and the earlier claim that crediting once "is what Alg. 2
describes" is withdrawn. The Dysta code is the one public implementation that follows Alg. 2
line by line (its comments cite lines 3, 7 and 10); MoCA's artifact
(SeahK/gemmini-rocc-tests-moca-ae, ``workload_priority_sp``) scores a PREMA-style queue by
``priority + (now - arrival) / (CAP x isolated)``, recomputed at every call. ``dysta`` is the
default because it is that public reading and it is the stronger baseline: on heavy / 2s2e it
meets 0.838 of the deadlines against 0.427 for ``relmas``, whose priority-1 requests starve
(0.040 met against 0.767), for about the same priority-9 SLA rate (0.879 against 0.888; 20
seeds, docs/peers_as_published.md). A scheduler compared with it is compared with PREMA at its
best. Its cost: the token depends on how often the scheduler is called, and with
layer-granularity decisions a chip with ``k`` units calls it about ``k`` times as often as one
unit, so tokens age that much faster there. On one sub-accelerator both forms are called once
per layer boundary, as in Dysta's simulator.

Adaptations to this system:
- Several free sub-accelerators: selection is repeated on the remaining requests, which equals
  sorting by (token class descending, remaining time ascending), where the class of a token is the
  largest threshold it reaches (0 below the smallest); form ``dysta`` sorts by (candidate first,
  remaining time). Each pick goes to its fastest free type.
- "Waited" is pure queueing time: a request accrues tokens only while it is ready (not while one
  of its layers runs).
- Estimated remaining / isolated times are the chip's best-type isolated tables (PREMA's
  predictor is replaced by the exact isolated cost model; DRAM contention is not predicted).
- Preemption is at layer boundaries only (PREMA's DRAIN at layer granularity, as in Dysta); the
  checkpoint/kill mechanisms and their overheads are not modelled.
- Candidates are ``token >= threshold`` (Dysta's fix of Alg. 2's strict ``>``, without which
  no fresh request would be a candidate), so a fresh top-priority request qualifies at once.
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from relmas.schedulers.base import Decision, Scheduler, SchedulerParams, place_in_order
from relmas.schedulers.registry import register_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Request


class PremaParams(SchedulerParams):
    """PREMA's knobs: the token thresholds (one per priority level) and the token form."""

    form: Literal["dysta", "relmas"] = Field(
        "dysta",
        description="dysta (default): re-add priority x (now - last run) / isolated at every "
        "call, as PREMA_Scheduler in SamsungLabs/Sparse-Multi-DNN-Scheduling; relmas (the "
        "default before issue 15): credit each waiting interval once.",
    )
    thresholds: tuple[float, ...] = Field(
        (9.0, 3.0, 1.0),
        description="Token thresholds, strictly decreasing and positive; the largest one reached "
        "by any ready request's token admits the candidates (PREMA: the priority levels 9/3/1).",
    )

    @field_validator("thresholds")
    @classmethod
    def _decreasing(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(t <= 0 for t in value):
            raise ValueError("thresholds must be a non-empty list of positive numbers")
        if any(a <= b for a, b in itertools.pairwise(value)):
            raise ValueError("thresholds must be strictly decreasing, e.g. [9, 3, 1]")
        return value


@register_scheduler("prema")
class PremaScheduler(Scheduler):
    """Token classes by priority-weighted waiting, SJF within [form=dysta, as in Dysta's code]."""

    Params = PremaParams

    def __init__(self, params: SchedulerParams | None = None) -> None:
        super().__init__(params)
        self.tokens: dict[int, float] = {}
        self._last_decision_s = 0.0

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None:
        """Forget all tokens."""
        super().reset(sim, rng)
        self.tokens = {}
        self._last_decision_s = 0.0

    def update_tokens(self, sim: Simulator) -> None:
        """Credit every ready request for the time it waited since it was last accounted for.

        A ready request has been waiting since its last layer ended (or it arrived), or since the
        previous decision point if that is later, so each waiting interval is credited once.
        """
        iso = sim.chip.isolated_latency_s
        for req in sim.ready.values():
            since_s = max(self._last_decision_s, req.last_run_end_s)
            token = self.tokens.get(req.rid, float(req.priority))
            self.tokens[req.rid] = token + req.priority * (sim.now_s - since_s) / iso[req.model]
        self._last_decision_s = sim.now_s

    def add_idle_time(self, sim: Simulator) -> float:
        """form=dysta: add every ready request's whole idle time again; the max of old tokens.

        A request seen for the first time only gets its priority as token and is left out of
        the returned maximum, as in Dysta's ``PREMA_Scheduler``.
        """
        iso = sim.chip.isolated_latency_s
        top = 0.0
        for req in sim.ready.values():
            token = self.tokens.get(req.rid)
            if token is None:
                self.tokens[req.rid] = float(req.priority)
                continue
            token += req.priority * (sim.now_s - req.last_run_end_s) / iso[req.model]
            self.tokens[req.rid] = token
            top = max(top, token)
        return top

    def token_class(self, token: float) -> float:
        """The largest threshold the token reaches (0 if it reaches none)."""
        p = self.params
        assert isinstance(p, PremaParams)
        return next((t for t in p.thresholds if token >= t), 0.0)

    def decide(self, sim: Simulator) -> list[Decision]:
        """Highest token class first, shortest remaining time within it; fastest free type."""
        p = self.params
        assert isinstance(p, PremaParams)
        if p.form == "dysta":
            return place_in_order(sim, self._dysta_order(sim, p.thresholds))
        self.update_tokens(sim)
        remaining = sim.chip.remaining_best_s

        def rank(req: Request) -> tuple[float, float, int]:
            cls = self.token_class(self.tokens[req.rid])
            return (-cls, remaining[req.model][req.next_layer], req.rid)

        ordered = heapq.nsmallest(len(sim.free_accels), sim.ready.values(), key=rank)
        return place_in_order(sim, ordered)

    def _dysta_order(self, sim: Simulator, thresholds: tuple[float, ...]) -> list[Request]:
        """Candidates (token >= threshold) by SJF, then the others by SJF (Dysta's selection).

        The threshold is the largest one the maximum old token reaches, else the smallest one;
        if no token reaches it (Dysta's code would crash), every request is a candidate.
        """
        top = self.add_idle_time(sim)
        threshold = next((t for t in thresholds if top >= t), thresholds[-1])
        tokens, remaining = self.tokens, sim.chip.remaining_best_s
        if not any(tokens[r.rid] >= threshold for r in sim.ready.values()):
            threshold = -math.inf

        def rank(req: Request) -> tuple[bool, float, int]:
            return (tokens[req.rid] < threshold, remaining[req.model][req.next_layer], req.rid)

        return heapq.nsmallest(len(sim.free_accels), sim.ready.values(), key=rank)
