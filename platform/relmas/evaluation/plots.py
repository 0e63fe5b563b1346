"""Comparison plots: SLA rate vs offered load, SLA rate vs energy per inference, Gantt charts.

matplotlib is imported inside each function (Agg backend, no display), so importing this module
costs nothing for runs that never plot. Every metric axis names the key it shows and how dropped
requests count in it (docs/metrics.md), so a dropping scheduler's bar is read correctly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from relmas.evaluation.styles import style
from relmas.sim.result import SimResult


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _load_curves(summary: Sequence[dict[str, Any]]) -> dict[str, list[tuple[float, Any]]]:
    """Per scheduler, ``(offered_load, sla_rate stats)`` sorted by load, best scheduler first.

    Ranked by the mean SLA rate at the highest load, so the legend reads as a ranking where the
    schedulers differ most.
    """
    curves: dict[str, list[tuple[float, Any]]] = {}
    for e in summary:
        curves.setdefault(e["scheduler"], []).append((e["offered_load"], e["sla_rate"]))
    for pts in curves.values():
        pts.sort(key=lambda p: p[0])
    return dict(sorted(curves.items(), key=lambda kv: -kv[1][-1][1]["mean"]))


def plot_sla_vs_load(summary: Sequence[dict[str, Any]], title: str, path: Path) -> Path:
    """One line per scheduler: mean SLA rate against offered load; the band is min to max.

    Each scheduler keeps its colour and marker from :func:`~relmas.evaluation.styles.style`
    (the same in every plot); the legend, outside the axes so it hides no line, is ranked by
    the SLA rate at the highest load, where the schedulers differ most.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5))
    curves = _load_curves(summary)
    for name, pts in curves.items():
        x = [p[0] for p in pts]
        color, marker = style(name)
        label = f"{name} ({pts[-1][1]['mean']:.2f})"
        ax.plot(x, [p[1]["mean"] for p in pts], marker=marker, color=color, label=label,
                lw=1.4, ms=5)  # fmt: skip
        lo, hi = [p[1]["min"] for p in pts], [p[1]["max"] for p in pts]
        ax.fill_between(x, lo, hi, color=color, alpha=0.08, lw=0)
    seeds = max((e.get("runs", 0) for e in summary), default=0)
    ax.set(xlabel="offered load (1.0 = nominal chip capacity)",
           ylabel="SLA satisfaction rate, sla_rate\n(all requests; a drop is a violation)",
           title=f"{title}\nline: mean over {seeds} seeds; band: min to max over the seeds",
           ylim=(0, 1.02))  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              title="scheduler (SLA at max load)", title_fontsize=8)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_energy_sla(summary: Sequence[dict[str, Any]], title: str, path: Path) -> Path:
    """The SLA-vs-energy trade-off: one point per scheduler, error bars +-1 std over seeds.

    Energy is per *completed* inference (``energy_per_inference_j``): a scheduler that drops
    requests spends its energy on fewer of them, so its point moves right; the legend gives
    the drop rate of every scheduler that drops more than 1%, so that is not misread as an
    inefficient schedule. Up and to the left is better. Legend ranked by SLA rate.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 5.5))
    for e in sorted(summary, key=lambda e: -e["sla_rate"]["mean"]):
        name, sla, en = e["scheduler"], e["sla_rate"], e["energy_per_inference_j"]
        color, marker = style(name)
        drop = e.get("drop_rate", {}).get("mean", 0.0)
        label = f"{name}: {sla['mean']:.3f}" + (f", drops {drop:.0%}" if drop > 0.01 else "")
        ax.errorbar(en["mean"] * 1e3, sla["mean"], xerr=en["std"] * 1e3, yerr=sla["std"],
                    fmt=marker, color=color, ms=7, capsize=3, lw=1, label=label)  # fmt: skip
    seeds = max((e.get("runs", 0) for e in summary), default=0)
    ax.set(xlabel="energy per completed inference (mJ), energy_per_inference_j\n"
                  "(dropped requests excluded: a dropping scheduler spreads its energy over "
                  "fewer inferences)",
           ylabel="SLA satisfaction rate, sla_rate\n(all requests; a drop is a violation)",
           title=f"{title}\npoint: mean over {seeds} seeds; bars: +-1 standard deviation "
                 "over the seeds; better is up and left")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              title="scheduler: SLA rate", title_fontsize=8)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _gantt_spans(
    res: SimResult, window_s: float
) -> dict[tuple[int, int], list[tuple[float, float]]]:
    """``(start, duration)`` of every layer run starting in the window, by (unit, model colour).

    One ``broken_barh`` per group instead of one ``barh`` per layer: the quickstart's Gantt has
    ~30k layer runs, which took ~90 s to draw bar by bar on a loaded 2-core machine.
    """
    spans: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for accel, rid, _layer, start, end in res.trace:
        if start <= window_s:
            key = (int(accel), int(res.model[rid]) % 10)
            spans.setdefault(key, []).append((start, min(end, window_s) - start))
    return spans


def plot_gantt(
    schedules: Sequence[tuple[str, SimResult]], window_s: float, title: str, path: Path
) -> Path:
    """One panel per scheduler: which model's layer ran on which sub-accelerator, over time."""
    plt = _pyplot()
    n = len(schedules)
    fig, axes = plt.subplots(n, 1, figsize=(11, 1.1 + 0.9 * n), sharex=True, squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, (name, res) in zip(axes[:, 0], schedules, strict=True):
        for (accel, color), spans in _gantt_spans(res, window_s).items():
            ax.broken_barh(spans, (accel - 0.4, 0.8), color=cmap(color))
        ax.set_yticks(range(len(res.accel_types)), [f"{i}:{t}" for i, t in
                      enumerate(res.accel_types)], fontsize=6)  # fmt: skip
        ax.set_ylim(-0.6, len(res.accel_types) - 0.4)
        ax.set_ylabel(name, rotation=0, ha="right", fontsize=8)
    models = schedules[0][1].model_names
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(i % 10)) for i in range(len(models))]
    # Title, then the model legend in one row under it, then the panels: nothing overlaps.
    height = fig.get_figheight()
    fig.suptitle(title, y=1 - 0.1 / height)
    fig.legend(handles, models, loc="upper center", bbox_to_anchor=(0.5, 1 - 0.4 / height),
               fontsize=8, ncol=len(models), frameon=False)  # fmt: skip
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / height))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
