"""``relmas capacity``: latency-bounded throughput of schedulers (load at which SLA >= target)."""

from __future__ import annotations

import argparse
from typing import Any

from relmas.cli.common import fmt, positive_float, positive_int, print_table
from relmas.cli.compare import expand_schedulers
from relmas.cli.simulate import add_setup_args
from relmas.errors import UserError
from relmas.evaluation.capacity import latency_bounded_load
from relmas.evaluation.runner import RunSpec, cached_setup, default_jobs
from relmas.files import dumps


def register(subparsers: Any) -> None:
    """Add ``capacity``."""
    p = subparsers.add_parser(
        "capacity", help="highest offered load keeping the SLA rate >= a target (bisection)"
    )
    add_setup_args(p)
    p.add_argument("--schedulers", default="edf,sjf",
                   help="comma-separated names, no spaces, or all")  # fmt: skip
    p.add_argument("--seeds", type=positive_int, default=3, help="seeds per load evaluation")
    p.add_argument("--target", type=positive_float, default=0.95, help="SLA-rate target")
    p.add_argument("--tol", type=positive_float, default=0.02, help="bisection tolerance on load")
    p.add_argument("--jobs", type=positive_int, default=None,
                   help="worker processes (default: one per core)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print JSON, not a table")
    p.set_defaults(func=cmd_capacity)


def cmd_capacity(args: argparse.Namespace) -> int:
    """Bisect each scheduler's latency-bounded load and print it."""
    if args.target > 1:
        raise UserError("--target", f"must be <= 1, got {args.target}", "e.g. --target 0.95")
    setup = cached_setup(args.scenario, args.hardware, None, args.bandwidth_gbps)
    if setup.scenario.offered_load is None:
        raise UserError("--scenario", f"{args.scenario!r} has fixed rates", "use e.g. heavy")
    jobs = args.jobs or default_jobs()
    results = []
    for name in expand_schedulers(args.schedulers, setup):
        base = RunSpec(args.scenario, args.hardware, name, 0, None, args.bandwidth_gbps)
        results.append(latency_bounded_load(base, args.seeds, jobs, args.target, tol=args.tol))
    if args.json:
        print(dumps(results))
        return 0
    rows = [[r["scheduler"], fmt(r["max_offered_load"]), fmt(r["max_rate_per_s"], " /s"),
             str(len(r["evaluations"]))] for r in results]  # fmt: skip
    title = f"latency-bounded throughput (SLA >= {args.target}) on {args.scenario}/{args.hardware}"
    print_table(title, ["scheduler", "max offered load", "max rate", "evaluations"], rows)
    return 0
