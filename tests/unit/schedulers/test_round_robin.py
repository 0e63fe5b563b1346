"""Round-robin cycles over sub-accelerators regardless of which type is faster."""

from __future__ import annotations

import numpy as np
import pytest

from relmas.schedulers import make_scheduler
from relmas.sim import RequestSpec, Simulator
from relmas.sim.result import SimResult
from relmas.sim.toy import toy_chip

# 0 = simba (1 s), 1 = eyeriss (3 s), 2 = simba: one single-layer model.
CHIP = toy_chip(["simba", "eyeriss", "simba"], {"M": {"simba": [1.0], "eyeriss": [3.0]}})


def _run(specs: list[RequestSpec]) -> SimResult:
    sim = Simulator(CHIP, specs, record_trace=True)
    sched = make_scheduler("round-robin")
    sched.reset(sim, np.random.default_rng(0))
    return sim.run(sched, seed=0)


def test_isolated_arrivals_cycle_through_every_unit() -> None:
    # Arrivals 10 s apart, so every unit is free at each arrival. RR sends them to units
    # 0, 1, 2, 0 (fastest-type placement would use unit 0 every time). Request 1 lands on the slow
    # eyeriss: 10..13.
    specs = [RequestSpec(10.0 * i, 0, 0, 1, 100.0) for i in range(4)]
    res = _run(specs)
    assert [row[0] for row in sorted(res.trace, key=lambda row: row[3])] == [0, 1, 2, 0]
    assert res.finish_s.tolist() == pytest.approx([1.0, 13.0, 21.0, 31.0])


def test_busy_unit_in_the_cycle_is_skipped() -> None:
    # t=0: rids 0, 1 take units 0 and 1 (cursor -> 2). t=0.5: rid 2 arrives -> unit 2
    # (cursor -> 0). t=1: unit 0 frees (rid 0 done) while 1 is busy till 3 and 2 till 1.5;
    # rid 3 (arrived 0.7) -> unit 0 (cursor -> 1). t=1.5: rid 4 (arrived 0.8): cursor at 1, unit
    # 1 busy, so unit 2.
    specs = [
        RequestSpec(0.0, 0, 0, 1, 100.0),
        RequestSpec(0.0, 0, 0, 1, 100.0),
        RequestSpec(0.5, 0, 0, 1, 100.0),
        RequestSpec(0.7, 0, 0, 1, 100.0),
        RequestSpec(0.8, 0, 0, 1, 100.0),
    ]
    res = _run(specs)
    placement = {rid: accel for accel, rid, *_ in res.trace}
    assert placement == {0: 0, 1: 1, 2: 2, 3: 0, 4: 2}
    assert res.finish_s.tolist() == pytest.approx([1.0, 3.0, 1.5, 2.0, 2.5])
