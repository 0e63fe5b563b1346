"""MAGMA online: fluid fitness under proportional DRAM sharing, GA plans, waiting, plan cache."""

from __future__ import annotations

import numpy as np
import pytest

from relmas.schedulers import make_scheduler
from relmas.schedulers.magma import Jobs, MagmaScheduler, evaluate
from relmas.sim import RequestSpec, Simulator
from relmas.sim.toy import toy_chip

# Unit 0 = simba, unit 1 = eyeriss. "a" suits simba, "b" suits eyeriss.
CHIP = toy_chip(
    ["simba", "eyeriss"],
    {"a": {"simba": [1.0], "eyeriss": [5.0]}, "b": {"simba": [5.0], "eyeriss": [1.0]}},
)
A, B = range(2)


def _jobs(busy_work_s: list[float], latest: list[float]) -> Jobs:
    # Two jobs; each needs 1 full-speed second and 8 B/s on either unit; the chip has 10 B/s.
    return Jobs(
        reqs=[],
        work_s=[[1.0, 1.0], [1.0, 1.0]],
        demand=[[8.0, 8.0], [8.0, 8.0]],
        busy_work_s=busy_work_s,
        busy_demand=[0.0, 0.0],
        latest_finish_s=latest,
        bandwidth=10.0,
        ref_s=2.0,
    )


def test_fitness_uses_proportional_sharing() -> None:
    # Jobs on different units co-run: 16 B/s > 10 -> both at 10/16 speed, both end at 1.6.
    misses, makespan_s = evaluate(_jobs([0.0, 0.0], [1.5, 2.0]), ([0, 1], [0.0, 0.5]))
    assert (misses, makespan_s) == (1, pytest.approx(1.6))
    # Same unit, priority order 1 then 0: each alone fits (8 <= 10): ends 1 and 2; job 0 late.
    assert evaluate(_jobs([0.0, 0.0], [1.5, 2.0]), ([0, 0], [0.9, 0.1])) == (1, 2.0)
    # Order 0 then 1: job 0 ends at 1 (<= 1.5), job 1 at 2 (<= 2): no miss.
    assert evaluate(_jobs([0.0, 0.0], [1.5, 2.0]), ([0, 0], [0.1, 0.9])) == (0, 2.0)
    # A running layer (0.5 s left, no DRAM) holds unit 0: job 1 runs alone at full speed to 0.5;
    # then both jobs share (10/16 speed): job 1's last 0.5 s take 0.8 -> 1.3; job 0 has 0.5 left
    # and finishes alone at 1.8.
    assert evaluate(_jobs([0.5, 0.0], [9.0, 9.0]), ([0, 1], [0.0, 0.0])) == (0, 1.8)


def _run(specs: list[RequestSpec]) -> tuple[Simulator, MagmaScheduler, list[float]]:
    sim = Simulator(CHIP, specs, record_trace=True)
    sched = make_scheduler("magma")
    assert isinstance(sched, MagmaScheduler)
    sched.reset(sim, np.random.default_rng(7))
    searches: list[float] = []
    search = sched.search

    def counted(s: Simulator) -> dict[int, tuple[int, float]]:
        searches.append(s.now_s)
        return search(s)

    sched.search = counted  # type: ignore[method-assign]
    sim.run(sched, seed=0)
    return sim, sched, searches


def test_each_job_goes_to_its_affine_unit() -> None:
    # a and b at t=0 (deadline 2): a->simba, b->eyeriss finishes both at 1 (no miss, makespan 1);
    # every other mapping misses a deadline or takes >= 2.
    sim, _, _ = _run([RequestSpec(0.0, 0, A, 1, 2.0), RequestSpec(0.0, 0, B, 1, 2.0)])
    assert sorted(sim.trace) == [(0, 0, 0, 0.0, 1.0), (1, 1, 0, 0.0, 1.0)]


def test_waits_for_the_busy_fast_unit_and_reuses_the_cached_plan() -> None:
    # r0 (a) at t=0 -> simba [0,1]. r1 (a, deadline 2.5) at t=0.1: eyeriss now ends at 5.1
    # (a miss); queueing behind r0 on simba ends at 1.9 + 0.1 = 2. The plan maps r1 to the busy
    # simba, so nothing is dispatched at 0.1 although eyeriss is free. At t=1 r0 completes,
    # the ready set ({r1, layer 0}) is unchanged: the cached plan is reused, no new search.
    sim, _, searches = _run([RequestSpec(0.0, 0, A, 1, 9.0), RequestSpec(0.1, 0, A, 1, 2.5)])
    assert sim.trace == [(0, 0, 0, 0.0, 1.0), (0, 1, 0, 1.0, 2.0)]
    assert searches == [0.0, 0.1]


def test_runs_are_reproducible() -> None:
    rng = np.random.default_rng(3)
    specs = [
        RequestSpec(float(t), 0, int(m), 1, float(t) + 4.0)
        for t, m in zip(np.cumsum(rng.exponential(0.5, 12)), rng.integers(0, 2, 12), strict=True)
    ]
    first, _, _ = _run(specs)
    second, _, _ = _run(specs)
    assert first.trace == second.trace
