"""``relmas tune``: a Ray Tune sweep from a ``tune_configs/*.yaml`` file, tracked in MLflow.

Ray is imported inside the command only. By default a fresh local Ray instance is started
(``address="local"`` never attaches to a stale cluster); ``--address`` joins an existing one.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from relmas.cli.common import dumps, fmt, print_table
from relmas.tracking import add_tracking_args, options_from_args

DEFAULT_STORAGE = Path("relmas_out/tune")


def register(subparsers: Any) -> None:
    """Add ``tune``."""
    p = subparsers.add_parser("tune", help="run a Ray Tune sweep (tune_configs/*.yaml)")
    p.add_argument("config", type=Path, help="sweep file, e.g. tune_configs/heuristics_dse.yaml")
    p.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    p.add_argument("--address", default=None, help="existing Ray cluster (default: local Ray)")
    p.add_argument(
        "--storage",
        type=Path,
        default=DEFAULT_STORAGE,
        help="experiment directory root (multi-node: shared/NFS path)",
    )
    p.add_argument("--no-dashboard", action="store_true", help="do not start the Ray dashboard")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    add_tracking_args(p)
    p.set_defaults(func=cmd_tune)


def _start_ray(args: argparse.Namespace) -> None:
    import ray

    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if args.address:
        ctx = ray.init(address=args.address, **kwargs)
    else:
        ctx = ray.init(
            address="local",
            num_cpus=os.cpu_count() or 1,
            include_dashboard=not args.no_dashboard,
            dashboard_host="127.0.0.1",
            **kwargs,
        )
    url = getattr(ctx, "dashboard_url", "") or ""
    if url:
        print(f"Ray dashboard: http://{url.removeprefix('http://')}", file=sys.stderr)


def _summary(out: Any) -> dict[str, Any]:
    """What the command prints (table or ``--json``)."""
    return {
        "experiment_dir": str(out.experiment_dir),
        "trials": out.trials,
        "finished": out.finished,
        "errored": out.errored,
        "unfinished": out.trials - out.finished - out.errored,
        "wall_s": out.wall_s,
        "best": out.best,
        "parent_run_id": out.parent_run_id,
        "pareto": str(out.pareto_json) if out.pareto_json else None,
    }


def cmd_tune(args: argparse.Namespace) -> int:
    """Validate the sweep file first (no Ray start-up for a typo), then run or resume it."""
    from relmas.sweeps.config import load_sweep

    load_sweep(args.config)
    import ray

    from relmas.sweeps.run import run_sweep

    _start_ray(args)
    try:
        out = run_sweep(
            args.config,
            storage=args.storage.resolve(),
            resume=args.resume,
            options=options_from_args(args),
        )
    finally:
        ray.shutdown()
    summary = _summary(out)
    unfinished = summary["unfinished"]
    if args.json:
        print(dumps(summary))
    else:
        rows = [[k, fmt(v)] for k, v in summary.items() if k != "best"]
        print_table(f"sweep {args.config.name}", ["field", "value"], rows)
        best = summary["best"] or {}
        print_table("best trial", ["field", "value"], [[k, fmt(v)] for k, v in best.items()])
    if unfinished:
        print(
            f"relmas: interrupted with {unfinished} unfinished trials; continue with: "
            f"relmas tune {args.config} --resume --storage {args.storage}",
            file=sys.stderr,
        )
        return 130
    return 1 if out.errored else 0
