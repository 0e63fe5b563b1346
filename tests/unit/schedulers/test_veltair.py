"""VELTAIR-style: whole layer blocks, per-block budgets, least-energy type, conflict counting."""

from __future__ import annotations

import numpy as np
import pytest

from relmas.schedulers import make_scheduler
from relmas.schedulers.veltair import VeltairScheduler
from relmas.sim import RequestSpec, Simulator
from relmas.sim.toy import toy_chip

# Unit 0 = simba (fast, 4 J per layer), unit 1 = eyeriss (slower, 1 J per layer).
# Best-type latency is simba on every layer, so iso = 4 and each 2-layer block has work 2.
CHIP = toy_chip(
    ["simba", "eyeriss"],
    {"v": {"simba": [1.0, 1.0, 1.0, 1.0], "eyeriss": [2.0, 2.0, 1.5, 1.5]}},
    energy_j={"v": {"simba": [4.0] * 4, "eyeriss": [1.0] * 4}},
)


def _run(specs: list[RequestSpec]) -> tuple[Simulator, VeltairScheduler]:
    sim = Simulator(CHIP, specs, record_trace=True)
    sched = make_scheduler("veltair", {"block_layers": 2})
    assert isinstance(sched, VeltairScheduler)
    sched.reset(sim, np.random.default_rng(0))
    sim.run(sched, seed=0)
    return sim, sched


def test_loose_budget_takes_the_low_energy_unit() -> None:
    # Deadline 10: budget per block = 10 * 2/4 = 5. Block 0: simba 2 s / 8 J, eyeriss 4 s / 2 J
    # -> both fit, eyeriss uses less energy. Block 1: simba 2 s, eyeriss 3 s -> eyeriss.
    # Each block runs without returning to the scheduler: [0,2],[2,4] then [4,5.5],[5.5,7].
    sim, sched = _run([RequestSpec(0.0, 0, 0, 1, 10.0)])
    assert sim.trace == [
        (1, 0, 0, 0.0, 2.0),
        (1, 0, 1, 2.0, 4.0),
        (1, 0, 2, 4.0, 5.5),
        (1, 0, 3, 5.5, 7.0),
    ]
    assert (sched.block_dispatches, sched.conflict_rate) == (2, 0.0)
    assert sim.dispatches == 4  # layers started


def test_tight_budget_takes_the_fast_unit_for_the_block_that_needs_it() -> None:
    # Deadline 6: budget 3 per block. Block 0: eyeriss 4 > 3, only simba fits -> simba [0,2].
    # Block 1: simba 2 and eyeriss 3 both fit -> eyeriss (2 J < 8 J) [2,5]. Finishes at 5 <= 6.
    sim, _ = _run([RequestSpec(0.0, 0, 0, 1, 6.0)])
    assert [(a, layer) for a, _, layer, _, _ in sim.trace] == [(0, 0), (0, 1), (1, 2), (1, 3)]
    assert sim.trace[-1][-1] == 5.0


def test_conflicts_are_counted_and_fall_back_to_a_free_unit() -> None:
    # Two requests at t=0, deadline 10: both prefer eyeriss for both blocks.
    # r0 block 0 -> eyeriss [0,4]; r1 block 0: eyeriss taken -> conflict, simba [0,2].
    # t=2: r1 block 1: eyeriss busy -> conflict, simba [2,4]. t=4: r0 block 1 -> eyeriss [4,7].
    # 2 conflicts out of 4 block dispatches.
    sim, sched = _run([RequestSpec(0.0, 0, 0, 1, 10.0), RequestSpec(0.0, 0, 0, 1, 10.0)])
    assert sched.conflicts == 2
    assert sched.conflict_rate == pytest.approx(0.5)
    block_starts = {
        (rid, layer): (a, start) for a, rid, layer, start, _ in sim.trace if layer % 2 == 0
    }
    assert block_starts == {(0, 0): (1, 0.0), (1, 0): (0, 0.0), (1, 2): (0, 2.0), (0, 2): (1, 4.0)}


def test_last_block_may_be_short() -> None:
    # block_layers 3 on a 4-layer model: blocks are layers 0-2 and layer 3 alone.
    sim = Simulator(CHIP, [RequestSpec(0.0, 0, 0, 1, 10.0)], record_trace=True)
    sched = make_scheduler("veltair", {"block_layers": 3})
    sched.reset(sim, np.random.default_rng(0))
    sim.run(sched, seed=0)
    assert isinstance(sched, VeltairScheduler)
    assert sched.block_dispatches == 2
