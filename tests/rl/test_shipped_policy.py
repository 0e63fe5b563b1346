"""The policy shipped in ``relmas/rl/policies/default`` loads as ``rl:default`` and schedules.

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


def test_rl_default_resolves_to_the_shipped_files() -> None:
    path = resolve_policy_dir("default")
    assert path == SHIPPED_DIR / "default"
    sizes = {p.name: p.stat().st_size for p in path.iterdir()}
    assert set(sizes) == {"policy.npz", "policy.json"}, "ship the numpy export only"
    assert sum(sizes.values()) < 3_000_000


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
