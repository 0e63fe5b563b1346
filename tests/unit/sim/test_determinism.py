"""Reproducibility: a (scenario, hardware, scheduler, seed) tuple names exactly one run.

Bit-identical means the full metric dict, serialised to JSON (so NaN compares equal to NaN and a
float that differs in its last bit shows up), is the same string in-process and in a fresh
interpreter (different hash seed, import order and memory layout).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from relmas.config.scenario import PoissonArrival, Scenario, Tenant
from relmas.experiment import Setup, load_setup, make_simulator
from relmas.schedulers import make_scheduler
from relmas.sim.metrics import compute_metrics
from relmas.sim.workload import generate_requests, resolve_rates

REPO = Path(__file__).resolve().parents[3]
N = 150  # requests per run: enough for queueing, bandwidth contention and misses; fast

# (scenario, scheduler): a static-key heap scheduler, a stochastic one (its own seeded
# generator), one on the capped bandwidth policy, one that drops, and the periodic firm
# real-time preset with per-frame deadlines.
CASES = [
    ("medium", "fcfs"),
    ("heavy", "random"),
    ("heavy", "moca"),
    ("tight", "dream"),
    ("arvr", "edf"),
]


def _small(setup: Setup) -> Setup:
    scen = setup.scenario
    limited = scen.model_copy(update={"num_requests": min(scen.num_requests or N, N)})
    return dataclasses.replace(setup, scenario=limited)


def _metrics_json(scenario: str, scheduler: str, seed: int) -> str:
    setup = _small(load_setup(scenario, "2s2e"))
    sched = make_scheduler(scheduler)
    sim = make_simulator(
        setup, seed, record_trace=True, bandwidth_policy=sched.bandwidth_policy
    )  # as the evaluation runner does: moca runs on the capped policy
    res = sim.run(sched, seed=seed)
    names = [t.name for t in setup.scenario.tenants]
    metrics = compute_metrics(res, names)
    metrics["trace_len"] = len(res.trace)
    metrics["finish_s"] = res.finish_s.tolist()
    return json.dumps(metrics, sort_keys=True)


SCRIPT = """
import json, sys
sys.path.insert(0, {here!r})
from test_determinism import _metrics_json
cases = json.loads(sys.argv[1])
print(json.dumps([_metrics_json(*c) for c in cases]))
"""


def test_same_inputs_give_identical_metrics_in_process() -> None:
    for scenario, scheduler in CASES:
        first = _metrics_json(scenario, scheduler, seed=3)
        again = _metrics_json(scenario, scheduler, seed=3)
        assert first == again, (scenario, scheduler)
        # The comparison is not vacuous: a finished run with completions and finite numbers.
        metrics = json.loads(first)
        assert metrics["completed"] > 0 and metrics["dispatches"] > 0


def test_same_inputs_give_identical_metrics_across_processes() -> None:
    cases = [[s, sched, 3] for s, sched in CASES]
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(here=str(Path(__file__).parent)), json.dumps(cases)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    remote = json.loads(out.stdout.strip().splitlines()[-1])
    local = [_metrics_json(*c) for c in cases]
    assert remote == local


def test_scheduler_seed_changes_a_stochastic_scheduler_but_not_the_requests() -> None:
    setup = _small(load_setup("heavy", "2s2e"))
    a = make_simulator(setup, 0).run(make_scheduler("random"), seed=0)
    b = make_simulator(setup, 0).run(make_scheduler("random"), seed=1)
    np.testing.assert_array_equal(a.arrival_s, b.arrival_s)  # same workload seed
    assert not np.array_equal(a.finish_s, b.finish_s)  # different random decisions


def test_different_seeds_give_different_requests() -> None:
    setup = _small(load_setup("medium", "2s2e"))
    a = generate_requests(setup.scenario, setup.chip, 0)
    b = generate_requests(setup.scenario, setup.chip, 1)
    assert len(a) == len(b) == N
    times_a = [s.arrival_s for s in a]
    times_b = [s.arrival_s for s in b]
    assert set(times_a).isdisjoint(times_b)  # continuous draws: no common arrival time
    assert [s.model for s in a] != [s.model for s in b]
    assert generate_requests(setup.scenario, setup.chip, 0) == a


def _per_tenant(specs: list, tenant: int) -> list[tuple[float, int, int, float]]:
    return [(s.arrival_s, s.model, s.priority, s.deadline_s) for s in specs if s.tenant == tenant]


def _fixed_rates(scen: Scenario, setup: Setup) -> Scenario:
    """The scenario with every load_share replaced by the rate it resolves to (same streams)."""
    rates = resolve_rates(scen, setup.chip)
    tenants = []
    for t, rate in zip(scen.tenants, rates, strict=True):
        if getattr(t.arrival, "load_share", None):
            arrival = t.arrival.model_copy(update={"load_share": None, "rate_per_s": rate})
            t = t.model_copy(update={"arrival": arrival})
        tenants.append(t)
    return scen.model_copy(update={"tenants": tenants, "offered_load": None})


@pytest.mark.parametrize("preset", ["medium", "arvr"])
def test_adding_a_tenant_leaves_the_other_streams_unchanged(preset: str) -> None:
    # Horizon-bounded, so the global num_requests cut cannot shift with the extra traffic, and
    # with fixed rates, so that the others' rates stay put (with an offered_load, a newcomer
    # would rightly rescale the load_share tenants). What is tested is the seeding: each tenant
    # draws from its own child SeedSequence.
    setup = load_setup(preset, "2s2e")
    scen = setup.scenario.model_copy(update={"num_requests": None, "horizon_s": 0.5})
    scen = _fixed_rates(scen, setup)
    newcomer = Tenant(
        name="newcomer",
        models={scen.model_names[0]: 1.0},
        sla_multiplier=2.0,
        arrival=PoissonArrival(process="poisson", rate_per_s=200.0),
    )
    bigger = scen.model_copy(update={"tenants": [*scen.tenants, newcomer]})
    before = generate_requests(scen, setup.chip, 7)
    after = generate_requests(bigger, setup.chip, 7)
    assert any(s.tenant == len(scen.tenants) for s in after)
    for ti in range(len(scen.tenants)):
        assert _per_tenant(before, ti), scen.tenants[ti].name  # something to compare
        assert _per_tenant(after, ti) == _per_tenant(before, ti), scen.tenants[ti].name
    # Changing one tenant's rate leaves the others alone too.
    slower = newcomer.model_copy(
        update={"arrival": PoissonArrival(process="poisson", rate_per_s=50.0)}
    )
    other = generate_requests(
        scen.model_copy(update={"tenants": [*scen.tenants, slower]}), setup.chip, 7
    )
    assert _per_tenant(other, len(scen.tenants)) != _per_tenant(after, len(scen.tenants))
    for ti in range(len(scen.tenants)):
        assert _per_tenant(other, ti) == _per_tenant(before, ti)


SMALL = """\
name: small
num_requests: 20
offered_load: 0.9
tenants:
  - {name: vision, models: {resnet50: 1, mobilenet_v2: 1}, priorities: {1: 1, 9: 1},
     sla_multiplier: 3.0, arrival: {process: poisson, load_share: 1}}
"""


def test_compare_json_is_byte_identical_across_processes_hash_seeds_and_jobs(
    tmp_path: Path,
) -> None:
    # The whole user-facing path: CLI parsing, worker processes (--jobs 2 vs in-process 1),
    # summaries and JSON formatting. random and magma draw from their own seeded generators.
    # Short (20 requests): compare always draws a Gantt chart, and magma searches per decision.
    (tmp_path / "s.yaml").write_text(SMALL)
    procs = []
    for hash_seed, jobs in (("1", "2"), ("987654", "1")):
        argv = ["compare", "--scenario", str(tmp_path / "s.yaml"), "--schedulers",
                "random,magma,edf", "--seeds", "2", "--jobs", jobs, "--json",
                "--no-track", "--out", str(tmp_path / f"out{jobs}")]  # fmt: skip
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        procs.append(subprocess.Popen([sys.executable, "-m", "relmas.cli.main", *argv], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    first, second = (out for out, _ in outs)
    assert first == second  # byte-identical stdout: pure JSON, no timings, same KPIs
    summary = json.loads(first)["summary"]
    assert [e["scheduler"] for e in summary] == ["random", "magma", "edf"]
    assert all(e["runs"] == 2 and e["sla_rate"]["mean"] > 0 for e in summary)
