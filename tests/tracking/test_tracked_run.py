"""tracked_run against a real (temporary) sqlite store, read back with MlflowClient."""

from __future__ import annotations

from pathlib import Path

import pytest

from relmas.tracking import TrackingOptions, start_run, tracked_run

pytestmark = pytest.mark.slow


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _runs(uri: str, experiment: str) -> list:
    client = _client(uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"experiment {experiment} was not created"
    return client.search_runs([exp.experiment_id])


def test_params_metrics_tags_and_artifacts_read_back(sqlite_uri: str, tmp_path: Path) -> None:
    art = tmp_path / "config.yaml"
    art.write_text("a: 1\n")
    opts = TrackingOptions(uri=sqlite_uri)
    params = {"scenario": "heavy", "chip": {"bandwidth_gbps": 14.8}}
    with tracked_run(
        "simulate", "r1", params, {"seed": 3, "scheduler": "edf"}, options=opts
    ) as run:
        run.log_metrics({"sla_rate": 0.75, "utilization": [0.1, 0.2, 0.3]})
        run.log_artifact(art)
    (r,) = _runs(sqlite_uri, "relmas-simulate")
    assert r.info.status == "FINISHED"
    assert r.data.params["chip/bandwidth_gbps"] == "14.8"
    assert r.data.metrics["sla_rate"] == 0.75 and r.data.metrics["utilization_2"] == 0.3
    tags = r.data.tags
    assert tags["seed"] == "3" and tags["scheduler"] == "edf" and tags["pkg.mlflow"]
    assert len(tags["relmas.config_hash"]) == 12 and tags["relmas.version"]
    assert [a.path for a in _client(sqlite_uri).list_artifacts(r.info.run_id)] == ["config.yaml"]


def test_more_than_1000_metrics_are_split_into_batches(sqlite_uri: str) -> None:
    opts = TrackingOptions(uri=sqlite_uri)
    with tracked_run("simulate", "many", {}, {}, options=opts) as run:
        run.log_metrics({f"m{i}": float(i) for i in range(2500)})
    (r,) = _runs(sqlite_uri, "relmas-simulate")
    assert len(r.data.metrics) == 2500 and r.data.metrics["m2499"] == 2499.0


def test_error_inside_marks_run_failed_and_propagates(sqlite_uri: str) -> None:
    opts = TrackingOptions(uri=sqlite_uri)
    with (
        pytest.raises(ValueError, match="boom"),
        tracked_run("simulate", "bad", {}, {}, options=opts),
    ):
        raise ValueError("boom")
    (r,) = _runs(sqlite_uri, "relmas-simulate")
    assert r.info.status == "FAILED"


def test_child_runs_point_at_their_parent(sqlite_uri: str) -> None:
    opts = TrackingOptions(uri=sqlite_uri)
    with tracked_run("compare", "parent", {}, {}, options=opts) as parent:
        child = start_run("compare", "child", {}, {}, options=opts, parent=parent)
        child.end()
    runs = {r.info.run_name: r for r in _runs(sqlite_uri, "relmas-compare")}
    assert runs["child"].data.tags["mlflow.parentRunId"] == runs["parent"].info.run_id


def test_disabled_tracking_touches_no_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'never.db'}"
    with tracked_run("simulate", "off", {"a": 1}, {}, options=TrackingOptions(False, uri)) as run:
        run.log_metrics({"sla_rate": 1.0})
    assert not (tmp_path / "never.db").exists()
    assert not (tmp_path / "relmas_out").exists()
