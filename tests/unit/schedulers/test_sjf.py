"""SJF dispatches the request with the least remaining best-type isolated time first."""

from __future__ import annotations

import numpy as np
import pytest

from relmas.schedulers import make_scheduler
from relmas.sim import Request, RequestSpec, Simulator
from relmas.sim.result import SimResult
from relmas.sim.toy import toy_chip

# Two sub-accelerators: 0 = simba (fast for everything here), 1 = eyeriss (10x slower).
CHIP = toy_chip(
    ["simba", "eyeriss"],
    {
        "A": {"simba": [5.0], "eyeriss": [50.0]},
        "B": {"simba": [2.0], "eyeriss": [20.0]},
        "C": {"simba": [3.0], "eyeriss": [30.0]},
        "D": {"simba": [1.0, 2.0, 4.0], "eyeriss": [3.0, 1.0, 8.0]},
    },
)


def _run(name: str, specs: list[RequestSpec]) -> SimResult:
    sim = Simulator(CHIP, specs, record_trace=True)
    sched = make_scheduler(name)
    sched.reset(sim, np.random.default_rng(0))
    return sim.run(sched, seed=0)


def test_shortest_remaining_runs_first_on_the_fastest_unit() -> None:
    # A (5 s), B (2 s), C (3 s) arrive together (rids 0, 1, 2). SJF order is B, C, A.
    # t=0: B takes simba (2 s < 20 s), C takes the only unit left, eyeriss (0..30).
    # t=2: simba frees, A is the only ready request: simba 2..7.
    # FCFS would instead run A on simba 0..5 and B on eyeriss 0..20.
    specs = [RequestSpec(0.0, 0, m, 1, 100.0) for m in range(3)]
    res = _run("sjf", specs)
    assert sorted(res.trace, key=lambda row: (row[3], row[0])) == [
        (0, 1, 0, 0.0, pytest.approx(2.0)),
        (1, 2, 0, 0.0, pytest.approx(30.0)),
        (0, 0, 0, pytest.approx(2.0), pytest.approx(7.0)),
    ]
    assert res.finish_s.tolist() == pytest.approx([7.0, 2.0, 30.0])


def test_key_is_the_remaining_best_type_time_after_progress() -> None:
    # D's per-layer best latencies are min(1,3)=1, min(2,1)=1, min(4,8)=4, so the remaining
    # best-type time is 6 before layer 0 and 5 before layer 1 (not the all-simba 6 s).
    sim = Simulator(CHIP, [])
    req = Request(0, RequestSpec(0.0, 0, 3, 1, 100.0), num_layers=3)
    sched = make_scheduler("sjf")
    assert sched.key(sim, req) == pytest.approx(6.0)  # type: ignore[attr-defined]
    req.next_layer = 1
    assert sched.key(sim, req) == pytest.approx(5.0)  # type: ignore[attr-defined]
