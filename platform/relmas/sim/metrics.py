"""Metrics of one simulation. ``docs/metrics.md`` defines each one; keep the two in step.

All metrics are computed from a :class:`SimResult` after the run, never inside the event loop, so
adding a metric costs the simulator nothing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from relmas.sim.result import SimResult


def _rate(mask: np.ndarray, within: np.ndarray) -> float:
    n = int(within.sum())
    return float((mask & within).sum() / n) if n else math.nan


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else math.nan


def _per_model_slowdown(res: SimResult) -> dict[int, tuple[float, float]]:
    """Per model type: (isolated / mean observed latency, mean priority) over completed requests."""
    done = res.completed
    out: dict[int, tuple[float, float]] = {}
    for m in np.unique(res.model[done]):
        sel = done & (res.model == m)
        mean_latency = float((res.finish_s[sel] - res.arrival_s[sel]).mean())
        iso = float(res.isolated_latency_s[sel][0])
        out[int(m)] = (iso / mean_latency, float(res.priority[sel].mean()))
    return out


def stp(res: SimResult) -> float:
    """MoCA's per-type system throughput: sum over model types of isolated / mean latency."""
    return float(sum(s for s, _ in _per_model_slowdown(res).values()))


def fairness(res: SimResult) -> float:
    """PREMA/MoCA fairness: min over type pairs of PP_i / PP_j, PP = progress / priority share.

    ``PP_k = (T_k_iso / mean_latency_k) / (p_k / sum p)`` with ``p_k`` the mean priority of type
    ``k``. The minimum ratio over pairs is ``min PP / max PP``; 1 is perfectly fair.
    """
    per = _per_model_slowdown(res)
    if len(per) < 2:
        return 1.0 if per else math.nan
    total_priority = sum(p for _, p in per.values())
    pp = [s / (p / total_priority) for s, p in per.values()]
    return float(min(pp) / max(pp))


def _group_rates(res: SimResult, keys: np.ndarray, names: list[str] | None) -> dict[str, float]:
    met = res.met_deadline
    out = {}
    for k in np.unique(keys):
        label = names[int(k)] if names else str(int(k))
        out[label] = _rate(met, keys == k)
    return out


def compute_metrics(res: SimResult, tenant_names: list[str] | None = None) -> dict[str, Any]:
    """All scalar and per-group metrics of one run, JSON-serialisable."""
    n = res.arrival_s.size
    done = res.completed
    latency = res.finish_s[done] - res.arrival_s[done]
    sla = float(res.met_deadline.sum() / n) if n else math.nan
    completed = int(done.sum())
    span = float(res.finish_s[done].max() - res.arrival_s.min()) if completed else math.nan
    energy = res.energy_j
    per_inference = energy / completed if completed else math.nan
    mean_latency = float(latency.mean()) if completed else math.nan
    makespan = res.makespan_s if res.makespan_s > 0 else math.nan
    return {
        "requests": n,
        "completed": completed,
        "sla_rate": sla,
        "violation_rate": 1.0 - sla,
        "drop_rate": float(res.dropped.sum() / n) if n else math.nan,
        "sla_rate_per_tenant": _group_rates(res, res.tenant, tenant_names),
        "sla_rate_per_priority": _group_rates(res, res.priority, None),
        "antt": float((latency / res.isolated_latency_s[done]).mean()) if completed else math.nan,
        "stp": stp(res),
        "fairness": fairness(res),
        "mean_latency_s": mean_latency,
        "p50_latency_s": _percentile(latency, 50),
        "p95_latency_s": _percentile(latency, 95),
        "p99_latency_s": _percentile(latency, 99),
        "throughput_per_s": completed / span if completed and span > 0 else math.nan,
        "energy_j": energy,
        "dynamic_energy_j": res.dynamic_energy_j,
        "static_energy_j": energy - res.dynamic_energy_j,
        "energy_per_inference_j": per_inference,
        "edp": per_inference * mean_latency,
        "utilization": (res.busy_s / makespan).tolist(),
        "mean_utilization": float((res.busy_s / makespan).mean()),
        "dram_utilization": res.dram_bytes / (res.bandwidth_bytes_per_s * makespan),
        "makespan_s": res.makespan_s,
        "dispatches": res.dispatches,
    }
