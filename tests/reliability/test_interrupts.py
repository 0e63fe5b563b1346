"""Ctrl-C stops ``relmas train`` and ``relmas compare`` cleanly.

The signal goes to the command's whole process group, as a terminal's Ctrl-C does (Ray's
services block SIGINT; pool workers get it too). A clean stop means: exit code 130 with the
one-line ``relmas: interrupted`` and no traceback, the MLflow run (sqlite store in
``tmp_path``) KILLED rather than RUNNING or missing, no ``*.tmp`` / staging leftovers or half
results in the output directory, and no process of the command left behind (found in /proc by
the session id of the command, which runs in its own session).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from relmas_testkit import RELMAS, kill_session, session_pids

pytestmark = pytest.mark.slow


def _start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "RELMAS_NO_TRACK"}
    return subprocess.Popen([*RELMAS, *args], cwd=tmp_path, env=env, start_new_session=True,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def _interrupt(proc: subprocess.Popen[str], wait_s: float) -> str:
    """Ctrl-C the command's group; returns its stderr. Leftovers are killed and reported."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=wait_s)
    except subprocess.TimeoutExpired:
        kill_session(proc.pid)
        proc.communicate(timeout=60)
        pytest.fail(f"still running {wait_s:.0f} s after Ctrl-C")
    deadline = time.monotonic() + 15  # Ray's services exit shortly after the driver
    while session_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = session_pids(proc.pid)
    kill_session(proc.pid)
    assert not left, f"processes left behind: {left}"
    return err


def _assert_clean_exit(proc: subprocess.Popen[str], err: str) -> None:
    ours = [line for line in err.splitlines() if line.startswith("relmas:")]
    assert proc.returncode == 130 and ours == ["relmas: interrupted"], err[-3000:]
    assert "Traceback" not in err, err[-3000:]


def _leftovers(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.name.endswith((".tmp", ".partial"))]


def _only_run(uri: str, experiment: str) -> Any:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no {experiment} run at all"
    (run,) = client.search_runs([exp.experiment_id])
    return run


def _wait_for(predicate: Any, proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 240
    while not predicate():
        if proc.poll() is not None or time.monotonic() > deadline:
            kill_session(proc.pid)
            pytest.fail(f"never saw {what}: {proc.communicate(timeout=60)[1][-2000:]}")
        time.sleep(0.1)


def test_ctrl_c_during_training(tmp_path: Path, fresh_mlflow_db: Path) -> None:
    uri = f"sqlite:///{fresh_mlflow_db}"
    out = tmp_path / "out"
    proc = _start(tmp_path, "train", "--scenario", "toy", "--hardware", "2s2e",
                  "--batch-size", "128", "--minibatch-size", "64", "--epochs", "1",
                  "--hidden", "16", "--train-seeds", "4", "--iterations", "1000",
                  "--env-runners", "0", "--checkpoint-every", "1", "--out", str(out),
                  "--tracking-uri", uri)  # fmt: skip
    log = out / "metrics.jsonl"
    _wait_for(lambda: log.is_file() and log.read_text().count("\n") >= 2, proc, "2 iterations")
    err = _interrupt(proc, wait_s=90)
    _assert_clean_exit(proc, err)
    assert not _leftovers(out), _leftovers(out)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["iteration"] for r in rows] == list(range(1, len(rows) + 1))
    for ckpt in (out / "checkpoints").iterdir():  # only complete checkpoints are visible
        assert (ckpt / "rllib_checkpoint.json").is_file() and (ckpt / "policy.json").is_file()
    run = _only_run(uri, "relmas-train")
    assert run.info.status == "KILLED"
    from mlflow.tracking import MlflowClient

    steps = {m.step for m in MlflowClient(uri).get_metric_history(run.info.run_id, "env_steps")}
    assert {1, 2} <= steps, "iterations done before Ctrl-C are kept in the run"


def test_ctrl_c_during_compare(tmp_path: Path, fresh_mlflow_db: Path) -> None:
    uri = f"sqlite:///{fresh_mlflow_db}"
    out = tmp_path / "cmp"
    proc = _start(tmp_path, "compare", "--scenario", "heavy", "--hardware", "2s2e",
                  "--schedulers", "edf,sjf,fcfs", "--seeds", "300", "--jobs", "2",
                  "--out", str(out), "--tracking-uri", uri)  # fmt: skip
    time.sleep(3.0)
    _wait_for(lambda: len(session_pids(proc.pid)) >= 3, proc, "the worker processes")
    err = _interrupt(proc, wait_s=12)
    _assert_clean_exit(proc, err)
    assert not (out / "results.json").exists() and not _leftovers(tmp_path)
    assert _only_run(uri, "relmas-compare").info.status == "KILLED"


def test_sigterm_to_the_driver_alone_cleans_up_like_ctrl_c(
    tmp_path: Path, fresh_mlflow_db: Path
) -> None:
    """``kill PID`` / ``timeout`` / a batch scheduler: SIGTERM reaches only the driver, yet the
    EnvRunner actor and Ray's services must go too and the run must end KILLED."""
    uri = f"sqlite:///{fresh_mlflow_db}"
    out = tmp_path / "out"
    proc = _start(tmp_path, "train", "--scenario", "toy", "--hardware", "2s2e",
                  "--batch-size", "128", "--minibatch-size", "64", "--epochs", "1",
                  "--hidden", "16", "--train-seeds", "4", "--iterations", "1000",
                  "--env-runners", "1", "--out", str(out), "--tracking-uri", uri)  # fmt: skip
    log = out / "metrics.jsonl"
    _wait_for(lambda: log.is_file() and log.read_text().count("\n") >= 1, proc, "1 iteration")
    os.kill(proc.pid, signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        kill_session(proc.pid)
        pytest.fail("still running 90 s after SIGTERM")
    deadline = time.monotonic() + 20
    while session_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = session_pids(proc.pid)
    kill_session(proc.pid)
    assert not left, f"processes left behind: {left}"
    ours = [line for line in err.splitlines() if line.startswith("relmas:")]
    assert proc.returncode == 143 and ours == ["relmas: terminated"], err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert _only_run(uri, "relmas-train").info.status == "KILLED"
