"""``relmas bench tune``: what MLflow tracking costs a sweep, measured beside the untracked run.

Why a bench of its own: the overhead is a ratio of two wall times on the same machine at the same
time, and a loaded machine moves either by more than the overhead itself (the same sweep took
65 s and 68 s untracked in two runs). So the two variants alternate (untracked, tracked,
untracked, ...), each tracked run starts from a fresh sqlite store as a first run would, and the
ratio of the medians is reported with every single time, as JSON. Each run is the real command
(``python -m relmas tune``) in its own process, timed from the outside: Ray start-up, store
set-up and the final flush all count. The CPU seconds of each run's process tree are reported
too: on a shared machine their ratio moves far less than the wall-time ratio.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from relmas.cli.common import positive_int
from relmas.errors import UserError
from relmas.files import dumps

TARGET = 1.10  # tracked / untracked wall time, issue 16


def register_bench(bench_subparsers: Any) -> None:
    """Add ``bench tune``."""
    p = bench_subparsers.add_parser("tune", help="a sweep's wall time with and without tracking")
    p.add_argument("config", nargs="?", type=Path, default=Path("heuristics_dse"),
                   help="sweep file or shipped name (default: heuristics_dse)")  # fmt: skip
    p.add_argument("--repeat", type=positive_int, default=1,
                   help="pairs of runs (untracked, tracked); the medians are compared")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print JSON, not a table")
    p.set_defaults(func=cmd_bench_tune)


def _run(config: Path, root: Path, tracked: bool) -> dict[str, Any]:
    """One ``relmas tune`` in a subprocess; its wall time and what it reported."""
    storage = Path(tempfile.mkdtemp(dir=root))
    track = ["--tracking-uri", f"sqlite:///{storage / 'mlflow.db'}"] if tracked else ["--no-track"]
    cmd = [sys.executable, "-m", "relmas", "tune", str(config), "--storage", str(storage),
           "--no-dashboard", "--json", *track]  # fmt: skip
    started, cpu_before = time.perf_counter(), _children_cpu_s()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - started, _children_cpu_s() - cpu_before
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise UserError("bench tune", f"the sweep failed (exit {proc.returncode}): {tail[0]}")
    out = json.loads(proc.stdout)
    return {"tracked": tracked, "wall_s": wall, "cpu_s": cpu, "sweep_wall_s": out["wall_s"],
            "trials": out["trials"], "finished": out["finished"]}  # fmt: skip


def _children_cpu_s() -> float:
    """CPU seconds of every finished child process tree (the sweep, its Ray processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _result(runs: list[dict[str, Any]], config: Path) -> dict[str, Any]:
    untracked = [r["wall_s"] for r in runs if not r["tracked"]]
    tracked = [r["wall_s"] for r in runs if r["tracked"]]
    ratio = statistics.median(tracked) / statistics.median(untracked)
    cpu = {t: statistics.median(r["cpu_s"] for r in runs if r["tracked"] == t) for t in (0, 1)}
    return {
        "sweep": str(config),
        "trials": runs[0]["trials"],
        "untracked_wall_s": untracked,
        "tracked_wall_s": tracked,
        "ratio_tracked_to_untracked": ratio,
        "overhead_pct": 100 * (ratio - 1),
        # CPU seconds of the whole process tree: far less sensitive to other jobs than wall time
        "cpu_ratio_tracked_to_untracked": cpu[1] / cpu[0],
        "target_ratio": TARGET,
        "meets_target": ratio <= TARGET,
        "runs": runs,
    }


def cmd_bench_tune(args: argparse.Namespace) -> int:
    """Alternate untracked and tracked runs of the sweep; report both and their ratio."""
    from relmas.loaders.paths import sweep_path
    from relmas.sweeps.config import load_sweep

    config = sweep_path(args.config).resolve()
    load_sweep(config)  # a bad file fails here, before minutes of sweeps
    runs = []
    with tempfile.TemporaryDirectory(prefix="relmas-bench-tune-") as tmp:
        for i in range(args.repeat):
            for tracked in (False, True):
                print(f"relmas: bench tune: pair {i + 1}/{args.repeat}, "
                      f"{'tracked' if tracked else 'untracked'}", file=sys.stderr)  # fmt: skip
                runs.append(_run(config, Path(tmp), tracked))
    result = _result(runs, config)
    if args.json:
        print(dumps(result))
    else:
        print(f"{config.stem}: untracked {statistics.median(result['untracked_wall_s']):.1f} s, "
              f"tracked {statistics.median(result['tracked_wall_s']):.1f} s, overhead "
              f"{result['overhead_pct']:+.1f}% (target <= +{100 * (TARGET - 1):.0f}%)")  # fmt: skip
    return 0
