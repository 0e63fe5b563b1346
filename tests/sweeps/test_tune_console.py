"""What ``relmas tune`` prints (issue 16: 16,607 lines for heuristics_dse): relmas's own lines
only, a handful per sweep, Ray's and MLflow's messages in a log file, ``--json`` pure JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def _tune(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "relmas", "tune", *argv, "--no-dashboard"]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def test_a_sweep_prints_a_few_relmas_lines_and_logs_the_rest(
    tmp_path: Path, sweep_file: Any, fresh_mlflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELMAS_NO_TRACK")  # tracked, into the test's own store
    sweep = sweep_file(n_simba=[1, 2], schedulers=["fcfs", "edf", "sjf"])  # 6 trials
    uri = f"sqlite:///{fresh_mlflow_db}"
    proc = _tune(str(sweep), "--storage", "st", "--tracking-uri", uri, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    err, out = proc.stderr.splitlines(), proc.stdout.splitlines()
    assert len(err) + len(out) <= 16, proc.stderr + proc.stdout
    assert all(line.startswith("relmas:") for line in err), proc.stderr
    progress = [line for line in err if "trials done" in line]
    assert progress and progress[-1].startswith("relmas: tune 6/6 trials done")
    best = progress[-1].split("best so far ")[1]
    assert any(line.endswith(best) for line in out)  # the summary names the same best trial
    assert any("tracked as run 'smoke " in line and uri in line for line in err)
    log = (tmp_path / "st" / "smoke.log").read_text()
    assert "relmas: tune 6/6" in log and len(log.splitlines()) > len(err)


def test_json_output_stays_pure_json(tmp_path: Path, sweep_file: Any) -> None:
    sweep = sweep_file(n_simba=[1], schedulers=["edf"], seeds=1)
    proc = _tune(str(sweep), "--storage", "st", "--no-track", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["finished"] == 1 and summary["best"]["scheduler"] == "edf"
    assert not (tmp_path / "mlflow.db").exists()  # nothing tracked
