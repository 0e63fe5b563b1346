"""Hand-worked cases for the discrete-event engine: every expected number is derived in a comment.

Chips are toy chips (``relmas.sim.toy``) whose costs are round numbers, so each schedule can be
worked out on paper. Times are chosen to be exact in binary floating point where possible; the
rest are compared with ``pytest.approx``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from relmas.schedulers import make_scheduler
from relmas.sim import Dispatch, Drop, RequestSpec, SchedulingError, Simulator, build_chip
from relmas.sim.metrics import compute_metrics
from relmas.sim.request import DONE, DROPPED, WAITING
from relmas.sim.toy import ToyTable, toy_chip

TB = 1e12  # bytes/s: one "terabyte per second", keeps the bandwidth numbers readable


def spec(arrival: float, model: int = 0, deadline: float = 100.0, tenant: int = 0) -> RequestSpec:
    return RequestSpec(arrival, tenant, model, 1, deadline)


class Scripted:
    """A scheduler driven by a function of the simulator; records when it was asked."""

    def __init__(self, fn: Callable[[Simulator], Sequence[object]]) -> None:
        self.fn = fn
        self.calls: list[float] = []

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None:
        self.calls = []

    def decide(self, sim: Simulator) -> Sequence[object]:
        self.calls.append(sim.now_s)
        return self.fn(sim)


def fifo_each_free(sim: Simulator) -> list[Dispatch]:
    """Ready requests in rid order onto free units in index order, one layer each."""
    reqs = sorted(sim.ready.values(), key=lambda r: r.rid)
    return [Dispatch(r, a) for r, a in zip(reqs, sim.free_accels, strict=False)]


# --------------------------------------------------------------------------- single layer
def test_single_compute_bound_layer() -> None:
    # One unit, one 2 s compute-bound layer (no DRAM traffic), arriving at t=1:
    # dispatched at 1, finishes at 1 + 2 = 3. busy 2 s over a makespan of 3 s.
    chip = toy_chip(["simba"], {"m": {"simba": [2.0]}})
    sim = Simulator(chip, [spec(1.0, deadline=4.0)], record_trace=True)
    res = sim.run(make_scheduler("fcfs"), seed=0)
    assert res.finish_s.tolist() == [3.0]
    assert res.makespan_s == 3.0
    assert res.busy_s.tolist() == [2.0]
    assert res.trace == [(0, 0, 0, 1.0, 3.0)]
    assert res.met_deadline.tolist() == [True]
    assert res.dispatches == 1
    assert sim.finished


def test_memory_bound_layer_alone_takes_bytes_over_bandwidth() -> None:
    # compute 1 s, 8 TB of traffic on a 4 TB/s DRAM: demand 8 TB/s > 4 TB/s, so the layer runs
    # at rate 4/8 = 0.5 and takes 1 / 0.5 = 2 s = 8 TB / 4 TB/s. The chip's isolated latency
    # max(compute, bytes/B) = max(1, 2) = 2 agrees.
    chip = toy_chip(
        ["simba"],
        {"m": {"simba": [1.0]}},
        dram_bytes={"m": {"simba": [8 * TB]}},
        bandwidth_bytes_per_s=4 * TB,
    )
    assert chip.latency_s[0][0] == [2.0]
    assert chip.isolated_latency_s == [2.0]
    sim = Simulator(chip, [spec(0.0)])
    res = sim.run(make_scheduler("fcfs"), seed=0)
    assert res.finish_s.tolist() == [2.0]
    assert res.dram_bytes == 8 * TB
    # The DRAM was saturated for the whole run.
    assert compute_metrics(res)["dram_utilization"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- bandwidth sharing
def _two_model_chip() -> object:
    # Two units of one type, B = 4 TB/s, both models 1 s of compute:
    #   m0 moves 6 TB -> demand 6 TB/s,  m1 moves 2 TB -> demand 2 TB/s; together 8 TB/s > B.
    return toy_chip(
        ["simba", "simba"],
        {"m0": {"simba": [1.0]}, "m1": {"simba": [1.0]}},
        dram_bytes={"m0": {"simba": [6 * TB]}, "m1": {"simba": [2 * TB]}},
        bandwidth_bytes_per_s=4 * TB,
    )


def _corun(policy: str, caps: tuple[float, float] = (math.inf, math.inf)):
    chip = _two_model_chip()
    sim = Simulator(chip, [spec(0.0, model=0), spec(0.0, model=1)], bandwidth_policy=policy)

    def both(s: Simulator) -> list[Dispatch]:
        r0, r1 = sorted(s.ready.values(), key=lambda r: r.rid)
        return [Dispatch(r0, 0, bandwidth_cap_bytes_per_s=caps[0]), Dispatch(r1, 1, 1, caps[1])]

    assert sim.advance()
    sim.apply(both(sim))
    granted = (sim.granted_bandwidth_bytes_per_s(0), sim.granted_bandwidth_bytes_per_s(1))
    # The scheduler's view of the time left agrees with where the layers actually end.
    remaining = [sim.busy_remaining_s(a) for a in (0, 1)]
    assert not sim.advance()  # nothing else arrives: the run ends without another decision
    assert sim.busy_remaining_s(0) == 0.0  # idle
    return sim.result(), granted, remaining


def test_proportional_slows_both_layers_by_b_over_sum_of_demands() -> None:
    # Oversubscribed: scale = B / sum(d) = 4 / 8 = 0.5 for both, so both 1 s layers take 2 s.
    # Granted: 0.5 * 6 = 3 TB/s and 0.5 * 2 = 1 TB/s, summing to exactly B.
    res, granted, remaining = _corun("proportional")
    assert res.finish_s.tolist() == [2.0, 2.0]
    assert remaining == [2.0, 2.0]
    assert granted == (3 * TB, 1 * TB)
    assert res.busy_s.tolist() == [2.0, 2.0]


def test_maxmin_meets_the_small_demand_then_gives_the_rest() -> None:
    # Water-filling over demands (2, 6) with B = 4: the small one gets min(2, 4/2) = 2 (rate 1),
    # the big one the remaining 2 (rate 2/6 = 1/3). m1 ends at t = 1. By then m0 did 1/3 s of
    # its 1 s of work; alone it gets min(6, 4) = 4 (rate 2/3), so the remaining 2/3 s takes
    # (2/3) / (2/3) = 1 s: m0 ends at t = 2.
    res, granted, remaining = _corun("maxmin")
    # At t = 0, at the current shares: m0 1 / (1/3) = 3 s (it speeds up later), m1 1 s.
    assert remaining == pytest.approx([3.0, 1.0])
    assert granted == pytest.approx((2 * TB, 2 * TB))
    assert res.finish_s[1] == pytest.approx(1.0)
    assert res.finish_s[0] == pytest.approx(2.0)


def test_capped_honours_a_cap_below_the_fair_share() -> None:
    # Caps: m0 at 1 TB/s, m1 uncapped. Wanted (1, 2) sums to 3 <= 4, so no scaling: m0 runs at
    # rate 1/6, m1 at rate 1 and ends at t = 1. The cap stays for m0's layer even alone, so it
    # keeps rate 1/6: its 1 s of work takes 6 s in total, ending at t = 6.
    res, granted, _ = _corun("capped", caps=(1 * TB, math.inf))
    assert granted == pytest.approx((1 * TB, 2 * TB))
    assert res.finish_s[1] == pytest.approx(1.0)
    assert res.finish_s[0] == pytest.approx(6.0)


def test_capped_scales_oversubscribed_caps_proportionally() -> None:
    # Caps (3, 3): wanted (min(6,3), min(2,3)) = (3, 2), sum 5 > 4, scale 0.8 -> grants
    # (2.4, 1.6), rates (0.4, 0.8). m1 ends at 1 / 0.8 = 1.25; m0 has done 0.4 * 1.25 = 0.5 s of
    # work; alone it wants 3 <= 4 (rate 0.5), so the other 0.5 s takes 1 s: m0 ends at 2.25.
    res, granted, _ = _corun("capped", caps=(3 * TB, 3 * TB))
    assert granted == pytest.approx((2.4 * TB, 1.6 * TB))
    assert res.finish_s[1] == pytest.approx(1.25)
    assert res.finish_s[0] == pytest.approx(2.25)


def test_caps_are_ignored_by_proportional() -> None:
    # Same caps as above under proportional: the 0.5 common scale of the uncapped case applies.
    res, granted, _ = _corun("proportional", caps=(1 * TB, 1 * TB))
    assert granted == (3 * TB, 1 * TB)
    assert res.finish_s.tolist() == [2.0, 2.0]


def test_rates_are_reshared_when_a_layer_finishes() -> None:
    # Proportional, m1 has two 1 s layers dispatched as a block, m0 one: t in [0, 2): both at
    # rate 0.5, m0 and m1's layer 0 end at t = 2. m1's layer 1 then runs alone with demand
    # 2 <= 4 (rate 1) and ends at 3. If the rates were not re-shared it would end at 4.
    chip = toy_chip(
        ["simba", "simba"],
        {"m0": {"simba": [1.0]}, "m1": {"simba": [1.0, 1.0]}},
        dram_bytes={"m0": {"simba": [6 * TB]}, "m1": {"simba": [2 * TB, 2 * TB]}},
        bandwidth_bytes_per_s=4 * TB,
    )
    sim = Simulator(chip, [spec(0.0, model=0), spec(0.0, model=1)], record_trace=True)

    def fn(s: Simulator) -> list[Dispatch]:
        r0, r1 = sorted(s.ready.values(), key=lambda r: r.rid)
        return [Dispatch(r0, 0), Dispatch(r1, 1, layers=2)]

    res = sim.run(Scripted(fn), seed=0)
    assert res.finish_s.tolist() == [2.0, 3.0]
    assert sorted(res.trace) == [(0, 0, 0, 0.0, 2.0), (1, 1, 0, 0.0, 2.0), (1, 1, 1, 2.0, 3.0)]


# --------------------------------------------------------------------------- waiting
def test_wait_returns_control_at_the_next_arrival() -> None:
    # One unit, 1 s layers, arrivals at 0 and 5. The scheduler waits while now < 5, so it is
    # asked at t = 0 (returns []), not again until the arrival at 5 (the wait must not spin at 0),
    # then dispatches r0 at 5 (ends 6) and r1 at 6 (ends 7).
    chip = toy_chip(["simba"], {"m": {"simba": [1.0]}})
    sched = Scripted(lambda s: [] if s.now_s < 5.0 else fifo_each_free(s))
    res = Simulator(chip, [spec(0.0), spec(5.0)]).run(sched, seed=0)
    assert sched.calls == [0.0, 5.0, 6.0]
    assert res.finish_s.tolist() == [6.0, 7.0]


def test_a_decision_point_persists_until_the_scheduler_waits() -> None:
    # Two units, two 2 s requests at 0. The scheduler starts at most one layer per call and
    # waits ([]) when something is already running. After a dispatch the engine asks again at
    # the same instant (unit 1 is still free and r1 still waits: that is how the RL env applies
    # one action at a time); the [] then defers to the next event, r0's end at t = 2, where r1
    # starts on unit 0 (ends 4); nothing is left waiting, so there is no second call at 2.
    chip = toy_chip(["simba", "simba"], {"m": {"simba": [2.0]}})

    def fn(s: Simulator) -> list[Dispatch]:
        return [] if s.busy else fifo_each_free(s)[:1]

    sched = Scripted(fn)
    res = Simulator(chip, [spec(0.0), spec(0.0)], record_trace=True).run(sched, seed=0)
    assert sched.calls == [0.0, 0.0, 2.0]
    assert res.finish_s.tolist() == [2.0, 4.0]
    assert res.busy_s.tolist() == [4.0, 0.0]


def test_waiting_forever_is_a_scheduling_error() -> None:
    chip = toy_chip(["simba"], {"m": {"simba": [1.0]}})
    sched = Scripted(lambda s: [])
    with pytest.raises(SchedulingError, match="waited forever"):
        Simulator(chip, [spec(0.0), spec(3.0)]).run(sched, seed=0)
    assert sched.calls == [0.0, 3.0]  # it got every chance: at each arrival


def test_can_wait_reflects_future_events() -> None:
    chip = toy_chip(["simba"], {"m": {"simba": [1.0]}})
    sim = Simulator(chip, [spec(0.0), spec(3.0)])
    assert sim.advance()
    assert sim.can_wait()  # an arrival is pending
    sim.apply([])
    assert sim.advance() and sim.now_s == 3.0
    assert not sim.can_wait()  # nothing runs, nothing arrives, event-driven
    periodic = Simulator(chip, [spec(0.0)], decision_period_s=1.0)
    assert periodic.advance()
    assert periodic.can_wait()  # the next tick is a decision point


def test_dispatch_to_a_busy_unit_is_a_scheduling_error() -> None:
    chip = toy_chip(["simba"], {"m": {"simba": [1.0]}})
    sim = Simulator(chip, [spec(0.0), spec(0.0)])
    assert sim.advance()
    r0, r1 = sorted(sim.ready.values(), key=lambda r: r.rid)
    with pytest.raises(SchedulingError, match="sub-accelerator 0"):
        sim.apply([Dispatch(r0, 0), Dispatch(r1, 0)])


@pytest.mark.parametrize("accel", [-1, 1, 7])
def test_dispatch_to_an_unknown_unit_is_a_scheduling_error(accel: int) -> None:
    chip = toy_chip(["simba"], {"m": {"simba": [1.0]}})
    sim = Simulator(chip, [spec(0.0)])
    assert sim.advance()
    (r0,) = sim.ready.values()
    with pytest.raises(SchedulingError, match="busy or unknown"):
        sim.apply([Dispatch(r0, accel)])


def test_dispatch_of_a_running_request_is_a_scheduling_error() -> None:
    chip = toy_chip(["simba", "simba"], {"m": {"simba": [1.0, 1.0]}})
    sim = Simulator(chip, [spec(0.0)])
    assert sim.advance()
    (r0,) = sim.ready.values()
    with pytest.raises(SchedulingError, match="twice"):
        sim.apply([Dispatch(r0, 0), Dispatch(r0, 1)])  # the same layer twice in one decision


def test_dispatch_of_a_finished_or_dropped_request_is_a_scheduling_error() -> None:
    chip = toy_chip(["simba"], {"m": {"simba": [1.0]}})
    sim = Simulator(chip, [spec(0.0), spec(0.0)])
    assert sim.advance()
    r0, r1 = sorted(sim.ready.values(), key=lambda r: r.rid)
    sim.apply([Drop(r1), Dispatch(r0, 0)])
    assert r1.state == DROPPED
    assert not sim.advance()
    assert r0.state == DONE
    for req in (r0, r1):
        with pytest.raises(SchedulingError, match="not waiting"):
            sim.apply([Dispatch(req, 0)])
        with pytest.raises(SchedulingError, match="not waiting"):
            sim.apply([Drop(req)])


@pytest.mark.parametrize("layers", [0, 3])
def test_dispatch_of_a_bad_block_length_is_a_scheduling_error(layers: int) -> None:
    chip = toy_chip(["simba"], {"m": {"simba": [1.0, 1.0]}})
    sim = Simulator(chip, [spec(0.0)])
    assert sim.advance()
    (r0,) = sim.ready.values()
    with pytest.raises(SchedulingError, match=f"{layers} layers"):
        sim.apply([Dispatch(r0, 0, layers=layers)])


# --------------------------------------------------------------------------- dropping
def test_drop_hopeless_drops_a_request_that_can_no_longer_make_it() -> None:
    # One unit, 2 s layers, r0 and r1 at t = 0; r1's deadline is 3, so it must start by 3 - 2 = 1.
    # FCFS runs r0 on [0, 2); at t = 2 (the next event) r1 is hopeless and is dropped then.
    # Without dropping it runs on [2, 4) and misses its deadline.
    chip = toy_chip(["simba"], {"m": {"simba": [2.0]}})
    specs = [spec(0.0, deadline=10.0), spec(0.0, deadline=3.0)]
    dropped = Simulator(chip, specs, drop_hopeless=True).run(make_scheduler("fcfs"), seed=0)
    assert dropped.dropped.tolist() == [False, True]
    assert dropped.finish_s.tolist() == [2.0, 2.0]  # a drop's finish_s is the drop time
    assert dropped.busy_s.tolist() == [2.0]
    kept = Simulator(chip, specs, drop_hopeless=False).run(make_scheduler("fcfs"), seed=0)
    assert kept.dropped.tolist() == [False, False]
    assert kept.finish_s.tolist() == [2.0, 4.0]
    assert kept.met_deadline.tolist() == [True, False]


def test_drop_hopeless_drops_on_arrival_and_keeps_the_exact_boundary() -> None:
    # Layers of 1 s and 2 s: isolated latency 3 on the only type. r0 arrives at 1 with deadline
    # 3.5 < 1 + 3: dropped at once (t = 1), never dispatched. r1 arrives at 1 with deadline
    # exactly 1 + 3 = 4: latest start 1 == now is still feasible (strict test), so it runs and
    # meets the deadline exactly.
    chip = toy_chip(["simba", "simba"], {"m": {"simba": [1.0, 2.0]}})
    sched = Scripted(fifo_each_free)
    sim = Simulator(chip, [spec(1.0, deadline=3.5), spec(1.0, deadline=4.0)], drop_hopeless=True)
    res = sim.run(sched, seed=0)
    assert res.dropped.tolist() == [True, False]
    assert res.finish_s.tolist() == [1.0, 4.0]
    assert res.met_deadline.tolist() == [False, True]
    assert res.dispatches == 2  # only r1's two layers


def test_drop_hopeless_rechecks_after_each_layer() -> None:
    # Three 1 s layers. r0 (deadline 100) and r1 (deadline 3.5) arrive at 0; one unit. The
    # scheduler runs r1 layer 0 on [0, 1), then r0 layer 0 on [1, 2). At t = 1 r1 needs 2 more
    # seconds: latest start 3.5 - 2 = 1.5 < 2, so at t = 2 it is dropped (the entry pushed when
    # r1 became ready again at t = 1 fires; the stale layer-0 entry, latest 0.5, was skipped at
    # t = 1). r0 then runs its layers 1 and 2 on [2, 3) and [3, 4). Layers run: 1 + 3 = 4.
    chip = toy_chip(["simba"], {"m": {"simba": [1.0, 1.0, 1.0]}})
    order = iter([1, 0])

    def fn(s: Simulator) -> list[Dispatch]:
        want = next(order, None)
        reqs = {r.rid: r for r in s.ready.values()}
        req = reqs.get(want) if want is not None else min(reqs.values(), key=lambda r: r.rid)
        return [Dispatch(req, 0)]

    specs = [spec(0.0, deadline=100.0), spec(0.0, deadline=3.5)]
    res = Simulator(chip, specs, drop_hopeless=True).run(Scripted(fn), seed=0)
    assert res.dropped.tolist() == [False, True]
    assert res.finish_s.tolist() == [4.0, 2.0]
    assert res.layers_run.tolist() == [4]


def test_drop_decision_counts_as_a_violation() -> None:
    chip = toy_chip(["simba"], {"m": {"simba": [1.0]}})
    sim = Simulator(chip, [spec(0.0), spec(0.5)])
    assert sim.advance()
    (r0,) = sim.ready.values()
    assert sim.apply([Drop(r0)]) == 0  # a drop starts nothing
    assert r0.state == DROPPED and not sim.ready
    assert sim.advance() and sim.now_s == 0.5
    (r1,) = sim.ready.values()
    assert r1.state == WAITING
    assert sim.apply([Dispatch(r1, 0)]) == 1
    assert not sim.advance()
    m = compute_metrics(sim.result())
    assert m["sla_rate"] == 0.5 and m["drop_rate"] == 0.5 and m["completed"] == 1


# --------------------------------------------------------------------------- blocks
def test_block_dispatch_runs_layers_back_to_back_on_one_unit() -> None:
    # Two units; the model's three layers take 1 s on type a; on type b 2 s, except layer 1
    # (0.5 s on b). A block of 2 on unit 0 (type a) still runs layers 0 and 1 there, on [0, 1)
    # and [1, 2): the request is never ready in between, so at t = 1 (unit 1 free, r1 waiting
    # since 0.5) the scheduler sees only r1. This scheduler only uses unit 0 and waits otherwise.
    # r0's layer 2 then runs on [2, 3); r1's three layers on [3, 4), [4, 5), [5, 6).
    chip = toy_chip(["a", "b"], {"m": {"a": [1.0, 1.0, 1.0], "b": [2.0, 0.5, 2.0]}})
    blocks = iter([2])
    seen: list[tuple[float, list[int]]] = []

    def fn(s: Simulator) -> list[Dispatch]:
        seen.append((s.now_s, sorted(s.ready)))
        req = min(s.ready.values(), key=lambda r: r.rid)
        return [Dispatch(req, 0, layers=next(blocks, 1))] if 0 in s.free_accels else []

    res = Simulator(chip, [spec(0.0), spec(0.5)], record_trace=True).run(Scripted(fn), seed=0)
    assert sorted(row for row in res.trace if row[1] == 0) == [
        (0, 0, 0, 0.0, 1.0),
        (0, 0, 1, 1.0, 2.0),
        (0, 0, 2, 2.0, 3.0),
    ]
    assert seen[:4] == [(0.0, [0]), (0.5, [1]), (1.0, [1]), (2.0, [0, 1])]
    assert res.finish_s.tolist() == [3.0, 6.0]
    assert res.dispatches == 6  # each layer start counts, block or not
    assert res.layers_run.tolist() == [6, 0]


# --------------------------------------------------------------------------- periodic mode
def test_periodic_mode_dispatches_only_at_multiples_of_the_period() -> None:
    # T = 1 s, one unit, two 0.5 s layers. r0 arrives at 0 (a tick) and starts at once on
    # [0, 0.5). r1 arrives at 0.25 (not a tick; the unit is busy anyway). At 0.5 the unit is free
    # and r0 ready, but 0.5 is not a tick: nothing starts until t = 1, where r0 goes first (FIFO)
    # on [1, 1.5). The unit is idle on [1.5, 2) until the tick at 2: r1's layers run on
    # [2, 2.5) and, after another idle half period, [3, 3.5).
    chip = toy_chip(["simba"], {"m": {"simba": [0.5, 0.5]}})
    sched = Scripted(fifo_each_free)
    sim = Simulator(
        chip,
        [spec(0.25), spec(0.0)],  # given unsorted: the engine sorts, rid 0 is the t=0 one
        decision_period_s=1.0,
        record_trace=True,
    )
    res = sim.run(sched, seed=0)
    assert sched.calls == [0.0, 1.0, 2.0, 3.0]
    assert sorted(res.trace, key=lambda row: row[3]) == [
        (0, 0, 0, 0.0, 0.5),
        (0, 0, 1, 1.0, 1.5),
        (0, 1, 0, 2.0, 2.5),
        (0, 1, 1, 3.0, 3.5),
    ]
    assert res.finish_s.tolist() == [1.5, 3.5]
    # Event-driven, the same workload runs back to back: r0 on [0, 1), r1 on [1, 2).
    eager = Simulator(chip, [spec(0.25), spec(0.0)]).run(Scripted(fifo_each_free), seed=0)
    assert eager.finish_s.tolist() == [1.0, 2.0]


def test_periodic_mode_with_a_non_binary_period() -> None:
    # T = 0.1 s (not exact in binary), 0.03 s layers; arrivals at 0.05 and 0.31. r0 starts at the
    # tick 0.1 and ends 0.13; r1 starts at the tick 0.4 and ends 0.43. Tick detection must be
    # tolerant of 3 * 0.1 != 0.3 style rounding, or the run would skip ticks.
    chip = toy_chip(["simba"], {"m": {"simba": [0.03]}})
    sched = Scripted(fifo_each_free)
    res = Simulator(chip, [spec(0.05), spec(0.31)], decision_period_s=0.1).run(sched, seed=0)
    assert sched.calls == pytest.approx([0.1, 0.4])
    assert res.finish_s == pytest.approx([0.13, 0.43])


# --------------------------------------------------------------------------- energy, busy time
def test_energy_is_dynamic_plus_static_power_times_makespan() -> None:
    # Types a (static 2 W) and b (static 0.5 W), DRAM static 0.25 W, one instance each.
    # Model: layer 0 on a: 1 s, 3 J; layer 1 on b: 2 s, 5 J (the other type is slower for each
    # layer and never used by this scheduler). Arrival 0: layer 0 on [0, 1) on unit 0, layer 1
    # on [1, 3) on unit 1. Dynamic 3 + 5 = 8 J, static (2 + 0.5 + 0.25) W x 3 s = 8.25 J,
    # total 16.25 J. Busy: unit 0 1 s, unit 1 2 s; utilisation 1/3 and 2/3.
    tables = {
        ("m", "a"): ToyTable(np.array([1.0, 9.0]), np.zeros(2), np.array([3.0, 7.0]), 2.0),
        ("m", "b"): ToyTable(np.array([9.0, 2.0]), np.zeros(2), np.array([11.0, 5.0]), 0.5),
    }
    chip = build_chip(["a", "b"], 1e12, ["m"], tables, dram_static_power_w=0.25)
    res = Simulator(chip, [spec(0.0)]).run(make_scheduler("fcfs"), seed=0)
    assert res.finish_s.tolist() == [3.0]
    assert res.dynamic_energy_j == 8.0
    assert res.static_power_w == 2.75
    assert res.energy_j == pytest.approx(16.25)
    assert res.busy_s.tolist() == [1.0, 2.0]
    assert res.layers_run.tolist() == [1, 1]
    m = compute_metrics(res)
    assert m["energy_j"] == pytest.approx(16.25)
    assert m["static_energy_j"] == pytest.approx(8.25)
    assert m["energy_per_inference_j"] == pytest.approx(16.25)
    assert m["utilization"] == pytest.approx([1 / 3, 2 / 3])
    assert m["mean_utilization"] == pytest.approx(0.5)


def test_busy_time_includes_bandwidth_stalls_and_idle_gaps_count_in_makespan() -> None:
    # From the proportional co-run (both layers stretched to 2 s) plus an idle gap: a third
    # request of m1 arriving at 5 runs alone at full speed on [5, 6) on unit 0 (demand 2 <= 4).
    # Busy: unit 0 2 + 1 = 3 s, unit 1 2 s; makespan 6 -> utilisation 0.5 and 1/3. Energy: 3
    # layers x 1 J default, no static power.
    chip = _two_model_chip()
    specs = [spec(0.0, model=0), spec(0.0, model=1), spec(5.0, model=1)]
    res = Simulator(chip, specs).run(Scripted(fifo_each_free), seed=0)
    assert res.finish_s.tolist() == [2.0, 2.0, 6.0]
    assert res.busy_s.tolist() == [3.0, 2.0]
    assert res.makespan_s == 6.0
    assert res.energy_j == 3.0
    m = compute_metrics(res)
    assert m["utilization"] == pytest.approx([0.5, 1 / 3])
    # DRAM: 6 + 2 + 2 = 10 TB moved over 4 TB/s x 6 s of capacity.
    assert m["dram_utilization"] == pytest.approx(10 / 24)


def test_reset_replays_the_same_run() -> None:
    chip = _two_model_chip()
    specs = [spec(0.0, model=0), spec(0.0, model=1), spec(5.0, model=1)]
    sim = Simulator(chip, specs, record_trace=True)
    first = sim.run(make_scheduler("edf"), seed=0)
    sim.reset()
    second = sim.run(make_scheduler("edf"), seed=0)
    assert first.trace == second.trace
    assert first.finish_s.tolist() == second.finish_s.tolist()


class _DispatchOneThenWaitOnce:
    """Dispatches one layer, then waits exactly once, then dispatches whatever is ready."""

    def __init__(self) -> None:
        self.calls = 0

    def reset(self, sim: Simulator, rng: object) -> None:
        self.calls = 0

    def decide(self, sim: Simulator) -> list[Dispatch]:
        self.calls += 1
        if self.calls == 2:
            return []
        req = min(sim.ready.values(), key=lambda r: r.rid)
        return [Dispatch(req, sim.free_accels[0])]


def test_wait__a_finish_at_the_same_timestamp_offers_a_new_decision() -> None:
    # Regression (found by a hardware_dse sweep): at t = 1.0 the scheduler starts request 0's
    # first layer (1e-20 s: its end 1.0 + 1e-20 rounds to 1.0) and then waits. That layer then
    # finishes in a second event at the same timestamp; the engine must ask again instead of
    # treating the earlier wait as final (which raised "waited forever" with work ready).
    chip = toy_chip(["a", "b"], {"m": {"a": [1e-20, 1.0], "b": [1e-20, 1.0]}})
    specs = [RequestSpec(1.0, 0, 0, 1, 10.0), RequestSpec(1.0, 0, 0, 1, 10.0)]
    res = Simulator(chip, specs).run(_DispatchOneThenWaitOnce(), seed=0)
    assert res.completed.all()
    assert res.finish_s.max() <= 3.0 + 1e-9
