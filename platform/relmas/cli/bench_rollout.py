"""The lookahead part of ``relmas bench sim``: decisions per CPU-second of ``rollout`` and its base.

Why apart from the dispatch rates: a rollout simulates hundreds of decisions ahead for each one
it makes, so its figure is decisions per second (milliseconds each) on a truncated episode, not
dispatches per second over a whole one; its base heuristic runs on the same requests in the same
minute, so the ratio of the two is the figure to compare across days and machines.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from relmas.errors import UserError
from relmas.experiment import Setup, make_simulator
from relmas.schedulers import make_scheduler
from relmas.schedulers.base import Decision, Scheduler
from relmas.schedulers.rollout import RolloutScheduler


def _decisions_per_s(setup: Setup, sched: Scheduler, seed: int) -> tuple[float, int]:
    """(decisions per CPU-second, decisions) of one run: every call of ``decide`` counts."""
    sim = make_simulator(setup, seed, bandwidth_policy=sched.bandwidth_policy)
    sched.reset(sim, np.random.default_rng(seed))
    decide, n = sched.decide, 0
    started = time.thread_time()
    while sim.advance():
        decisions: Sequence[Decision] = decide(sim)
        sim.apply(decisions)
        n += 1
    return n / max(time.thread_time() - started, 1e-9), n


def check_rollout(ref: str) -> RolloutScheduler:
    """The rollout scheduler ``ref`` names (a one-line error otherwise), before any timing."""
    rollout = make_scheduler(ref)
    if not isinstance(rollout, RolloutScheduler):
        raise UserError("--rollout", f"{ref!r} is not the rollout scheduler", "e.g. rollout")
    return rollout


def rollout_rate(setup: Setup, ref: str, requests: int, repeat: int = 1) -> dict[str, Any]:
    """Best-of-``repeat`` decision rates of ``ref`` and of its base on the first ``requests``
    requests of ``setup``'s scenario (seeds 0..repeat-1), alternated. Overloaded presets
    build their queues up over hundreds of requests, and a rollout's cost grows with the
    queue, so a short episode flatters it: ``relmas bench sim`` uses 400 by default."""
    rollout = check_rollout(ref)
    short = replace(setup, scenario=setup.scenario.model_copy(update={"num_requests": requests}))
    best_r, best_b, n = 0.0, 0.0, 0
    for seed in range(repeat):
        rate_b, _ = _decisions_per_s(short, rollout.new_base(), seed)
        rate_r, n = _decisions_per_s(short, make_scheduler(ref), seed)
        best_r, best_b = max(best_r, rate_r), max(best_b, rate_b)
    return {
        "rollout_scheduler": ref, "rollout_base": rollout.p.base, "rollout_requests": requests,
        "rollout_decisions_per_run": n, "rollout_decisions_per_s": best_r,
        "rollout_ms_per_decision": 1e3 / best_r, "rollout_base_decisions_per_s": best_b,
        "rollout_cost_x_base": best_b / best_r,
    }  # fmt: skip
