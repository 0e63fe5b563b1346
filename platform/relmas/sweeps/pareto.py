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


def _label(ax: Any, points: list[dict[str, Any]]) -> None:
    """One label per chip and position ("4s0e@32: edf/sjf/..."), staggered up and down.

    Schedulers often tie exactly (same SLA and energy on the same chip); one label per point
    stacked those names on top of each other.
    """
    groups: dict[tuple[str, float, float], list[str]] = {}
    for p in points:
        key = (p["hardware"], round(p["energy_per_inference_j"] * 1e3, 3), round(p["sla_rate"], 3))
        groups.setdefault(key, []).append(str(p["scheduler"]))
    for i, ((hardware, x_mj, y), names) in enumerate(groups.items()):
        ax.annotate(
            f"{hardware}: {'/'.join(names)}",
            (x_mj, y),
            fontsize=6,
            xytext=(4, 4 if i % 2 == 0 else -10),
            textcoords="offset points",
        )


def _colour_by_count(ax: Any, points: list[dict[str, Any]]) -> Any:
    """Scatter coloured by the (integer) sub-accelerator count, with one colour per count."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm

    counts = [int(p["n_accels"]) for p in points]
    lo, hi = min(counts), max(counts)
    cmap = plt.get_cmap("viridis", hi - lo + 1)
    norm = BoundaryNorm([c - 0.5 for c in range(lo, hi + 2)], cmap.N)
    return ax.scatter(
        [p["energy_per_inference_j"] * 1e3 for p in points],
        [p["sla_rate"] for p in points],
        c=counts,
        cmap=cmap,
        norm=norm,
        s=18,
        alpha=0.7,
    )


def plot_front(
    points: list[dict[str, Any]], front: list[dict[str, Any]], title: str, path: Path
) -> Path:
    """Energy/inference vs SLA rate, colour = sub-accelerator count, front circled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter

    fig, ax = plt.subplots(figsize=(7, 4.5))
    sc = _colour_by_count(ax, points)
    ax.scatter(
        [p["energy_per_inference_j"] * 1e3 for p in front],
        [p["sla_rate"] for p in front],
        s=90,
        facecolors="none",
        edgecolors="red",
        label="Pareto front (SLA, energy, #sub-accelerators)",
    )
    ax.set_xscale("log")  # a few starved chips burn 10x the energy; keep the front readable
    for axis in (ax.xaxis.set_major_formatter, ax.xaxis.set_minor_formatter):
        axis(FormatStrFormatter("%g"))  # "8" and "9", not "8x10^0"
    _label(ax, front[:8])
    counts = sorted({int(p["n_accels"]) for p in points})
    fig.colorbar(sc, ax=ax, label="sub-accelerators", ticks=counts)
    ax.set(xlabel="energy per inference (mJ)", ylabel="SLA satisfaction rate", title=title)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def write_pareto(points: list[dict[str, Any]], out_dir: Path, title: str) -> tuple[Path, Path]:
    """``pareto.json`` (all points + front) and ``pareto.png``; returns both paths."""
    front = pareto_front(points)
    json_path = out_dir / "pareto.json"
    write_atomic(json_path, dumps({"columns": list(COLUMNS), "front": front, "points": points}))
    return json_path, plot_front(points, front, title, out_dir / "pareto.png")
