"""The per-layer latency/energy comparison figure of ``relmas hw compare``.

Kept apart from the command code so that matplotlib (slow to import) is loaded only when a figure
is actually drawn, and always with the non-interactive Agg backend (no display on servers).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def plot_compare(
    out_path: Path,
    model: str,
    kinds: Sequence[str],
    series: dict[str, dict[str, list[float]]],
    bandwidth_gbps: float,
) -> Path:
    """Draw per-layer latency (top) and energy (bottom) of each accelerator type as bars.

    ``series[accel]`` holds ``latency_s`` and ``energy_j`` lists in layer order. Depthwise layers
    are shaded because that is where the dataflows differ most.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_layers = len(kinds)
    fig, axes = plt.subplots(2, 1, figsize=(max(8.0, n_layers * 0.16), 7.0), sharex=True)
    panels = (("latency_s", "latency (ms)", 1e3), ("energy_j", "energy (µJ)", 1e6))
    for ax, (key, label, scale) in zip(axes, panels, strict=True):
        _draw_panel(ax, kinds, {a: [v * scale for v in vals[key]] for a, vals in series.items()})
        ax.set_ylabel(label)
    axes[0].legend(loc="upper right")
    axes[0].set_title(
        f"{model}: per-layer cost at {bandwidth_gbps:g} GB/s DRAM (grey: depthwise layers)"
    )
    axes[1].set_xlabel("layer index (execution order)")
    fig.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=120)
    plt.close(fig)
    return out_path


def _draw_panel(ax: Any, kinds: Sequence[str], values: dict[str, list[float]]) -> None:
    """Grouped bars, one colour per accelerator type, log scale, depthwise layers shaded."""
    width = 0.8 / max(1, len(values))
    for i, (accel, ys) in enumerate(values.items()):
        xs = [x + (i - (len(values) - 1) / 2) * width for x in range(len(kinds))]
        ax.bar(xs, ys, width=width, label=accel, color=COLORS[i % len(COLORS)])
    for x, kind in enumerate(kinds):
        if kind == "depthwise":
            ax.axvspan(x - 0.5, x + 0.5, color="0.9", zorder=0)
    ax.set_yscale("log")
    ax.grid(axis="y", which="major", alpha=0.3)
