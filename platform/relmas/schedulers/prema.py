"""PREMA: token-based predictive multi-task scheduling, preemptive at layer boundaries.

Paper: Yujeong Choi and Minsoo Rhu, "PREMA: A Predictive Multi-task Scheduling Algorithm For
Preemptible Neural Processing Units", HPCA 2020 (arXiv 1909.04548), Algorithm 2; as re-implemented
in Dysta's public simulator (SamsungLabs/Sparse-Multi-DNN-Scheduling, ``PREMA_Scheduler``).

Formula, at every decision point:
    token_r  = priority_r                                  when r arrives (Alg. 2 line 3)
    token_r += priority_r * waited_s / isolated_latency_s  for the time r waited since the last
                                                           decision point (line 7)
    threshold = the largest of thresholds (9, 3, 1) that max_r token_r reaches
    candidates = {r : token_r >= threshold}; run the candidate with the shortest estimated
                 remaining time (SJF among candidates, line 10 onwards)
Priorities are 1 / 3 / 9 (low / mid / high), the levels PREMA and Dysta use.

Adaptations to this system:
- Several free sub-accelerators: selection is repeated on the remaining requests, which equals
  sorting by (token class descending, remaining time ascending), where the class of a token is the
  largest threshold it reaches (0 below the smallest). Each pick goes to its fastest free type.
- "Waited" is pure queueing time: a request accrues tokens only while it is ready (not while one
  of its layers runs). Dysta's code instead adds ``priority * (now - last_exec) / iso`` at *every*
  scheduling call, so the same idle interval is counted again at each call; we accrue each
  interval once, which is what Alg. 2 describes (token grows with normalised slowdown).
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

import numpy as np
from pydantic import Field, field_validator

from relmas.schedulers.base import Decision, Scheduler, SchedulerParams, place_in_order
from relmas.schedulers.registry import register_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Request


class PremaParams(SchedulerParams):
    """PREMA's knobs: the token thresholds (one per priority level)."""

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
    """Token classes by priority-weighted slowdown, then shortest remaining time within a class."""

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

    def token_class(self, token: float) -> float:
        """The largest threshold the token reaches (0 if it reaches none)."""
        p = self.params
        assert isinstance(p, PremaParams)
        return next((t for t in p.thresholds if token >= t), 0.0)

    def decide(self, sim: Simulator) -> list[Decision]:
        """Highest token class first, shortest remaining time within it; fastest free type."""
        self.update_tokens(sim)
        remaining = sim.chip.remaining_best_s

        def rank(req: Request) -> tuple[float, float, int]:
            cls = self.token_class(self.tokens[req.rid])
            return (-cls, remaining[req.model][req.next_layer], req.rid)

        ordered = heapq.nsmallest(len(sim.free_accels), sim.ready.values(), key=rank)
        return place_in_order(sim, ordered)
