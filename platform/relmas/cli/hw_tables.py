"""Rich tables for the ``relmas hw`` commands (human output; ``--json`` bypasses this module)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _console() -> Console:
    """A console on stdout; created per call so tests capturing stdout see the output.

    At least 120 columns wide: per-layer tables have nine columns and rich would otherwise
    truncate every number when stdout is a pipe (80 columns).
    """
    width = Console().width
    return Console(width=max(width, 120))


def _add_column(table: Table, column: str) -> None:
    """Text columns wrap; number columns never do (a wrapped number is misread)."""
    if column in ("name", "kind"):
        table.add_column(column, overflow="fold")
    else:
        table.add_column(column, justify="right", no_wrap=True)


def print_list(data: dict[str, Any]) -> None:
    """Accelerator types, compositions and models."""
    console = _console()
    accels = Table(title="Accelerator types")
    for column in ("name", "dataflow", "MACs", "clock (GHz)", "static (mW)"):
        accels.add_column(column)
    for a in data["accelerators"]:
        accels.add_row(
            a["name"],
            a["dataflow"],
            str(a["mac_units"]),
            f"{a['clock_hz'] / 1e9:g}",
            f"{a['static_power_w'] * 1e3:.0f}",
        )
    comps = Table(title="Compositions")
    for column in ("name", "counts", "DRAM (GB/s)"):
        comps.add_column(column)
    for c in data["compositions"]:
        counts = ", ".join(f"{k} x{v}" for k, v in c["counts"].items())
        comps.add_row(c["name"], counts, f"{c['dram_bandwidth_gbps']:g}")
    models = Table(title="Models")
    for column in ("name", "layers", "GMACs"):
        models.add_column(column)
    for m in data["models"]:
        models.add_row(m["name"], str(m["layers"]), f"{m['gmacs']:.3f}")
    for table in (accels, comps, models):
        console.print(table)


def print_layers(model: str, accel: str, bandwidth: float, rows: list[dict[str, Any]]) -> None:
    """One row per layer of ``hw layers``, then totals."""
    table = Table(title=f"{model} on {accel} at {bandwidth / 1e9:g} GB/s")
    columns = ("name", "kind", "MACs", "cycles", "latency (µs)", "DRAM (KB)",
               "need (GB/s)", "energy (µJ)", "util")  # fmt: skip
    for column in columns:
        _add_column(table, column)
    for r in rows:
        table.add_row(
            r["name"],
            r["kind"],
            f"{r['macs']:,}",
            f"{r['cycles']:,}",
            f"{r['latency_s'] * 1e6:.1f}",
            f"{r['dram_bytes'] / 1e3:.1f}",
            f"{r['required_bandwidth_bytes_per_s'] / 1e9:.2f}",
            f"{r['energy_j'] * 1e6:.1f}",
            f"{r['utilization']:.2f}",
        )
    latency_ms = sum(r["latency_s"] for r in rows) * 1e3
    energy_mj = sum(r["energy_j"] for r in rows) * 1e3
    table.caption = f"total: {latency_ms:.3f} ms, {energy_mj:.3f} mJ, {len(rows)} layers"
    _console().print(table)


def print_compare(data: dict[str, Any]) -> None:
    """Per-layer winners, then the summary, then where the PNG went."""
    a, b = data["accels"]
    table = Table(
        title=f"{data['model']}: {a} vs {b} at {data['bandwidth_bytes_per_s'] / 1e9:g} GB/s"
    )
    columns = ("name", "kind", f"{a} µs", f"{b} µs", "faster", f"{a} µJ", f"{b} µJ", "cheaper")
    for column in columns:
        _add_column(table, column)
    for r in data["layers"]:
        lat, en = r["latency_s"], r["energy_j"]
        table.add_row(
            r["name"],
            r["kind"],
            f"{lat[a] * 1e6:.1f}",
            f"{lat[b] * 1e6:.1f}",
            r["latency_winner"],
            f"{en[a] * 1e6:.1f}",
            f"{en[b] * 1e6:.1f}",
            r["energy_winner"],
        )
    summary = Table(title="Summary")
    for column in ("accelerator", "faster on", "cheaper on", "total ms", "total mJ"):
        summary.add_column(column)
    s = data["summary"]
    for accel in (a, b):
        summary.add_row(
            accel,
            str(s["latency_wins"][accel]),
            str(s["energy_wins"][accel]),
            f"{s['total_latency_s'][accel] * 1e3:.3f}",
            f"{s['total_energy_j'][accel] * 1e3:.3f}",
        )
    console = _console()
    console.print(table)
    console.print(summary)
    console.print(f"plot: {data['png']}")
