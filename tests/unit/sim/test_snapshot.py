"""Engine snapshots: a clone continues bit for bit like the original, and the two never interact.

Hypothesis draws small toy chips (with exact ties between layer lengths, memory-bound and
compute-only layers), workloads, a bandwidth policy, drops on or off, periodic decisions, and a
step of the run at which to clone. Each registered scheduler then finishes the run twice: the
original with its own scheduler, the clone with a copy of the scheduler whose references to
live requests point at the clone's (``copy.deepcopy`` with a memo). That works for every
scheduler, stateless or not: stateful ones (PREMA's tokens, MAGMA's plan, Herald's ledger, the
heap of the static-key list schedulers) carry their state over; a ``ReadyLogCursor`` sees the
clone's new log and rebuilds its heap from the requests ready now.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relmas.schedulers import make_scheduler, scheduler_names
from relmas.sim import Chip, Dispatch, RequestSpec, Simulator
from relmas.sim.bandwidth import BANDWIDTH_POLICIES
from relmas.sim.request import DONE, DROPPED
from relmas.sim.snapshot import ATTRIBUTES, deepcopy_memo, state_of
from relmas.sim.toy import toy_chip

BW = 1e12


@st.composite
def small_chips(draw: st.DrawFn) -> Chip:
    units = draw(st.lists(st.sampled_from(["simba", "eyeriss"]), min_size=1, max_size=5))
    used = list(dict.fromkeys(units))
    lengths = st.sampled_from([0.25, 0.5, 1.0, 1.5]) | st.floats(0.01, 2.0)  # ties on a grid
    traffic = st.just(0.0) | st.sampled_from([0.5 * BW, BW, 3 * BW]) | st.floats(0.0, 4 * BW)
    layers: dict[str, dict[str, list[float]]] = {}
    dram: dict[str, dict[str, list[float]]] = {}
    for m in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 4))
        layers[f"m{m}"] = {t: draw(st.lists(lengths, min_size=n, max_size=n)) for t in used}
        dram[f"m{m}"] = {t: draw(st.lists(traffic, min_size=n, max_size=n)) for t in used}
    return toy_chip(units, layers, dram_bytes=dram, bandwidth_bytes_per_s=BW)


@st.composite
def arrivals(draw: st.DrawFn, chip: Chip) -> list[RequestSpec]:
    times = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0]) | st.floats(0, 3), max_size=12))
    specs = []
    for t in times:
        m = draw(st.integers(0, len(chip.model_names) - 1))
        slack = draw(st.sampled_from([0.8, 1.5, 4.0]))
        prio = draw(st.sampled_from([1, 3, 9]))
        specs.append(RequestSpec(t, draw(st.integers(0, 2)), m, prio, t + slack * 3.0))
    return specs


def _outcome(sim: Simulator) -> tuple[object, ...]:
    """Everything a run produces, compared with ``==`` (floats bit for bit)."""
    res = sim.result()
    arrays = (res.finish_s, res.dropped, res.busy_s, res.layers_run, res.arrival_s)
    return (
        *(a.tolist() for a in arrays),
        res.trace,
        res.dynamic_energy_j,
        res.dram_bytes,
        res.makespan_s,
        res.dispatches,
        sim.oversubscription_s,
    )


def _finish(sim: Simulator, sched: object) -> tuple[object, ...]:
    while sim.advance():
        sim.apply(sched.decide(sim))  # type: ignore[attr-defined]
    return _outcome(sim)


def clone_scheduler(sched: object, sim: Simulator, clone: Simulator) -> object:
    """A copy of ``sched`` for ``clone``: live requests map to the clone's, the rest is shared."""
    return copy.deepcopy(sched, deepcopy_memo(sim, clone))


def _drive_to(sim: Simulator, sched: object, steps: int) -> None:
    for _ in range(steps):
        if not sim.advance():
            return
        sim.apply(sched.decide(sim))  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", scheduler_names())
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    policy=st.sampled_from(sorted(BANDWIDTH_POLICIES)),
    drop=st.booleans(),
    period=st.sampled_from([None, None, 0.25]),
    steps=st.integers(0, 30),
)
def test_a_clone_finishes_exactly_like_the_original(
    name: str, data: st.DataObject, policy: str, drop: bool, period: float | None, steps: int
) -> None:
    chip = data.draw(small_chips())
    specs = data.draw(arrivals(chip))
    sim = Simulator(chip, specs, bandwidth_policy=policy, drop_hopeless=drop,
                    decision_period_s=period, record_trace=True)  # fmt: skip
    sched = make_scheduler(name)
    sched.reset(sim, np.random.default_rng(3))
    _drive_to(sim, sched, steps)
    clone = sim.snapshot(clairvoyant=True)
    twin = clone_scheduler(sched, sim, clone)
    assert _finish(clone, twin) == _finish(sim, sched)


def _fingerprint(sim: Simulator) -> tuple[object, ...]:
    """The state a scheduler can see (the log and the future arrivals apart)."""
    # NaN (not finished) as None: a NaN equals only itself as the same object, and the compiled
    # build (relmas.compiled) makes a new float object at every read of an attribute
    reqs = [
        (r.state, r.next_layer, r.accel, None if math.isnan(r.finish_s) else r.finish_s,
         r.last_run_end_s)
        for r in sim.requests
    ]  # fmt: skip
    rem, rate = sim.remaining_work_s, sim.rates()
    return (
        sim.now_s, reqs, list(sim.ready), list(sim.free_accels), list(sim.busy),
        [(rem[a], rate[a]) for a in sim.busy], sim.dynamic_energy_j, sim.oversubscription_s,
        sim.dispatches, list(sim.trace),
    )  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(data=st.data(), steps=st.integers(0, 20), clairvoyant=st.booleans())
def test_running_a_clone_never_changes_the_original(
    data: st.DataObject, steps: int, clairvoyant: bool
) -> None:
    chip = data.draw(small_chips())
    sim = Simulator(chip, data.draw(arrivals(chip)), record_trace=True)
    sched = make_scheduler("sjf")
    sched.reset(sim, np.random.default_rng(0))
    _drive_to(sim, sched, steps)
    before = _fingerprint(sim), len(sim.ready_log), sim.arrivals_left
    clone = sim.snapshot(clairvoyant=clairvoyant)
    assert _fingerprint(clone) == before[0]
    _finish(clone, clone_scheduler(sched, sim, clone))
    clone.run(make_scheduler("fcfs"), seed=0)  # reset + a whole other run
    assert (_fingerprint(sim), len(sim.ready_log), sim.arrivals_left) == before
    assert _finish(sim, sched) == _finish(*_fresh_run(chip, sim.specs, steps))


def _fresh_run(chip: Chip, specs: list[RequestSpec], steps: int) -> tuple[Simulator, object]:
    sim = Simulator(chip, specs, record_trace=True)
    sched = make_scheduler("sjf")
    sched.reset(sim, np.random.default_rng(0))
    _drive_to(sim, sched, steps)
    return sim, sched


def test_a_clone_sees_no_future_arrival_unless_clairvoyant() -> None:
    chip = toy_chip(["simba"], {"m": {"simba": [1.0, 1.0]}})
    specs = [RequestSpec(t, 0, 0, 1, t + 10.0) for t in (0.0, 0.5, 3.0, 4.0)]
    sim = Simulator(chip, specs)
    sched = make_scheduler("fcfs")
    sched.reset(sim, np.random.default_rng(0))
    _drive_to(sim, sched, 2)  # t = 1: requests 0 and 1 have arrived
    assert sim.now_s == 1.0 and sim.arrivals_left == 2
    lookahead = sim.snapshot()
    assert lookahead.arrivals_left == 0
    assert [s.arrival_s for s in lookahead.specs] == [0.0, 0.5]
    _finish(lookahead, clone_scheduler(sched, sim, lookahead))
    assert len(lookahead.requests) == 2
    assert all(r.state == DONE for r in lookahead.requests)
    oracle = sim.snapshot(clairvoyant=True)
    assert oracle.arrivals_left == 2
    _finish(oracle, clone_scheduler(sched, sim, oracle))
    assert len(oracle.requests) == 4
    assert all(r.state in (DONE, DROPPED) for r in oracle.requests)


def test_a_clone_shares_the_read_only_parts_and_copies_the_rest() -> None:
    chip = toy_chip(["simba", "eyeriss"], {"m": {"simba": [1.0, 2.0], "eyeriss": [2.0, 1.0]}})
    sim = Simulator(chip, [RequestSpec(t, 0, 0, 1, 9.0) for t in (0.0, 0.0, 0.0, 2.5)])
    assert sim.advance()
    r0, r1, _ = sim.ready.values()
    sim.apply([Dispatch(r0, 0), Dispatch(r1, 1)])
    assert sim.advance()  # t = 1: r0's first layer is done
    clone = sim.snapshot()
    assert clone.chip is sim.chip
    if hasattr(sim, "__dict__"):  # the pure-Python build: no attribute forgotten in the list
        assert set(vars(sim)) == set(ATTRIBUTES)
    state, cloned = state_of(sim), state_of(clone)
    for name, value in state.items():
        if isinstance(value, list | dict) and name != "specs":
            assert cloned[name] is not value, name
    assert all(c is not r for c, r in zip(clone.requests, sim.requests, strict=True))  # all live
    assert list(clone.ready) == list(sim.ready) == [2, 0]  # the queue order breaks ties
    assert clone.ready_log == list(clone.ready.values())
    assert clone.busy_remaining_s(1) == sim.busy_remaining_s(1) == 1.0


@pytest.mark.parametrize("name", ["fcfs", "edf", "sjf", "least-laxity", "random"])
@settings(max_examples=15, deadline=None)
@given(data=st.data(), steps=st.integers(0, 30))
def test_a_fresh_reset_suffices_for_schedulers_rebuilt_from_the_simulator(
    name: str, data: st.DataObject, steps: int
) -> None:
    # The list schedulers keep only a heap fed by the ready log, which a clone restarts: a
    # new instance reset on the clone (with a copy of the generator) decides the same.
    chip = data.draw(small_chips())
    sim = Simulator(chip, data.draw(arrivals(chip)), record_trace=True)
    sched = make_scheduler(name)
    sched.reset(sim, np.random.default_rng(5))
    _drive_to(sim, sched, steps)
    clone = sim.snapshot(clairvoyant=True)
    fresh = make_scheduler(name)
    fresh.reset(clone, copy.deepcopy(sched.rng))
    assert _finish(clone, fresh) == _finish(sim, sched)
