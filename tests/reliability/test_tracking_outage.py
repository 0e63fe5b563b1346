"""The tracking server dies mid-sweep: the sweep still finishes, every result waits offline, and
``relmas sync`` puts each trial on the restarted server exactly once.

A real ``mlflow server`` (loopback, free port, sqlite backend in ``tmp_path``) is stopped after
some trials were logged to it and started again after the sweep. Runs that were complete before
the outage stay; runs cut off by it (the parent, in-flight trials) are replaced by their full
offline copies, and children logged before the outage must follow their parent's new run id.
Only process groups this test started are signalled.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from relmas_testkit import RELMAS, TINY_SCENARIO, assert_one_run_per_trial, finished_trials

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
SEEDS = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sweep(tmp_path: Path) -> Path:
    """6 trials (1 chip x 6 schedulers), two at a time."""
    scen = tmp_path / "tiny.yaml"
    scen.write_text(TINY_SCENARIO)
    path = tmp_path / "outage.yaml"
    path.write_text(
        f"name: outage\ntrainable: heuristic\nscenarios: [{scen}]\nreference_hardware: 2s2e\n"
        "hardware: {n_simba: 2, n_eyeriss: 1, dram_bandwidth_gbps: 16}\n"
        f"heuristic: {{schedulers: [edf, sjf, fcfs, planaria, dysta, herald], seeds: {SEEDS}}}\n"
        "search: {max_concurrent: 2}\n"
    )
    return path


class Server:
    """``mlflow server`` on loopback over a sqlite file, in its own process group."""

    def __init__(self, db: Path, port: int) -> None:
        self.db, self.port = db, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        mlflow = Path(sys.executable).with_name("mlflow")
        cmd = [str(mlflow), "server", "--backend-store-uri", f"sqlite:///{self.db}",
               "--artifacts-destination", str(self.db.parent / "art"),
               "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]  # fmt: skip
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
        quiet = subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, env=env, start_new_session=True,
                                     stdout=quiet, stderr=quiet)  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "mlflow server exited during start-up"
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        pytest.fail("mlflow server did not come up")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


def _relmas(tmp_path: Path, *args: str, stdout: int = subprocess.PIPE) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "RELMAS_NO_TRACK"}
    return subprocess.Popen([*RELMAS, *args], cwd=tmp_path, env=env, start_new_session=True,
                            text=True, stdout=stdout, stderr=subprocess.PIPE)  # fmt: skip


class StderrWatch:
    """Collects a child's stderr on a thread; ``seen`` is set once ``marker`` was printed."""

    def __init__(self, proc: subprocess.Popen[str], marker: str) -> None:
        self.lines: list[str] = []
        self.seen = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(proc, marker), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str], marker: str) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.lines.append(line)
            if marker in line:
                self.seen.set()

    def text(self) -> str:
        self._thread.join(timeout=30)
        return "".join(self.lines)


def _sync(offline: Path, url: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """``relmas sync --json`` (in this process: a new interpreter would re-import mlflow)."""
    from relmas.cli.main import main

    capsys.readouterr()
    assert main(["sync", "--tracking-uri", url, "--offline-dir", str(offline), "--json"]) == 0
    return list(json.loads(capsys.readouterr().out))


def _check_server(url: str) -> None:
    """One FINISHED parent; one FINISHED child per trial under it, with every step once."""
    assert_one_run_per_trial(url, "relmas-tune-outage", trials=6, steps=SEEDS)


def test_sweep_survives_server_outage_and_sync_uploads_each_trial_once(
    tmp_path: Path, fresh_mlflow_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "server" / "mlflow.db"
    db.parent.mkdir()
    shutil.copyfile(fresh_mlflow_db, db)
    server = Server(db, _free_port())
    server.start()
    sweep = _relmas(tmp_path, "tune", str(_sweep(tmp_path)), "--no-dashboard", "--storage",
                    str(tmp_path / "st"), "--tracking-uri", server.url,
                    stdout=subprocess.DEVNULL)  # fmt: skip
    watch = StderrWatch(sweep, "relmas sync --tracking-uri")
    try:
        state = tmp_path / "st" / "outage.relmas_state.json"
        deadline = time.monotonic() + 150
        while finished_trials(state) < 2 and sweep.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sweep.poll() is None, "the sweep ended before the outage"
        server.stop()
        # Once the driver has noticed (its one warning line), it never calls the server again:
        # the server may come back while the rest of the sweep runs offline.
        assert watch.seen.wait(timeout=240), watch.text()[-3000:]
        server.start()
        sweep.wait(timeout=300)
        assert sweep.returncode == 0, watch.text()[-3000:]
        offline = tmp_path / "relmas_out" / "mlflow_offline"
        payloads = list(offline.glob("*/payload.json"))
        assert payloads, "results of the outage must be kept locally"

        assert len(_sync(offline, server.url, capsys)) == len(payloads)
        _check_server(server.url)
        assert _sync(offline, server.url, capsys) == []  # nothing twice
        _check_server(server.url)
    finally:
        if sweep.poll() is None:
            os.killpg(sweep.pid, signal.SIGKILL)
            sweep.wait(timeout=60)
        server.stop()
