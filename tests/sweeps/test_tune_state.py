"""relmas's copy of Tune's restore state repairs what a kill during Tune's sync cut off."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from relmas.errors import UserError
from relmas.sweeps.tune_state import backup_path_for, repair, save_backup

EXPERIMENT = "experiment_state-2026-12-03_05-36-30.json"
SEARCHER = "basic-variant-state-2026-12-03_05-36-30.json"  # a pickle despite its name


def _state(directory: Path, trials: int) -> dict[str, bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        EXPERIMENT: json.dumps({"trial_data": list(range(trials))}).encode(),
        SEARCHER: pickle.dumps({"counter": trials}),
    }
    for name, data in files.items():
        (directory / name).write_bytes(data)
    (directory / "trial_dir").mkdir(exist_ok=True)  # trial folders are not state
    return files


def test_intact_state_is_left_alone(tmp_path: Path) -> None:
    exp = tmp_path / "st" / "sweep"
    files = _state(exp, 3)
    assert repair(exp) is None
    assert {n: (exp / n).read_bytes() for n in files} == files
    assert not backup_path_for(exp).exists()


def test_cut_off_experiment_state_comes_back_from_the_copy(tmp_path: Path) -> None:
    staging, exp = tmp_path / "staging", tmp_path / "st" / "sweep"
    files = _state(staging, 5)
    save_backup(staging, exp)
    _state(exp, 4)  # storage: the previous sync, then the next one cut off mid-copy
    (exp / EXPERIMENT).write_bytes(files[EXPERIMENT][:10])
    notice = repair(exp)
    assert notice is not None and EXPERIMENT in notice
    assert {n: (exp / n).read_bytes() for n in files} == files  # one consistent set


def test_cut_off_searcher_pickle_is_detected(tmp_path: Path) -> None:
    staging, exp = tmp_path / "staging", tmp_path / "st" / "sweep"
    files = _state(staging, 2)
    save_backup(staging, exp)
    _state(exp, 2)
    (exp / SEARCHER).write_bytes(files[SEARCHER][:7])
    assert repair(exp) is not None
    assert (exp / SEARCHER).read_bytes() == files[SEARCHER]


def test_damaged_state_without_a_copy_is_a_one_line_error(tmp_path: Path) -> None:
    exp = tmp_path / "st" / "sweep"
    _state(exp, 2)
    (exp / EXPERIMENT).write_bytes(b'{"trial_da')
    with pytest.raises(UserError, match=r"^--resume: .*damaged.*another --storage") as info:
        repair(exp)
    assert "\n" not in str(info.value)


def test_backup_needs_an_experiment_state(tmp_path: Path) -> None:
    """Before Tune's first save there is nothing worth copying (no empty backup)."""
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / SEARCHER).write_bytes(pickle.dumps({}))
    save_backup(staging, tmp_path / "st" / "sweep")
    assert not backup_path_for(tmp_path / "st" / "sweep").exists()


def test_resume_of_a_damaged_sweep_stops_before_writing(
    tmp_path: Path, sweep_file: Callable[..., Path]
) -> None:
    """``relmas tune --resume`` on a damaged state with no copy: the one-line error, and no
    ledger or MLflow parent is created first (Tune itself is never started)."""
    from relmas.sweeps.callback import state_path_for
    from relmas.sweeps.run import run_sweep

    storage = tmp_path / "st"
    exp = storage / "smoke"
    _state(exp, 2)
    (exp / "tuner.pkl").write_bytes(b"")  # what Tuner.can_restore looks for
    (exp / EXPERIMENT).write_bytes(b"{")
    with pytest.raises(UserError, match=r"^--resume: "):
        run_sweep(sweep_file(n_simba=[1], schedulers=["fcfs"]), storage=storage, resume=True)
    assert not state_path_for(exp).exists()
