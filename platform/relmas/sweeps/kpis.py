"""Trial naming and KPI aggregation shared by the trainables, the MLflow callback and the Pareto
front (kept free of Ray so the Pareto code and the tests can use it without starting anything).
"""

from __future__ import annotations

import math
from typing import Any

from relmas.experiment import hardware_ref
from relmas.tracking.payload import as_metrics

_SKIP = ("seed", "offered_load", "bandwidth_gbps")


def chip_of(config: dict[str, Any]) -> str:
    """The ad-hoc hardware name of a trial, e.g. ``2s1e@16``."""
    return hardware_ref(
        int(config["n_simba"]), int(config["n_eyeriss"]), float(config["dram_bandwidth_gbps"])
    )


def mean_kpis(rows: list[dict[str, Any]], prefix: str = "") -> dict[str, float]:
    """Seed-mean of every numeric KPI (``utilization`` flattened to ``utilization_<i>``)."""
    flat = [as_metrics({k: v for k, v in r.items() if k not in _SKIP}) for r in rows]
    out: dict[str, float] = {}
    for key in flat[0]:
        vals = [f[key] for f in flat if key in f and math.isfinite(f[key])]
        out[prefix + key] = sum(vals) / len(vals) if vals else math.nan
    return out
