"""Helpers shared by the reliability tests that drive ``relmas`` as a subprocess.

Imported as ``relmas_testkit``: ``pyproject.toml`` puts ``tests/support`` on pytest's ``pythonpath``
(the suite uses ``--import-mode=importlib``, which adds no test directory to ``sys.path``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path

RELMAS = [sys.executable, "-m", "relmas.cli.main"]
TINY_SCENARIO = """\
name: tiny
num_requests: 60
offered_load: 0.9
tenants:
  - name: vision
    models: {resnet50: 1, mobilenet_v2: 1}
    priorities: {1: 1, 9: 1}
    sla_multiplier: 3.0
    arrival: {process: poisson, load_share: 1}
"""


def session_pids(sid: int) -> list[int]:
    """Live processes of session ``sid`` (a command started with ``start_new_session=True`` and
    everything it started), found in /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def kill_session(sid: int) -> None:
    """SIGKILL every process of the session this test started (by pid, nothing else)."""
    for pid in session_pids(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def finished_trials(state: Path) -> int:
    """Trials the sweep ledger records as finished (0 while it is not written yet)."""
    try:
        trials = json.loads(state.read_text()).get("trials", {})
    except (OSError, ValueError):
        return 0
    return sum(1 for t in trials.values() if t.get("status") == "finished")
