"""Comparison plots: SLA rate vs offered load, energy per inference, Gantt charts.

matplotlib is imported inside each function (Agg backend, no display), so importing this module
costs nothing for runs that never plot.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from relmas.sim.result import SimResult


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_sla_vs_load(summary: Sequence[dict[str, Any]], title: str, path: Path) -> Path:
    """One line per scheduler: mean SLA rate (band: min-max over seeds) against offered load."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    styles = ["-", "--", ":", "-."]
    for i, name in enumerate(dict.fromkeys(e["scheduler"] for e in summary)):
        pts = sorted(
            ((e["offered_load"], e["sla_rate"]) for e in summary if e["scheduler"] == name),
            key=lambda p: p[0],
        )
        x = [p[0] for p in pts]
        ax.plot(x, [p[1]["mean"] for p in pts], marker="o", ls=styles[i // 10 % 4], label=name)
        ax.fill_between(x, [p[1]["min"] for p in pts], [p[1]["max"] for p in pts], alpha=0.12)
    ax.set(xlabel="offered load", ylabel="SLA satisfaction rate", title=title, ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_energy_sla_bars(summary: Sequence[dict[str, Any]], title: str, path: Path) -> Path:
    """Two bar panels per scheduler: energy per inference (mJ) and SLA rate, with std bars."""
    plt = _pyplot()
    names = [e["scheduler"] for e in summary]
    fig, (ax_e, ax_s) = plt.subplots(1, 2, figsize=(12, 4.5))
    energy = [e["energy_per_inference_j"] for e in summary]
    ax_e.bar(names, [v["mean"] * 1e3 for v in energy], yerr=[v["std"] * 1e3 for v in energy])
    ax_e.set(ylabel="energy per inference (mJ)", title="energy per inference")
    sla = [e["sla_rate"] for e in summary]
    ax_s.bar(names, [v["mean"] for v in sla], yerr=[v["std"] for v in sla], color="tab:green")
    ax_s.set(ylabel="SLA satisfaction rate", title="SLA rate", ylim=(0, 1.02))
    for ax in (ax_e, ax_s):
        ax.tick_params(axis="x", rotation=60, labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_gantt(
    schedules: Sequence[tuple[str, SimResult]], window_s: float, title: str, path: Path
) -> Path:
    """One panel per scheduler: which model's layer ran on which sub-accelerator, over time."""
    plt = _pyplot()
    n = len(schedules)
    fig, axes = plt.subplots(n, 1, figsize=(11, 1.1 + 0.9 * n), sharex=True, squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, (name, res) in zip(axes[:, 0], schedules, strict=True):
        for accel, rid, _layer, start, end in res.trace:
            if start > window_s:
                continue
            color = cmap(int(res.model[rid]) % 10)
            ax.barh(accel, min(end, window_s) - start, left=start, color=color, height=0.8)
        ax.set_yticks(range(len(res.accel_types)), [f"{i}:{t}" for i, t in
                      enumerate(res.accel_types)], fontsize=6)  # fmt: skip
        ax.set_ylabel(name, rotation=0, ha="right", fontsize=8)
    models = schedules[0][1].model_names
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(i % 10)) for i in range(len(models))]
    fig.legend(handles, models, loc="upper right", fontsize=7, ncol=min(4, len(models)))
    axes[-1, 0].set_xlabel("time (s)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
