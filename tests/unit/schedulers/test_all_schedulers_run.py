"""Every registered scheduler (including ones added later) runs a random toy workload to the end,
legally and reproducibly.

New schedulers are picked up through ``scheduler_names()``: no edit here is needed when a module
is added to ``relmas/schedulers/``. The workload is random but seeded, heterogeneous (each model
prefers a different type on some layers) and DRAM-bound on some layers, so bandwidth sharing,
queueing and deadline misses all occur.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from relmas.schedulers import make_scheduler, scheduler_class, scheduler_names
from relmas.sim import Chip, RequestSpec, Simulator
from relmas.sim.result import SimResult
from relmas.sim.toy import toy_chip

TYPES = ("simba", "eyeriss")


def _random_chip(rng: np.random.Generator) -> Chip:
    layers, dram, energy = {}, {}, {}
    for m in range(3):
        n = int(rng.integers(1, 5))
        name = f"m{m}"
        layers[name] = {t: rng.uniform(0.5, 3.0, n).tolist() for t in TYPES}
        dram[name] = {t: rng.uniform(0.0, 4e12, n).tolist() for t in TYPES}
        energy[name] = {t: rng.uniform(0.5, 2.0, n).tolist() for t in TYPES}
    return toy_chip(
        ["simba", "eyeriss", "simba", "eyeriss"],
        layers,
        dram_bytes=dram,
        energy_j=energy,
        bandwidth_bytes_per_s=2e12,
    )


def _random_specs(chip: Chip, rng: np.random.Generator, n: int = 25) -> list[RequestSpec]:
    arrivals = np.cumsum(rng.exponential(0.8, n))
    specs = []
    for i, t in enumerate(arrivals):
        m = int(rng.integers(len(chip.model_names)))
        slack = float(rng.choice([1.2, 2.0, 5.0]))
        specs.append(
            RequestSpec(
                float(t),
                i % 3,
                m,
                int(rng.choice([1, 3, 9])),
                float(t) + slack * chip.isolated_latency_s[m],
            )
        )
    return specs


def _run(name: str, workload_seed: int, drop_hopeless: bool) -> SimResult:
    rng = np.random.default_rng(workload_seed)
    chip = _random_chip(rng)
    specs = _random_specs(chip, rng)
    policy = scheduler_class(name).bandwidth_policy or "proportional"
    sim = Simulator(
        chip, specs, bandwidth_policy=policy, drop_hopeless=drop_hopeless, record_trace=True
    )
    sched = make_scheduler(name)
    sched.reset(sim, np.random.default_rng(123))
    return sim.run(sched, seed=0)


def test_registry_holds_the_peer_schedulers() -> None:
    expected = {
        "sjf",
        "least-laxity",
        "round-robin",
        "least-loaded",
        "random",
        "prema",
        "planaria",
        "dysta",
        "fcfs",
        "edf",
    }
    assert expected <= set(scheduler_names())


@pytest.mark.parametrize("drop_hopeless", [False, True])
@pytest.mark.parametrize("name", scheduler_names())
def test_runs_to_completion_and_is_reproducible(name: str, drop_hopeless: bool) -> None:
    res = _run(name, workload_seed=5, drop_hopeless=drop_hopeless)
    # Every request ends: completed (all of its layers ran, in order) or dropped.
    assert np.isfinite(res.finish_s).all()
    assert res.completed.sum() + res.dropped.sum() == res.arrival_s.size
    rng = np.random.default_rng(5)
    chip = _random_chip(rng)
    for rid in np.flatnonzero(res.completed):
        layers = [layer for _, r, layer, _, _ in res.trace if r == rid]
        assert layers == list(range(chip.num_layers[res.model[rid]]))
    # No sub-accelerator runs two layers at once.
    for a in range(len(res.accel_types)):
        rows = sorted((s, e) for acc, _, _, s, e in res.trace if acc == a)
        assert all(e0 <= s1 + 1e-9 for (_, e0), (s1, _) in itertools.pairwise(rows))
    # Same seeds, same run.
    again = _run(name, workload_seed=5, drop_hopeless=drop_hopeless)
    assert again.trace == res.trace
    np.testing.assert_array_equal(again.finish_s, res.finish_s)
    assert again.dynamic_energy_j == res.dynamic_energy_j
