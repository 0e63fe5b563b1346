"""Run one simulation per (scenario, hardware, scheduler, seed, load) spec, in parallel.

Each worker process loads a setup once (``functools.lru_cache``) and reuses it for every spec it
gets, so parallel runs cost one cost-table load per process, not per run. Specs are plain data so
they pickle cheaply to worker processes.

With an ``address`` the runs are Ray tasks instead (one CPU each) on that cluster (``local``
starts one on this machine): a lookahead scheduler (``rollout``) costs about a minute per
episode, so a headroom table over many seeds and chips is worth a cluster. Ray is imported only
on that path, so ``relmas compare`` without ``--address`` never loads it.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import time
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
    """Run one spec and return its metrics with the spec's fields and its CPU time."""
    started = time.process_time()
    res, setup = simulate(spec)
    tenants = [t.name for t in setup.scenario.tenants]
    cpu_s = time.process_time() - started
    return {**asdict(spec), **compute_metrics(res, tenants), "cpu_s": cpu_s}


def default_jobs() -> int:
    """Worker processes: one per available core."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def run_many(
    specs: Sequence[RunSpec],
    jobs: int,
    on_done: Callable[[], None] | None = None,
    address: str | None = None,
    after_init: Callable[[], object] | None = None,
) -> list[dict[str, Any]]:
    """Run specs (in processes when ``jobs > 1``, as Ray tasks with ``address``); results come
    back in spec order. ``after_init`` runs once Ray is up (the CLI takes SIGTERM back)."""
    if address is not None:
        return _run_ray(specs, address, jobs, on_done, after_init)
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
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_worker_signals)
    try:
        futures = {pool.submit(run_one, spec): i for i, spec in enumerate(specs)}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            if on_done:
                on_done()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: a rollout run takes minutes, do not wait
        # Workers first, then one shutdown that joins the pool's manager thread (it sees them
        # gone and exits at once). A shutdown(wait=False) before would drop the pool's handle on
        # that thread, leaving it alive at interpreter exit, where concurrent.futures' exit hook
        # can race its closing pipe and print "OSError: Bad file descriptor" with a traceback.
        for child in multiprocessing.active_children():
            child.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [r for r in results if r is not None]


def _worker_signals() -> None:
    """Pool worker initializer: Ctrl-C is the parent's to handle, and SIGTERM ends the worker.

    A worker forked after the CLI turned SIGTERM into an exception would otherwise raise it
    inside a task, report it as that task's error and go on to the next one.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run_ray(
    specs: Sequence[RunSpec],
    address: str,
    jobs: int,
    on_done: Callable[[], None] | None,
    after_init: Callable[[], object] | None,
) -> list[dict[str, Any]]:
    """:func:`run_many` as Ray tasks; ``local`` starts a private cluster of ``jobs`` CPUs."""
    import ray

    started = not ray.is_initialized()  # else a caller's Ray (a test's): use it, leave it up
    if started:
        kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if address == "local":
            kwargs.update(num_cpus=jobs, include_dashboard=False)
        ray.init(address=address, **kwargs)
        if after_init is not None:
            after_init()
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(run_one)
        refs = [task.remote(spec) for spec in specs]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[dict[str, Any] | None] = [None] * len(specs)
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            results[index[done[0]]] = ray.get(done[0])  # a task's UserError is re-raised here
            if on_done:
                on_done()
        return [r for r in results if r is not None]
    finally:
        if started:
            ray.shutdown()
