"""Latency-bounded throughput: the highest offered load at which SLA rate stays >= a target.

VELTAIR-style capacity metric. SLA rate falls (noisily) as load rises, so bisection over
``offered_load`` on the mean SLA rate over seeds finds the knee in ~log2(range / tol) steps.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from relmas.evaluation.runner import RunSpec, cached_setup, run_many
from relmas.sim.workload import resolve_rates


def mean_sla(base: RunSpec, load: float, seeds: int, jobs: int) -> float:
    """Mean SLA rate over seeds ``0..seeds-1`` at ``load``."""
    specs = [replace(base, offered_load=load, seed=s) for s in range(seeds)]
    rows = run_many(specs, jobs)
    return sum(r["sla_rate"] for r in rows) / len(rows)


def latency_bounded_load(
    base: RunSpec,
    seeds: int,
    jobs: int,
    target: float = 0.95,
    bounds: tuple[float, float] = (0.05, 2.0),
    tol: float = 0.02,
) -> dict[str, Any]:
    """Bisect on offered load for the largest load whose mean SLA rate is >= ``target``."""
    lo, hi = bounds
    evals: list[tuple[float, float]] = []

    def ok(load: float) -> bool:
        sla = mean_sla(base, load, seeds, jobs)
        evals.append((load, sla))
        return sla >= target

    if ok(hi):
        best = hi
    elif not ok(lo):
        best = 0.0
    else:
        while hi - lo > tol:
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if ok(mid) else (lo, mid)
        best = lo
    rate = 0.0
    if best > 0:
        setup = cached_setup(base.scenario, base.hardware, best, base.bandwidth_gbps)
        rate = sum(resolve_rates(setup.scenario, setup.chip))
    return {
        "scheduler": base.scheduler, "target_sla_rate": target, "max_offered_load": best,
        "max_rate_per_s": rate, "capped_at_upper_bound": best == bounds[1],
        "evaluations": [{"offered_load": x, "sla_rate": y} for x, y in evals],
    }  # fmt: skip
