"""DREAM-style: per (request, unit) MapScore = urgency + alpha*fairness + unit preference; drops."""

from __future__ import annotations

import numpy as np

from relmas.schedulers import make_scheduler
from relmas.sim import RequestSpec, Simulator
from relmas.sim.result import SimResult
from relmas.sim.toy import toy_chip

# Unit 0 = simba, unit 1 = eyeriss.
CHIP = toy_chip(
    ["simba", "eyeriss"],
    {
        "a": {"simba": [3.0], "eyeriss": [3.0]},  # identical on both types
        "x": {"simba": [2.0], "eyeriss": [4.0]},  # simba faster but 4x the energy
        "z": {"simba": [1.0], "eyeriss": [10.0]},  # simba much faster, same energy
    },
    energy_j={"x": {"simba": [4.0], "eyeriss": [1.0]}},
)
A, X, Z = range(3)


def _run(specs: list[RequestSpec], **params: object) -> SimResult:
    sim = Simulator(CHIP, specs, record_trace=True)
    sched = make_scheduler("dream", params)
    sched.reset(sim, np.random.default_rng(0))
    return sim.run(sched, seed=0)


def test_energy_preference_picks_the_efficient_unit() -> None:
    # Lone x at t=0, deadline 100: urgency 2/100 and fairness 0 are the same on both units.
    # pref(simba) = 0.5 * 1/4 + 0.5 * 2/2 = 0.625;  pref(eyeriss) = 0.5 * 1/1 + 0.5 * 2/4 = 0.75
    # -> eyeriss [0,4]. With beta = 0: 0.5 vs 0.25 -> simba [0,2].
    res = _run([RequestSpec(0.0, 0, X, 1, 100.0)])
    assert res.trace == [(1, 0, 0, 0.0, 4.0)]
    res = _run([RequestSpec(0.0, 0, X, 1, 100.0)], beta=0.0)
    assert res.trace == [(0, 0, 0, 0.0, 2.0)]


def test_urgent_request_gets_the_fast_unit() -> None:
    # z requests at t=0: r0 deadline 100 (urgency 0.01), r1 deadline 2 (urgency 1/2).
    # pref(simba) = 0.5 + 0.5 = 1.0, pref(eyeriss) = 0.5 + 0.5 * 0.1 = 0.55.
    # MapScores: r1-simba 1.5 > r1-eyeriss 1.05 > r0-simba 1.01 > r0-eyeriss 0.56.
    # Greedy: r1 -> simba [0,1]; r0 -> eyeriss [0,10] (work-conserving, no waiting).
    res = _run([RequestSpec(0.0, 0, Z, 1, 100.0), RequestSpec(0.0, 0, Z, 1, 2.0)])
    assert sorted(res.trace) == [(0, 1, 0, 0.0, 1.0), (1, 0, 0, 0.0, 10.0)]


def test_hopeless_request_is_dropped() -> None:
    # r0, r1 (a, deadline 100) take both units [0,3]. r2 (deadline 3.5) and r3 (deadline 100)
    # arrive at t=1. At t=3: 3 + 3 > 3.5, so r2 is dropped (finish_s = drop time 3) and r3 runs
    # on simba [3,6]. Without dropping r2 gets urgency 1 and runs (late) next to r3.
    specs = [
        RequestSpec(0.0, 0, A, 1, 100.0),
        RequestSpec(0.0, 0, A, 1, 100.0),
        RequestSpec(1.0, 0, A, 1, 3.5),
        RequestSpec(1.0, 0, A, 1, 100.0),
    ]
    res = _run(specs)
    assert res.dropped.tolist() == [False, False, True, False]
    assert res.finish_s.tolist() == [3.0, 3.0, 3.0, 6.0]
    assert res.trace[-1] == (0, 3, 0, 3.0, 6.0)
    res = _run(specs, drop_late=False)
    assert not res.dropped.any()
    assert {rid: a for a, rid, *_ in res.trace if rid >= 2} == {2: 0, 3: 1}


def test_fairness_term_lifts_a_starved_request() -> None:
    # t=0: r0 (z, deadline 100) -> simba [0,1] (score 1.01), r1 (x, deadline 100) -> eyeriss
    # [0,4] (0.02 + 0.75). r2 (z, deadline 100) arrives at 0.5; r3 (z, deadline 60) at 1.
    # At t=1 only simba is free. urgency r2 = 1/99 = 0.0101, r3 = 1/59 = 0.0169.
    # fairness = (now - last_run_end) / best layer time: r2 = 0.5/1, r3 = 0.
    # alpha = 1: r2 wins (0.51 vs 0.017). alpha = 0 (the default): r3 wins on urgency.
    specs = [
        RequestSpec(0.0, 0, Z, 1, 100.0),
        RequestSpec(0.0, 0, X, 1, 100.0),
        RequestSpec(0.5, 0, Z, 1, 100.0),
        RequestSpec(1.0, 0, Z, 1, 60.0),
    ]
    res = _run(specs, alpha=1.0)
    assert res.trace[1] == (0, 2, 0, 1.0, 2.0)
    res = _run(specs)
    assert res.trace[1] == (0, 3, 0, 1.0, 2.0)


def test_alpha_defaults_per_form() -> None:
    # relmas: 0 (urgency leads; see the module doc); dysta: 1.0, the SDRM3 re-implementation's.
    assert make_scheduler("dream").alpha == 0.0  # type: ignore[attr-defined]
    assert make_scheduler("dream", {"form": "dysta"}).alpha == 1.0  # type: ignore[attr-defined]
    assert make_scheduler("dream", {"form": "dysta", "alpha": 0.5}).alpha == 0.5  # type: ignore[attr-defined]


# One unit. P has layers 0.1 s + 0.2 s, whose suffix sums give 0.30000000000000004 - 0.2 =
# 0.10000000000000003 for the first layer; Q is one 0.1 s layer; Z one 1 s layer.
ONE = toy_chip(
    ["simba"],
    {
        "P": {"simba": [0.1, 0.2]},
        "Q": {"simba": [0.1]},
        "Z": {"simba": [1.0]},
        "A": {"simba": [1.0]},
    },
)


def test_fairness_divides_by_the_next_layers_own_latency() -> None:
    # Z (rid 0), P (rid 1), Q (rid 2) at t=0, all deadlines 0.05 (hopeless; not dropped): every
    # urgency is 1 and idle 0, an exact tie -> the earliest, Z [0, 1]. At t=1 P and Q both waited
    # 1 s: fairness 1 / 0.1 = 10 each (alpha 1), an exact tie again -> P (earlier) [1, 1.1].
    # With the suffix-sum difference P's fairness was 1 / 0.10000000000000003 < 10 and Q ran.
    specs = [RequestSpec(0.0, 0, m, 1, 0.05) for m in (2, 0, 1)]
    sim = Simulator(ONE, specs, record_trace=True)
    res = sim.run(make_scheduler("dream", {"alpha": 1.0, "drop_late": False}), seed=0)
    assert [rid for _, rid, *_ in res.trace] == [0, 1, 2, 1]


def test_dysta_form_urgency_turns_negative_past_the_deadline_and_nothing_is_dropped() -> None:
    # Three 1 s jobs at t=0 on one unit: r0 deadline 0.9, r1 0.95, r2 100.
    # t=0: urgency min(1, 1/0.9) = min(1, 1/0.95) = 1 for r0 and r1 (tie: r0 first), 0.01 for r2
    #   -> r0 [0, 1].
    # dysta, t=1: r1 slack -0.05 -> urgency 1 / -0.05 = -20, + alpha 1 x fairness 1/1 = -19;
    #   r2: 1/99 + 1 = 1.0101 -> r2 [1, 2], then r1 [2, 3] (late, not dropped).
    # relmas (alpha 0, drop_late off): r1's urgency is 1 past the deadline -> r1 [1, 2], r2 [2, 3];
    # relmas default: r0 and r1 cannot make 0.9 / 0.95 even at t=0 (1 s of work), so both are
    # dropped at once and r2 runs [0, 1].
    specs = [RequestSpec(0.0, 0, 3, 1, d) for d in (0.9, 0.95, 100.0)]

    def run(**params: object) -> SimResult:
        return Simulator(ONE, specs).run(make_scheduler("dream", params), seed=0)

    assert run(form="dysta").finish_s.tolist() == [1.0, 3.0, 2.0]
    assert run(drop_late=False).finish_s.tolist() == [1.0, 2.0, 3.0]
    dropped = run()
    assert dropped.dropped.tolist() == [True, True, False]
    assert dropped.finish_s.tolist() == [0.0, 0.0, 1.0]
