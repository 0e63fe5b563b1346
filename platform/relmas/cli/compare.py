"""``relmas compare``: every scheduler on the same seeded requests, with a table, JSON and plots."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from relmas.cli.common import (
    check_output,
    claim_sigterm,
    float_list,
    fmt,
    output_errors,
    positive_int,
    print_table,
)
from relmas.cli.simulate import add_setup_args
from relmas.errors import UserError, unknown_name
from relmas.evaluation import plots
from relmas.evaluation.paired import label
from relmas.evaluation.runner import RunSpec, cached_setup, default_jobs, run_many, simulate
from relmas.evaluation.summary import best_by, ranked, summarize
from relmas.experiment import Setup, make_simulator
from relmas.files import dumps, write_atomic
from relmas.schedulers import make_scheduler, scheduler_names
from relmas.tracking import add_tracking_args, comparison_run, log_comparison

GANTT_REQUESTS = 40


def register(subparsers: Any) -> None:
    """Add ``compare``."""
    p = subparsers.add_parser("compare", help="compare schedulers over seeds (table, JSON, PNGs)")
    add_setup_args(p)
    p.add_argument("--schedulers", default="all",
                   help="comma-separated, no spaces; all = every built-in heuristic, e.g. "
                        "edf,sjf or all,rl:DIR or "
                        "all,rollout,planaria?priority_exponent=0.5")  # fmt: skip
    p.add_argument("--seeds", type=positive_int, default=5, help="seeds 0..N-1 per scheduler")
    p.add_argument("--loads", type=float_list, default=None,
                   help="also sweep offered load (SLA-vs-load plot), e.g. 0.5,0.8,1.1 "
                        "(default: none, the scenario's load only)")  # fmt: skip
    p.add_argument("--jobs", type=positive_int, default=None,
                   help="worker processes (default: one per core)")  # fmt: skip
    add_address_arg(p)
    p.add_argument("--out", type=Path, default=Path("relmas_out/compare"), help="output directory")
    p.add_argument("--json", action="store_true", help="print the summary as JSON, not a table")
    add_tracking_args(p)
    p.set_defaults(func=cmd_compare)


def add_address_arg(p: argparse.ArgumentParser) -> None:
    """``--address``: run the simulations as Ray tasks (shared by compare and headroom)."""
    p.add_argument("--address", default=None,
                   help="run every simulation as a Ray task on this cluster (auto, host:port, "
                        "ray://...; 'local': one with --jobs CPUs), e.g. for rollout "
                        "(default: none, processes on this machine)")  # fmt: skip


def expand_schedulers(text: str, setup: Setup | None = None) -> list[str]:
    """``all,rl:DIR`` -> every built-in heuristic plus ``rl:DIR``; bad references fail early.

    ``all`` is the heuristics only: ``rollout`` (a lookahead scheduler, a minute per episode)
    is named on its own, e.g. ``all,rollout``. Every reference is built here, parameters
    (``planaria?priority_exponent=0.5``) checked, and ``module:Class`` / ``rl:DIR`` ones with
    ``setup`` also reset on its chip (a policy refuses a chip it was not trained on), so a bad
    reference fails before any worker starts instead of half-way through the runs.
    """
    names: list[str] = []
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        names += scheduler_names() if item == "all" else [item]
    if not names:
        raise UserError("--schedulers", "is empty", "give e.g. all or fcfs,edf")
    known = set(scheduler_names(lookahead=True))
    for n in names:
        base = n.partition("?")[0]
        if ":" not in base and base not in known:
            raise unknown_name("--schedulers", base, known)
        sched = make_scheduler(n)
        if ":" in base and setup is not None:
            sched.reset(make_simulator(setup, 0), np.random.default_rng(0))
    return list(dict.fromkeys(names))


def progress_run(
    specs: list[RunSpec], jobs: int, label: str, address: str | None = None
) -> list[dict[str, Any]]:
    """Run the specs with a progress bar on stderr, so ``--json`` stdout stays pure JSON."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from relmas.cli.progress import progress

    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    # stderr and transient: stdout stays pure JSON with --json, and an error is the only line.
    with progress(columns, sys.stderr, transient=True) as bar:
        task = bar.add_task(label, total=len(specs))
        return run_many(specs, jobs, lambda: bar.advance(task), address, claim_sigterm)


def _gantt(args: argparse.Namespace, names: list[str], out: Path) -> Path:
    """Gantt chart of the first requests of seed 0 for each scheduler (a short, cheap run)."""
    schedules = []
    setup = cached_setup(args.scenario, args.hardware, None, args.bandwidth_gbps)
    n = min(GANTT_REQUESTS, setup.scenario.num_requests or GANTT_REQUESTS)
    short = setup.scenario.model_copy(update={"num_requests": n})
    for name in names:
        spec = RunSpec(args.scenario, args.hardware, name, 0, None, args.bandwidth_gbps)
        setup_short = replace(setup, scenario=short)
        res, _ = simulate(spec, record_trace=True, setup=setup_short)
        schedules.append((label(name), res))
    window = max(r.makespan_s for _, r in schedules)
    title = f"first {GANTT_REQUESTS} requests of {args.scenario} / {args.hardware}, seed 0"
    return plots.plot_gantt(schedules, window, title, out / "gantt.png")


def _load_sweep(
    args: argparse.Namespace, names: list[str], jobs: int, out: Path
) -> tuple[list[dict[str, Any]], Path]:
    """Every scheduler x seed at each offered load of ``--loads``, and the SLA-vs-load plot."""
    specs = [RunSpec(args.scenario, args.hardware, n, s, load, args.bandwidth_gbps)
             for load in args.loads for n in names for s in range(args.seeds)]  # fmt: skip
    rows = progress_run(specs, jobs, f"{len(specs)} load-sweep runs", args.address)
    summary = summarize(rows, ("scheduler", "offered_load"))
    title = f"SLA rate vs offered load: {args.scenario} / {args.hardware}"
    shown = [{**e, "scheduler": label(e["scheduler"])} for e in summary]  # oracles marked
    return rows, plots.plot_sla_vs_load(shown, title, out / "sla_vs_load.png")


def _table(summary: list[dict[str, Any]], title: str) -> None:
    """Best first (SLA rate, then energy), like the plots' legends and MLflow's view."""
    rows = []
    for e in ranked(summary):
        sla, en = e["sla_rate"], e["energy_per_inference_j"]
        rows.append([
            label(e["scheduler"]), f"{sla['mean']:.3f} ± {sla['std']:.3f}",
            fmt(e["drop_rate"]["mean"]),
            fmt(e["p99_latency_s"]["mean"], " s"), f"{en['mean'] * 1e3:.3f}",
            fmt(e["antt"]["mean"]), fmt(e["mean_utilization"]["mean"]),
            fmt(e["dram_utilization"]["mean"]),
        ])  # fmt: skip
    cols = ["scheduler", "SLA rate", "drop", "p99 latency", "mJ/inference", "ANTT", "util", "DRAM"]
    print_table(title, cols, rows)


def headline(args: argparse.Namespace) -> str:
    """``heavy / 2s2e at offered load 1.1, 5 seeds (0-4)``: what every number was measured on."""
    setup = cached_setup(args.scenario, args.hardware, None, args.bandwidth_gbps)
    load = setup.scenario.offered_load
    at = f"offered load {load:g}" if load is not None else "its fixed arrival rates"
    seeds = "1 seed (0)" if args.seeds == 1 else f"{args.seeds} seeds (0-{args.seeds - 1})"
    return f"{Path(args.scenario).stem} / {args.hardware} at {at}, {seeds}"


def _check_setup(args: argparse.Namespace) -> Setup:
    """Load the setup once in this process so a bad name fails before any worker starts."""
    setup = cached_setup(args.scenario, args.hardware, None, args.bandwidth_gbps)
    if args.loads and setup.scenario.offered_load is None:
        raise UserError(
            "--loads", f"scenario {args.scenario!r} has fixed rates (no offered_load)",
            "drop --loads or use a scenario with offered_load, e.g. heavy",
        )  # fmt: skip
    return setup


def _report(args: argparse.Namespace, result: dict[str, Any], out: Path) -> None:
    """The JSON summary or the table plus where the files are."""
    if args.json:
        print(dumps({k: result[k] for k in ("scenario", "hardware", "seeds", "best", "summary")}))
        return
    _table(result["summary"], f"{headline(args)}: mean ± std, ranked by SLA rate")
    names = ", ".join(Path(p).name for p in result["plots"])
    print(f"best SLA rate: {result['best']}; wrote {out / 'results.json'} and {names}")


def cmd_compare(args: argparse.Namespace) -> int:
    """Run all schedulers x seeds (and loads), then write results.json and the plots.

    The MLflow run is opened before the simulations, so Ctrl-C or an error leaves it KILLED /
    FAILED instead of leaving no record at all.
    """
    check_output(args.out, "--out", directory=True)
    names = expand_schedulers(args.schedulers, _check_setup(args))
    with comparison_run(args, names) as run:
        return _compare(args, names, run)


def _compare(args: argparse.Namespace, names: list[str], run: Any) -> int:
    """The body of :func:`cmd_compare` inside its tracked run."""
    jobs = args.jobs or default_jobs()
    started = time.perf_counter()
    specs = [RunSpec(args.scenario, args.hardware, n, s, None, args.bandwidth_gbps)
             for n in names for s in range(args.seeds)]  # fmt: skip
    rows = progress_run(specs, jobs, f"{len(specs)} runs", args.address)
    summary = summarize(rows)
    load_rows: list[dict[str, Any]] = []
    out: Path = args.out
    with output_errors("--out"):
        out.mkdir(parents=True, exist_ok=True)
    shown = [{**e, "scheduler": label(e["scheduler"])} for e in summary]  # oracles marked
    pngs = [plots.plot_energy_sla(shown, headline(args), out / "energy_sla.png")]
    if args.loads:
        load_rows, png = _load_sweep(args, names, jobs, out)
        pngs.append(png)
    pngs.append(_gantt(args, names, out))
    best = best_by(summary)
    result = {
        "scenario": args.scenario, "hardware": args.hardware, "seeds": args.seeds,
        "schedulers": names, "summary": summary, "best": best["scheduler"], "runs": rows,
        "load_runs": load_rows, "plots": [str(p) for p in pngs],
        "wall_s": time.perf_counter() - started,
    }  # fmt: skip
    write_atomic(out / "results.json", dumps(result))
    _report(args, result, out)
    log_comparison(args, result, out, parent=run)
    return 0
