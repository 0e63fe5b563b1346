"""``relmas quickstart``: the main job on the embedded defaults, for a first run on a new machine.

Two phases, both on local resources and tracked in the one default MLflow store:

1. ``relmas compare`` of every built-in scheduler on ``heavy`` / ``2s2e`` over a few seeds and
   offered loads (table, ``results.json``, SLA-vs-load, energy-vs-SLA and Gantt PNGs);
2. the ``tune_configs/quickstart.yaml`` sweep on local Ray: a short PPO training on two chip
   compositions next to five heuristics, evaluated on held-out seeds, with a Pareto front.

Each phase is announced with what it does and how long it usually takes, and timed. Running it
again gives fresh results: the previous quickstart sweep in ``--out`` is replaced (its MLflow
runs stay, under new run names), instead of Tune refusing to start a sweep that already exists.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from relmas.cli.common import fmt, positive_int, print_table
from relmas.cli.compare import cmd_compare
from relmas.loaders.paths import data_root
from relmas.tracking import add_tracking_args

QUICKSTART_SWEEP = "tune_configs/quickstart.yaml"
SWEEP_NAME = "quickstart"
# What phase 1 compares (tests shrink it); the loads give the SLA-vs-load plot.
COMPARE: dict[str, Any] = {"scenario": "heavy", "hardware": "2s2e", "schedulers": "all",
                           "loads": [0.5, 0.8, 1.1]}  # fmt: skip
# Wall time of each phase, measured with 3 seeds on 2 cores shared with other jobs.
TYPICAL = {"compare": "3-5 min", "sweep": "1-3 min"}


def register(subparsers: Any) -> None:
    """Add ``quickstart``."""
    p = subparsers.add_parser("quickstart", help="run the main job on the embedded defaults")
    p.add_argument("--seeds", type=positive_int, default=3, help="seeds per scheduler (compare)")
    p.add_argument("--out", type=Path, default=Path("relmas_out/quickstart"),
                   help="output directory; a rerun replaces its results")  # fmt: skip
    p.add_argument("--jobs", type=positive_int, default=None,
                   help="worker processes (default: one per core)")  # fmt: skip
    p.add_argument("--skip-sweep", action="store_true", help="only the heuristic comparison")
    add_tracking_args(p)
    p.set_defaults(func=cmd_quickstart)


def _say(text: str) -> None:
    print(f"relmas: quickstart {text}", file=sys.stderr, flush=True)


def _phase(number: str, what: str, typical: str, body: Callable[[], int]) -> int:
    """Announce a phase with its usual duration, run it, and say how long it took."""
    _say(f"[{number}] {what} (usually {typical} on 2 cores)")
    started = time.perf_counter()
    code = body()
    minutes, seconds = divmod(int(time.perf_counter() - started), 60)
    _say(f"[{number}] {'done' if code == 0 else f'ended with exit code {code}'} "
         f"in {minutes}m{seconds:02d}s")  # fmt: skip
    return code


def _forget_previous_sweep(tune_dir: Path) -> None:
    """Remove the last quickstart sweep (Tune's directory, the ledger, the log) so this run
    starts afresh; only those three paths, never anything else in ``--out``."""
    previous = [tune_dir / SWEEP_NAME, tune_dir / f"{SWEEP_NAME}.relmas_state.json",
                tune_dir / f"{SWEEP_NAME}.log"]  # fmt: skip
    if any(p.exists() for p in previous):
        _say(f"replaces the previous sweep in {tune_dir}")
    for path in previous:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _sweep(args: argparse.Namespace) -> int:
    from relmas.cli.tune import cmd_tune

    storage = (args.out / "tune").resolve()
    _forget_previous_sweep(storage)
    sweep_args = argparse.Namespace(
        config=data_root() / QUICKSTART_SWEEP, resume=False, address=None,
        storage=storage, no_dashboard=True, json=False,
        tracking_uri=args.tracking_uri, no_track=args.no_track,
    )  # fmt: skip
    return cmd_tune(sweep_args)


def _pareto_table(args: argparse.Namespace) -> None:
    """Per chip: every scheduler's held-out SLA rate and energy, best first."""
    path = args.out / "tune" / SWEEP_NAME / "pareto.json"
    if not path.is_file():
        return
    points = json.loads(path.read_text())["points"]
    points.sort(key=lambda p: (p["hardware"], -p["sla_rate"]))
    rows = [[p["hardware"], p["scheduler"], fmt(p["sla_rate"]),
             f"{p['energy_per_inference_j'] * 1e3:.3f}"] for p in points]  # fmt: skip
    title = "quickstart sweep: held-out SLA rate and energy per chip (medium, 100 requests)"
    print_table(title, ["chip", "scheduler", "SLA rate", "mJ/inference"], rows)
    print(f"Pareto front: {path.with_suffix('.png')}")


def _compare(args: argparse.Namespace) -> int:
    compare_args = argparse.Namespace(
        **COMPARE, bandwidth_gbps=None, seeds=args.seeds, jobs=args.jobs,
        out=args.out / "compare", json=False, address=None,
        tracking_uri=args.tracking_uri, no_track=args.no_track,
    )  # fmt: skip
    return cmd_compare(compare_args)


def cmd_quickstart(args: argparse.Namespace) -> int:
    """Compare all heuristics on heavy / 2s2e, then run the quickstart sweep with PPO."""
    phases = 1 if args.skip_sweep else 2
    loads = ",".join(map(str, COMPARE["loads"]))
    seeds = "1 seed" if args.seeds == 1 else f"{args.seeds} seeds"
    what = (f"compare every heuristic on {Path(COMPARE['scenario']).stem} / "
            f"{COMPARE['hardware']}, {seeds} at offered loads {loads}")  # fmt: skip
    code = _phase(f"1/{phases}", what, TYPICAL["compare"], lambda: _compare(args))
    if code or args.skip_sweep:
        return code
    what = f"sweep {QUICKSTART_SWEEP}: short PPO on 2 chips beside 5 heuristics, on local Ray"
    code = _phase("2/2", what, TYPICAL["sweep"], lambda: _sweep(args))
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
