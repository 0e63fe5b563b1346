"""A real Tune sweep (heuristic trainable, 2 trials x 2 iterations) tracked into sqlite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relmas.sweeps.run import run_sweep
from relmas.tracking import TrackingOptions

pytestmark = pytest.mark.slow


def test_two_trial_sweep_logs_parent_children_and_pareto(
    ray_local: Any, sqlite_uri: str, tmp_path: Path, sweep_file: Any, mlflow_runs: Any
) -> None:
    sweep = sweep_file(n_simba=[1, 2], schedulers=["edf"])
    out = run_sweep(sweep, storage=tmp_path / "st", options=TrackingOptions(uri=sqlite_uri))
    assert (out.trials, out.finished, out.errored) == (2, 2, 0)
    runs = mlflow_runs(sqlite_uri, "relmas-tune-smoke")
    parent = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parent) == 1 and len(children) == 2
    assert parent[0].info.run_id == out.parent_run_id and parent[0].info.status == "FINISHED"
    assert {c.data.tags["hardware"] for c in children} == {"1s1e@16", "2s1e@16"}
    for child in children:
        assert child.info.status == "FINISHED"
        assert 0.0 <= child.data.metrics["sla_rate"] <= 1.0
        assert "utilization_0" in child.data.metrics
    pareto = json.loads((out.experiment_dir / "pareto.json").read_text())
    assert pareto["front"] and len(pareto["points"]) == 2
    assert (out.experiment_dir / "pareto.png").stat().st_size > 1000
