"""Optuna, HyperOpt and ASHA run in a real Tune sweep over a distribution-valued hardware space.

Grid search cannot express distributions and searchers reject ``grid_search``, so this is the
path a user takes for a sampled design space; ASHA must stop weak trials early.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from relmas.sweeps.run import run_sweep
from relmas.tracking import TrackingOptions

pytestmark = pytest.mark.slow

SPACE = "{n_simba: {randint: [1, 3]}, n_eyeriss: {randint: [0, 2]}, dram_bandwidth_gbps: " \
        "{uniform: [8, 32]}}"  # fmt: skip


def _sweep(tmp_path: Path, scenario: Path, algorithm: str, scheduler: str, seeds: int) -> Path:
    path = tmp_path / f"{algorithm}_{scheduler}.yaml"
    path.write_text(
        f"name: search_{algorithm}_{scheduler}\ntrainable: heuristic\nscenarios: [{scenario}]\n"
        f"reference_hardware: 2s2e\nhardware: {SPACE}\n"
        f"heuristic: {{schedulers: [fcfs, sjf], seeds: {seeds}}}\n"
        f"search: {{algorithm: {algorithm}, num_samples: 3, max_concurrent: 2}}\n"
        f"scheduler: {{type: {scheduler}, grace_period: 1, reduction_factor: 2}}\n"
    )
    return path


@pytest.mark.parametrize("algorithm", ["optuna", "hyperopt"])
def test_searcher_samples_the_space(
    algorithm: str, ray_local: Any, tmp_path: Path, small_scenario: Path
) -> None:
    pytest.importorskip(algorithm)
    sweep = _sweep(tmp_path, small_scenario, algorithm, "fifo", seeds=1)
    out = run_sweep(sweep, storage=tmp_path / "st", options=TrackingOptions(enabled=False))
    # A searcher samples the scheduler list too (grids become choices): one trial per sample.
    assert (out.trials, out.finished, out.errored) == (3, 3, 0)
    assert 1 <= out.best["n_accels"] <= 5
    assert 8.0 <= out.best["dram_bandwidth_gbps"] <= 32.0


def test_asha_stops_weak_trials_early(ray_local: Any, tmp_path: Path, small_scenario: Path) -> None:
    sweep = _sweep(tmp_path, small_scenario, "random", "asha", seeds=4)
    out = run_sweep(sweep, storage=tmp_path / "st", options=TrackingOptions(enabled=False))
    assert out.finished == out.trials == 6
    iterations = [
        len((d / "result.json").read_text().strip().splitlines())
        for d in out.experiment_dir.iterdir()
        if (d / "result.json").is_file()
    ]
    assert max(iterations) == 4, "the best trials run all 4 seeds (one per iteration)"
    assert min(iterations) < 4, "ASHA must stop at least one weaker trial early"
