"""Property tests: invariants of every run, whatever the chip, the workload and the scheduler.

Hypothesis draws toy chips (1-4 units of 1-2 types, random compute/DRAM/energy per layer, some
layers memory-bound), request lists (arrivals with ties, deadlines from hopeless to loose), a
bandwidth policy, drop on/off and event-driven or periodic scheduling. Each registered scheduler
(``scheduler_names()``, so new ones are covered without an edit here) is driven through the
stepping API so the state can be checked at every decision point:

(a) no sub-accelerator runs two layers at once;
(b) each request's layers run in order, each exactly once (a prefix of them if dropped);
(c) the granted DRAM bandwidth never exceeds the capacity, nor any layer's demand or cap;
(d) every request ends completed or dropped, exactly once, and the metric counts add up;
(e) time never runs backwards;
plus the accounting (energy, busy time, DRAM bytes) matching the trace, and no request finishing
faster than its isolated latency.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relmas.schedulers import make_scheduler, scheduler_names
from relmas.sim import Chip, RequestSpec, Simulator
from relmas.sim.bandwidth import BANDWIDTH_POLICIES
from relmas.sim.metrics import compute_metrics
from relmas.sim.request import DONE, DROPPED, RUNNING, WAITING
from relmas.sim.result import SimResult
from relmas.sim.toy import toy_chip

BW = 1e12
REL = 1e-9  # relative float tolerance for sums of products


@st.composite
def chips(draw: st.DrawFn) -> Chip:
    n_types = draw(st.integers(1, 2))
    types = ["simba", "eyeriss"][:n_types]
    units = draw(st.lists(st.sampled_from(types), min_size=1, max_size=4))
    used = list(dict.fromkeys(units))
    n_models = draw(st.integers(1, 3))
    layers, dram, energy = {}, {}, {}
    for m in range(n_models):
        n = draw(st.integers(1, 4))
        name = f"m{m}"
        layers[name], dram[name], energy[name] = {}, {}, {}
        for t in used:
            layers[name][t] = draw(st.lists(st.floats(0.01, 2.0), min_size=n, max_size=n))
            # 0 (compute-bound) up to 4 s of the whole bandwidth (memory-bound); most layers
            # need a good share of B, so co-running layers often oversubscribe it.
            traffic = st.one_of(st.just(0.0), st.floats(0.2 * BW, 4 * BW), st.floats(0.0, BW))
            dram[name][t] = draw(st.lists(traffic, min_size=n, max_size=n))
            energy[name][t] = draw(st.lists(st.floats(0.0, 3.0), min_size=n, max_size=n))
    return toy_chip(units, layers, dram_bytes=dram, energy_j=energy, bandwidth_bytes_per_s=BW)


@st.composite
def workloads(draw: st.DrawFn, chip: Chip) -> list[RequestSpec]:
    n = draw(st.integers(0, 10))
    grid = st.sampled_from([0.0, 0.5, 1.0, 2.0])  # exact ties between arrivals
    arrivals = draw(st.lists(st.one_of(grid, st.floats(0.0, 4.0)), min_size=n, max_size=n))
    specs = []
    for t in arrivals:
        m = draw(st.integers(0, len(chip.model_names) - 1))
        slack = draw(st.sampled_from([0.5, 1.0, 1.5, 3.0, 10.0]))  # 0.5: hopeless on arrival
        prio = draw(st.sampled_from([1, 3, 9]))
        tenant = draw(st.integers(0, 2))
        specs.append(RequestSpec(t, tenant, m, prio, t + slack * chip.isolated_latency_s[m]))
    return specs


def _check_state(sim: Simulator, prev_now: float) -> None:
    # (e) the clock is monotone.
    assert sim.now_s >= prev_now
    # Units are either free or busy, never both, and a busy unit holds a running request.
    assert sorted([*sim.free_accels, *sim.busy]) == list(range(sim.chip.num_accels))
    for a in sim.free_accels:
        assert sim.accel_request[a] is None
    for a in sim.busy:
        req = sim.accel_request[a]
        assert req is not None and req.state == RUNNING and req.accel == a
    for rid, req in sim.ready.items():
        assert req.rid == rid and req.state == WAITING
    # (c) granted bandwidth: within capacity in total, within demand (rate <= 1) and cap each.
    total = 0.0
    for a in sim.busy:
        granted = sim.granted_bandwidth_bytes_per_s(a)
        demand = sim.demand_bytes_per_s[a]
        assert 0.0 <= granted <= demand * (1 + REL)
        assert 0.0 < sim.rates()[a] <= 1.0 + REL
        if sim.bandwidth_policy == "capped":
            assert granted <= sim.bandwidth_cap_bytes_per_s[a] * (1 + REL)
        total += granted
    assert total <= sim.chip.bandwidth_bytes_per_s * (1 + REL)
    if sim.busy and sim.dram_demand_bytes_per_s <= sim.chip.bandwidth_bytes_per_s:
        # Not oversubscribed: every policy lets uncapped layers run at full speed.
        for a in sim.busy:
            if sim.bandwidth_cap_bytes_per_s[a] == math.inf:
                assert sim.rates()[a] == pytest.approx(1.0)
    # The cached DRAM demand is exactly a fresh sum (every change to ``busy`` clears it).
    assert sim.dram_demand_bytes_per_s == sum([sim.demand_bytes_per_s[a] for a in sim.busy])


def _drive(sim: Simulator, name: str, seed: int) -> tuple[SimResult, int]:
    """Run ``name`` through the stepping API, checking the state at every step."""
    sched = make_scheduler(name)
    sched.reset(sim, np.random.default_rng(seed))
    prev, steps = 0.0, 0
    while sim.advance():
        _check_state(sim, prev)
        assert sim.free_accels and sim.ready  # a decision point needs both
        prev = sim.now_s
        sim.apply(sched.decide(sim))
        _check_state(sim, prev)
        steps += 1
        assert steps < 10_000, "no progress"
    _check_state(sim, prev)
    assert sim.finished
    return sim.result(), steps


def _check_result(sim: Simulator, res: SimResult, specs: list[RequestSpec]) -> None:
    chip = sim.chip
    n = len(specs)
    # (d) every request ends exactly once: completed xor dropped, at a finite time.
    assert len(sim.requests) == n
    assert all(r.state in (DONE, DROPPED) for r in sim.requests)
    assert np.isfinite(res.finish_s).all()
    assert not (res.completed & res.dropped).any()
    assert (res.completed | res.dropped).all()
    assert res.makespan_s == (res.finish_s.max() if n else 0.0)
    assert (res.finish_s >= res.arrival_s).all()
    # (e) trace rows go forward in time and start after the request arrived.
    by_unit: dict[int, list[tuple[float, float]]] = defaultdict(list)
    by_req: dict[int, list[tuple[float, float, int, int]]] = defaultdict(list)
    for a, rid, layer, start, end in res.trace:
        assert start <= end
        assert start >= sim.requests[rid].arrival_s
        by_unit[a].append((start, end))
        by_req[rid].append((start, end, layer, a))
    # (a) per unit, layer intervals do not overlap (exact: a start is the clock at dispatch).
    for rows in by_unit.values():
        rows.sort()
        for (_, e0), (s1, _) in itertools.pairwise(rows):
            assert e0 <= s1
    # (b) per request, layers 0..k-1 once each, in order (k = all layers if completed).
    for req in sim.requests:
        rows = sorted(by_req.get(req.rid, []))
        assert [layer for _, _, layer, _ in rows] == list(range(len(rows)))
        for (_, e0, _, _), (s1, _, _, _) in itertools.pairwise(rows):
            assert e0 <= s1
        if req.state == DONE:
            assert len(rows) == req.num_layers
            assert rows[-1][1] == req.finish_s
            # No layer beats its isolated latency (rate <= 1, and <= B / demand alone).
            iso = chip.isolated_latency_s[req.model]
            assert req.finish_s - req.arrival_s >= iso * (1 - 1e-7)
        else:
            assert len(rows) < req.num_layers
    # Accounting matches the trace.
    energy = sum(
        chip.energy_j[sim.requests[r].model][chip.accel_type[a]][k] for a, r, k, *_ in res.trace
    )
    dram = sum(
        chip.dram_bytes[sim.requests[r].model][chip.accel_type[a]][k] for a, r, k, *_ in res.trace
    )
    assert res.dynamic_energy_j == pytest.approx(energy, rel=REL, abs=1e-12)
    assert res.dram_bytes == pytest.approx(dram, rel=REL, abs=1e-3)
    assert res.dispatches == len(res.trace)
    for a in range(chip.num_accels):
        rows = by_unit.get(a, [])
        assert res.layers_run[a] == len(rows)
        assert res.busy_s[a] == pytest.approx(sum(e - s for s, e in rows), rel=REL, abs=1e-12)
        assert res.busy_s[a] <= res.makespan_s * (1 + REL)
    # (d) the metric counts add up.
    m = compute_metrics(res)
    assert m["requests"] == n
    if n:
        dropped = int(res.dropped.sum())
        assert m["completed"] + dropped == n
        assert m["drop_rate"] == pytest.approx(dropped / n)
        assert m["sla_rate"] + m["violation_rate"] == pytest.approx(1.0)
        assert 0.0 <= m["sla_rate"] <= m["completed"] / n
    if m["completed"]:
        assert m["antt"] >= 1 - 1e-7
        assert 0.0 < m["fairness"] <= 1.0 + REL
        assert m["p50_latency_s"] <= m["p99_latency_s"] * (1 + REL)
    if res.makespan_s > 0:
        assert all(0.0 <= u <= 1.0 + REL for u in m["utilization"])
        assert 0.0 <= m["dram_utilization"] <= 1.0 + REL


def _check_periodic(res: SimResult, period: float) -> None:
    """A layer starts at a tick, or right where the previous layer of its block ended."""
    ends = {(a, rid, layer): e for a, rid, layer, _, e in res.trace}
    for a, rid, layer, start, _ in res.trace:
        ticks = start / period
        at_tick = abs(ticks - round(ticks)) <= 1e-9 * max(ticks, 1.0)
        continues_block = ends.get((a, rid, layer - 1)) == start
        assert at_tick or continues_block, (a, rid, layer, start)


# Schedulers that return Drop decisions themselves (firm real-time by design), drop on or off.
_MAY_DROP = {"cd-msa", "dream"}


@pytest.mark.parametrize("name", scheduler_names())
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    data=st.data(),
    policy=st.sampled_from(sorted(BANDWIDTH_POLICIES)),
    drop=st.booleans(),
    period=st.sampled_from([None, None, 0.25, 0.7]),
    seed=st.integers(0, 3),
)
def test_invariants_hold_for_every_scheduler(
    name: str, data: st.DataObject, policy: str, drop: bool, period: float | None, seed: int
) -> None:
    chip = data.draw(chips())
    specs = data.draw(workloads(chip))
    sim = Simulator(
        chip,
        specs,
        bandwidth_policy=policy,
        drop_hopeless=drop,
        decision_period_s=period,
        record_trace=True,
    )
    res, _ = _drive(sim, name, seed)
    _check_result(sim, res, specs)
    if period is not None:
        _check_periodic(res, period)
    if not drop and name not in _MAY_DROP:
        assert not res.dropped.any()


@settings(max_examples=40, deadline=None)
@given(
    demands=st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 1e13)), min_size=1, max_size=6),
    caps=st.lists(st.one_of(st.just(math.inf), st.floats(1e-3, 1e13)), min_size=6, max_size=6),
    bw=st.floats(1e9, 1e13),
    policy=st.sampled_from(sorted(BANDWIDTH_POLICIES)),
)
def test_bandwidth_policies_grant_at_most_capacity_demand_and_cap(
    demands: list[float], caps: list[float], bw: float, policy: str
) -> None:
    caps = caps[: len(demands)]
    rates = BANDWIDTH_POLICIES[policy](demands, caps, bw)
    assert len(rates) == len(demands)
    grants = [r * d for r, d in zip(rates, demands, strict=True)]
    assert sum(grants) <= bw * (1 + REL)
    assert all(0.0 < r <= 1.0 + REL for r in rates)
    if policy == "capped":
        assert all(g <= c * (1 + REL) for g, c in zip(grants, caps, strict=True))
    if policy != "capped" and sum(demands) <= bw:
        assert all(r == pytest.approx(1.0) for r in rates)
    if policy == "maxmin" and sum(demands) > bw:
        # Water-filling uses all the bandwidth, and nobody below the largest grant is cut.
        assert sum(grants) == pytest.approx(bw, rel=1e-9)
        top = max(grants)
        for g, d in zip(grants, demands, strict=True):
            assert g == pytest.approx(d, rel=1e-9) or g == pytest.approx(top, rel=1e-9)
