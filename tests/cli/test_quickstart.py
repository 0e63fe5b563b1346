"""``relmas quickstart`` run twice in a row (issue 16: the second run used to stop with exit 2,
"already holds this sweep"), shrunk to test size: the same phases, sweep file shape and code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from relmas.cli import quickstart
from relmas.cli.main import main

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _tiny_sweep(tmp_path: Path, scenario: Path) -> Path:
    """tune_configs/quickstart.yaml on the 40-request scenario, one chip, one PPO iteration."""
    data = yaml.safe_load((REPO / quickstart.QUICKSTART_SWEEP).read_text())
    data.update(scenarios=[str(scenario)], num_requests=30)
    data["hardware"]["n_eyeriss"] = 1
    data["heuristic"] = {"schedulers": ["fcfs", "edf"], "seeds": 1}
    data["rl"].update(iterations=1, batch_size=64, minibatch_size=32, epochs=1,
                      hidden=[16], train_seeds=2, episode_requests=10, eval_seeds=1)  # fmt: skip
    path = tmp_path / "quickstart.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _last_rows(exp_dir: Path) -> dict[str, dict[str, Any]]:
    """Each trial's last reported result, by scheduler, from Tune's result.json files."""
    out = {}
    for result in exp_dir.glob("*/result.json"):
        last = json.loads(result.read_text().splitlines()[-1])
        out[last["config"]["scheduler"]] = last
    return out


def test_quickstart_runs_twice_with_phases_and_fresh_results(
    tmp_path: Path, small_scenario: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setattr(quickstart, "QUICKSTART_SWEEP", str(_tiny_sweep(tmp_path, small_scenario)))
    monkeypatch.setattr(
        quickstart,
        "COMPARE",
        {
            "scenario": str(small_scenario),
            "hardware": "2s2e",
            "schedulers": "fcfs,sjf",
            "loads": [0.5, 1.0],
        },
    )
    argv = [
        "quickstart",
        "--seeds",
        "1",
        "--jobs",
        "1",
        "--out",
        str(tmp_path / "qs"),
        "--no-track",
    ]
    stamps = []
    for attempt in (1, 2):
        assert main(argv) == 0, f"run {attempt}"
        err = capsys.readouterr().err
        for phase in ("[1/2] compare every heuristic", "[1/2] done in", "[2/2] sweep",
                      "[2/2] done in"):  # fmt: skip
            assert phase in err, (attempt, err)
        assert "usually" in err
        assert ("replaces the previous sweep" in err) == (attempt == 2)
        pareto = tmp_path / "qs" / "tune" / "quickstart" / "pareto.json"
        stamps.append(pareto.stat().st_mtime_ns)
    assert stamps[1] > stamps[0]  # fresh results, not the first run's

    rows = _last_rows(tmp_path / "qs" / "tune" / "quickstart")
    assert set(rows) == {"fcfs", "edf", "rl"}
    rl = rows["rl"]  # one metric name: the RL trial's final sla_rate is its held-out one
    assert rl["sla_rate"] == rl["eval/sla_rate"] and "train/sla_rate" in rl
