"""The sweep ledger carries the offline directory to the trial runs (not only the parent).

Why: inside ``ray job submit`` the driver's working directory is a temporary copy of the repo
that Ray deletes; trial runs cut off by a tracking outage must be kept where the parent's are.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("ray")


def test_trial_runs_use_the_offline_dir_of_the_ledger(tmp_path: Path) -> None:
    from relmas.sweeps.callback import SweepTracker

    state = tmp_path / "s.relmas_state.json"
    keep = tmp_path / "storage" / "mlflow_offline"
    state.write_text(json.dumps({"enabled": True, "uri": "http://127.0.0.1:9", "trials": {},
                                 "offline_dir": str(keep)}))  # fmt: skip
    tracker = SweepTracker(state)
    tracker.setup()
    assert tracker._options.offline_dir == keep
    state.write_text(json.dumps({"enabled": True, "uri": "http://127.0.0.1:9", "trials": {}}))
    tracker.setup()
    assert tracker._options.offline_dir is None  # older ledgers: the default directory


def test_a_resumed_trial_that_ends_without_reporting_gets_its_steps(
    tmp_path: Path, fresh_mlflow_db: Path
) -> None:
    """After a SIGKILL lost a finished trial's run, Tune may restore the trial from its last
    checkpoint and end it at once: the new run must still hold every step of ``result.json``.
    """
    from types import SimpleNamespace

    from mlflow.tracking import MlflowClient

    from relmas.sweeps.callback import SweepTracker

    uri = f"sqlite:///{fresh_mlflow_db}"
    client = MlflowClient(tracking_uri=uri)
    parent = client.create_run(client.create_experiment("relmas-tune-lost")).info.run_id
    trial_dir = tmp_path / "trial"
    trial_dir.mkdir()
    rows = [{"training_iteration": i, "sla_rate": i / 10} for i in range(1, 5)]
    (trial_dir / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    state = tmp_path / "s.relmas_state.json"
    state.write_text(json.dumps({
        "enabled": True, "uri": uri, "experiment": "relmas-tune-lost",
        "parent_run_id": parent, "parent_local_id": "p",
        "trials": {"t1": {"status": "running", "run_id": "", "local_id": ""}},
    }))  # fmt: skip
    tracker = SweepTracker(state)
    tracker.setup()
    config = {"scenario": "tiny.yaml", "scheduler": "edf", "n_simba": 1, "n_eyeriss": 1,
              "dram_bandwidth_gbps": 16.0}  # fmt: skip
    trial = SimpleNamespace(trial_id="t1", config=config, local_path=str(trial_dir),
                            path=None, last_result={})  # fmt: skip
    tracker.log_trial_start(trial)
    tracker.log_trial_result(4, trial, {**rows[-1], "extra_kpi": 1.0})  # the restored report
    tracker.log_trial_end(trial)
    tracker.on_experiment_end([trial])
    [run] = client.search_runs(
        [client.get_experiment_by_name("relmas-tune-lost").experiment_id],
        filter_string="tags.trial_id = 't1'",
    )
    history = client.get_metric_history(run.info.run_id, "sla_rate")
    assert sorted((m.step, m.value) for m in history) == [(i, i / 10) for i in range(1, 5)]
    assert run.info.status == "FINISHED" and run.data.metrics["extra_kpi"] == 1.0
    assert json.loads(state.read_text())["trials"]["t1"]["status"] == "finished"


def test_a_finished_trial_without_results_on_disk_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from relmas.sweeps.callback import SweepTracker

    state = tmp_path / "s.relmas_state.json"
    state.write_text(json.dumps({"enabled": False, "trials": {}}))
    tracker = SweepTracker(state)
    tracker.setup()
    tracker._close_stale("t1", "trial_t1", {}, [])
    err = capsys.readouterr().err
    assert "relmas: trial trial_t1: Tune counts it finished, but none of its results" in err
    assert json.loads(state.read_text())["trials"]["t1"]["status"] == "finished"
