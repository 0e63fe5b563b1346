"""The engine-scheduler contract: what ``run`` and ``apply`` accept, and the oversubscription
integral the reward reads.

Each rule here once failed silently: ``run`` re-seeded every scheduler with 0 (so ``relmas
evaluate`` judged stochastic schedulers on one stream), anything that was not a ``Dispatch`` was
taken for a drop, and a half-applied batch left the simulator in a state no scheduler chose.
"""

from __future__ import annotations

import numpy as np
import pytest
from relmas_testkit import exact_oversubscription_s

from relmas.schedulers import make_scheduler
from relmas.sim import Dispatch, Drop, RequestSpec, SchedulingError, Simulator
from relmas.sim.toy import toy_chip

TB = 1e12


def spec(arrival: float, deadline: float = 100.0) -> RequestSpec:
    return RequestSpec(arrival, 0, 0, 1, deadline)


def _two_units(dram_tb: float = 0.0) -> Simulator:
    chip = toy_chip(
        ["simba", "simba"],
        {"m": {"simba": [1.0, 1.0]}},
        dram_bytes={"m": {"simba": [dram_tb * TB] * 2}},
        bandwidth_bytes_per_s=4 * TB,
    )
    return Simulator(chip, [spec(0.0), spec(0.0)], record_trace=True)


def _state(sim: Simulator) -> tuple[object, ...]:
    return (
        sim.now_s,
        sorted(sim.ready),
        list(sim.free_accels),
        list(sim.busy),
        [r.state for r in sim.requests],
    )


def test_run_needs_an_explicit_keyword_seed() -> None:
    sim = _two_units()
    with pytest.raises(TypeError):
        sim.run(make_scheduler("fcfs"))  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        sim.run(make_scheduler("fcfs"), 0)  # type: ignore[misc]


def test_a_second_run_simulates_again() -> None:
    sim = _two_units()
    first = sim.run(make_scheduler("fcfs"), seed=0)
    second = sim.run(make_scheduler("fcfs"), seed=0)  # no reset() in between
    assert second.trace == first.trace
    assert second.dispatches == first.dispatches == 4


def test_the_scheduler_seed_reaches_the_scheduler() -> None:
    # random draws from the generator run() seeds: different seeds, different schedules.
    chip = toy_chip(["simba", "eyeriss"], {"m": {"simba": [1.0, 2.0], "eyeriss": [2.0, 1.0]}})
    specs = [spec(0.1 * i) for i in range(30)]
    runs = {s: Simulator(chip, specs, record_trace=True).run(make_scheduler("random"), seed=s)
            for s in range(4)}  # fmt: skip
    assert len({tuple(r.trace) for r in runs.values()}) > 1
    again = Simulator(chip, specs, record_trace=True).run(make_scheduler("random"), seed=2)
    assert again.trace == runs[2].trace


def test_a_scheduler_bandwidth_policy_holds_for_its_run_only() -> None:
    sim = _two_units(dram_tb=3.0)
    moca = make_scheduler("moca")
    assert moca.bandwidth_policy == "capped"
    sim.run(moca, seed=0)
    assert sim.bandwidth_policy == "proportional"
    plain = sim.run(make_scheduler("fcfs"), seed=0)
    fresh = _two_units(dram_tb=3.0).run(make_scheduler("fcfs"), seed=0)
    assert plain.trace == fresh.trace


@pytest.mark.parametrize("junk", [None, ("r", 0), "drop", 3])
def test_anything_but_dispatch_or_drop_is_a_scheduling_error(junk: object) -> None:
    sim = _two_units()
    assert sim.advance()
    before = _state(sim)
    with pytest.raises(SchedulingError, match="not a Dispatch or a Drop"):
        sim.apply([junk, junk])
    assert _state(sim) == before


def test_a_bad_batch_changes_nothing() -> None:
    sim = _two_units()
    assert sim.advance()
    r0, r1 = sorted(sim.ready.values(), key=lambda r: r.rid)
    before = _state(sim)
    bad_batches = [
        [Dispatch(r0, 0), Dispatch(r1, 0)],  # one unit twice
        [Dispatch(r0, 0), Drop(r0)],  # one request dispatched and dropped
        [Drop(r1), Drop(r1)],  # dropped twice
        [Dispatch(r0, 1), Dispatch(r1, 0, layers=3)],  # r1 has only 2 layers
        [Drop(r0), Dispatch(r1, 5)],  # no unit 5
    ]
    for batch in bad_batches:
        with pytest.raises(SchedulingError):
            sim.apply(batch)
        assert _state(sim) == before, batch
    assert sim.apply([Dispatch(r0, 1), Drop(r1)]) == 1  # a good batch still applies


def test_oversubscription_integral_hand_worked() -> None:
    # Two 1 s layers of 3 TB each (demand 3 TB/s) on 4 TB/s: together they demand 6 TB/s, so
    # each runs at 4/6 of full speed and both end at 1.5 s; oversubscription 6/4 - 1 = 0.5 over
    # 1.5 s = 0.75 s. The second layers of the two requests overlap the same way: 1.5 s total.
    sim = _two_units(dram_tb=3.0)
    res = sim.run(make_scheduler("fcfs"), seed=0)
    assert res.makespan_s == pytest.approx(3.0)
    assert sim.oversubscription_s == pytest.approx(1.5)
    alone = Simulator(sim.chip, [spec(0.0)]).run(make_scheduler("fcfs"), seed=0)
    assert alone.makespan_s == 2.0  # 3 TB/s alone fits in 4 TB/s: never oversubscribed


@pytest.mark.parametrize("scheduler", ["fcfs", "planaria", "moca", "random"])
def test_oversubscription_integral_matches_the_trace(scheduler: str) -> None:
    rng = np.random.default_rng(7)
    chip = toy_chip(
        ["simba", "simba", "eyeriss"],
        {"a": {"simba": [1.0, 0.5, 2.0], "eyeriss": [2.0, 1.0, 1.0]},
         "b": {"simba": [0.7, 0.7], "eyeriss": [0.5, 1.5]}},
        dram_bytes={"a": {"simba": [3 * TB, 1 * TB, 5 * TB], "eyeriss": [2 * TB, 4 * TB, 1 * TB]},
                    "b": {"simba": [2 * TB, 2 * TB], "eyeriss": [3 * TB, 1 * TB]}},
        bandwidth_bytes_per_s=4 * TB,
    )  # fmt: skip
    arrivals = np.cumsum(rng.exponential(0.6, 40))
    specs = [
        RequestSpec(float(t), 0, int(i % 2), 1, float(t) + 9.0) for i, t in enumerate(arrivals)
    ]
    sim = Simulator(chip, specs, record_trace=True)
    sim.run(make_scheduler(scheduler), seed=0)
    assert sim.oversubscription_s > 1.0  # the case is contended
    assert sim.oversubscription_s == pytest.approx(exact_oversubscription_s(sim), rel=1e-9)
