"""Tracking for ``relmas simulate`` and what every tracked command shares: the CLI options,
the resolved config, KPI names, run-name stamps. ``relmas compare``'s runs: ``compare_hooks``."""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from relmas.tracking.payload import redact_config
from relmas.tracking.run import TrackedRun, TrackingOptions, tracked_run

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


def write_config(run: TrackedRun, config: dict[str, Any], tmp: Path) -> None:
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
        write_config(run, config, Path(tmp))
        run.log_metrics(kpis(metrics))
        for path in artifacts:
            run.log_artifact(path)
