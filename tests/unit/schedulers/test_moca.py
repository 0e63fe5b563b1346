"""MoCA: priority + waiting-time dispatch order and score-weighted DRAM bandwidth caps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from relmas.schedulers import make_scheduler, scheduler_class
from relmas.sim import RequestSpec, Simulator
from relmas.sim.request import Dispatch
from relmas.sim.toy import toy_chip

# Unit 0 = simba, unit 1 = eyeriss. Compute-bound models for the ordering test.
ORDER_CHIP = toy_chip(
    ["simba", "eyeriss"],
    {
        "a": {"simba": [4.0], "eyeriss": [40.0]},  # iso 4
        "b": {"simba": [10.0], "eyeriss": [100.0]},  # blocker
    },
)
# DRAM-bound pair: each layer needs 8 B/s to run at compute speed, the chip has 10 B/s.
BW_CHIP = toy_chip(
    ["simba", "eyeriss"],
    {"h": {"simba": [1.0], "eyeriss": [1.0]}},
    dram_bytes={"h": {"simba": [8.0], "eyeriss": [8.0]}},
    bandwidth_bytes_per_s=10.0,
)


def _run(chip, specs, **params):  # type: ignore[no-untyped-def]
    sched = make_scheduler("moca", params)
    sim = Simulator(chip, specs, bandwidth_policy="capped", record_trace=True)
    sched.reset(sim, np.random.default_rng(0))
    return sim, sched, sim.run(sched, seed=0)


def test_requests_capped_bandwidth_policy() -> None:
    assert scheduler_class("moca").bandwidth_policy == "capped"


@pytest.mark.parametrize(("late_arrival_s", "first"), [(3.0, 3), (5.0, 2)])
def test_priority_versus_waiting_time(late_arrival_s: float, first: int) -> None:
    # t=0: r0 (b) -> simba [0,10], r1 (b) -> eyeriss [0,100], r2 (a, prio 0) waits.
    # r3 (a, prio 1) arrives later. At t=10 simba frees; scores = priority + wait / iso(a)=4:
    #   r2 = 0 + 10/4 = 2.5;  r3 = 1 + (10 - 3)/4 = 2.75 -> r3 first when it arrived at 3,
    #                         r3 = 1 + (10 - 5)/4 = 2.25 -> r2 first when it arrived at 5.
    # The winner runs on simba [10,14], the other [14,18].
    specs = [
        RequestSpec(0.0, 0, 1, 0, 1e3),
        RequestSpec(0.0, 0, 1, 0, 1e3),
        RequestSpec(0.0, 0, 0, 0, 1e3),
        RequestSpec(late_arrival_s, 0, 0, 1, 1e3),
    ]
    _, _, res = _run(ORDER_CHIP, specs)
    second = 5 - first
    assert res.finish_s[first] == 14.0
    assert res.finish_s[second] == 18.0


def _first_decision(variant: str) -> list[Dispatch]:
    specs = [RequestSpec(0.0, 0, 0, 8, 5.0), RequestSpec(0.0, 0, 0, 3, 100.0)]
    sim = Simulator(BW_CHIP, specs, bandwidth_policy="capped")
    sched = make_scheduler("moca", {"variant": variant})
    sched.reset(sim, np.random.default_rng(0))
    assert sim.advance()
    return list(sched.decide(sim))  # type: ignore[arg-type]


# Both requests are dispatched at t=0; demands 8 + 8 = 16 > B = 10, excess = 6.
# r0 (prio 8, deadline 5) goes first (task score 8 > 3) with no co-runner: uncapped.
# Runtime scores: r0 = floor(9/4) + round(10 * 1 / 5) = 2 + 2 = 4;
#                 r1 = floor(4/4) + round(10 * 1 / 100) = 1 + 0 = 1.
# paper: w = 4*8 = 32, cap1 = 8 - 6 * 32 / (1*8 + 32) = 3.2 (above the floor 0.25*10 = 2.5).
# ae:    w = 1*8 = 8,  cap1 = 8 - 6 * 8 / (8 + 8) = 5 (demand-proportional split of the excess).
@pytest.mark.parametrize(("variant", "cap"), [("paper", 3.2), ("ae", 5.0)])
def test_bandwidth_caps(variant: str, cap: float) -> None:
    d0, d1 = _first_decision(variant)
    assert (d0.request.rid, d0.accel, d0.bandwidth_cap_bytes_per_s) == (0, 0, math.inf)
    assert (d1.request.rid, d1.accel) == (1, 1)
    assert d1.bandwidth_cap_bytes_per_s == pytest.approx(cap)


@pytest.mark.parametrize(
    ("variant", "finish_hi", "finish_lo"),
    [
        # paper: wanted 8 + 3.2 = 11.2 > 10 -> scale 10/11.2; r0 rate 0.8929 ends at 1.12; r1 rate
        #   3.2/8 * 0.8929 = 0.357 has done 0.4 by then, then alone at 3.2/8 = 0.4: +1.5 -> 2.62.
        ("paper", 1.12, 2.62),
        # ae: wanted 13 -> scale 10/13; r0 ends at 1.3; r1 rate 0.4808 has done 0.625, then at
        #   5/8 = 0.625: +0.6 -> 1.9.
        ("ae", 1.3, 1.9),
    ],
)
def test_caps_shape_finish_times(variant: str, finish_hi: float, finish_lo: float) -> None:
    specs = [RequestSpec(0.0, 0, 0, 8, 5.0), RequestSpec(0.0, 0, 0, 3, 100.0)]
    _, _, res = _run(BW_CHIP, specs, variant=variant)
    assert res.finish_s.tolist() == pytest.approx([finish_hi, finish_lo])


def test_no_cap_without_contention() -> None:
    # A lone DRAM-bound layer (8 <= 10 B/s) is never throttled.
    sim = Simulator(BW_CHIP, [RequestSpec(0.0, 0, 0, 0, 1.0)], bandwidth_policy="capped")
    sched = make_scheduler("moca")
    sched.reset(sim, np.random.default_rng(0))
    assert sim.advance()
    (d,) = sched.decide(sim)
    assert isinstance(d, Dispatch)
    assert d.bandwidth_cap_bytes_per_s == math.inf
