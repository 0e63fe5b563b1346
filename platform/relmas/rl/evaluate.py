"""Evaluate an exported policy beside every built-in heuristic on the same seeded requests.

Ray-free (numpy inference), so evaluation runs anywhere the core runs. The "best heuristic" is the
one with the highest mean SLA rate (ties: lower energy per inference); ratios are policy / best.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from relmas.env.sources import EpisodeSource, make_source
from relmas.evaluation.summary import rank_key
from relmas.rl.policy_scheduler import PolicyScheduler, load_policy_scheduler
from relmas.rl.recipe import Recipe
from relmas.rl.router import RoutedScheduler
from relmas.schedulers.base import Scheduler
from relmas.schedulers.registry import make_scheduler, scheduler_names
from relmas.sim.metrics import compute_metrics

METRICS = ("sla_rate", "energy_per_inference_j", "mean_latency_s", "drop_rate")


def run_scheduler(
    source: EpisodeSource,
    sched: Scheduler,
    seeds: Sequence[int],
    after_episode: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Mean of :data:`METRICS` over ``seeds``, plus ``sla_rate_per_seed`` (for paired tests);
    ``after_episode`` reads the scheduler's state after each run (a router's choice)."""
    rows = []
    for seed in seeds:
        sim = source.make_simulator(seed, bandwidth_policy=sched.bandwidth_policy)
        m = compute_metrics(sim.run(sched, seed=seed))
        rows.append([float(m[k]) for k in METRICS])
        if after_episode is not None:
            after_episode()
    means = np.nanmean(np.array(rows), axis=0) if rows else [math.nan] * len(METRICS)
    out: dict[str, Any] = {k: float(v) for k, v in zip(METRICS, means, strict=True)}
    out["sla_rate_per_seed"] = [row[0] for row in rows]
    return out


def paired_delta(ours: Sequence[float], ref: Sequence[float]) -> dict[str, float]:
    """Per-seed SLA difference ``ours - ref``: mean, standard error, wins / losses / ties.

    Why paired: both runs see the same requests, and one different dispatch reshuffles the rest
    of an overloaded trace, so per-seed differences of ~1% are noise; a mean gain means something
    only next to its standard error over the same seeds.
    """
    d = np.asarray(ours, dtype=float) - np.asarray(ref, dtype=float)
    n = d.size
    stderr = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return {
        "mean": float(d.mean()) if n else math.nan,
        "stderr": stderr,
        "wins": int((d > 0).sum()),
        "losses": int((d < 0).sum()),
        "ties": int((d == 0).sum()),
    }


def _best(heuristics: dict[str, dict[str, float]]) -> str:
    return max(
        heuristics,
        key=lambda n: rank_key(heuristics[n]["sla_rate"], heuristics[n]["energy_per_inference_j"]),
    )


PLANARIA_VARIANT = "planaria?priority_exponent=0.5"  # the best heuristic on heavy (docs/rl.md)


def peers() -> list[str]:
    """The default peers: every registered heuristic and :data:`PLANARIA_VARIANT`."""
    return [*scheduler_names(), PLANARIA_VARIANT]


def evaluate(
    policy_dir: Path,
    scenario: str,
    hardware: str,
    seeds: Sequence[int],
    also: Sequence[str] = (),
    heuristics: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Policy metrics, every heuristic's metrics, the best heuristic and the ratios; ``also``
    names more schedulers (e.g. the ``rollout`` teacher) reported as their own rows with the
    policy's paired difference to each, never counted as peers. ``heuristics`` are the peers
    (default :func:`peers`: every registered heuristic plus the Planaria variant that is best
    on ``heavy``, the same line-up as ``relmas headroom``)."""
    policy = load_policy_scheduler(policy_dir)
    extra = {ref: make_scheduler(ref) for ref in also}  # a typo fails before any episode runs
    period_s = policy.decision_period_s  # a periodic policy is judged periodically
    source = make_source(
        {"scenario": scenario, "hardware": hardware, "decision_period_s": period_s}
    )
    report: dict[str, Any] = {
        "scenario": scenario,
        "hardware": hardware,
        "seeds": list(seeds),
        "policy": _run_policy(source, policy, seeds),
        "heuristics": {},
        "errors": {},
    }
    for name in heuristics if heuristics is not None else peers():
        try:
            report["heuristics"][name] = run_scheduler(source, make_scheduler(name), seeds)
        except Exception as exc:  # a broken peer heuristic must not hide the policy's result
            report["errors"][name] = f"{type(exc).__name__}: {exc}"
    if isinstance(policy, PolicyScheduler):  # a router has two: pair it with each via --also
        _add_prior(report, policy.recipe, source, seeds)
    report["also"] = {}
    for ref, scheduler in extra.items():
        row = run_scheduler(source, scheduler, seeds)
        row["policy_minus"] = paired_delta(
            report["policy"]["sla_rate_per_seed"], row["sla_rate_per_seed"]
        )
        report["also"][ref] = row
    if report["heuristics"]:
        best = _best(report["heuristics"])
        ref = report["heuristics"][best]
        report["best_heuristic"] = best
        report["ratios"] = {
            k: report["policy"][k] / ref[k] if ref[k] else math.nan
            for k in ("sla_rate", "energy_per_inference_j")
        }
        report["sla_delta"] = paired_delta(
            report["policy"]["sla_rate_per_seed"], ref["sla_rate_per_seed"]
        )
    return report


def _run_policy(
    source: EpisodeSource, policy: PolicyScheduler | RoutedScheduler, seeds: Sequence[int]
) -> dict[str, Any]:
    """The policy's row; a router's also says, per seed, whether the episode ended on its
    tight policy (which of its two policies acted, so a user can see what the gate did)."""
    if not isinstance(policy, RoutedScheduler):
        return run_scheduler(source, policy, seeds)
    routed: list[bool] = []
    row = run_scheduler(source, policy, seeds, lambda: routed.append(policy.tight_now))
    return {**row, "routed_to_tight_per_seed": routed}


def _add_prior(
    report: dict[str, Any], recipe: Recipe, source: EpisodeSource, seeds: Sequence[int]
) -> None:
    """The policy's own prior heuristic, when it is a Planaria variant, as a separate row.

    Why: a policy whose prior is ``planaria`` with ``planaria_params`` starts from a heuristic
    that is not one of the registered defaults; showing that heuristic alone beside the policy
    separates what the prior gives from what training adds. It never counts as "best heuristic".
    """
    params = recipe.planaria_params
    if not params or not recipe.prior_weight:
        return
    label = "planaria[" + ",".join(f"{k}={v}" for k, v in sorted(params.items())) + "]"
    report["prior"] = {
        "name": label,
        **run_scheduler(source, make_scheduler("planaria", params), seeds),
    }


def format_table(report: dict[str, Any]) -> str:
    """A plain-text table: policy first, then heuristics by SLA rate."""
    lines = [
        f"{report['scenario']} on {report['hardware']}, {len(report['seeds'])} seeds",
        f"{'scheduler':<32}{'SLA rate':>10}{'J/inference':>14}{'mean lat s':>12}",
    ]
    rows = [("rl (policy)", report["policy"])]
    rows += sorted(report["heuristics"].items(), key=lambda kv: -kv[1]["sla_rate"])
    if "prior" in report:
        rows.append((f"{report['prior']['name']} (prior)", report["prior"]))
    rows += [(f"{ref} (also)", m) for ref, m in report.get("also", {}).items()]
    for name, m in rows:
        lines.append(
            f"{name:<32}{m['sla_rate']:>10.4f}{m['energy_per_inference_j']:>14.4g}"
            f"{m['mean_latency_s']:>12.4g}"
        )
    if "best_heuristic" in report:
        r, d = report["ratios"], report["sla_delta"]
        lines.append(
            f"policy / best heuristic ({report['best_heuristic']}): SLA x"
            f"{r['sla_rate']:.3f}, energy x{r['energy_per_inference_j']:.3f}; per-seed SLA "
            f"difference {d['mean']:+.4f} +- {d['stderr']:.4f} (stderr), "
            f"{d['wins']} wins / {d['losses']} losses / {d['ties']} ties"
        )
    if "routed_to_tight_per_seed" in report["policy"]:
        routed = report["policy"]["routed_to_tight_per_seed"]
        lines.append(f"router: {sum(routed)} of {len(routed)} episodes ended on its tight policy")
    for ref, m in report.get("also", {}).items():
        d = m["policy_minus"]
        lines.append(
            f"policy - {ref}: {d['mean']:+.4f} +- {d['stderr']:.4f} (stderr), "
            f"{d['wins']} wins / {d['losses']} losses / {d['ties']} ties"
        )
    lines += [f"error in {n}: {msg}" for n, msg in report["errors"].items()]
    return "\n".join(lines)
