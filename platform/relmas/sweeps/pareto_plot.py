"""``pareto.png``: every design point of a sweep, its Pareto front numbered and listed.

What the old plot got wrong, and how this one reads:

* The front is over three objectives (SLA rate up, energy per inference down, sub-accelerator
  count down), so in a 2D SLA-vs-energy view a front point can look dominated by a point with
  more sub-accelerators. The subtitle says so, and the table beside the axes gives each front
  point's sub-accelerator count, DRAM bandwidth and chip, so the third objective is visible.
* Front points wear their scheduler's fixed colour and marker
  (:func:`relmas.evaluation.styles.style`) and a number; coincident points (schedulers that tie
  on a chip) share one number, and numbers are pushed apart vertically with a leader line, so
  no two labels overlap. Other points are grey: darker for more DRAM bandwidth, larger for more
  sub-accelerators.
* The energy axis is linear and spans the front, 90% of the points and every RL point, with a
  margin: a few starved chips burn 3x the energy, and an axis stretched to them (or a log axis,
  whose tick labels collided) squeezed the front into a sliver. How many points lie beyond
  the right edge is written there.
  Legends sit outside the axes, so no point hides under them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from relmas.evaluation.styles import style

MAX_LISTED = 14  # front groups numbered and listed; the rest are still circled
LABEL_GAP_PX = 11.0


def _groups(front: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Front points at the same chip and position (exact ties), best SLA rate first."""
    groups: dict[tuple[str, float, float], list[dict[str, Any]]] = {}
    for p in front:
        key = (p["hardware"], round(p["energy_per_inference_j"] * 1e6), round(p["sla_rate"], 4))
        groups.setdefault(key, []).append(p)
    return list(groups.values())


def _background(ax: Any, points: list[dict[str, Any]]) -> None:
    """Every point in grey: shade by DRAM bandwidth, size by sub-accelerator count."""
    bandwidths = sorted({float(p["dram_bandwidth_gbps"]) for p in points})
    shades = {bw: 0.8 - 0.55 * i / max(len(bandwidths) - 1, 1) for i, bw in enumerate(bandwidths)}
    for bw in bandwidths:
        sel = [p for p in points if float(p["dram_bandwidth_gbps"]) == bw]
        ax.scatter([p["energy_per_inference_j"] * 1e3 for p in sel], [p["sla_rate"] for p in sel],
                   s=[8 + 6 * int(p["n_accels"]) for p in sel], color=str(shades[bw]), alpha=0.6,
                   lw=0, label=f"{bw:g} GB/s")  # fmt: skip


def _label_numbers(ax: Any, groups: list[list[dict[str, Any]]]) -> None:
    """Number each front group; labels pushed apart vertically, with a leader line if moved."""
    ax.figure.canvas.draw()  # display coordinates need a drawn layout
    placed: list[tuple[float, float]] = []
    for i, group in enumerate(groups[:MAX_LISTED], start=1):
        p = group[0]
        x, y = ax.transData.transform((p["energy_per_inference_j"] * 1e3, p["sla_rate"]))
        label_y = y
        while any(abs(x - px) < 3 * LABEL_GAP_PX and abs(label_y - py) < LABEL_GAP_PX
                  for px, py in placed):  # fmt: skip
            label_y -= LABEL_GAP_PX / 2
        placed.append((x, label_y))
        moved = y - label_y > 2
        ax.annotate(str(i), (p["energy_per_inference_j"] * 1e3, p["sla_rate"]),
                    xytext=(10, label_y - y), textcoords="offset points", fontsize=7,
                    va="center", arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.4"}
                    if moved else None)  # fmt: skip


def _table_text(groups: list[list[dict[str, Any]]]) -> str:
    """The listed front: number, chip, sub-accelerators, bandwidth, scheduler(s), SLA, mJ."""
    lines = ["#   chip        subacc  GB/s  SLA    mJ     scheduler(s)"]
    for i, group in enumerate(groups[:MAX_LISTED], start=1):
        p = group[0]
        names = "/".join(str(q["scheduler"]) for q in group)
        lines.append(f"{i:<3} {p['hardware']:<11} {int(p['n_accels']):>6}  "
                     f"{float(p['dram_bandwidth_gbps']):>4g}  {p['sla_rate']:.3f}  "
                     f"{p['energy_per_inference_j'] * 1e3:5.2f}  {names}")  # fmt: skip
    if len(groups) > MAX_LISTED:
        lines.append(f"... {len(groups) - MAX_LISTED} more front points (pareto.json)")
    return "\n".join(lines)


def _front_markers(ax: Any, groups: list[list[dict[str, Any]]]) -> None:
    """Front points in their scheduler's style, one legend entry per scheduler."""
    seen: set[str] = set()
    for group in groups:
        for p in group:
            name = str(p["scheduler"])
            colour, marker = style(name)
            ax.scatter(p["energy_per_inference_j"] * 1e3, p["sla_rate"], s=55, marker=marker,
                       color=colour, edgecolors="black", lw=0.6, zorder=3,
                       label=None if name in seen else name)  # fmt: skip
            seen.add(name)


def _rl_markers(ax: Any, points: list[dict[str, Any]], front: list[dict[str, Any]]) -> None:
    """RL trials off the front, hollow in RL's style and named: they are what a sweep with PPO
    is about, so they must not blend into the grey points."""
    seen = False
    for p in points:
        name = str(p["scheduler"])
        if p in front or not name.startswith("rl"):
            continue
        colour, marker = style(name)
        x, y = p["energy_per_inference_j"] * 1e3, p["sla_rate"]
        ax.scatter(x, y, s=55, marker=marker, facecolors="none", edgecolors=colour, lw=1.4,
                   zorder=3, label=None if seen else f"{name} (off the front)")  # fmt: skip
        ax.annotate(f"{name} {p['hardware']}", (x, y), xytext=(6, -10), fontsize=7,
                    textcoords="offset points", color=colour)  # fmt: skip
        seen = True


def _energy_axis(ax: Any, points: list[dict[str, Any]], front: list[dict[str, Any]]) -> None:
    """Span the front, 90% of all points and every RL point, with a margin; say how many points
    lie beyond the right edge (starved chips, far out)."""
    energies = sorted(p["energy_per_inference_j"] * 1e3 for p in points)
    must = [p["energy_per_inference_j"] * 1e3 for p in points + front
            if p in front or str(p["scheduler"]).startswith("rl")]  # fmt: skip
    lo, hi = energies[0], max([energies[int(0.9 * (len(energies) - 1))], *must])
    right = hi + max(0.25 * (hi - lo), 0.05 * hi)
    ax.set_xlim(lo - 0.05 * (right - lo), right)
    beyond = [e for e in energies if e > right]
    if beyond:
        ax.text(0.99, 0.02, f"{len(beyond)} points beyond, up to {max(beyond):.3g} mJ ->",
                transform=ax.transAxes, ha="right", fontsize=7, color="0.3")  # fmt: skip


def plot_front(
    points: list[dict[str, Any]], front: list[dict[str, Any]], title: str, path: Path
) -> Path:
    """Energy per inference vs SLA rate for every trial; the front numbered and listed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = _groups(front)
    fig = plt.figure(figsize=(12, 6))
    ax = fig.add_axes((0.07, 0.25, 0.54, 0.62))
    _background(ax, points)
    bandwidth_legend = ax.legend(title="other points: DRAM bandwidth (size: sub-accelerators)",
                                 fontsize=7, title_fontsize=7, loc="upper left",
                                 bbox_to_anchor=(0.0, -0.11), ncol=4, frameon=False)  # fmt: skip
    ax.add_artist(bandwidth_legend)
    _front_markers(ax, groups)
    _rl_markers(ax, points, front)
    _energy_axis(ax, points, front)
    ax.set(xlabel="energy per inference (mJ)", ylabel="SLA satisfaction rate (mean over seeds)")
    ax.grid(alpha=0.3)
    pairs = [(h, lab) for h, lab in zip(*ax.get_legend_handles_labels(), strict=True)
             if not lab.endswith("GB/s")]  # fmt: skip
    ax.legend([h for h, _ in pairs], [lab for _, lab in pairs], title="scheduler (front points)",
              fontsize=7, title_fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.22),
              ncol=5, frameon=False)  # fmt: skip
    _label_numbers(ax, groups)
    fig.text(0.64, 0.87, _table_text(groups), family="monospace", fontsize=7, va="top")
    fig.suptitle(f"{title}\nfront over 3 objectives: SLA rate (max), energy per inference (min),"
                 " sub-accelerators (min); a front point can look dominated here by one with "
                 "more sub-accelerators", fontsize=9)  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
