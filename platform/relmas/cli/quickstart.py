"""``relmas quickstart``: the main job on the embedded defaults, for a first run on a new machine.

Two parts, both on local resources and tracked in the local sqlite MLflow store:

1. ``relmas compare`` of every built-in scheduler on ``heavy`` / ``2s2e`` over a few seeds and
   offered loads (table, ``results.json``, SLA-vs-load, energy and Gantt PNGs);
2. the ``tune_configs/quickstart.yaml`` sweep on local Ray: a short PPO training on two chip
   compositions next to five heuristics, evaluated on held-out seeds, with a Pareto front.

It ends with a per-chip comparison table and where to look (``relmas ui``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from relmas.cli.common import fmt, positive_int, print_table
from relmas.cli.compare import cmd_compare
from relmas.loaders.paths import data_root
from relmas.tracking import add_tracking_args

QUICKSTART_SWEEP = "tune_configs/quickstart.yaml"


def register(subparsers: Any) -> None:
    """Add ``quickstart``."""
    p = subparsers.add_parser("quickstart", help="run the main job on the embedded defaults")
    p.add_argument("--seeds", type=positive_int, default=3, help="seeds per scheduler (compare)")
    p.add_argument("--out", type=Path, default=Path("relmas_out/quickstart"))
    p.add_argument("--jobs", type=positive_int, default=None, help="worker processes")
    p.add_argument("--skip-sweep", action="store_true", help="only the heuristic comparison")
    add_tracking_args(p)
    p.set_defaults(func=cmd_quickstart)


def _sweep(args: argparse.Namespace) -> int:
    from relmas.cli.tune import cmd_tune

    sweep_args = argparse.Namespace(
        config=data_root() / QUICKSTART_SWEEP, resume=False, address=None,
        storage=(args.out / "tune").resolve(), no_dashboard=True, json=False,
        tracking_uri=args.tracking_uri, no_track=args.no_track,
    )  # fmt: skip
    return cmd_tune(sweep_args)


def _pareto_table(args: argparse.Namespace) -> None:
    """Per chip: every scheduler's held-out SLA rate and energy, best first."""
    files = sorted((args.out / "tune").rglob("pareto.json"), key=lambda p: p.stat().st_mtime)
    if not files:
        return
    points = json.loads(files[-1].read_text())["points"]
    points.sort(key=lambda p: (p["hardware"], -p["sla_rate"]))
    rows = [[p["hardware"], p["scheduler"], fmt(p["sla_rate"]),
             f"{p['energy_per_inference_j'] * 1e3:.3f}"] for p in points]  # fmt: skip
    title = "quickstart sweep: held-out SLA rate and energy per chip (medium, 100 requests)"
    print_table(title, ["chip", "scheduler", "SLA rate", "mJ/inference"], rows)
    print(f"Pareto front: {files[-1].with_suffix('.png')}")


def cmd_quickstart(args: argparse.Namespace) -> int:
    """Compare all heuristics on heavy / 2s2e, then run the quickstart sweep with PPO."""
    compare_args = argparse.Namespace(
        scenario="heavy", hardware="2s2e", bandwidth_gbps=None, schedulers="all",
        seeds=args.seeds, loads=[0.5, 0.8, 1.1], jobs=args.jobs, out=args.out / "compare",
        json=False, tracking_uri=args.tracking_uri, no_track=args.no_track,
    )  # fmt: skip
    code = cmd_compare(compare_args)
    if code or args.skip_sweep:
        return code
    code = _sweep(args)
    _pareto_table(args)
    print(f"Plots: {args.out}/compare/ (energy_sla.png, sla_vs_load.png, gantt.png).")
    if not args.no_track:
        print(f"Browse every run: {_relmas_command()} ui   (MLflow UI on http://127.0.0.1:5000)")
    return code


def _relmas_command() -> str:
    """``relmas`` if it is on PATH, else the path of this venv's script: the README's first
    command runs ``.venv/bin/relmas`` without activating the venv, so a bare name would fail."""
    if shutil.which("relmas"):
        return "relmas"
    script = Path(sys.executable).parent / "relmas"
    return str(script) if script.is_file() else "relmas"
