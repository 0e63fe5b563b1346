"""Fixtures for sweep tests: a tiny scenario + sweep file, a migrated sqlite store, local Ray."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def write_sweep(
    tmp_path: Path,
    scen: Path,
    n_simba: list[int],
    schedulers: list[str],
    seeds: int = 2,
    name: str = "smoke",
) -> Path:
    """A heuristic sweep file over ``n_simba`` x ``schedulers`` on the 40-request scenario."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"name: {name}\ntrainable: heuristic\nscenarios: [{scen}]\nreference_hardware: 2s2e\n"
        f"hardware: {{n_simba: {n_simba}, n_eyeriss: 1, dram_bandwidth_gbps: 16}}\n"
        f"heuristic: {{schedulers: {schedulers}, seeds: {seeds}}}\n"
        "search: {max_concurrent: 2}\n"
    )
    return path


@pytest.fixture()
def sqlite_uri(tmp_path: Path, fresh_mlflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated sqlite store in ``tmp_path`` (cwd too, so offline files land there)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("RELMAS_NO_TRACK", raising=False)
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def _mlflow_runs(uri: str, experiment: str) -> list[Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no experiment {experiment}"
    return client.search_runs([exp.experiment_id])


@pytest.fixture()
def mlflow_runs() -> Callable[[str, str], list[Any]]:
    """``mlflow_runs(uri, experiment)``: all runs of an experiment."""
    return _mlflow_runs


@pytest.fixture()
def sweep_file(tmp_path: Path, small_scenario: Path) -> Callable[..., Path]:
    """``sweep_file(n_simba=[..], schedulers=[..], seeds=2, name="smoke")`` -> path."""
    return lambda **kw: write_sweep(tmp_path, small_scenario, **kw)
