"""Run one simulation per (scenario, hardware, scheduler, seed, load) spec, in parallel.

Each worker process loads a setup once (``functools.lru_cache``) and reuses it for every spec it
gets, so parallel runs cost one cost-table load per process, not per run. Specs are plain data so
they pickle cheaply to worker processes.
"""

from __future__ import annotations

import functools
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from typing import Any

from relmas.errors import UserError
from relmas.experiment import Setup, load_setup, make_simulator
from relmas.schedulers import make_scheduler
from relmas.sim.metrics import compute_metrics
from relmas.sim.result import SimResult


@dataclass(frozen=True)
class RunSpec:
    """One simulation to run."""

    scenario: str
    hardware: str
    scheduler: str
    seed: int
    offered_load: float | None = None
    bandwidth_gbps: float | None = None


@functools.lru_cache(maxsize=16)
def cached_setup(
    scenario: str, hardware: str, offered_load: float | None, bandwidth_gbps: float | None
) -> Setup:
    """Load a setup once per process; ``offered_load`` overrides the scenario's."""
    setup = load_setup(scenario, hardware, bandwidth_gbps)
    if offered_load is None:
        return setup
    if setup.scenario.offered_load is None:
        raise UserError(
            "--loads", f"scenario {scenario!r} has fixed rates (no offered_load)",
            "use a scenario with offered_load, e.g. heavy",
        )  # fmt: skip
    scen = setup.scenario.model_copy(update={"offered_load": offered_load})
    return replace(setup, scenario=scen)


def simulate(
    spec: RunSpec, record_trace: bool = False, setup: Setup | None = None
) -> tuple[SimResult, Setup]:
    """Run one spec (on ``setup`` if given) and return the raw result with its setup."""
    if setup is None:
        setup = cached_setup(spec.scenario, spec.hardware, spec.offered_load, spec.bandwidth_gbps)
    scheduler = make_scheduler(spec.scheduler)
    sim = make_simulator(
        setup, spec.seed, record_trace=record_trace, bandwidth_policy=scheduler.bandwidth_policy
    )
    return sim.run(scheduler, seed=spec.seed), setup


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Run one spec and return its metrics with the spec's fields."""
    res, setup = simulate(spec)
    tenants = [t.name for t in setup.scenario.tenants]
    return {**asdict(spec), **compute_metrics(res, tenants)}


def default_jobs() -> int:
    """Worker processes: one per available core."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def run_many(
    specs: Sequence[RunSpec], jobs: int, on_done: Callable[[], None] | None = None
) -> list[dict[str, Any]]:
    """Run specs (in processes when ``jobs > 1``); results come back in spec order."""
    if jobs <= 1 or len(specs) <= 1:
        out = []
        for spec in specs:
            out.append(run_one(spec))
            if on_done:
                on_done()
        return out
    results: list[dict[str, Any] | None] = [None] * len(specs)
    # Workers ignore SIGINT and queued jobs are cancelled on the way out: otherwise each worker
    # turns Ctrl-C into a per-job error and the pool runs the whole queue before exiting.
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_ignore_sigint)
    try:
        futures = {pool.submit(run_one, spec): i for i, spec in enumerate(specs)}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            if on_done:
                on_done()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [r for r in results if r is not None]


def _ignore_sigint() -> None:
    """Pool worker initializer: Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
