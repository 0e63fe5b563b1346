"""A sweep whose driver is SIGKILLed halfway resumes to exactly one FINISHED MLflow run per trial.

SIGKILL is the hard case that SIGINT (tests/sweeps/test_tune_resume.py) is not: no ``finally``
runs, so the killed driver leaves its parent and in-flight trial runs RUNNING, the I/O thread's
queue is lost, and Tune's saved experiment state may be older than the ledger. ``--resume`` must
re-attach or close those runs so that, in the end, MLflow holds one parent and one child per
trial, all FINISHED, and no step is logged twice.

The driver runs in its own session (``start_new_session``); only processes of that session
(found in /proc by session id) are ever signalled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from relmas_testkit import (
    RELMAS,
    TINY_SCENARIO,
    assert_one_run_per_trial,
    finished_trials,
    kill_session,
)

pytestmark = pytest.mark.slow
SEEDS = 12  # Tune iterations per trial: ~1-2 s per trial on 2 busy cores


def _sweep(tmp_path: Path) -> Path:
    """8 trials (2 chips x 4 schedulers), two at a time."""
    scen = tmp_path / "tiny.yaml"
    scen.write_text(TINY_SCENARIO)
    path = tmp_path / "killme.yaml"
    path.write_text(
        f"name: killme\ntrainable: heuristic\nscenarios: [{scen}]\nreference_hardware: 2s2e\n"
        "hardware: {n_simba: [1, 2], n_eyeriss: 1, dram_bandwidth_gbps: 16}\n"
        f"heuristic: {{schedulers: [edf, sjf, fcfs, planaria], seeds: {SEEDS}}}\n"
        "search: {max_concurrent: 2}\n"
    )
    return path


def _tune(sweep: Path, tmp_path: Path, uri: str, *extra: str) -> subprocess.Popen[str]:
    cmd = [*RELMAS, "tune", str(sweep), "--no-dashboard", "--storage", str(tmp_path / "st"),
           "--tracking-uri", uri, "--json", *extra]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "RELMAS_NO_TRACK"}
    # Tune saves its experiment state every step (default: every >= 10 s), so trials that
    # finished before the kill are TERMINATED in the saved state and are not run again.
    env["TUNE_GLOBAL_CHECKPOINT_S"] = "0"
    return subprocess.Popen(cmd, cwd=tmp_path, env=env, start_new_session=True, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def _kill_halfway(proc: subprocess.Popen[str], state: Path) -> int:
    """SIGKILL the driver's whole process group once 3 of 8 trials finished; returns that count."""
    deadline = time.monotonic() + 150
    while finished_trials(state) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, f"sweep ended before the kill: {proc.communicate()[1][-2000:]}"
    done = finished_trials(state)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return done


def _lose_driver_io(state: Path, uri: str) -> None:
    """Emulate the tracking I/O a SIGKILL can lose, on three trials that had finished.

    The driver logs through a background thread and a ledger file; a kill can land after Tune
    recorded a trial as done but before that thread (a) closed its run, (b) wrote the new run's
    id to the ledger, or (c) created the run at all. The kill itself rarely hits those
    millisecond windows, so their outcome is written here, deterministically.
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    data = json.loads(state.read_text())
    done = sorted(t for t, e in data["trials"].items() if e["status"] == "finished")
    for kind, trial_id in zip("abc", done, strict=False):
        entry = data["trials"][trial_id]
        if kind == "c":
            client.delete_run(entry["run_id"])
        else:
            client.update_run(entry["run_id"], status="RUNNING")
        entry["status"] = "running"
        if kind in "bc":
            entry["run_id"] = ""
    state.write_text(json.dumps(data))


def _cut_tune_sync(exp_dir: Path) -> None:
    """Emulate a kill during Tune's background copy of its experiment state to storage.

    Tune overwrites that file in place, so the kill can leave it truncated; Tune's restore
    then starts the sweep over with empty trial configs unless relmas repairs it from its own
    copy (relmas/sweeps/tune_state.py). Written here deterministically, like the I/O above.
    """
    newest = max(exp_dir.glob("experiment_state-*.json"), default=None)
    if newest is not None:  # none synced yet: the repair restores the missing file instead
        data = newest.read_bytes()
        newest.write_bytes(data[: len(data) // 2])


def _last_json(stdout: str) -> dict[str, Any]:
    lines = stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")
    return json.loads("\n".join(lines[start:]))


def _check_mlflow(uri: str) -> None:
    """One FINISHED parent, one FINISHED child per trial, every step exactly once."""
    assert_one_run_per_trial(uri, "relmas-tune-killme", trials=8, steps=SEEDS)


def test_sigkilled_sweep_resumes_to_one_finished_run_per_trial(
    tmp_path: Path, fresh_mlflow_db: Path
) -> None:
    uri = f"sqlite:///{fresh_mlflow_db}"
    sweep = _sweep(tmp_path)
    first = _tune(sweep, tmp_path, uri)
    try:
        state = tmp_path / "st" / "killme.relmas_state.json"
        done = _kill_halfway(first, state)
        assert 3 <= done < 8
        time.sleep(1.0)  # Ray's services follow their parent (fate sharing)
        kill_session(first.pid)  # anything left of the killed command, and nothing else
        _lose_driver_io(state, uri)
        _cut_tune_sync(tmp_path / "st" / "killme")

        resumed = _tune(sweep, tmp_path, uri, "--resume")
        out, err = resumed.communicate(timeout=240)
        # pytest shows captured output in full, unlike the assert; printed always, so a rare
        # failure of the MLflow check below (seen once, not reproduced) shows the driver's notices
        print(f"resumed sweep stdout:\n{out}\nstderr:\n{err}", file=sys.stderr)
        assert resumed.returncode == 0, (out[-3000:], err[-3000:])
        assert "resuming from relmas's copy" in err
        summary = _last_json(out)
        assert (summary["trials"], summary["finished"], summary["errored"]) == (8, 8, 0)
        _check_mlflow(uri)
    finally:
        kill_session(first.pid)
