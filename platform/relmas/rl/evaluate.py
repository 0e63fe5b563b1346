"""Evaluate an exported policy beside every built-in heuristic on the same seeded requests.

Ray-free (numpy inference), so evaluation runs anywhere the core runs. The "best heuristic" is the
one with the highest mean SLA rate (ties: lower energy per inference); ratios are policy / best.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from relmas.env.sources import EpisodeSource, make_source
from relmas.rl.policy_scheduler import load_policy_scheduler
from relmas.schedulers.base import Scheduler
from relmas.schedulers.registry import make_scheduler, scheduler_names
from relmas.sim.metrics import compute_metrics

METRICS = ("sla_rate", "energy_per_inference_j", "mean_latency_s", "drop_rate")


def run_scheduler(
    source: EpisodeSource, sched: Scheduler, seeds: Sequence[int]
) -> dict[str, float]:
    """Mean of :data:`METRICS` over ``seeds``."""
    rows = []
    for seed in seeds:
        sim = source.make_simulator(seed, bandwidth_policy=sched.bandwidth_policy)
        sched.reset(sim, np.random.default_rng(seed))
        m = compute_metrics(sim.run(sched))
        rows.append([float(m[k]) for k in METRICS])
    means = np.nanmean(np.array(rows), axis=0) if rows else [math.nan] * len(METRICS)
    return {k: float(v) for k, v in zip(METRICS, means, strict=True)}


def _best(heuristics: dict[str, dict[str, float]]) -> str:
    return max(
        heuristics,
        key=lambda n: (heuristics[n]["sla_rate"], -heuristics[n]["energy_per_inference_j"]),
    )


def evaluate(
    policy_dir: Path, scenario: str, hardware: str, seeds: Sequence[int]
) -> dict[str, Any]:
    """Policy metrics, every heuristic's metrics, the best heuristic and the ratios."""
    policy = load_policy_scheduler(policy_dir)
    source = make_source(
        {
            "scenario": scenario,
            "hardware": hardware,
            "decision_period_s": policy.meta.get("settings", {})
            .get("env_config", {})
            .get("decision_period_s"),
        }
    )
    report: dict[str, Any] = {
        "scenario": scenario,
        "hardware": hardware,
        "seeds": list(seeds),
        "policy": run_scheduler(source, policy, seeds),
        "heuristics": {},
        "errors": {},
    }
    for name in scheduler_names():
        try:
            report["heuristics"][name] = run_scheduler(source, make_scheduler(name), seeds)
        except Exception as exc:  # a broken peer heuristic must not hide the policy's result
            report["errors"][name] = f"{type(exc).__name__}: {exc}"
    if report["heuristics"]:
        best = _best(report["heuristics"])
        ref = report["heuristics"][best]
        report["best_heuristic"] = best
        report["ratios"] = {
            k: report["policy"][k] / ref[k] if ref[k] else math.nan
            for k in ("sla_rate", "energy_per_inference_j")
        }
    return report


def format_table(report: dict[str, Any]) -> str:
    """A plain-text table: policy first, then heuristics by SLA rate."""
    lines = [
        f"{report['scenario']} on {report['hardware']}, {len(report['seeds'])} seeds",
        f"{'scheduler':<16}{'SLA rate':>10}{'J/inference':>14}{'mean lat s':>12}",
    ]
    rows = [("rl (policy)", report["policy"])]
    rows += sorted(report["heuristics"].items(), key=lambda kv: -kv[1]["sla_rate"])
    for name, m in rows:
        lines.append(
            f"{name:<16}{m['sla_rate']:>10.3f}{m['energy_per_inference_j']:>14.4g}"
            f"{m['mean_latency_s']:>12.4g}"
        )
    if "best_heuristic" in report:
        r = report["ratios"]
        lines.append(
            f"policy / best heuristic ({report['best_heuristic']}): SLA x"
            f"{r['sla_rate']:.3f}, energy x{r['energy_per_inference_j']:.3f}"
        )
    lines += [f"error in {n}: {msg}" for n, msg in report["errors"].items()]
    return "\n".join(lines)
