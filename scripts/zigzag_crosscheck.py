"""Cross-check relmas' closed-form cost model against ZigZag on a few layers of a model.

Why: relmas costs a layer in microseconds with one fixed row-stationary or weight-stationary
mapping and DRAM-optimal tiling; ZigZag (KU Leuven, ``zigzag-dse==3.9.1``) searches spatial and
temporal mappings over an explicit memory hierarchy. Where the two disagree tells us which layer
kinds the closed-form model is optimistic or pessimistic on. ZigZag searches mappings, relmas does
not, so ~2x disagreements on some layer kinds are expected; the table reports what is measured.

Needs the optional extra, in a separate venv (ZigZag pulls in pandas, onnx, sympy)::

    python3 -m venv /tmp/zzvenv && /tmp/zzvenv/bin/pip install -e ".[zigzag]"
    /tmp/zzvenv/bin/python scripts/zigzag_crosscheck.py --model resnet50 --accel eyeriss

Costs seconds per layer (``--spatial search``: ~1-25 s; ``--spatial relmas``: ~0.1-2 s).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from relmas.errors import UserError
from relmas.hardware.cost import layer_cost
from relmas.hardware.layer import Layer
from relmas.hardware.spec import AcceleratorSpec, DramSpec
from relmas.hardware.zigzag_backend import DEFAULT_LPF_LIMIT, run_zigzag
from relmas.loaders.hardware import load_accelerator, load_dram
from relmas.loaders.models import load_model

NOTE = (
    "ZigZag searches mappings over an explicit memory hierarchy; relmas uses one "
    "closed-form RS/WS mapping with DRAM-optimal tiling and a bandwidth roofline. Cycles compare "
    "relmas' roofline latency at the given DRAM bandwidth with ZigZag's total latency; energy "
    "compares dynamic energy only (relmas leakage excluded, ZigZag has none)."
)


def representative_layers(layers: Sequence[Layer]) -> list[int]:
    """Indices of: the first conv, the first 3x3 conv, the first pointwise, the first
    depthwise and the first FC/matmul layer (each only if the model has one)."""
    tests = (
        lambda i, lay: i == 0,
        lambda i, lay: lay.kind == "conv" and lay.r == 3 and i > 0,
        lambda i, lay: lay.kind == "pointwise",
        lambda i, lay: lay.kind == "depthwise",
        lambda i, lay: lay.kind in ("fc", "matmul"),
    )
    picked: list[int] = []
    for test in tests:
        hit = next((i for i, lay in enumerate(layers) if test(i, lay)), None)
        if hit is not None and hit not in picked:
            picked.append(hit)
    return picked


def select_layers(layers: Sequence[Layer], spec: str | None) -> list[int]:
    """Parse ``--layers``: comma-separated names or indices; default representative ones."""
    if not spec:
        return representative_layers(layers)
    names = {lay.name: i for i, lay in enumerate(layers)}
    picked = []
    for token in (t.strip() for t in spec.split(",") if t.strip()):
        if token in names:
            picked.append(names[token])
        elif token.lstrip("-").isdigit() and -len(layers) <= int(token) < len(layers):
            picked.append(int(token) % len(layers))
        else:
            raise UserError(
                "--layers", f"no layer named or indexed {token!r}", "see relmas hw layers"
            )
    return picked


def compare(
    layer: Layer, spec: AcceleratorSpec, dram: DramSpec, bandwidth: float, args: argparse.Namespace
) -> dict[str, Any]:
    """One table row: relmas' numbers, ZigZag's, and their ratios (ZigZag / relmas)."""
    cost = layer_cost(layer, spec, dram)
    zz = run_zigzag(layer, spec, bandwidth, lpf_limit=args.lpf, spatial=args.spatial, opt=args.opt)
    relmas_latency_cycles = cost.latency_s(bandwidth) * spec.clock_hz
    relmas_energy = cost.dynamic_energy.total_j
    return {
        "layer": layer.name,
        "kind": layer.kind,
        "accel": spec.name,
        "macs": layer.macs,
        "relmas_compute_cycles": cost.cycles,
        "relmas_cycles": relmas_latency_cycles,
        "zigzag_cycles": zz.cycles,
        "cycles_ratio": zz.cycles / relmas_latency_cycles,
        "relmas_energy_j": relmas_energy,
        "zigzag_energy_j": zz.energy_j,
        "energy_ratio": zz.energy_j / relmas_energy,
        "relmas_dram_bytes": cost.dram_bytes,
        "zigzag": asdict(zz),
    }


def render(rows: Sequence[dict[str, Any]], header: str) -> str:
    """Plain-text table (Markdown pipe syntax, so it pastes into docs as is)."""
    cols = "| layer | kind | accel | relmas cyc | ZigZag cyc | cyc ZZ/rm | relmas uJ | ZigZag uJ"
    cols += " | E ZZ/rm | relmas DRAM kB | ZigZag DRAM kB | ZZ util | ZZ s |"
    lines = [header, "", cols, "|" + "---|" * 13]
    for r in rows:
        zz = r["zigzag"]
        dram_zz = "n/a" if zz["dram_bytes"] is None else f"{zz['dram_bytes'] / 1e3:,.0f}"
        lines.append(
            f"| {r['layer']} | {r['kind']} | {r['accel']} | {r['relmas_cycles']:,.0f} "
            f"| {r['zigzag_cycles']:,.0f} | {r['cycles_ratio']:.2f} "
            f"| {r['relmas_energy_j'] * 1e6:,.1f} | {r['zigzag_energy_j'] * 1e6:,.1f} "
            f"| {r['energy_ratio']:.2f} | {r['relmas_dram_bytes'] / 1e3:,.0f} | {dram_zz} "
            f"| {zz['spatial_utilization']:.2f} | {zz['runtime_s']:.1f} |"
        )
    lines += ["", NOTE]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50", help="model name (hardware_models/models)")
    parser.add_argument(
        "--layers", help="comma-separated layer names or indices (default: representative ones)"
    )
    parser.add_argument(
        "--accel", default="eyeriss,simba", help="comma-separated accelerator types"
    )
    parser.add_argument(
        "--spatial",
        choices=("search", "relmas"),
        default="search",
        help="search: ZigZag picks the spatial mapping within the dataflow's dimensions; "
        "relmas: pin relmas' closed-form spatial mapping, search only the temporal mapping",
    )
    parser.add_argument(
        "--opt",
        choices=("latency", "EDP", "energy"),
        default="latency",
        help="ZigZag's mapping criterion (latency: energy of latency ties is arbitrary)",
    )
    parser.add_argument("--lpf", type=int, default=DEFAULT_LPF_LIMIT, help="ZigZag lpf_limit")
    parser.add_argument(
        "--bandwidth-gbps", type=float, help="DRAM bandwidth (GB/s); default dram.yaml's"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--out", type=Path, help="also write the output to this file")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> str:
    """Cost every selected layer on every selected type with both models; the output text."""
    dram = load_dram()
    bandwidth = args.bandwidth_gbps * 1e9 if args.bandwidth_gbps else dram.bandwidth_bytes_per_s
    layers = load_model(args.model)
    picked = select_layers(layers, args.layers)
    rows = []
    for accel in (a.strip() for a in args.accel.split(",") if a.strip()):
        spec = load_accelerator(accel)
        for index in picked:
            rows.append(compare(layers[index], spec, dram, bandwidth, args))
            print(f"  done {accel} {layers[index].name}", file=sys.stderr, flush=True)
    header = (
        f"model {args.model}, DRAM {bandwidth / 1e9:g} GB/s, spatial={args.spatial}, "
        f"lpf_limit={args.lpf}, opt={args.opt}"
    )
    if args.json:
        return json.dumps({"header": header, "note": NOTE, "rows": rows}, indent=2)
    return render(rows, header)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; a ``UserError`` (bad name, missing extra) is one line and exit code 2."""
    args = parse_args(argv)
    try:
        text = run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
