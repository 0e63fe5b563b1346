"""simulate / compare / sync through the CLI entry point, tracked into a temporary store."""

from __future__ import annotations

from pathlib import Path

import pytest

from relmas.cli.main import main

pytestmark = pytest.mark.slow


def _runs(uri: str, experiment: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None
    return client.search_runs([exp.experiment_id])


def test_simulate_logs_every_kpi(sqlite_uri: str, small_scenario: Path) -> None:
    argv = [
        "simulate",
        "--scenario",
        str(small_scenario),
        "--scheduler",
        "edf",
        "--seed",
        "2",
        "--json",
        "--tracking-uri",
        sqlite_uri,
    ]
    assert main(argv) == 0
    (r,) = _runs(sqlite_uri, "relmas-simulate")
    m = r.data.metrics
    for key in (
        "sla_rate",
        "violation_rate",
        "drop_rate",
        "antt",
        "stp",
        "fairness",
        "edp",
        "energy_per_inference_j",
        "p99_latency_s",
        "mean_utilization",
        "utilization_3",
        "dram_utilization",
        "makespan_s",
        "throughput_per_s",
    ):
        assert key in m, key
    assert r.data.tags["scheduler"] == "edf" and r.data.tags["seed"] == "2"
    assert "scenario_config/num_requests" in r.data.params


def test_compare_is_one_parent_with_a_child_per_scheduler(
    sqlite_uri: str, small_scenario: Path, tmp_path: Path
) -> None:
    argv = [
        "compare",
        "--scenario",
        str(small_scenario),
        "--schedulers",
        "fcfs,edf",
        "--seeds",
        "2",
        "--jobs",
        "1",
        "--out",
        str(tmp_path / "cmp"),
        "--json",
        "--tracking-uri",
        sqlite_uri,
    ]
    assert main(argv) == 0
    runs = _runs(sqlite_uri, "relmas-compare")
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {r.info.run_name: r for r in runs if "mlflow.parentRunId" in r.data.tags}
    assert len(parents) == 1 and set(children) == {"fcfs", "edf"}
    assert all(
        c.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for c in children.values()
    )
    assert "sla_rate_std" in children["edf"].data.metrics


def test_no_track_writes_nothing(
    small_scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RELMAS_NO_TRACK", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["simulate", "--scenario", str(small_scenario), "--json", "--no-track"]) == 0
    assert not (tmp_path / "mlflow.db").exists()


def test_simulate_offline_then_relmas_sync(
    sqlite_uri: str,
    closed_port_uri: str,
    small_scenario: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["simulate", "--scenario", str(small_scenario), "--json"]
    assert main([*argv, "--tracking-uri", closed_port_uri]) == 0  # finishes despite the dead store
    assert "relmas sync" in capsys.readouterr().err
    assert main(["sync", "--tracking-uri", closed_port_uri]) == 2  # still dead: one-line error
    assert "cannot upload" in capsys.readouterr().err
    assert main(["sync", "--tracking-uri", sqlite_uri]) == 0
    assert "synced 1 run(s)" in capsys.readouterr().out
    assert len(_runs(sqlite_uri, "relmas-simulate")) == 1
    assert main(["sync", "--tracking-uri", sqlite_uri]) == 0
    assert "synced 0 run(s)" in capsys.readouterr().out


def test_every_tracked_command_says_where_its_run_went(
    sqlite_uri: str, small_scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--scenario", str(small_scenario), "--json",
                 "--tracking-uri", sqlite_uri]) == 0  # fmt: skip
    captured = capsys.readouterr()
    (line,) = [ln for ln in captured.err.splitlines() if "tracked as run" in ln]
    assert "experiment relmas-simulate" in line and sqlite_uri in line and "relmas ui" in line
    assert captured.out.lstrip().startswith("{")  # --json stdout stays pure JSON
