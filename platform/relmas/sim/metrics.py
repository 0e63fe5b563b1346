"""Metrics of one simulation. ``docs/metrics.md`` defines each one; keep the two in step.

All metrics are computed from a :class:`SimResult` after the run, never inside the event loop, so
adding a metric costs the simulator nothing.

Dropped requests: a scheduler that drops (DREAM, CD-MSA, ``drop_policy: drop_hopeless``) must not
look faster for it. Every latency-based metric (ANTT, mean and percentile latency, STP, fairness,
EDP) therefore counts a dropped request as if it had finished at its *charged finish*
``max(drop time, deadline, arrival + isolated latency)``: it is a violation, so no earlier than
its deadline, and it never completed, so no faster than alone on the chip. A drop is no longer
free (it used to leave the average), but the charge is a lower bound on what finishing the request
would have cost, so a dropper's figures stay optimistic. The completed-only figures are reported
as ``*_completed``; with nothing completed, every latency figure is NaN.
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


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else math.nan


def charged_turnaround_s(res: SimResult) -> tuple[np.ndarray, np.ndarray]:
    """(mask of completed or dropped requests, their turnaround; drops at the charged finish).

    With nothing completed there is no latency to report: both are empty, so the figures are
    NaN ("missing", ranked last by ``evaluation.summary.rank_key``). A charge alone could rank a
    drop-everything policy best: with deadlines below the isolated latency it is ``a + T_iso``.
    """
    done = res.completed
    counted = done | res.dropped if done.any() else done
    charged = np.maximum(
        np.maximum(res.finish_s, res.deadline_s), res.arrival_s + res.isolated_latency_s
    )
    finish = np.where(res.dropped, charged, res.finish_s)
    return counted, finish[counted] - res.arrival_s[counted]


def _per_model_slowdown(res: SimResult) -> dict[int, tuple[float, float]]:
    """Per model type: (isolated / mean turnaround, mean priority), drops charged."""
    counted, turnaround = charged_turnaround_s(res)
    models, iso, prio = res.model[counted], res.isolated_latency_s[counted], res.priority[counted]
    out: dict[int, tuple[float, float]] = {}
    for m in np.unique(models):
        sel = models == m
        out[int(m)] = (float(iso[sel][0] / turnaround[sel].mean()), float(prio[sel].mean()))
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


def _latency_metrics(res: SimResult) -> dict[str, float]:
    """ANTT and latency statistics: all requests (drops charged), and completed ones only."""
    counted, charged = charged_turnaround_s(res)
    done = res.completed
    latency = res.finish_s[done] - res.arrival_s[done]
    out = {
        "antt": _mean(charged / res.isolated_latency_s[counted]),
        "antt_completed": _mean(latency / res.isolated_latency_s[done]),
        "mean_latency_s": _mean(charged),
        "mean_latency_completed_s": _mean(latency),
    }
    for q in (50, 95, 99):
        out[f"p{q}_latency_s"] = _percentile(charged, q)
        out[f"p{q}_latency_completed_s"] = _percentile(latency, q)
    return out


def _energy_metrics(res: SimResult, completed: int, mean_latency_s: float) -> dict[str, float]:
    """Energy totals, per completed inference, per request, and the per-inference EDP."""
    n, energy = res.arrival_s.size, res.energy_j
    per_inference = energy / completed if completed else math.nan
    return {
        "energy_j": energy,
        "dynamic_energy_j": res.dynamic_energy_j,
        "static_energy_j": energy - res.dynamic_energy_j,
        "energy_per_inference_j": per_inference,
        "energy_per_request_j": energy / n if n else math.nan,
        "edp": per_inference * mean_latency_s,
    }


def compute_metrics(res: SimResult, tenant_names: list[str] | None = None) -> dict[str, Any]:
    """All scalar and per-group metrics of one run, JSON-serialisable."""
    n = res.arrival_s.size
    done = res.completed
    completed = int(done.sum())
    sla = float(res.met_deadline.sum() / n) if n else math.nan
    span = float(res.finish_s[done].max() - res.arrival_s.min()) if completed else math.nan
    makespan = res.makespan_s if res.makespan_s > 0 else math.nan
    latency = _latency_metrics(res)
    return {
        "requests": n,
        "completed": completed,
        "sla_rate": sla,
        "violation_rate": 1.0 - sla,
        "drop_rate": float(res.dropped.sum() / n) if n else math.nan,
        "sla_rate_per_tenant": _group_rates(res, res.tenant, tenant_names),
        "sla_rate_per_priority": _group_rates(res, res.priority, None),
        **latency,
        "stp": stp(res),
        "fairness": fairness(res),
        "throughput_per_s": completed / span if completed and span > 0 else math.nan,
        **_energy_metrics(res, completed, latency["mean_latency_s"]),
        "utilization": (res.busy_s / makespan).tolist(),
        "mean_utilization": float((res.busy_s / makespan).mean()),
        "dram_utilization": res.dram_bytes / (res.bandwidth_bytes_per_s * makespan),
        "makespan_s": res.makespan_s,
        "dispatches": res.dispatches,
    }
