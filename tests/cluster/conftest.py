"""Fixtures for the cluster tests: a real Ray head (token auth, job server) and an MLflow server,
both on loopback at free ports, started once per module and always stopped.

Only processes started here are ever signalled: each server runs in a session of its own, and
stopping it signals that process group plus every descendant of its leader (a job's driver runs
in a session of its own under the head). Nothing is found by name and ``ray stop`` is never
called: it stops every Ray process of the user, including other people's. The head gets its own
``--temp-dir`` (its ``ray_current_cluster`` file stays there, so ``address="auto"`` elsewhere is
unaffected) and its own token in ``RAY_AUTH_TOKEN`` (``~/.ray/auth_token`` is neither read nor
written). ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is what keeps Ray 2.60 from replacing
``--node-ip-address=127.0.0.1`` with the machine's routable IP, so every port binds to loopback.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STARTUP_S = 120.0
STOP_GRACE_S = 3.0
RAY_PORTS = ("port", "dashboard-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
             "ray-client-server-port", "runtime-env-agent-port", "metrics-export-port",
             "node-manager-port", "object-manager-port")  # fmt: skip


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _descendants(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc), whatever session it moved to."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _signal(pids: set[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@dataclass
class Server:
    """One started server: its session leader, log file and the environment clients need."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def tail(self, lines: int = 40, pattern: str = "") -> str:
        """The end of the server's own log (or of the logs matching ``pattern`` under its
        directory, e.g. a Ray session's ``ray_client_server*.err``), for failure messages."""
        logs = sorted(self.log.parent.glob(pattern)) if pattern else [self.log]
        out = []
        for log in logs:
            text = log.read_text(errors="replace") if log.is_file() else ""
            out.append(f"== {log.name}\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(out)

    def wait_until(self, ready: Callable[[], bool]) -> None:
        """Poll ``ready`` until it holds; fail with the log if the server dies or is slow."""
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            if ready():
                return
            time.sleep(0.5)
        pytest.fail(f"{self.name} not ready after {STARTUP_S:.0f} s:\n{self.tail()}")

    def stop(self) -> None:
        """SIGTERM the group and all descendants, SIGKILL whatever is left after a short grace.

        The grace is short on purpose: ``ray start --block`` spends 30 s and more on a loaded
        machine shutting its node down politely, and this private instance keeps no state
        worth saving (its temp dir is deleted next).
        """
        tree = _descendants(self.proc.pid)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None and not tree:
                break  # all gone: never signal a (possibly reused) id again
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            _signal(tree, sig)
            deadline = time.monotonic() + STOP_GRACE_S
            while time.monotonic() < deadline and (
                self.proc.poll() is None or any(Path(f"/proc/{p}").exists() for p in tree)
            ):
                time.sleep(0.2)
            tree = {p for p in tree if Path(f"/proc/{p}").exists()}
        self.proc.wait(timeout=10)


def _http_ok(url: str, token: str = "") -> bool:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=3) as r:
            return bool(r.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


def _clean_env() -> dict[str, str]:
    """This process's environment minus anything that would point Ray or MLflow elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "MLFLOW_"))}
    env.pop("RELMAS_NO_TRACK", None)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # the job's `python` is this venv's
    return env


def start_ray_head(root: Path) -> tuple[Server, dict[str, int]]:
    """``ray start --head --block`` with a private temp dir, token and loopback ports."""
    ports = {name: free_port() for name in RAY_PORTS}
    env = _clean_env() | {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                          "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # fmt: skip
    cmd = [str(BIN / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
           "--num-cpus=2", "--include-dashboard=true", "--dashboard-host=127.0.0.1",
           "--disable-usage-stats", f"--temp-dir={root}"]  # fmt: skip
    cmd += [f"--{name}={port}" for name, port in ports.items()]
    log = root / "ray-start.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    return Server("ray head", proc, log, env), ports


def start_mlflow(root: Path, db: Path) -> tuple[Server, str]:
    """``mlflow server`` over a copy of the pre-migrated sqlite store, artifacts proxied."""
    port = free_port()
    env = _clean_env() | {"MLFLOW_DISABLE_TELEMETRY": "true",
                          "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # fmt: skip
    cmd = [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{db}",
           "--artifacts-destination", str(root / "mlartifacts"), "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1"]  # fmt: skip
    log = root / "mlflow.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    return Server("mlflow server", proc, log, env), f"http://127.0.0.1:{port}"


@dataclass
class Servers:
    """What the tests talk to: the head (dashboard + client ports) and the MLflow URI."""

    head: Server
    ports: dict[str, int]
    mlflow: Server
    mlflow_uri: str

    @property
    def dashboard(self) -> str:
        """The job submission address."""
        return f"http://127.0.0.1:{self.ports['dashboard-port']}"

    @property
    def client_env(self) -> dict[str, str]:
        """Environment for ``ray job ...`` / ``relmas tune --address``: token, venv on PATH."""
        return dict(self.head.env)


@pytest.fixture(scope="module")
def servers(_template_db: Path) -> Iterator[Servers]:
    """Start both servers in parallel, wait for both, stop both whatever happens."""
    pytest.importorskip("ray.job_submission")
    root = Path(tempfile.mkdtemp(prefix="relmas-ray-", dir="/tmp"))  # short: socket paths
    db = root / "mlflow.db"
    shutil.copyfile(_template_db, db)
    started: list[Server] = []
    try:
        head, ports = start_ray_head(root)
        started.append(head)
        mlflow, uri = start_mlflow(root, db)
        started.append(mlflow)
        token = head.env["RAY_AUTH_TOKEN"]
        dashboard = f"http://127.0.0.1:{ports['dashboard-port']}"
        head.wait_until(lambda: _http_ok(f"{dashboard}/api/jobs/", token))
        mlflow.wait_until(lambda: _http_ok(f"{uri}/health"))
        yield Servers(head, ports, mlflow, uri)
    finally:
        for server in reversed(started):
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
