"""Herald: EDP-affinity layer plans with load balancing (factor 2), executed in arrival order."""

from __future__ import annotations

import numpy as np

from relmas.schedulers import make_scheduler
from relmas.schedulers.herald import HeraldScheduler
from relmas.sim import RequestSpec, Simulator
from relmas.sim.toy import toy_chip

# Unit 0 = simba, unit 1 = eyeriss. Energy chosen so EDP and latency disagree for model p.
CHIP = toy_chip(
    ["simba", "eyeriss"],
    {
        "p": {"simba": [1.0], "eyeriss": [3.0]},  # EDP 1*4 = 4 vs 3*0.5 = 1.5
        "q": {"simba": [2.0], "eyeriss": [3.0]},  # EDP 2 vs 3 (eyeriss within 2x)
        "s": {"simba": [1.0], "eyeriss": [2.0]},  # EDP 1 vs 2 (eyeriss exactly 2x: no move)
        "t": {"simba": [2.0, 1.0], "eyeriss": [1.0, 2.0]},  # prefers eyeriss then simba
    },
    energy_j={"p": {"simba": [4.0], "eyeriss": [0.5]}},
)
P, Q, S, T = range(4)


def _run(specs: list[RequestSpec], **params: object) -> tuple[Simulator, HeraldScheduler]:
    sim = Simulator(CHIP, specs, record_trace=True)
    sched = make_scheduler("herald", params)
    assert isinstance(sched, HeraldScheduler)
    sched.reset(sim, np.random.default_rng(0))
    sim.run(sched, seed=0)
    return sim, sched


def test_edp_affinity_and_load_balancing() -> None:
    # Four requests at t=0, planned in rid order; loads = [simba, eyeriss] outstanding seconds.
    # r0 (p): best by EDP = eyeriss (1.5 < 4) although simba is 3x faster; least loaded = simba
    #   (tie -> index 0) but 4 < 2*1.5 is false -> eyeriss. loads [0, 3].
    # r1 (q): best simba (2 < 3) = least loaded -> simba. loads [2, 3].
    # r2 (q): best simba, least loaded simba (2 < 3) -> simba. loads [4, 3].
    # r3 (q): best simba, least loaded eyeriss (3 < 4), 3 < 2*2 -> moved to eyeriss.
    # Execution: t=0 r0 -> eyeriss [0,3], r1 -> simba [0,2]; t=2 r2 -> simba [2,4] while r3
    # waits for its busy eyeriss; t=3 r3 -> eyeriss [3,6].
    specs = [RequestSpec(0.0, 0, m, 1, 100.0) for m in (P, Q, Q, Q)]
    sim, sched = _run(specs)
    assert [(a, rid, start, end) for a, rid, _, start, end in sim.trace] == [
        (0, 1, 0.0, 2.0),
        (1, 0, 0.0, 3.0),
        (0, 2, 2.0, 4.0),
        (1, 3, 3.0, 6.0),
    ]
    assert sched.backlog_s == [0.0, 0.0]  # every planned layer was dispatched


def test_balance_factor_one_is_pure_edp_greedy() -> None:
    # With factor 1 no layer ever moves: every q goes to simba; r3 waits for it (t=4 -> 6).
    specs = [RequestSpec(0.0, 0, m, 1, 100.0) for m in (P, Q, Q, Q)]
    sim, _ = _run(specs, balance_factor=1.0)
    assert {rid: (a, start) for a, rid, _, start, _ in sim.trace} == {
        0: (1, 0.0),
        1: (0, 0.0),
        2: (0, 2.0),
        3: (0, 4.0),
    }


def test_waits_for_assigned_unit_unless_fallback() -> None:
    # r0 (s) at t=0 -> simba [0,1]. r1 (s) at t=0.5: loads [0.5 busy, 0]; least loaded = eyeriss
    # but EDP 2 < 2*1 is false, so its plan is simba. Default: wait until t=1 -> [1,2].
    # fallback=True: eyeriss is free, take it at once -> [0.5, 2.5].
    specs = [RequestSpec(0.0, 0, S, 1, 100.0), RequestSpec(0.5, 0, S, 1, 100.0)]
    sim, _ = _run(specs)
    assert sim.trace[-1] == (0, 1, 0, 1.0, 2.0)
    sim, _ = _run(specs, fallback=True)
    assert sim.trace[-1] == (1, 1, 0, 0.5, 2.5)


def test_plan_is_per_layer() -> None:
    # t: layer 0 EDP simba 2 vs eyeriss 1 -> eyeriss (loads [0,1]); layer 1 EDP 1 vs 2 -> simba.
    sim, _ = _run([RequestSpec(0.0, 0, T, 1, 100.0)])
    assert sim.trace == [(1, 0, 0, 0.0, 1.0), (0, 0, 1, 1.0, 2.0)]


def test_dropped_request_releases_its_planned_load() -> None:
    # Two t requests at t=0, drop_hopeless on. Plans: r0 loads [0,0]: layer 0 -> eyeriss (least
    # loaded simba, but EDP 2 < 2*1 is false), layer 1 -> simba; loads [1,1]. r1: the same plan,
    # loads [2,2]. t=0: r0 -> eyeriss [0,1]; r1 waits for eyeriss although simba is idle.
    # r1's latest start = 2.5 - (1 + 1) = 0.5, so the engine drops it at t=1; Herald's next
    # decision (t=1, r0's layer 1 -> simba [1,2]) returns r1's two planned seconds to the ledger.
    specs = [RequestSpec(0.0, 0, T, 1, 100.0), RequestSpec(0.0, 0, T, 1, 2.5)]
    sim = Simulator(CHIP, specs, record_trace=True, drop_hopeless=True)
    sched = make_scheduler("herald")
    assert isinstance(sched, HeraldScheduler)
    sched.reset(sim, np.random.default_rng(0))
    res = sim.run(sched, seed=0)
    assert res.dropped.tolist() == [False, True]
    assert res.finish_s.tolist() == [2.0, 1.0]
    assert sim.trace == [(1, 0, 0, 0.0, 1.0), (0, 0, 1, 1.0, 2.0)]
    assert sched.backlog_s == [0.0, 0.0]
    assert list(sched.plans) == [0]  # r1 released; r0 finished after the last decision
