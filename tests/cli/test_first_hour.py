"""What a new user runs into after the first run (issue 16): where runs go, shipped sweep files
by name from any directory, a busy UI port, the last SLA rate of a training."""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace

import pytest

from relmas.cli.main import main
from relmas.cli.train import final_sla


def test_ui_on_a_busy_port__one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        argv = ["ui", "--port", str(port), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"]
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port} is not free" in err and "--port" in err
    assert len(err.strip().splitlines()) == 1 and "MLflow UI on" not in err


def test_default_store_does_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from relmas.tracking.client import resolve_uri

    home = tmp_path / "home"
    (home / "hardware_models").mkdir(parents=True)
    monkeypatch.setenv("RELMAS_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    seen = set()
    for cwd in (tmp_path, tmp_path / "home", Path("/")):
        monkeypatch.chdir(cwd)
        seen.add(resolve_uri(None))
    assert seen == {f"sqlite:///{home.resolve() / 'mlflow.db'}"}
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert resolve_uri(None) == "http://127.0.0.1:5999"
    assert resolve_uri("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("tune_configs/heuristic_dse.yaml", "did you mean 'heuristics_dse'?"),
        ("quickstrat", "did you mean 'quickstart'?"),
        ("/no/such/sweep.yaml", "shipped sweep files in"),
    ],
)
def test_tune__a_missing_sweep_file_names_the_shipped_ones(
    ref: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(["tune", ref, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert expected in err and "heuristics_dse" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("ref", ["tune_configs/heuristics_dse.yaml", "heuristics_dse"])
def test_tune__shipped_sweeps_by_path_or_name_from_any_directory(
    ref: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["tune", ref, "--dry-run", "--json"]) == 0
    assert '"sweep": "heuristics_dse"' in capsys.readouterr().out


def test_train__a_misspelt_recipe_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--config", "train_hevy", "--out", "/tmp/never-written"]) == 2
    assert "did you mean 'train_heavy'?" in capsys.readouterr().err


def _stats(iteration: int, sla: float) -> SimpleNamespace:
    return SimpleNamespace(iteration=iteration, sla_rate=sla)


def test_train__ends_with_the_last_finished_episodes_sla_never_nan() -> None:
    history = [_stats(1, float("nan")), _stats(2, 0.8), *(_stats(i, float("nan")) for i in (3, 4))]
    line = final_sla(history, Path("out"))
    assert "SLA rate 0.800" in line and "iteration 2 of 4" in line and "nan" not in line
    none = final_sla([_stats(1, float("nan"))], Path("out"))
    assert "no training episode finished" in none and "relmas evaluate --checkpoint out" in none
