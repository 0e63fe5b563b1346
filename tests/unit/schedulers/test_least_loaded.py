"""Least-loaded places each layer on the free unit with the least assigned isolated work."""

from __future__ import annotations

import numpy as np
import pytest

from relmas.schedulers import make_scheduler
from relmas.sim import RequestSpec, Simulator
from relmas.sim.toy import toy_chip

# 0 = simba (2 s per request), 1 = eyeriss (7 s per request).
CHIP = toy_chip(["simba", "eyeriss"], {"M": {"simba": [2.0], "eyeriss": [7.0]}})


def test_load_accumulates_assigned_isolated_latency() -> None:
    # Arrivals 10 s apart, both units free each time.
    # rid 0: loads (0, 0) -> tie, unit 0; load 2.      rid 1: (2, 0) -> unit 1; load 7.
    # rid 2: (2, 7) -> unit 0; load 4.                 rid 3: (4, 7) -> unit 0; load 6.
    # Round-robin would give 0, 1, 0, 1 and fastest-type 0, 0, 0, 0.
    specs = [RequestSpec(10.0 * i, 0, 0, 1, 100.0) for i in range(4)]
    sim = Simulator(CHIP, specs, record_trace=True)
    sched = make_scheduler("least-loaded")
    sched.reset(sim, np.random.default_rng(0))
    res = sim.run(sched, seed=0)
    assert [row[0] for row in sorted(res.trace, key=lambda row: row[3])] == [0, 1, 0, 0]
    assert res.finish_s.tolist() == pytest.approx([2.0, 17.0, 22.0, 32.0])
    assert sched.load_s == pytest.approx([6.0, 7.0])  # type: ignore[attr-defined]


def test_reset_clears_the_load() -> None:
    specs = [RequestSpec(0.0, 0, 0, 1, 100.0)]
    sched = make_scheduler("least-loaded")
    for _ in range(2):
        sim = Simulator(CHIP, specs)
        sched.reset(sim, np.random.default_rng(0))
        sim.run(sched, seed=0)
        assert sched.load_s == pytest.approx([2.0, 0.0])  # type: ignore[attr-defined]
