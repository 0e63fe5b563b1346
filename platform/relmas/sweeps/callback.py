"""Tune -> MLflow: one child run per trial under the sweep's parent run, logged in batches.

Why not Ray's ``MLflowLoggerCallback``: it sends one request per param and per metric (about 2 s
per result on sqlite, measured in docs/reference) and re-logs params on PBT mutations, which
MLflow rejects. Here each trial result becomes buffered ``log_batch`` calls (flushed at most
every few seconds and at trial end), params are the trial config once, and PBT's mutated reward
coefficients are logged as ``hp/...`` metrics. The callback pickles only the path of a small
state file (``<storage>/<sweep>.relmas_state.json``): Tune stores callbacks in its
restore state, and the file lets a resumed sweep re-attach to the same parent and trial runs, so
nothing is logged twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ray.tune.logger import LoggerCallback

from relmas.sweeps.worker import IoWorker
from relmas.tracking.payload import write_json_atomic
from relmas.tracking.run import ParentRef, TrackedRun, TrackingOptions, start_run

STATE_SUFFIX = ".relmas_state.json"


def state_path_for(exp_dir: Path) -> Path:
    """``<storage>/<sweep>.relmas_state.json``: beside, not inside, Tune's experiment dir.

    Tune stages its experiment directory and syncs it back at checkpoints; after a resume that
    sync overwrote a ledger kept inside it with the copy taken at resume time (seen in tests).
    """
    return exp_dir.parent / f"{exp_dir.name}{STATE_SUFFIX}"


_NOT_METRICS = frozenset(
    {
        "timestamp",
        "pid",
        "done",
        "iterations_since_restore",
        "time_since_restore",
        "training_iteration",
        "config",
        "date",
        "hostname",
        "node_ip",
        "trial_id",
        "experiment_tag",
        "should_checkpoint",
        "checkpoint_dir_name",
    }
)


def read_state(path: Path) -> dict[str, Any]:
    """The tracking state of a sweep (empty dict if none yet)."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def trial_tags(config: dict[str, Any]) -> dict[str, Any]:
    """Searchable tags of a trial: what it ran on and with which scheduler."""
    from relmas.sweeps.kpis import chip_of

    return {
        "scenario": Path(str(config.get("scenario", ""))).stem,
        "hardware": chip_of(config),
        "scheduler": config.get("scheduler", ""),
        "seed": 0,
    }


class SweepTracker(LoggerCallback):  # type: ignore[misc]
    """Driver-side MLflow logging of every trial (one child run each)."""

    def __init__(self, state_path: Path) -> None:
        self.state_path = Path(state_path).resolve()
        self._runs: dict[str, TrackedRun] = {}
        self._skip: dict[str, int] = {}
        self._state: dict[str, Any] = {}
        self._worker: IoWorker | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"state_path": self.state_path}  # live runs hold clients: never pickled

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["state_path"])  # type: ignore[misc]

    def setup(self, *args: Any, **kwargs: Any) -> None:
        """Read the driver's options and parent ids (written before every fit/resume)."""
        self._state = read_state(self.state_path)
        self._state.setdefault("trials", {})
        self._worker = IoWorker()

    def _submit(self, job: Any) -> None:
        """Run ``job`` on the I/O thread (inline if setup was not called, e.g. in unit use)."""
        if self._worker is None:
            job()
        else:
            self._worker.submit(job)

    @property
    def _options(self) -> TrackingOptions:
        return TrackingOptions(enabled=bool(self._state.get("enabled")), uri=self._state.get("uri"))

    def log_trial_start(self, trial: Any) -> None:
        """Open (or, after a resume/PBT restart, re-attach to) the trial's run."""
        tid, name, config = trial.trial_id, str(trial), dict(trial.config)
        self._submit(lambda: self._start(tid, name, config))

    def _start(self, trial_id: str, name: str, config: dict[str, Any]) -> None:
        if trial_id in self._runs:
            return
        known = self._state["trials"].get(trial_id, {})
        if not self._state.get("enabled"):
            self._remember(trial_id, None, "running")
            return
        parent = ParentRef(self._state.get("parent_run_id", ""), self._state["parent_local_id"])
        run = start_run(
            "tune",
            name,
            config,
            {**trial_tags(config), "trial_id": trial_id},
            options=self._options,
            experiment=self._state["experiment"],
            parent=parent,
            attach_to=known.get("run_id", ""),
            local_id=known.get("local_id", ""),
            lazy=True,
        )
        self._runs[trial_id] = run
        if known.get("run_id") and run.online:  # resumed: do not log the same steps twice
            self._skip[trial_id] = self._last_step(run)
        self._remember(trial_id, run, "running")

    def _remember(self, trial_id: str, run: TrackedRun | None, status: str) -> None:
        """Persist the trial's status and run ids (lazy runs get an id at the first flush).

        The file is also the sweep's ledger: ``relmas tune`` counts finished and failed trials
        from it, across interruptions, whether or not MLflow tracking is on.
        """
        entry = {"status": status}
        if run is not None:
            entry |= {"run_id": run.run_id, "local_id": run.local_id}
        if self._state["trials"].get(trial_id) != entry:
            self._state["trials"][trial_id] = entry
            write_json_atomic(self.state_path, self._state)

    @staticmethod
    def _last_step(run: TrackedRun) -> int:
        """Highest step already stored for a re-attached run (-1 if none or store failed)."""
        from relmas.tracking.client import backend

        history = run._call(
            lambda: backend(run.uri).client.get_metric_history(run.run_id, "sla_rate")
        )
        return max((m.step for m in history or []), default=-1)

    def log_trial_result(self, iteration: int, trial: Any, result: dict[str, Any]) -> None:
        """Buffer the numeric results (one batched request at most every few seconds)."""
        step = int(result.get("training_iteration", iteration))
        values = {k: v for k, v in result.items() if k not in _NOT_METRICS}
        reward = trial.config.get("reward", {})
        values["hp"] = {k: v for k, v in reward.items() if isinstance(v, int | float)}
        tid = trial.trial_id
        self._submit(lambda: self._result(tid, step, values))

    def _result(self, trial_id: str, step: int, values: dict[str, Any]) -> None:
        run = self._runs.get(trial_id)
        if run is None or step <= self._skip.get(trial_id, -1):
            return
        run.log_metrics(values, step=step)
        self._remember(trial_id, run, "running")

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        """Close the trial's run; the state file records it as finished or failed."""
        tid = trial.trial_id
        self._submit(lambda: self._end(tid, failed))

    def _end(self, trial_id: str, failed: bool) -> None:
        run = self._runs.pop(trial_id, None)
        if run is not None:
            run.end("FAILED" if failed else "FINISHED")
        self._remember(trial_id, run, "failed" if failed else "finished")

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        """Wait for queued I/O; runs of interrupted trials stay RUNNING (flushed) to resume."""
        self._submit(self._flush_open_runs)
        if self._worker is not None:
            self._worker.drain()

    def _flush_open_runs(self) -> None:
        for trial_id, run in self._runs.items():
            run.flush()
            self._remember(trial_id, run, "running")
