"""Least-laxity-first orders by deadline - now - remaining best-type time."""

from __future__ import annotations

import numpy as np
import pytest

from relmas.schedulers import make_scheduler
from relmas.sim import RequestSpec, Simulator
from relmas.sim.result import SimResult
from relmas.sim.toy import toy_chip

# 0 = simba, 1 = eyeriss (2x slower for every model here).
CHIP = toy_chip(
    ["simba", "eyeriss"],
    {
        "A": {"simba": [4.0], "eyeriss": [8.0]},
        "B": {"simba": [1.0], "eyeriss": [2.0]},
        "C": {"simba": [2.0], "eyeriss": [4.0]},
    },
)
# rid 0 = A (deadline 10), rid 1 = B (deadline 8), rid 2 = C (deadline 20), all at t = 0.
SPECS = [
    RequestSpec(0.0, 0, 0, 1, 10.0),
    RequestSpec(0.0, 0, 1, 1, 8.0),
    RequestSpec(0.0, 0, 2, 1, 20.0),
]


def _run(name: str) -> SimResult:
    sim = Simulator(CHIP, SPECS, record_trace=True)
    sched = make_scheduler(name)
    sched.reset(sim, np.random.default_rng(0))
    return sim.run(sched, seed=0)


def test_least_laxity_beats_earliest_deadline_order() -> None:
    # Laxities at t=0: A 10-4 = 6, B 8-1 = 7, C 20-2 = 18, so the order is A, B, C
    # (EDF and SJF would both start with B).
    # t=0: A takes simba (4 < 8): 0..4; B takes eyeriss: 0..2. t=2: C on eyeriss 2..6.
    res = _run("least-laxity")
    assert sorted(res.trace, key=lambda row: (row[3], row[0])) == [
        (0, 0, 0, 0.0, pytest.approx(4.0)),
        (1, 1, 0, 0.0, pytest.approx(2.0)),
        (1, 2, 0, pytest.approx(2.0), pytest.approx(6.0)),
    ]


def test_edf_differs_on_the_same_scenario() -> None:
    # Guards the scenario itself: EDF starts B on simba, so the LLF pin above is not vacuous.
    res = _run("edf")
    first = sorted(res.trace, key=lambda row: (row[3], row[0]))[0]
    assert first[:2] == (0, 1)


def test_key_is_the_laxity_at_now() -> None:
    sim = Simulator(CHIP, SPECS)
    assert sim.advance()  # t = 0, all three ready
    sched = make_scheduler("least-laxity")
    keys = [sched.key(sim, sim.ready[rid]) for rid in range(3)]  # type: ignore[attr-defined]
    assert keys == pytest.approx([6.0, 7.0, 18.0])
