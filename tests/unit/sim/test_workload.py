"""Workload generation: arrival statistics, rate resolution, cuts, trace replay and the presets.

Statistical tolerances are stated next to each check as a multiple of the estimator's standard
deviation (>= 4 sigma), and the seeds are fixed, so the tests are deterministic and still fail
on a real change of distribution.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from relmas.config.scenario import Scenario
from relmas.errors import UserError
from relmas.experiment import load_setup
from relmas.loaders.scenarios import scenario_names
from relmas.sim import arrivals
from relmas.sim.chip import Chip
from relmas.sim.toy import toy_chip
from relmas.sim.workload import generate_requests, mean_service_s, resolve_rates, service_s

TB = 1e12


def _dispersion(times: np.ndarray, horizon: float, window: float) -> float:
    """Index of dispersion (variance / mean) of the counts per window: 1 for Poisson."""
    counts = np.histogram(times, bins=round(horizon / window), range=(0, horizon))[0]
    return float(counts.var(ddof=1) / counts.mean())


def _scenario(**fields: object) -> Scenario:
    base: dict[str, object] = {"name": "t", "num_requests": 100}
    base.update(fields)
    return Scenario.model_validate(base)


def _tenant(name: str = "a", model: str = "m0", **arrival: object) -> dict[str, object]:
    arrival = arrival or {"process": "poisson", "rate_per_s": 10.0}
    return {"name": name, "models": {model: 1}, "sla_multiplier": 2.0, "arrival": arrival}


def _toy() -> Chip:
    # Types a (fast) and b (3x slower), one instance each; two one-layer models.
    return toy_chip(
        ["a", "b"],
        {"m0": {"a": [1.0], "b": [3.0]}, "m1": {"a": [0.5], "b": [1.5]}},
        bandwidth_bytes_per_s=4 * TB,
    )


# --------------------------------------------------------------------------- arrival processes
def test_poisson_rate_and_exponential_gaps() -> None:
    rate, horizon = 50.0, 400.0  # ~20 000 arrivals
    t = arrivals.poisson(np.random.default_rng(0), rate, None, horizon)
    assert np.all(np.diff(t) >= 0) and t[0] >= 0 and t[-1] < horizon
    # Count ~ Poisson(20 000): sd 0.7 % -> 3 % tolerance.
    assert t.size / horizon == pytest.approx(rate, rel=0.03)
    gaps = np.diff(t)
    assert gaps.mean() == pytest.approx(1 / rate, rel=0.03)
    # Exponential: coefficient of variation 1 (sd of the estimate ~1 %), and
    # P(gap > mean) = 1/e (sd 0.34 %).
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.05)
    assert (gaps > 1 / rate).mean() == pytest.approx(math.exp(-1), abs=0.015)
    # Counts per 1 s window (50 expected, 400 windows): dispersion 1, sd sqrt(2/399) = 0.07.
    assert _dispersion(t, horizon, 1.0) == pytest.approx(1.0, abs=0.3)


def test_poisson_with_a_count_returns_exactly_that_many() -> None:
    t = arrivals.poisson(np.random.default_rng(1), 5.0, 37, None)
    assert t.size == 37 and np.all(np.diff(t) >= 0)


def test_on_off_keeps_the_mean_rate_and_is_burstier_than_poisson() -> None:
    rate, horizon = 100.0, 200.0  # on 25 % of the time, 0.05 s bursts, 0.15 s gaps
    ratios, dispersions = [], []
    for seed in range(20):
        t = arrivals.on_off(np.random.default_rng(seed), rate, 0.25, 0.05, None, horizon)
        assert np.all(np.diff(t) >= 0) and t[-1] < horizon
        ratios.append(t.size / horizon / rate)
        dispersions.append(_dispersion(t, horizon, 0.1))
    # Per seed the rate has sd ~3 % (1 000 on/off cycles); over 20 seeds ~0.7 % -> 3 %.
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.03)
    # 10 arrivals per 0.1 s window on average, but all of them in bursts: far from Poisson's 1.
    assert min(dispersions) > 3.0
    poisson = arrivals.poisson(np.random.default_rng(0), rate, None, horizon)
    assert _dispersion(poisson, horizon, 0.1) < 1.5


def test_on_off_covers_the_whole_horizon() -> None:
    # Long bursts and gaps relative to the horizon (12 on/off cycles in 10 s) make the number of
    # arrivals before the horizon vary far more than a Poisson count. The generator must still
    # produce arrivals up to the horizon: the mean rate in the last 2 s equals that in the first
    # 8 s. Over 200 seeds the ratio's sd is ~3 %; a stream that runs out early loses ~15 %.
    rate, horizon = 200.0, 10.0
    head, tail, total = 0.0, 0.0, 0.0
    for seed in range(200):
        t = arrivals.on_off(np.random.default_rng(seed), rate, 0.25, 0.2, None, horizon)
        head += (t < 8.0).sum() / 8.0
        tail += (t >= 8.0).sum() / 2.0
        total += t.size / horizon / rate
    assert tail / head == pytest.approx(1.0, abs=0.1)
    assert total / 200 == pytest.approx(1.0, abs=0.04)


def test_on_off_with_a_count_returns_exactly_that_many() -> None:
    t = arrivals.on_off(np.random.default_rng(2), 20.0, 0.3, 0.1, 250, None)
    assert t.size == 250 and np.all(np.diff(t) >= 0)
    # on_fraction 1 is plain Poisson at the given rate.
    a = arrivals.on_off(np.random.default_rng(3), 20.0, 1.0, 0.1, 50, None)
    b = arrivals.poisson(np.random.default_rng(3), 20.0, 50, None)
    np.testing.assert_array_equal(a, b)


def test_periodic_frames_jitter_and_count() -> None:
    fps, jitter = 30.0, 1e-3
    t = arrivals.periodic(np.random.default_rng(0), fps, jitter, 1.0, None, 2.0)
    assert t.size == 60  # frames 0..59 at k / 30 < 2
    offset = t - np.arange(60) / fps
    assert np.all(offset >= 0) and np.all(offset < jitter)
    assert offset.std() > jitter / 10  # the jitter is actually applied


def test_periodic_bernoulli_probability() -> None:
    # 30 000 frames kept with p = 0.3: sd of the kept fraction 0.26 % -> 1 % tolerance.
    t = arrivals.periodic(np.random.default_rng(0), 30.0, 0.0, 0.3, None, 1000.0)
    assert t.size / 30_000 == pytest.approx(0.3, abs=0.01)
    frame = np.round(t * 30.0)
    assert np.allclose(t * 30.0, frame)  # no jitter: exactly on frame times
    assert np.all(np.diff(frame) >= 1)  # a frame is kept at most once


@pytest.mark.parametrize("probability", [1.0, 0.5, 0.1])
def test_periodic_with_a_count_returns_exactly_that_many(probability: float) -> None:
    for seed in range(20):
        t = arrivals.periodic(np.random.default_rng(seed), 10.0, 0.0, probability, 40, None)
        assert t.size == 40, (seed, t.size)


# --------------------------------------------------------------------------- offered load
def test_service_s_by_hand() -> None:
    # Compute-bound m0: latencies 1 s on a, 3 s on b -> speeds 1 + 1/3 = 4/3 requests/s ->
    # 0.75 s. m1 is half as long: 0.375 s.
    chip = _toy()
    assert service_s(chip, 0) == pytest.approx(0.75)
    assert service_s(chip, 1) == pytest.approx(0.375)
    # DRAM-bound: 6 TB per request over 4 TB/s. Latencies max(1, 1.5) = 1.5 and max(3, 1.5) = 3
    # -> compute service 1 / (2/3 + 1/3) = 1 s; traffic (2/3) * 6 + (1/3) * 6 = 6 TB -> 1.5 s.
    dram = toy_chip(
        ["a", "b"],
        {"m": {"a": [1.0], "b": [3.0]}},
        dram_bytes={"m": {"a": [6 * TB], "b": [6 * TB]}},
        bandwidth_bytes_per_s=4 * TB,
    )
    assert service_s(dram, 0) == pytest.approx(1.5)


def test_resolve_rates_hits_the_offered_load_exactly_on_a_toy_chip() -> None:
    # Fixed tenant: 0.4 requests/s of m0 (0.75 s each) = 0.3 of load. Offered 0.9 leaves 0.6,
    # split 2:1 -> 0.4 to tenant b (m1, 0.375 s: 0.4 / 0.375 req/s) and 0.2 to c (mix of m0 and
    # m1 at 1:3 -> mean service 0.25 * 0.75 + 0.75 * 0.375 = 0.46875 s).
    scen = _scenario(
        offered_load=0.9,
        tenants=[
            _tenant("a", "m0", process="poisson", rate_per_s=0.4),
            _tenant("b", "m1", process="poisson", load_share=2.0),
            {**_tenant("c", "m0", process="bursty", load_share=1.0), "models": {"m0": 1, "m1": 3}},
        ],
    )
    chip = _toy()
    rates = resolve_rates(scen, chip)
    assert rates[0] == 0.4
    assert rates[1] == pytest.approx(0.4 / 0.375)
    assert rates[2] == pytest.approx(0.2 / 0.46875)
    load = sum(r * mean_service_s(t, chip) for r, t in zip(rates, scen.tenants, strict=True))
    assert load == pytest.approx(0.9, rel=1e-12)


def test_resolve_rates_rejects_an_offered_load_below_the_fixed_load() -> None:
    scen = _scenario(
        offered_load=0.2,
        tenants=[
            _tenant("a", "m0", process="poisson", rate_per_s=0.4),  # 0.3 of load on its own
            _tenant("b", "m1", process="poisson", load_share=1.0),
        ],
    )
    with pytest.raises(UserError) as err:
        resolve_rates(scen, _toy())
    assert err.value.field == "offered_load"


@pytest.mark.parametrize("preset", ["light", "medium", "heavy", "tight"])
def test_presets_resolve_to_their_offered_load(preset: str) -> None:
    setup = load_setup(preset, "2s2e")
    scen, chip = setup.scenario, setup.chip
    rates = resolve_rates(scen, chip)
    loads = [r * mean_service_s(t, chip) for r, t in zip(rates, scen.tenants, strict=True)]
    assert sum(loads) == pytest.approx(scen.offered_load, rel=1e-12)
    shares = [t.arrival.load_share for t in scen.tenants]
    for load, share in zip(loads, shares, strict=True):
        assert load / scen.offered_load == pytest.approx(share / sum(shares), rel=1e-12)


def test_periodic_rate_is_fps_times_probability() -> None:
    scen = _scenario(tenants=[_tenant("a", "m0", process="periodic", fps=20, probability=0.25)])
    assert resolve_rates(scen, _toy()) == [5.0]


# --------------------------------------------------------------------------- generation
def test_num_requests_and_horizon_cut() -> None:
    tenants = [
        _tenant("a", "m0", process="poisson", rate_per_s=40.0),
        _tenant("b", "m1", process="bursty", rate_per_s=20.0),
    ]
    chip = _toy()
    by_count = generate_requests(_scenario(num_requests=50, tenants=tenants), chip, 0)
    assert len(by_count) == 50
    keys = [(s.arrival_s, s.tenant) for s in by_count]
    assert keys == sorted(keys)
    assert {s.tenant for s in by_count} == {0, 1}
    by_time = generate_requests(
        _scenario(num_requests=None, horizon_s=2.0, tenants=tenants), chip, 0
    )
    assert all(s.arrival_s < 2.0 for s in by_time)
    assert 60 < len(by_time) < 200  # 2 s x 60 req/s = 120 expected
    both = generate_requests(_scenario(num_requests=30, horizon_s=2.0, tenants=tenants), chip, 0)
    assert len(both) == 30 and all(s.arrival_s < 2.0 for s in both)
    few = generate_requests(_scenario(num_requests=10_000, horizon_s=0.5, tenants=tenants), chip, 0)
    assert 0 < len(few) < 100 and all(s.arrival_s < 0.5 for s in few)


def test_deadlines_models_and_priorities() -> None:
    # Poisson tenant: deadline = arrival + 2 x isolated latency of the model (m0: 1 s, m1: 0.5 s).
    # Periodic tenant: deadline = arrival + multiplier / fps = arrival + 1.5 / 10 per frame.
    chip = _toy()
    scen = _scenario(
        num_requests=None,
        horizon_s=20.0,
        tenants=[
            {
                **_tenant("a", "m0", process="poisson", rate_per_s=20.0),
                "models": {"m0": 3, "m1": 1},
                "priorities": {1: 1, 9: 1},
            },
            {**_tenant("b", "m1", process="periodic", fps=10), "sla_multiplier": 1.5},
        ],
    )
    specs = generate_requests(scen, chip, 4)
    a = [s for s in specs if s.tenant == 0]
    b = [s for s in specs if s.tenant == 1]
    for s in a:
        assert s.deadline_s == pytest.approx(s.arrival_s + 2.0 * chip.isolated_latency_s[s.model])
    share_m0 = np.mean([s.model == 0 for s in a])  # 3:1 weights over ~400 requests, sd 2.2 %
    assert share_m0 == pytest.approx(0.75, abs=0.09)
    assert {s.priority for s in a} == {1, 9}
    assert np.mean([s.priority == 9 for s in a]) == pytest.approx(0.5, abs=0.1)
    assert len(b) == 200  # frames k / 10 < 20
    for s in b:
        assert s.model == 1 and s.priority == 1
        assert s.deadline_s == pytest.approx(s.arrival_s + 1.5 / 10)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_trace_replay(tmp_path: Path) -> None:
    _write(
        tmp_path / "full.csv",
        "arrival_s,model,priority,deadline_s\n"
        "0.0,resnet50,9,0.5\n0.001,squeezenet,1,0.2\n0.001,resnet50,3,0.9\n0.25,alexnet,1,1.0\n",
    )
    _write(tmp_path / "bare.csv", "arrival_s,model\n0.002,squeezenet\n0.3,squeezenet\n")
    yaml_path = _write(
        tmp_path / "replay.yaml",
        "name: replay\nhorizon_s: 10\ntenants:\n"
        "  - name: full\n    models: {resnet50: 1}\n    sla_multiplier: 2\n"
        "    arrival: {process: trace, path: full.csv}\n"
        "  - name: bare\n    models: {squeezenet: 1}\n    priority: 3\n    sla_multiplier: 4\n"
        "    arrival: {process: trace, path: bare.csv}\n",
    )
    setup = load_setup(str(yaml_path), "2s2e")
    chip = setup.chip
    # Models used only in the trace (alexnet) are on the chip too.
    assert {"resnet50", "squeezenet", "alexnet"} <= set(chip.model_names)
    specs = generate_requests(setup.scenario, chip, 0, setup.traces)
    full = [
        (s.arrival_s, chip.model_names[s.model], s.priority, s.deadline_s)
        for s in specs
        if s.tenant == 0
    ]
    assert full == [
        (0.0, "resnet50", 9, 0.5),
        (0.001, "squeezenet", 1, 0.2),
        (0.001, "resnet50", 3, 0.9),
        (0.25, "alexnet", 1, 1.0),
    ]
    bare = [s for s in specs if s.tenant == 1]
    assert [s.arrival_s for s in bare] == [0.002, 0.3]
    sq = chip.model_index("squeezenet")
    for s in bare:  # no priority/deadline columns: the tenant's priority and SLA apply
        assert s.model == sq and s.priority == 3
        assert s.deadline_s == pytest.approx(s.arrival_s + 4 * chip.isolated_latency_s[sq])
    # Replay ignores the seed.
    assert generate_requests(setup.scenario, chip, 99, setup.traces) == specs
    # The horizon cuts a trace too.
    cut = setup.scenario.model_copy(update={"horizon_s": 0.1})
    assert [s.arrival_s for s in generate_requests(cut, chip, 0, setup.traces)] == [
        0.0,
        0.001,
        0.001,
        0.002,
    ]


@pytest.mark.parametrize("preset", scenario_names())
def test_each_preset_loads_and_generates_on_2s2e(preset: str) -> None:
    setup = load_setup(preset, "2s2e")
    scen, chip = setup.scenario, setup.chip
    specs = generate_requests(scen, chip, 0, setup.traces)
    assert specs
    if scen.num_requests is not None:
        assert len(specs) == scen.num_requests
    if scen.horizon_s is not None:
        assert all(s.arrival_s < scen.horizon_s for s in specs)
    assert {s.tenant for s in specs} == set(range(len(scen.tenants)))  # every tenant shows up
    for s in specs:
        assert 0 <= s.arrival_s < s.deadline_s
        tenant = scen.tenants[s.tenant]
        assert chip.model_names[s.model] in tenant.models
        assert s.priority in tenant.priorities
    times = [s.arrival_s for s in specs]
    assert times == sorted(times)


def test_arvr_frame_counts() -> None:
    # 2 s of frames: 90, 60, 60, 30 fps -> 180, 120, 120, 60 frames; speech at 5 fps with
    # probability 0.5 -> at most 10.
    setup = load_setup("arvr", "2s2e")
    specs = generate_requests(setup.scenario, setup.chip, 0)
    counts = np.bincount([s.tenant for s in specs], minlength=5).tolist()
    assert counts[:4] == [180, 120, 120, 60]
    assert 0 < counts[4] <= 10
