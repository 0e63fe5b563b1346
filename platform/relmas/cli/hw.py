"""``relmas hw``: inspect accelerator types, compositions, models and per-layer costs.

These commands exist so a user can see *why* a scheduler sends a layer somewhere: which type is
faster or cheaper per layer, and how much DRAM bandwidth each layer needs. Every command prints a
rich table for people, or JSON (``--json``) for scripts.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from relmas.errors import UserError
from relmas.hardware.cost import LayerCost, layer_cost
from relmas.loaders import hardware
from relmas.loaders import models as catalog

DEFAULT_COMPARE = ("eyeriss", "simba")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``hw`` and its sub-commands to the top-level parser."""
    hw = subparsers.add_parser(
        "hw", help="hardware models: accelerator types, compositions, per-layer costs"
    )
    hw.set_defaults(func=lambda _args: _print_help(hw))
    sub = hw.add_subparsers(dest="hw_command", metavar="{list,layers,compare}")

    p = sub.add_parser("list", help="list accelerator types, compositions and models")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("layers", help="per-layer cost of one model on one accelerator type")
    p.add_argument("--model", required=True, help="model name, e.g. resnet50 (see `hw list`)")
    p.add_argument("--accel", required=True, help="accelerator type, e.g. eyeriss or simba")
    _add_bandwidth(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_layers)

    p = sub.add_parser("compare", help="which accelerator type wins each layer, plus a PNG")
    p.add_argument("--model", required=True, help="model name, e.g. mobilenet_v2")
    p.add_argument(
        "--accels", nargs=2, default=list(DEFAULT_COMPARE), metavar=("A", "B"),
        help="the two accelerator types to compare (default: eyeriss simba)",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("relmas_out"), help="directory for the PNG")
    _add_bandwidth(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=cmd_compare)


def _add_bandwidth(parser: argparse.ArgumentParser) -> None:
    """The shared ``--bandwidth-gbps`` option."""
    parser.add_argument(
        "--bandwidth-gbps",
        type=float,
        default=None,
        help="DRAM bandwidth the layer gets, GB/s (default: dram.yaml's bandwidth)",
    )


def _print_help(parser: argparse.ArgumentParser) -> int:
    """``relmas hw`` alone prints its help."""
    parser.print_help()
    return 0


def bandwidth_bytes_per_s(args: argparse.Namespace) -> float:
    """The requested bandwidth in B/s, or the DRAM spec's default."""
    if args.bandwidth_gbps is None:
        return hardware.load_dram().bandwidth_bytes_per_s
    if not (args.bandwidth_gbps > 0 and math.isfinite(args.bandwidth_gbps)):
        problem = f"must be > 0 and finite, got {args.bandwidth_gbps}"
        raise UserError("--bandwidth-gbps", problem, "e.g. --bandwidth-gbps 8")
    return float(args.bandwidth_gbps) * 1e9


def model_costs(model: str, accel: str) -> list[LayerCost]:
    """Cost of every layer of ``model`` on ``accel`` (names validated with did-you-mean)."""
    layers = catalog.load_model(model)
    spec = hardware.load_accelerator(accel)
    dram = hardware.load_dram()
    return [layer_cost(layer, spec, dram) for layer in layers]


def list_data() -> dict[str, Any]:
    """Everything ``hw list`` shows, as plain data."""
    accels = [hardware.load_accelerator(name) for name in hardware.accelerator_names()]
    models = {name: catalog.load_model(name) for name in catalog.model_names()}
    return {
        "accelerators": [
            {"name": a.name, "dataflow": a.dataflow, "mac_units": a.mac_units,
             "clock_hz": a.clock_hz, "static_power_w": a.static_power_w}
            for a in accels
        ],
        "compositions": [
            {"name": c.name, "counts": c.counts, "dram_bandwidth_gbps": c.dram_bandwidth_gbps}
            for c in hardware.load_compositions().values()
        ],
        "models": [
            {"name": name, "layers": len(layers), "gmacs": sum(x.macs for x in layers) / 1e9}
            for name, layers in models.items()
        ],
    }  # fmt: skip


def cmd_list(args: argparse.Namespace) -> int:
    """``relmas hw list``."""
    data = list_data()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    from relmas.cli.hw_tables import print_list

    print_list(data)
    return 0


def layer_rows(model: str, accel: str, bandwidth: float) -> list[dict[str, Any]]:
    """One dict per layer for ``hw layers``: latency and energy at ``bandwidth``."""
    layers = catalog.load_model(model)
    rows = []
    for layer, cost in zip(layers, model_costs(model, accel), strict=True):
        rows.append(
            {
                "name": layer.name,
                "kind": layer.kind,
                "macs": cost.macs,
                "cycles": cost.cycles,
                "latency_s": cost.latency_s(bandwidth),
                "dram_bytes": cost.dram_bytes,
                "required_bandwidth_bytes_per_s": cost.required_bandwidth_bytes_per_s,
                "energy_j": cost.energy_j(bandwidth),
                "utilization": cost.utilization,
            }
        )
    return rows


def cmd_layers(args: argparse.Namespace) -> int:
    """``relmas hw layers``."""
    bandwidth = bandwidth_bytes_per_s(args)
    rows = layer_rows(args.model, args.accel, bandwidth)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from relmas.cli.hw_tables import print_layers

    print_layers(args.model, args.accel, bandwidth, rows)
    return 0


def compare_data(model: str, accels: list[str], bandwidth: float) -> dict[str, Any]:
    """Per-layer latency/energy on each type, the winner of each, and summary counts."""
    if len(set(accels)) != 2:
        raise UserError(
            "--accels", f"needs two different types, got {accels}", "e.g. eyeriss simba"
        )
    layers = catalog.load_model(model)
    costs = {accel: model_costs(model, accel) for accel in accels}
    rows = []
    for i, layer in enumerate(layers):
        latency = {a: costs[a][i].latency_s(bandwidth) for a in accels}
        energy = {a: costs[a][i].energy_j(bandwidth) for a in accels}
        rows.append(
            {"name": layer.name, "kind": layer.kind, "macs": layer.macs,
             "latency_s": latency, "energy_j": energy,
             "latency_winner": min(accels, key=latency.__getitem__),
             "energy_winner": min(accels, key=energy.__getitem__)}
        )  # fmt: skip
    summary = {
        "latency_wins": {a: sum(r["latency_winner"] == a for r in rows) for a in accels},
        "energy_wins": {a: sum(r["energy_winner"] == a for r in rows) for a in accels},
        "total_latency_s": {a: sum(r["latency_s"][a] for r in rows) for a in accels},
        "total_energy_j": {a: sum(r["energy_j"][a] for r in rows) for a in accels},
    }
    return {"model": model, "accels": accels, "bandwidth_bytes_per_s": bandwidth,
            "layers": rows, "summary": summary}  # fmt: skip


def cmd_compare(args: argparse.Namespace) -> int:
    """``relmas hw compare``: tables (or JSON) plus a PNG whose path is printed."""
    from relmas.cli.common import check_output, output_errors
    from relmas.cli.hw_plot import plot_compare

    check_output(Path(args.out), "--out", directory=True)
    bandwidth = bandwidth_bytes_per_s(args)
    data = compare_data(args.model, list(args.accels), bandwidth)
    series = {
        a: {key: [r[key][a] for r in data["layers"]] for key in ("latency_s", "energy_j")}
        for a in data["accels"]
    }
    kinds = [r["kind"] for r in data["layers"]]
    out = Path(args.out) / f"hw_compare_{args.model}.png"
    with output_errors("--out"):
        data["png"] = str(plot_compare(out, args.model, kinds, series, bandwidth / 1e9))
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    from relmas.cli.hw_tables import print_compare

    print_compare(data)
    return 0
