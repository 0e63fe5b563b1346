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
