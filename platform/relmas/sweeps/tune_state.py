"""A copy of Tune's restore state that a SIGKILL cannot cut off, and the repair that uses it.

Why: Tune writes its experiment state into a driver staging directory, then copies it to the
sweep's storage in a background thread, overwriting the previous copy in place. A driver killed
during that copy leaves a truncated ``experiment_state-*.json`` in storage. ``Tuner.restore``
then cannot read it, logs "Failed to restore the run state" and quietly starts a *new*
experiment from the param space, which ``tuner.pkl`` does not keep: the resumed sweep ran one
trial with an empty config and failed with ``KeyError: 'n_simba'`` (seen in CI, Ray 2.60).

:class:`TuneStateBackup` is a Tune callback whose ``get_state`` runs right after Tune has
written a complete state into staging (``TuneController.save_to_dir`` saves the experiment,
then the searcher, then asks the callbacks); it packs those files into one pickle beside the
experiment directory, written atomically, so the copy is always whole and never older than
what storage holds. :func:`repair` runs before ``Tuner.restore``: if a state file in storage
does not load, the copy replaces the set.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

from ray.tune import Callback

from relmas.errors import UserError
from relmas.files import atomic_output

BACKUP_SUFFIX = ".relmas_tune_state.pkl"
EXPERIMENT_STATE = "experiment_state-*.json"


def backup_path_for(exp_dir: Path) -> Path:
    """``<storage>/<sweep>.relmas_tune_state.pkl``: beside Tune's directory, which Tune syncs."""
    return exp_dir.parent / f"{exp_dir.name}{BACKUP_SUFFIX}"


def state_files(directory: Path) -> list[Path]:
    """Tune's top-level restore files (experiment, searcher and callback state)."""
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and "state" in p.name and not p.name.startswith(("tmp-", "."))
    )


def _loads(path: Path) -> bool:
    """Whether a state file reads back: the experiment state is JSON, the others pickles."""
    try:
        data = path.read_bytes()
        if path.match(EXPERIMENT_STATE):
            json.loads(data)
        else:
            pickle.loads(data)
    except Exception:  # any failure to read back means the copy was cut off or damaged
        return False
    return True


def save_backup(staging: Path, exp_dir: Path) -> None:
    """Pack staging's state files into the backup (one atomic write: a whole set or none)."""
    files = {p.name: p.read_bytes() for p in state_files(staging)}
    if any(Path(name).match(EXPERIMENT_STATE) for name in files):
        with atomic_output(backup_path_for(exp_dir), "wb") as fh:
            pickle.dump(files, fh)


def repair(exp_dir: Path) -> str | None:
    """Replace damaged state files in ``exp_dir`` by the backup; a notice if it did, else None.

    Raises a :class:`UserError` when storage is damaged and there is no usable backup: resuming
    would silently start the sweep over with empty trial configs.
    """
    present = state_files(exp_dir)
    damaged = [p for p in present if not _loads(p)]
    if not damaged and any(p.match(EXPERIMENT_STATE) for p in present):
        return None
    backup = backup_path_for(exp_dir)
    try:
        files: dict[str, bytes] = pickle.loads(backup.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        names = ", ".join(p.name for p in damaged) or f"no {EXPERIMENT_STATE}"
        raise UserError(
            "--resume",
            f"Tune's saved state in {exp_dir} is damaged ({names}) and relmas has no copy "
            f"({type(exc).__name__})",
            "start the sweep again with another --storage",
        ) from None
    for path in damaged:
        if path.name not in files:
            path.unlink()
    for name, data in files.items():
        with atomic_output(exp_dir / name, "wb") as fh:
            fh.write(data)
    cut = ", ".join(p.name for p in damaged) or "missing"
    return f"Tune's saved state was cut off ({cut}); resuming from relmas's copy ({backup.name})"


class TuneStateBackup(Callback):  # type: ignore[misc]
    """Keeps :func:`backup_path_for` up to date with every state Tune saves (driver side)."""

    def __init__(self, exp_dir: Path) -> None:
        self.exp_dir = Path(exp_dir)
        self._staging: Path | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"exp_dir": self.exp_dir}  # the staging dir belongs to one driver session

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["exp_dir"])  # type: ignore[misc]

    def on_step_begin(self, iteration: int, trials: list[Any], **info: Any) -> None:
        if self._staging is None and trials:
            self._staging = Path(trials[0].storage.experiment_driver_staging_path)

    def get_state(self) -> dict[str, Any] | None:
        """Called by Tune right after it saved its state into staging: copy that state."""
        if self._staging is not None:
            save_backup(self._staging, self.exp_dir)
        return None  # nothing of ours to restore
