"""``relmas headroom``: how far above the best heuristic a lookahead scheduler gets, per seed.

Every heuristic, the rollout scheduler and its clairvoyant ORACLE form run on the same held-out
seeds (10000 onwards by default); each is reported with its paired per-seed difference to the
best heuristic (mean ± standard error, wins / losses / ties). The oracle sees future arrivals no
online scheduler can see: it is an upper reference, labelled as such.

The rollout's base matters as much as the lookahead (on ``tight``, seed 10000: planaria-based
rollout 0.575, SJF-based 0.690), so by default (``--base auto``) it is the best heuristic on
*training* seeds 0-4 of the same scenario and chip, chosen before any held-out seed is run: a
rollout of the default base (``planaria?priority_exponent=0.5``) is plain ``rollout``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, cast

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
from relmas.evaluation.paired import best_heuristic, headroom
from relmas.evaluation.runner import RunSpec, cached_setup, default_jobs
from relmas.files import dumps, write_atomic
from relmas.schedulers import make_scheduler
from relmas.schedulers.registry import scheduler_class, split_ref
from relmas.schedulers.rollout import DEFAULT_BASE_PARAMS, RolloutScheduler

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
    p.add_argument("--base", default="auto",
                   help="the rollout's base when --rollout names none: a heuristic, or 'auto' = "
                        "the best heuristic on training seeds 0..--select-seeds-1")  # fmt: skip
    p.add_argument("--select-seeds", type=positive_int, default=5,
                   help="training seeds --base auto chooses on")  # fmt: skip
    p.add_argument("--lookahead", choices=("both", "rollout", "oracle"), default="both",
                   help="which lookahead runs beside the heuristics: the rollout, its oracle, or "
                        "both (the oracle costs ~3x; the heuristics' results are the same in a "
                        "second pass, so the table can be made in two)")  # fmt: skip
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
    query = "&".join(f"{k}={_text(v)}" for k, v in changed.items())
    return f"{rollout.p.base}?{query}" if query else rollout.p.base


def oracle_ref(ref: str) -> str:
    """``ref`` with ``clairvoyant=true`` added."""
    return f"{ref}{'&' if '?' in ref else '?'}clairvoyant=true"


def with_base(rollout: str, base: str) -> str:
    """``rollout`` rolling out the heuristic ``base`` (a reference with its parameters).

    Parameters the rollout would otherwise default for that base (planaria's exponent 0.5)
    are spelled out with the base's own defaults, so ``planaria`` means plain Planaria.
    """
    name, params = split_ref(base)
    fields = scheduler_class(name).Params.model_fields
    implied = {k: fields[k].default for k in DEFAULT_BASE_PARAMS.get(name, {})}
    params = {**implied, **params}
    query = [f"base={name}", *(f"base_params.{k}={_text(v)}" for k, v in params.items())]
    return f"{rollout}{'&' if '?' in rollout else '?'}{'&'.join(query)}"


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) or value is None else str(value)


def _choose_base(args: argparse.Namespace, heuristics: list[str], jobs: int) -> str:
    """The best heuristic on the training seeds (``--base auto``), else ``--base`` itself."""
    if args.base != "auto":
        return expand_schedulers(args.base)[0]
    specs = [RunSpec(args.scenario, args.hardware, n, s, None, args.bandwidth_gbps)
             for n in heuristics for s in range(args.select_seeds)]  # fmt: skip
    rows = progress_run(specs, jobs, f"{len(specs)} runs to choose the base", args.address)
    return best_heuristic(rows, heuristics)


def _lineup(args: argparse.Namespace, jobs: int) -> tuple[list[str], list[str], str]:
    """(heuristics, lookahead references, the rollout's base), all checked before any run."""
    setup = cached_setup(args.scenario, args.hardware, None, args.bandwidth_gbps)
    heuristics = expand_schedulers(args.heuristics, setup)
    rollout = make_scheduler(args.rollout)
    if not isinstance(rollout, RolloutScheduler):
        raise UserError("--rollout", f"{args.rollout!r} is not the rollout scheduler",
                        "e.g. rollout?horizon_s=0.02")  # fmt: skip
    heuristics = list(dict.fromkeys([*heuristics, base_ref(rollout)]))
    ref = args.rollout
    if "base" not in split_ref(ref)[1]:
        base = _choose_base(args, heuristics, jobs)
        if base != base_ref(rollout):
            ref = with_base(ref, base)
    lookahead = {"both": [ref, oracle_ref(ref)], "rollout": [ref], "oracle": [oracle_ref(ref)]}[
        args.lookahead
    ]
    for r in lookahead:
        make_scheduler(r)
    return heuristics, lookahead, base_ref(cast(RolloutScheduler, make_scheduler(ref)))


def cmd_headroom(args: argparse.Namespace) -> int:
    """Run everything on the same seeds, then print and write the paired table."""
    default = Path("relmas_out/headroom") / f"{Path(args.scenario).stem}_{args.hardware}"
    out: Path = args.out or default
    check_output(out, "--out", directory=True)
    jobs = args.jobs or default_jobs()
    heuristics, lookahead, base = _lineup(args, jobs)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    names = [*lookahead, *heuristics]  # the slow ones first: the pool ends balanced
    specs = [RunSpec(args.scenario, args.hardware, n, s, None, args.bandwidth_gbps)
             for n in names for s in seeds]  # fmt: skip
    started = time.perf_counter()
    rows = progress_run(specs, jobs, f"{len(specs)} runs", args.address)
    wall_s = time.perf_counter() - started
    result = {
        "scenario": args.scenario, "hardware": args.hardware, "seeds": list(seeds),
        "jobs": jobs, "address": args.address, "wall_s": wall_s, "rollout_base": base,
        "base_chosen_on_seeds": None if args.base != "auto" else list(range(args.select_seeds)),
        **headroom(rows, heuristics),
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
        keep = ("scenario", "hardware", "seeds", "best_heuristic", "rollout_base", "table",
                "wall_s", "cpu_s")  # fmt: skip
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
    print(f"rollout base: {result['rollout_base']}; wall {result['wall_s']:.0f} s with "
          f"{result['jobs']} jobs; wrote {out / 'results.json'}")  # fmt: skip
