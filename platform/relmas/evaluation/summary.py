"""Aggregate per-run metrics into mean and spread per scheduler (and load)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

SUMMARY_METRICS = (
    "sla_rate",
    "drop_rate",
    "antt",
    "stp",
    "fairness",
    "p99_latency_s",
    "throughput_per_s",
    "energy_per_inference_j",
    "edp",
    "mean_utilization",
    "dram_utilization",
)


def summarize(
    rows: Sequence[dict[str, Any]], group_by: tuple[str, ...] = ("scheduler",)
) -> list[dict[str, Any]]:
    """Mean, standard deviation, min and max of each metric per group, in first-seen order."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[k] for k in group_by)].append(row)
    out = []
    for key, members in groups.items():
        entry: dict[str, Any] = dict(zip(group_by, key, strict=True))
        entry["runs"] = len(members)
        for metric in SUMMARY_METRICS:
            vals = np.array([m[metric] for m in members], dtype=float)
            vals = vals[np.isfinite(vals)]
            entry[metric] = {
                "mean": float(vals.mean()) if vals.size else math.nan,
                "std": float(vals.std()) if vals.size else math.nan,
                "min": float(vals.min()) if vals.size else math.nan,
                "max": float(vals.max()) if vals.size else math.nan,
            }
        out.append(entry)
    return out


def rank_key(sla_rate: float, energy_per_inference_j: float) -> tuple[float, float]:
    """Sort key of "best scheduler": higher SLA rate, then lower energy per inference.

    A missing value (NaN: e.g. no request completed, so there is no energy per inference) ranks
    below every real one instead of comparing as False both ways, which made ``max`` depend on
    the input order (and a 0.0 stand-in once made it look like the best energy of a sweep).
    """
    sla = sla_rate if math.isfinite(sla_rate) else -math.inf
    energy = -energy_per_inference_j if math.isfinite(energy_per_inference_j) else -math.inf
    return sla, energy


def best_by(summary: Sequence[dict[str, Any]], metric: str = "sla_rate") -> dict[str, Any]:
    """The group with the highest mean of ``metric`` (ties: lower energy per inference)."""
    return max(
        summary,
        key=lambda e: rank_key(e[metric]["mean"], e["energy_per_inference_j"]["mean"]),
    )


def ranked(summary: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``summary`` best first: by mean SLA rate, ties by lower energy (:func:`rank_key`)."""
    return sorted(
        summary,
        key=lambda e: rank_key(e["sla_rate"]["mean"], e["energy_per_inference_j"]["mean"]),
        reverse=True,
    )
