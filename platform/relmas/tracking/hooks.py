"""Tracking for ``relmas simulate`` and ``relmas compare``: what the CLI commands call.

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
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from relmas.evaluation.summary import ranked
from relmas.tracking.payload import clean_key, redact_config
from relmas.tracking.run import TrackedRun, TrackingOptions, start_run, tracked_run

NO_TRACK_ENV = "RELMAS_NO_TRACK"
URI_DEFAULT = (
    "(default: $MLFLOW_TRACKING_URI, else mlflow.db in the relmas checkout or $RELMAS_HOME, "
    "whatever the working directory)"
)


def add_tracking_args(p: argparse.ArgumentParser) -> None:
    """``--no-track`` and ``--tracking-uri`` (default: $MLFLOW_TRACKING_URI, else the one
    store of :func:`relmas.tracking.client.default_uri`)."""
    p.add_argument(
        "--no-track", action="store_true", help=f"do not log to MLflow; also {NO_TRACK_ENV}=1"
    )
    p.add_argument(
        "--tracking-uri",
        default=None,
        help=f"MLflow store, sqlite:///FILE or http://HOST:PORT {URI_DEFAULT}",
    )


def options_from_args(args: argparse.Namespace) -> TrackingOptions:
    """Tracking options of a parsed command line (``RELMAS_NO_TRACK=1`` also disables)."""
    import os

    disabled = getattr(args, "no_track", False) or os.environ.get(NO_TRACK_ENV, "") == "1"
    return TrackingOptions(enabled=not disabled, uri=getattr(args, "tracking_uri", None))


def _chip_config(setup: Any) -> dict[str, Any]:
    chip = setup.chip
    return {
        "accel_types": [chip.type_names[t] for t in chip.accel_type],
        "dram_bandwidth_gbps": chip.bandwidth_bytes_per_s / 1e9,
    }


def resolved_config(setup: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """The config a run actually used: scenario after overrides, chip, command options."""
    return {
        **extra,
        "scenario_config": setup.scenario.model_dump(mode="json"),
        "chip": _chip_config(setup),
    }


def _write_config(run: TrackedRun, config: dict[str, Any], tmp: Path) -> None:
    """The resolved config as an artifact, redacted like the params (no secrets in MLflow)."""
    path = tmp / "resolved_config.yaml"
    path.write_text(yaml.safe_dump(redact_config(config), sort_keys=False), encoding="utf-8")
    run.log_artifact(path)


def kpis(metrics: dict[str, Any]) -> dict[str, Any]:
    """Every metric of docs/metrics.md (``utilization`` becomes ``utilization_<i>``), plus
    ``energy_per_inference_mj``: the unit the tables and plots use, so the UI column reads
    16.1 rather than 0.0161."""
    out = {k: v for k, v in metrics.items() if k not in ("scenario", "hardware", "scheduler")}
    energy = out.get("energy_per_inference_j")
    if isinstance(energy, int | float) and not isinstance(energy, bool):
        out["energy_per_inference_mj"] = energy * 1e3
    return out


def stamp() -> str:
    """``12-02 17:40``: run names carry the time, so repeated commands are told apart."""
    return time.strftime("%m-%d %H:%M")


def log_simulation(
    args: argparse.Namespace,
    setup: Any,
    metrics: dict[str, Any],
    scheduler_params: dict[str, Any] | None = None,
    artifacts: Sequence[Path] = (),
) -> None:
    """One run for ``relmas simulate``: resolved config, all KPIs, tags, the trace CSV if any."""
    opts = options_from_args(args)
    if not opts.enabled:
        return
    options = {
        "scenario": args.scenario,
        "hardware": args.hardware,
        "scheduler": args.scheduler,
        "seed": args.seed,
        "bandwidth_gbps": args.bandwidth_gbps,
        "scheduler_params": scheduler_params or {},
    }
    config = resolved_config(setup, options)
    tags = {k: options[k] for k in ("scenario", "hardware", "scheduler", "seed")}
    scenario = Path(args.scenario).stem
    name = f"{args.scheduler} {scenario}/{args.hardware} seed {args.seed}, {stamp()}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        tracked_run("simulate", name, config, tags, options=opts) as run,
    ):
        _write_config(run, config, Path(tmp))
        run.log_metrics(kpis(metrics))
        for path in artifacts:
            run.log_artifact(path)


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
        _write_config(parent, config, Path(tmp))
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
    parent.set_tags({"best": result["best"]})
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
