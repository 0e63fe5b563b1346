"""The hardware design-space Pareto front: SLA rate vs energy per inference vs chip size.

A point is one trial (a chip and a scheduler, heuristic or RL). It is on the front if no other
point has SLA rate >= it, energy per inference <= it and sub-accelerator count <= it, with at
least one strict. RL trials are judged by their held-out evaluation (``eval/...``) when present,
so a training-time stochastic policy is not compared against deterministic heuristics.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from relmas.files import dumps, write_atomic
from relmas.sweeps.pareto_plot import plot_front

COLUMNS = (
    "hardware",
    "scheduler",
    "n_accels",
    "dram_bandwidth_gbps",
    "sla_rate",
    "energy_per_inference_j",
)


def point(config: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any] | None:
    """One trial as a design point (None if it has no finite SLA rate / energy)."""
    from relmas.sweeps.kpis import chip_of

    sla = metrics.get("eval/sla_rate", metrics.get("sla_rate"))
    energy = metrics.get("eval/energy_per_inference_j", metrics.get("energy_per_inference_j"))
    if sla is None or energy is None or not (math.isfinite(sla) and math.isfinite(energy)):
        return None
    return {
        "hardware": chip_of(config),
        "scheduler": str(config.get("scheduler", "")),
        "n_accels": int(config["n_simba"]) + int(config["n_eyeriss"]),
        "dram_bandwidth_gbps": float(config["dram_bandwidth_gbps"]),
        "scenario": Path(str(config.get("scenario", ""))).stem,
        "sla_rate": float(sla),
        "energy_per_inference_j": float(energy),
    }


def _dominates(a: dict[str, Any], b: dict[str, Any]) -> bool:
    ge = (
        a["sla_rate"] >= b["sla_rate"]
        and a["energy_per_inference_j"] <= b["energy_per_inference_j"]
        and a["n_accels"] <= b["n_accels"]
    )
    strict = (
        a["sla_rate"] > b["sla_rate"]
        or a["energy_per_inference_j"] < b["energy_per_inference_j"]
        or a["n_accels"] < b["n_accels"]
    )
    return ge and strict


def pareto_front(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Non-dominated points, best SLA rate first."""
    front = [p for p in points if not any(_dominates(q, p) for q in points if q is not p)]
    return sorted(front, key=lambda p: (-p["sla_rate"], p["energy_per_inference_j"]))


def write_pareto(points: list[dict[str, Any]], out_dir: Path, title: str) -> tuple[Path, Path]:
    """``pareto.json`` (all points + front) and ``pareto.png``; returns both paths."""
    front = pareto_front(points)
    json_path = out_dir / "pareto.json"
    write_atomic(json_path, dumps({"columns": list(COLUMNS), "front": front, "points": points}))
    return json_path, plot_front(points, front, title, out_dir / "pareto.png")
