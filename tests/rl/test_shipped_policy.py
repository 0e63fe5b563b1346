"""The policies shipped in ``relmas/rl/policies/`` load as ``rl:NAME`` and schedule.

Why: ``relmas compare --schedulers all,rl:default`` must work on a fresh checkout, without
training, Ray or torch; a stale export (env version bump, obs layout change) must fail here.
"""

from __future__ import annotations

import numpy as np
import pytest

from relmas.env.sources import make_source
from relmas.rl.policy_scheduler import SHIPPED_DIR, resolve_policy_dir
from relmas.schedulers.registry import make_scheduler
from relmas.sim.metrics import compute_metrics

SHIPPED = ("default", "heavy_specialist", "medium_specialist")
ENSEMBLES = {"gate_ensemble": [f"seed_{n}" for n in range(18)]}
ROUTERS = ("sla_router", "search_router")


def test_every_shipped_policy_directory_is_tested_here() -> None:
    names = sorted(p.name for p in SHIPPED_DIR.iterdir() if p.is_dir())
    assert names == sorted([*SHIPPED, *ENSEMBLES, *ROUTERS])


@pytest.mark.parametrize("name", ROUTERS)
def test_a_shipped_router_names_shipped_policies_and_copies_none(name: str) -> None:
    path = resolve_policy_dir(name)
    assert [p.name for p in path.iterdir()] == ["router.json"]
    sched = make_scheduler(f"rl:{name}")
    source = make_source({"scenario": "tight", "hardware": "4s4e", "num_requests": 40})
    metrics = compute_metrics(source.make_simulator(10_000).run(sched, seed=0))
    assert metrics["requests"] == 40 and 0.0 < metrics["sla_rate"] <= 1.0 and sched.tight_now


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_name_resolves_to_its_files(name: str) -> None:
    path = resolve_policy_dir(name)
    assert path == SHIPPED_DIR / name
    sizes = {p.name: p.stat().st_size for p in path.iterdir()}
    assert set(sizes) == {"policy.npz", "policy.json"}, "ship the numpy export only"
    assert sum(sizes.values()) < 3_000_000


@pytest.mark.parametrize("name", sorted(ENSEMBLES))
def test_a_shipped_ensemble_holds_only_its_members_exports(name: str) -> None:
    path = resolve_policy_dir(name)
    assert sorted(p.name for p in path.iterdir()) == sorted(["ensemble.json", *ENSEMBLES[name]])
    for member in ENSEMBLES[name]:
        assert {p.name for p in (path / member).iterdir()} == {"policy.npz", "policy.json"}
    assert sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) < 3_000_000


def test_the_shipped_ensemble_runs_on_a_chip_it_never_saw() -> None:
    sched = make_scheduler("rl:gate_ensemble")
    source = make_source({"scenario": "heavy", "hardware": "1s3e@7.4", "num_requests": 40})
    sim = source.make_simulator(10_000)
    metrics = compute_metrics(sim.run(sched, seed=0))
    assert metrics["completed"] == 40 and 0.0 < metrics["sla_rate"] <= 1.0
    assert len(sched.policy.members) == 18 and sched.encoder is not None
    assert sched.encoder.outlook_gate and sched.encoder.wait_guard


def test_rl_default_runs_a_short_heavy_scenario() -> None:
    sched = make_scheduler("rl:default")
    source = make_source({"scenario": "heavy", "hardware": "2s2e", "num_requests": 40})
    sim = source.make_simulator(10_000)
    sched.reset(sim, np.random.default_rng(0))
    metrics = compute_metrics(sim.run(sched, seed=0))
    assert metrics["completed"] == 40
    assert 0.0 < metrics["sla_rate"] <= 1.0


@pytest.mark.parametrize("hardware", ["3s1e", "4s4e", "1s3e@7.4", "0s2e"])
def test_rl_default_runs_on_any_chip_of_known_types(hardware: str) -> None:
    sched = make_scheduler("rl:default")
    source = make_source({"scenario": "heavy", "hardware": hardware, "num_requests": 20})
    sim = source.make_simulator(10_000)
    metrics = compute_metrics(sim.run(sched, seed=0))
    assert metrics["requests"] == 20 and 0.0 <= metrics["sla_rate"] <= 1.0


@pytest.mark.parametrize(
    ("name", "scenario"), [("heavy_specialist", "heavy"), ("medium_specialist", "medium")]
)
def test_a_specialist_runs_with_its_outlook_gate(name: str, scenario: str) -> None:
    sched = make_scheduler(f"rl:{name}")
    source = make_source({"scenario": scenario, "hardware": "4s4e", "num_requests": 40})
    sim = source.make_simulator(10_000)
    metrics = compute_metrics(sim.run(sched, seed=0))
    assert metrics["completed"] == 40 and 0.0 < metrics["sla_rate"] <= 1.0
    assert sched.encoder is not None and sched.encoder.outlook_gate  # what it was trained with
