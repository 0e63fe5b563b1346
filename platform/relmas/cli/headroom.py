"""``relmas headroom``: how far above the best heuristic a lookahead scheduler gets, per seed.

Every heuristic, the rollout's own base (``planaria?priority_exponent=0.5`` by default, the
best heuristic on ``heavy``), the rollout scheduler and its clairvoyant ORACLE form run on the
same held-out seeds (10000 onwards by default); each is reported with its paired per-seed
difference to the best heuristic (mean ± standard error, wins / losses / ties). The oracle sees
future arrivals no online scheduler can see: it is an upper reference, labelled as such.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from relmas.cli.common import (
    check_output,
    non_negative_int,
    output_errors,
    positive_int,
    print_table,
)
from relmas.cli.compare import add_address_arg, expand_schedulers, progress_run
from relmas.cli.simulate import add_setup_args
from relmas.errors import UserError
from relmas.evaluation.paired import headroom
from relmas.evaluation.runner import RunSpec, cached_setup, default_jobs
from relmas.files import dumps, write_atomic
from relmas.schedulers import make_scheduler
from relmas.schedulers.rollout import RolloutScheduler

HELD_OUT = 10_000  # first held-out seed: training and tuning use seeds below it


def register(subparsers: Any) -> None:
    """Add ``headroom``."""
    p = subparsers.add_parser(
        "headroom", help="every heuristic vs the rollout scheduler and its oracle, paired by seed"
    )
    add_setup_args(p)
    p.add_argument("--seeds", type=positive_int, default=20, help="number of seeds")
    p.add_argument("--first-seed", type=non_negative_int, default=HELD_OUT,
                   help="first seed (held-out seeds start at 10000)")  # fmt: skip
    p.add_argument("--heuristics", default="all", help="comma list of heuristics ('all')")
    p.add_argument("--rollout", default="rollout",
                   help="the lookahead scheduler, e.g. rollout?horizon_s=0.02")  # fmt: skip
    p.add_argument("--no-oracle", action="store_true", help="skip the clairvoyant oracle runs")
    p.add_argument("--jobs", type=positive_int, default=None, help="processes (default: cores)")
    add_address_arg(p)
    p.add_argument("--out", type=Path, default=None,
                   help="output directory (default: relmas_out/headroom/SCENARIO_HW)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=cmd_headroom)


def base_ref(rollout: RolloutScheduler) -> str:
    """The rollout's base as a reference, with its non-default parameters."""
    params = rollout.base_params
    fields = type(params).model_fields
    changed = {k: v for k, v in params.model_dump().items() if v != fields[k].default}
    query = "&".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}"
                     for k, v in changed.items())  # fmt: skip
    return f"{rollout.p.base}?{query}" if query else rollout.p.base


def oracle_ref(ref: str) -> str:
    """``ref`` with ``clairvoyant=true`` added."""
    return f"{ref}{'&' if '?' in ref else '?'}clairvoyant=true"


def _lineup(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """(heuristics, lookahead references), all checked before anything runs."""
    setup = cached_setup(args.scenario, args.hardware, None, args.bandwidth_gbps)
    heuristics = expand_schedulers(args.heuristics, setup)
    rollout = make_scheduler(args.rollout)
    if not isinstance(rollout, RolloutScheduler):
        raise UserError("--rollout", f"{args.rollout!r} is not the rollout scheduler",
                        "e.g. rollout?horizon_s=0.02")  # fmt: skip
    heuristics = list(dict.fromkeys([*heuristics, base_ref(rollout)]))
    lookahead = [args.rollout] if args.no_oracle else [args.rollout, oracle_ref(args.rollout)]
    for ref in lookahead:
        make_scheduler(ref)
    return heuristics, lookahead


def cmd_headroom(args: argparse.Namespace) -> int:
    """Run everything on the same seeds, then print and write the paired table."""
    default = Path("relmas_out/headroom") / f"{Path(args.scenario).stem}_{args.hardware}"
    out: Path = args.out or default
    check_output(out, "--out", directory=True)
    heuristics, lookahead = _lineup(args)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    names = [*lookahead, *heuristics]  # the slow ones first: the pool ends balanced
    specs = [RunSpec(args.scenario, args.hardware, n, s, None, args.bandwidth_gbps)
             for n in names for s in seeds]  # fmt: skip
    jobs = args.jobs or default_jobs()
    started = time.perf_counter()
    rows = progress_run(specs, jobs, f"{len(specs)} runs", args.address)
    wall_s = time.perf_counter() - started
    result = {
        "scenario": args.scenario, "hardware": args.hardware, "seeds": list(seeds),
        "jobs": jobs, "address": args.address, "wall_s": wall_s, **headroom(rows, heuristics),
        "cpu_s": _cpu(rows), "runs": rows,
    }  # fmt: skip
    with output_errors("--out"):
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "results.json", dumps(result))
    _report(args, result, out)
    return 0


def _cpu(rows: list[dict[str, Any]]) -> dict[str, float]:
    """CPU seconds per episode, averaged per scheduler."""
    per: dict[str, list[float]] = {}
    for r in rows:
        per.setdefault(r["scheduler"], []).append(r["cpu_s"])
    return {k: sum(v) / len(v) for k, v in per.items()}


def _report(args: argparse.Namespace, result: dict[str, Any], out: Path) -> None:
    if args.json:
        keep = ("scenario", "hardware", "seeds", "best_heuristic", "table", "wall_s", "cpu_s")
        print(dumps({k: result[k] for k in keep}))
        return
    rows = []
    for e in result["table"]:
        d = e["vs_best"]
        rows.append([
            e["label"], f"{e['sla_rate']:.4f} ± {e['sla_stderr']:.4f}",
            f"{d['mean']:+.4f} ± {d['stderr']:.4f}", f"{d['wins']}/{d['losses']}/{d['ties']}",
            f"{result['cpu_s'][e['scheduler']]:.1f}",
        ])  # fmt: skip
    seeds = result["seeds"]
    title = (f"{args.scenario} / {args.hardware}: seeds {seeds[0]}-{seeds[-1]}, paired vs the "
             f"best heuristic ({result['best_heuristic']})")  # fmt: skip
    cols = ["scheduler", "SLA rate (± s.e.)", "vs best (± s.e.)", "W/L/T", "CPU s/episode"]
    print_table(title, cols, rows)
    print(f"wall {result['wall_s']:.0f} s with {result['jobs']} jobs; wrote {out / 'results.json'}")
