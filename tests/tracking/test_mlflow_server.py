"""``relmas ui`` starts a real ``mlflow server`` on loopback; runs logged over HTTP read back.

Only the process group this test starts is signalled (``start_new_session``), never anything
found by name.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from relmas.cli.tracking_cmds import is_loopback, ui_command
from relmas.tracking import TrackingOptions, tracked_run

STARTUP_S = 90


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, "relmas ui exited before the server came up"
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"mlflow server not healthy after {STARTUP_S} s")


def test_loopback_detection_and_command_line(tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    cmd = ui_command(f"sqlite:///{tmp_path / 'm.db'}", "127.0.0.1", 5001)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1" and "--artifacts-destination" in cmd


@pytest.mark.slow
@pytest.mark.e2e
def test_relmas_ui_serves_runs_logged_over_http(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cmd = [sys.executable, "-m", "relmas.cli.main", "ui", "--port", str(port),
           "--tracking-uri", store]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        _wait_healthy(url, proc)
        art = tmp_path / "note.txt"
        art.write_text("hello")
        with tracked_run("simulate", "http-run", {"scenario": "small"}, {"seed": 1},
                         options=TrackingOptions(uri=url)) as run:  # fmt: skip
            run.log_metrics({"sla_rate": 0.5, "utilization": [0.25]})
            run.log_artifact(art)
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=url)
        exp = client.get_experiment_by_name("relmas-simulate")
        (r,) = client.search_runs([exp.experiment_id])
        assert r.data.metrics["utilization_0"] == 0.25 and r.data.params["scenario"] == "small"
        assert [a.path for a in client.list_artifacts(r.info.run_id)] == ["note.txt"]
        assert not (tmp_path / "relmas_out").exists(), "nothing may fall back offline"
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # the group started above: relmas ui + mlflow server
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
