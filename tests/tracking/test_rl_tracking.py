"""``relmas train`` / ``relmas evaluate`` runs, read back from a real sqlite store."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest

from relmas.rl.trainer import IterationStats
from relmas.tracking.rl_hooks import log_evaluation, log_training

pytestmark = pytest.mark.slow


def _runs(uri: str, experiment: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"experiment {experiment} was not created"
    return client.search_runs([exp.experiment_id])


def test_training_run_has_a_step_per_iteration_and_the_policy(
    sqlite_uri: str, tmp_path: Path
) -> None:
    out = tmp_path / "policy"
    out.mkdir()
    (out / "policy.json").write_text('{"env_version": 1}')
    history = [
        IterationStats(1, 400, 900.0, -3.5, math.nan),  # no episode finished yet: not logged
        IterationStats(2, 800, 1000.0, -2.0, 0.5),
    ]
    args = argparse.Namespace(no_track=False, tracking_uri=sqlite_uri)
    log_training(args, {"scenario": "heavy", "hardware": "2s2e", "seed": 0}, history, out)
    (run,) = _runs(sqlite_uri, "relmas-train")
    assert run.info.status == "FINISHED"
    assert run.data.params["scenario"] == "heavy"
    assert run.data.metrics["sla_rate"] == 0.5 and run.data.metrics["iterations"] == 2.0
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=sqlite_uri)
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "env_steps")]
    assert sorted(steps) == [1, 2]
    sla_steps = [m.step for m in client.get_metric_history(run.info.run_id, "sla_rate")]
    assert sla_steps == [2]
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["policy.json"]


def test_evaluation_run_puts_policy_beside_the_best_heuristic(sqlite_uri: str) -> None:
    report = {
        "scenario": "heavy", "hardware": "2s2e", "seeds": [10000, 10001],
        "policy": {"sla_rate": 0.9, "energy_per_inference_j": 0.017},
        "heuristics": {"planaria": {"sla_rate": 0.91, "energy_per_inference_j": 0.0169},
                       "fcfs": {"sla_rate": 0.1, "energy_per_inference_j": 0.017}},
        "best_heuristic": "planaria",
        "ratios": {"sla_rate": 0.9 / 0.91, "energy_per_inference_j": 0.017 / 0.0169},
        "sla_delta": {"mean": -0.01, "stderr": 0.005, "wins": 0, "losses": 2, "ties": 0},
        "prior": {"name": "planaria[priority_exponent=0.5]", "sla_rate": 0.92,
                  "energy_per_inference_j": 0.0169, "sla_rate_per_seed": [0.92, 0.92]},
    }  # fmt: skip
    args = argparse.Namespace(no_track=False, tracking_uri=sqlite_uri, checkpoint=Path("p"))
    log_evaluation(args, report)
    (run,) = _runs(sqlite_uri, "relmas-evaluate")
    m = run.data.metrics
    assert m["policy/sla_rate"] == 0.9 and m["best/sla_rate"] == 0.91
    assert m["heuristic/fcfs/sla_rate"] == 0.1
    assert m["ratio/sla_rate"] == pytest.approx(0.9 / 0.91)
    assert run.data.tags["best_heuristic"] == "planaria"
    assert run.data.tags["scheduler"] == "rl:p"
    assert m["sla_delta/mean"] == -0.01 and m["sla_delta/losses"] == 2
    assert m["prior/sla_rate"] == 0.92
    assert run.data.tags["prior"] == "planaria[priority_exponent=0.5]"
