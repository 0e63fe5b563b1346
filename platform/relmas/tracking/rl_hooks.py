"""Tracking for ``relmas train`` and ``relmas evaluate``, the RL counterparts of ``hooks.py``.

A training run logs the resolved training options as params, one step per PPO iteration (env
steps, env steps/s, episode return, unshaped SLA rate) and the exported policy files. An
evaluation run logs the policy's KPIs, the best heuristic's, every heuristic's SLA rate and the
ratios, so RL and heuristics sit side by side in the MLflow UI.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from relmas.tracking.hooks import kpis, options_from_args, stamp
from relmas.tracking.run import TrackedRun, tracked_run

_POLICY_FILES = ("policy.json", "metrics.jsonl")


def _finite(values: dict[str, Any]) -> dict[str, float]:
    """Numeric, finite values only (NaN marks 'no episode finished yet', not a measurement)."""
    return {
        k: float(v)
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


class TrainingTracker:
    """The live MLflow run of one ``relmas train`` (a no-op when tracking is off)."""

    def __init__(self, run: TrackedRun | None, out_dir: Path) -> None:
        self.run = run
        self.out_dir = out_dir

    def iteration(self, stats: Any) -> None:
        """One step per PPO iteration (buffered; sent at most every few seconds)."""
        if self.run is None:
            return
        values = dataclasses.asdict(stats) if dataclasses.is_dataclass(stats) else vars(stats)
        self.run.log_metrics(_finite(values), step=int(values.get("iteration", 0)))

    def finish(self, history: list[Any]) -> None:
        """The iteration count and the exported policy files (attached when the run ends)."""
        if self.run is None:
            return
        if history:
            self.run.log_metrics({"iterations": float(len(history))})
        for name_ in _POLICY_FILES:
            if (self.out_dir / name_).is_file():
                self.run.log_artifact(self.out_dir / name_)


@contextmanager
def training_run(
    args: argparse.Namespace, options: dict[str, Any], out_dir: Path
) -> Iterator[TrainingTracker]:
    """One run per ``relmas train``, open while training: FINISHED, FAILED, or KILLED on Ctrl-C.

    Why open it first: a run created only after training would not exist at all for an
    interrupted or crashed training, and its per-iteration metrics would be lost with it.
    """
    opts = options_from_args(args)
    if not opts.enabled:
        yield TrainingTracker(None, out_dir)
        return
    tags = {k: options.get(k) for k in ("scenario", "hardware", "seed")}
    tags["scheduler"] = f"rl:{out_dir}"
    scenario = Path(str(options.get("scenario"))).stem
    name = f"train {scenario}/{options.get('hardware')}, {options.get('iterations')} it, {stamp()}"
    with tracked_run("train", name, options, tags, options=opts) as run:
        yield TrainingTracker(run, out_dir)


def log_training(
    args: argparse.Namespace, options: dict[str, Any], history: list[Any], out_dir: Path
) -> None:
    """One run per finished training: options as params, a step per iteration, policy files."""
    with training_run(args, options, out_dir) as tracker:
        for stats in history:
            tracker.iteration(stats)
        tracker.finish(history)


def log_evaluation(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """One run per ``relmas evaluate``: policy vs best heuristic on the same held-out seeds."""
    opts = options_from_args(args)
    if not opts.enabled:
        return
    params = {
        "checkpoint": str(args.checkpoint),
        "scenario": report["scenario"],
        "hardware": report["hardware"],
        "seeds": report["seeds"],
    }
    tags = {"scenario": report["scenario"], "hardware": report["hardware"],
            "scheduler": f"rl:{args.checkpoint}"}  # fmt: skip
    where = f"{Path(str(report['scenario'])).stem}/{report['hardware']}"
    seeds = f"{len(report['seeds'])} seeds"
    name = f"evaluate {Path(str(args.checkpoint)).name} {where}, {seeds}, {stamp()}"
    with tracked_run("evaluate", name, params, tags, options=opts) as run:
        run.log_metrics(_finite({f"policy/{k}": v for k, v in kpis(report["policy"]).items()}))
        best = report.get("best_heuristic")
        if best:
            ref = report["heuristics"][best]
            run.log_metrics(_finite({f"best/{k}": v for k, v in kpis(ref).items()}))
            run.log_metrics(_finite({f"ratio/{k}": v for k, v in report["ratios"].items()}))
            run.log_metrics(_finite({f"sla_delta/{k}": v for k, v in report["sla_delta"].items()}))
            run.set_tags({"best_heuristic": best})
        if "prior" in report:
            run.log_metrics(_finite({f"prior/{k}": v for k, v in kpis(report["prior"]).items()}))
            run.set_tags({"prior": report["prior"]["name"]})
        for name_, metrics in report["heuristics"].items():
            run.log_metrics(_finite({f"heuristic/{name_}/sla_rate": metrics.get("sla_rate")}))
