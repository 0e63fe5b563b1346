"""Tracking for ``relmas compare``: one parent run and a child run per scheduler.

Compare layout: one parent run per ``relmas compare`` and one child run per scheduler. A child
holds the seed-mean of every KPI as its plain metric (``sla_rate``, ``energy_per_inference_j``,
...), the spread as ``<kpi>_std``, each seed's value as the series ``per_seed/<kpi>`` (step =
seed) and, with ``--loads``, the curve ``load/<kpi>`` (step = offered load in percent). Why not a
child per scheduler x seed: the MLflow run table then shows one row per scheduler whose columns
are directly comparable (sort by SLA rate, scatter SLA vs energy in "Compare"), instead of 80 rows
to group by hand; the per-seed spread is still one click away as a metric chart.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from relmas.evaluation.summary import ranked
from relmas.tracking.hooks import kpis, options_from_args, resolved_config, stamp, write_config
from relmas.tracking.payload import clean_key
from relmas.tracking.run import TrackedRun, start_run, tracked_run
from relmas.tracking.views import NOTE_TAG


def _child_metrics(
    run: TrackedRun,
    entry: dict[str, Any],
    rows: list[dict[str, Any]],
    load_rows: list[dict[str, Any]],
) -> None:
    means = {k: v["mean"] for k, v in entry.items() if isinstance(v, dict) and "mean" in v}
    stds = {f"{k}_std": v["std"] for k, v in entry.items() if isinstance(v, dict) and "std" in v}
    run.log_metrics({k: shown(v) for k, v in {**kpis(means), **stds}.items()})
    run.log_metrics({"runs": entry["runs"]})
    for row in rows:
        run.log_metrics({f"per_seed/{k}": v for k, v in kpis(row).items()}, step=row["seed"])
    by_load: dict[float, list[dict[str, Any]]] = {}
    for row in load_rows:
        by_load.setdefault(row["offered_load"], []).append(row)
    for load, members in by_load.items():
        mean = {
            k: sum(m[k] for m in members) / len(members)
            for k in ("sla_rate", "energy_per_inference_j", "p99_latency_s")
        }
        run.log_metrics({f"load/{k}": v for k, v in mean.items()}, step=round(load * 100))


def _compare_options(args: argparse.Namespace, schedulers: list[str]) -> dict[str, Any]:
    return {"scenario": args.scenario, "hardware": args.hardware, "seeds": args.seeds,
            "schedulers": schedulers, "loads": args.loads,
            "bandwidth_gbps": args.bandwidth_gbps}  # fmt: skip


@contextmanager
def comparison_run(args: argparse.Namespace, schedulers: list[str]) -> Iterator[TrackedRun | None]:
    """The parent run of one ``relmas compare``, open while it simulates (``None``: no tracking).

    Why open it before simulating: a run created only afterwards does not exist at all for a
    compare that was interrupted or failed; open first, Ctrl-C leaves it KILLED and an error
    FAILED, like every other command. Pass it to :func:`log_comparison` as ``parent``.
    """
    opts = options_from_args(args)
    if not opts.enabled:
        yield None
        return
    from relmas.evaluation.runner import cached_setup

    setup = cached_setup(args.scenario, args.hardware, None, args.bandwidth_gbps)
    config = resolved_config(setup, _compare_options(args, schedulers))
    tags = {"scenario": args.scenario, "hardware": args.hardware}
    name = _comparison_name(args, setup)
    with (
        tempfile.TemporaryDirectory() as tmp,
        tracked_run("compare", name, config, tags, options=opts) as parent,
    ):
        write_config(parent, config, Path(tmp))
        yield parent


def _comparison_name(args: argparse.Namespace, setup: Any) -> str:
    """``heavy/2s2e @1.1, 3 seeds, loads 0.5-1.1, 12-02 17:40``: what tells two compares apart."""
    load = setup.scenario.offered_load
    at = f" @{load:g}" if load is not None else ""
    loads = f", loads {min(args.loads):g}-{max(args.loads):g}" if args.loads else ""
    seeds = "1 seed" if args.seeds == 1 else f"{args.seeds} seeds"
    return f"{Path(args.scenario).stem}/{args.hardware}{at}, {seeds}{loads}, {stamp()}"


def log_comparison(
    args: argparse.Namespace, result: dict[str, Any], out: Path, parent: TrackedRun | None = None
) -> None:
    """Fill the compare parent run (results.json, plots) and add a child per scheduler.

    ``parent`` is the run from :func:`comparison_run`; without it a parent is opened here.
    """
    if not options_from_args(args).enabled:
        return
    if parent is None:
        with comparison_run(args, result["schedulers"]) as run:
            assert run is not None  # tracking is enabled
            _fill_comparison(run, args, result, out)
        return
    _fill_comparison(parent, args, result, out)


def shown(value: Any) -> Any:
    """A summary metric to 5 significant digits: the UI prints every digit it gets, and
    0.9154166666666667 hides the value in a column; exact per-seed values stay in the
    ``per_seed/`` series and ``runs.json``."""
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.5g}")
    return value


def _per_scheduler(result: dict[str, Any]) -> dict[str, float]:
    """The parent's comparison: ``sla_rate/<scheduler>``, ``energy_per_inference_mj/<...>``,
    and as plain metrics the best scheduler's SLA rate, energy, drop rate and p99 latency (the
    saved UI view's columns, so a collapsed parent row already reads as its result)."""
    out: dict[str, float] = {}
    for e in result["summary"]:
        name = e["scheduler"]
        out[f"sla_rate/{name}"] = e["sla_rate"]["mean"]
        out[f"energy_per_inference_mj/{name}"] = e["energy_per_inference_j"]["mean"] * 1e3
        if name == result["best"]:
            out["energy_per_inference_mj"] = e["energy_per_inference_j"]["mean"] * 1e3
            out.update({k: e[k]["mean"] for k in ("sla_rate", "drop_rate", "p99_latency_s")})
    return {k: shown(v) for k, v in out.items()}


def _ranked_note(result: dict[str, Any]) -> str:
    """The parent run's description: the ranked table, as the run page's first content."""
    lines = ["| scheduler | SLA rate (mean ± std) | mJ/inference | drop rate |", "|---" * 4 + "|"]
    for e in ranked(result["summary"]):
        sla, energy, drop = e["sla_rate"], e["energy_per_inference_j"], e["drop_rate"]["mean"]
        lines.append(f"| {e['scheduler']} | {sla['mean']:.3f} ± {sla['std']:.3f} | "
                     f"{energy['mean'] * 1e3:.2f} | {drop:.3f} |")  # fmt: skip
    seeds = result["seeds"]
    return f"Ranked by SLA rate over {seeds} seed{'s' * (seeds != 1)}:\n\n" + "\n".join(lines)


def _child_file(tmp: Path, scheduler: str, rows: list[dict[str, Any]]) -> Path:
    """The scheduler's per-seed results as ``runs.json`` (the child run's artifact; uploaded,
    or copied offline, when the child ends, before ``tmp`` goes away)."""
    from relmas.files import dumps

    path = tmp / clean_key(scheduler).replace("/", "_") / "runs.json"
    path.parent.mkdir(parents=True)
    path.write_text(dumps(rows), encoding="utf-8")
    return path


def _fill_comparison(
    parent: TrackedRun, args: argparse.Namespace, result: dict[str, Any], out: Path
) -> None:
    parent.set_tags({"best": result["best"], NOTE_TAG: _ranked_note(result)})
    for path in [out / "results.json", *map(Path, result["plots"])]:
        parent.log_artifact(path)
    parent.log_metrics({"wall_s": result["wall_s"], "schedulers": len(result["schedulers"]),
                        **_per_scheduler(result)})  # fmt: skip
    options = _compare_options(args, result["schedulers"])
    tags = {"scenario": args.scenario, "hardware": args.hardware, "best": result["best"]}
    with tempfile.TemporaryDirectory() as tmp:
        # Worst first: the UI lists the newest run first, so the expanded parent reads best-first.
        for entry in reversed(ranked(result["summary"])):
            sched = entry["scheduler"]
            child = start_run("compare", sched, {**options, "scheduler": sched},
                              {**tags, "scheduler": sched}, options=parent.options,
                              parent=parent)  # fmt: skip
            rows = [r for r in result["runs"] if r["scheduler"] == sched]
            loads = [r for r in result["load_runs"] if r["scheduler"] == sched]
            _child_metrics(child, entry, rows, loads)
            child.log_artifact(_child_file(Path(tmp), sched, rows))
            child.end()
