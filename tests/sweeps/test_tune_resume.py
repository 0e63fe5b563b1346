"""Interrupt a sweep (SIGINT, like Ctrl-C) and ``--resume`` it: every trial runs to the end once,
and MLflow holds exactly one child run per trial with no step logged twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow
RELMAS = [sys.executable, "-m", "relmas.cli.main"]


def _tune(sweep: Path, st: Path, uri: str, *extra: str) -> subprocess.Popen[str]:
    cmd = [
        *RELMAS,
        "tune",
        str(sweep),
        "--no-dashboard",
        "--storage",
        str(st),
        "--tracking-uri",
        uri,
        "--json",
        *extra,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _last_json(stdout: str) -> dict[str, Any]:
    """The ``--json`` summary: the last block starting with a bare ``{`` line (Tune prints too)."""
    lines = stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")
    return json.loads("\n".join(lines[start:]))


def _finished_trials(state: Path) -> int:
    if not state.is_file():
        return 0
    trials = json.loads(state.read_text()).get("trials", {})
    return sum(1 for t in trials.values() if t.get("status") == "finished")


def test_interrupted_sweep_resumes_without_losing_or_repeating_trials(
    sqlite_uri: str, tmp_path: Path, sweep_file: Any, mlflow_runs: Any
) -> None:
    sweep = sweep_file(n_simba=[1, 2, 3], schedulers=["edf", "sjf"], seeds=20, name="resume")
    st = tmp_path / "st"
    proc = _tune(sweep, st, sqlite_uri)
    state = st / "resume.relmas_state.json"
    deadline = time.monotonic() + 120
    while _finished_trials(state) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, f"sweep ended before the interrupt: {proc.communicate()[1][-2000:]}"
    proc.send_signal(signal.SIGINT)  # only the process this test started
    out, err = proc.communicate(timeout=120)
    first = _last_json(out)
    assert proc.returncode == 130 and first["unfinished"] > 0, (first, err[-2000:])

    resumed = _tune(sweep, st, sqlite_uri, "--resume")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, (out[-3000:], err[-3000:])
    second = _last_json(out)
    assert (second["trials"], second["finished"], second["errored"]) == (6, 6, 0)

    runs = mlflow_runs(sqlite_uri, "relmas-tune-resume")
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert Counter(c.data.tags["trial_id"] for c in children).most_common(1)[0][1] == 1
    assert len(children) == 6 and all(c.info.status == "FINISHED" for c in children)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=sqlite_uri)
    for child in children:
        steps = [m.step for m in client.get_metric_history(child.info.run_id, "sla_rate")]
        assert sorted(steps) == list(range(1, 21)), (child.info.run_name, steps)
