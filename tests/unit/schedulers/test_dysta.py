"""Dysta: score = rem + beta * (max(0, slack - rem) + idle / iso / N), smallest first."""

from __future__ import annotations

import numpy as np
import pytest

from relmas.schedulers import make_scheduler
from relmas.sim import RequestSpec, Simulator
from relmas.sim.result import SimResult
from relmas.sim.toy import toy_chip

# 0 = simba, 1 = eyeriss (10x slower).
CHIP = toy_chip(
    ["simba", "eyeriss"],
    {
        "A": {"simba": [2.0], "eyeriss": [20.0]},
        "B": {"simba": [2.5], "eyeriss": [25.0]},
        "X": {"simba": [2.0], "eyeriss": [50.0]},  # blocker for simba
        "Y": {"simba": [50.0], "eyeriss": [2.0]},  # blocker for eyeriss
        "R": {"simba": [1.0], "eyeriss": [3.0]},
    },
)
# rid 0 = A (deadline 100), rid 1 = B (deadline 3), both at t = 0.
SPECS = [RequestSpec(0.0, 0, 0, 1, 100.0), RequestSpec(0.0, 0, 1, 1, 3.0)]


def _run(name: str, **params: object) -> SimResult:
    sim = Simulator(CHIP, SPECS, record_trace=True)
    sched = make_scheduler(name, params)
    sched.reset(sim, np.random.default_rng(0))
    return sim.run(sched, seed=0)


def _placement(res: SimResult) -> dict[int, tuple[int, float, float]]:
    return {rid: (a, start, end) for a, rid, _, start, end in res.trace}


def test_little_slack_overrides_a_slightly_shorter_job() -> None:
    # Scores at t=0 (idle 0, so no penalty): A = 2 + 0.01 * (100 - 2) = 2.98,
    # B = 2.5 + 0.01 * (3 - 2.5) = 2.505. B goes first and takes simba (0..2.5, meets 3);
    # A gets eyeriss (0..20). SJF would give simba to A and make B miss (eyeriss 0..25).
    got = _placement(_run("dysta"))
    assert got[1] == (0, 0.0, pytest.approx(2.5))
    assert got[0] == (1, 0.0, pytest.approx(20.0))


def test_beta_zero_is_sjf() -> None:
    got = _placement(_run("dysta", beta=0.0))
    assert got[0] == (0, 0.0, pytest.approx(2.0))
    assert got[1] == (1, 0.0, pytest.approx(25.0))


def test_score_includes_the_preemption_penalty() -> None:
    # Blockers X, Y (rids 0, 1) hold both units 0..2; R (rid 2, iso 1, deadline 10) arrives at
    # 0.5. At t=2 R is the only request in the system (N = 1), idle 2 - 0.5 = 1.5:
    # score = 1 + beta * (max(0, 10 - 2 - 1) + 1.5 / 1 / 1) = 1 + 8.5 beta = 9.5 for beta = 1.
    specs = [
        RequestSpec(0.0, 0, 2, 1, 1000.0),
        RequestSpec(0.0, 0, 3, 1, 1000.0),
        RequestSpec(0.5, 0, 4, 1, 10.0),
    ]
    sim = Simulator(CHIP, specs)
    sched = make_scheduler("dysta", {"beta": 1.0})
    sched.reset(sim, np.random.default_rng(0))
    assert sim.advance()
    sim.apply(sched.decide(sim))
    assert sim.advance()
    assert sim.now_s == pytest.approx(2.0)
    assert sched.key(sim, sim.ready[2]) == pytest.approx(9.5)  # type: ignore[attr-defined]
