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

import functools
import json
import sys
from pathlib import Path
from typing import Any

from ray.tune.logger import LoggerCallback

from relmas.files import write_json_atomic
from relmas.sweeps.result_file import result_rows
from relmas.sweeps.worker import IoWorker
from relmas.tracking.run import ParentRef, TrackedRun, TrackingOptions, start_run

STATE_SUFFIX = ".relmas_state.json"


def state_path_for(exp_dir: Path) -> Path:
    """``<storage>/<sweep>.relmas_state.json``: beside, not inside, Tune's experiment dir.

    Tune stages its experiment directory and syncs it back at checkpoints; after a resume that
    sync overwrote a ledger kept inside it with the copy taken at resume time (seen in tests).
    """
    return exp_dir.parent / f"{exp_dir.name}{STATE_SUFFIX}"


# Not logged to MLflow: Tune's bookkeeping, and per-trial values that compare no designs (counts,
# the simulator's own CPU time, 95th percentiles beside the 50th and 99th). Each is a row per
# trial in the store, and a DSE sweep has hundreds of trials; Tune's result.json keeps them all.
_NOT_METRICS = frozenset(
    {"timestamp", "pid", "done", "iterations_since_restore", "time_since_restore",
     "training_iteration", "config", "date", "hostname", "node_ip", "trial_id",
     "experiment_tag", "should_checkpoint", "checkpoint_dir_name", "time_this_iter_s",
     "time_total_s", "requests", "completed", "dispatches", "cpu_s", "makespan_s",
     "energy_per_request_j", "p95_latency_s", "p95_latency_completed_s"}
)  # fmt: skip


# Logged at every step; every other KPI only at a trial's last step (see SweepTracker._result).
SERIES = ("sla_rate", "seed_sla_rate", "sla_rate_is_fresh", "energy_per_inference_j",
          "energy_per_inference_mj", "episode_return_mean", "env_steps", "hp")  # fmt: skip
SERIES_PREFIXES = ("train/", "hp/")


def _is_series(key: str) -> bool:
    return key in SERIES or key.startswith(SERIES_PREFIXES)


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
        self._logged: dict[str, set[int]] = {}  # steps each open run logged in this driver
        self._last: dict[str, tuple[int, dict[str, Any]]] = {}  # each trial's latest result
        self._state: dict[str, Any] = {}
        self._worker: IoWorker | None = None
        self._resumed = False
        self._checked = False

    def __getstate__(self) -> dict[str, Any]:
        return {"state_path": self.state_path}  # live runs hold clients: never pickled

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["state_path"])  # type: ignore[misc]

    def setup(self, *args: Any, **kwargs: Any) -> None:
        """Read the driver's options and parent ids (written before every fit/resume)."""
        self._state = read_state(self.state_path)
        self._state.setdefault("trials", {})
        self._resumed = bool(self._state["trials"])  # a fresh sweep starts with no trials
        self._worker = IoWorker()

    def _submit(self, job: Any) -> None:
        """Run ``job`` on the I/O thread (inline if setup was not called, e.g. in unit use)."""
        if self._worker is None:
            job()
        else:
            self._worker.submit(job)

    @property
    def _options(self) -> TrackingOptions:
        offline = self._state.get("offline_dir")
        return TrackingOptions(
            enabled=bool(self._state.get("enabled")),
            uri=self._state.get("uri"),
            offline_dir=Path(offline) if offline else None,
        )

    def log_trial_start(self, trial: Any) -> None:
        """Open (or, after a resume/PBT restart, re-attach to) the trial's run."""
        tid, name, config = trial.trial_id, str(trial), dict(trial.config)
        self._submit(lambda: self._start(tid, name, config))

    def _start(self, trial_id: str, name: str, config: dict[str, Any]) -> None:
        if trial_id in self._runs:
            return
        known = self._known(trial_id)
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

    def _known(self, trial_id: str) -> dict[str, Any]:
        """The trial's ledger entry; on a resume, plus a run the killed driver never recorded.

        A SIGKILL between creating a trial's run and writing its id to the ledger leaves a
        RUNNING run only MLflow knows; re-attaching to it (found by the ``trial_id`` tag under
        this sweep's parent) avoids a second run for the same trial.
        """
        known = dict(self._state["trials"].get(trial_id, {}))
        parent_id = self._state.get("parent_run_id", "")
        # Only a trial already in the ledger can have a run: its entry is written before the
        # (lazy) run is created, so unknown trials need no search.
        searchable = self._resumed and parent_id and self._state.get("enabled")
        if not known or known.get("run_id") or not searchable:
            return known
        from relmas.tracking.client import LOCAL_ID_TAG, backend, errors

        query = f"tags.trial_id = '{trial_id}' and tags.`mlflow.parentRunId` = '{parent_id}'"
        try:
            store = backend(self._state["uri"])
            exp_id = store.experiment_id(self._state["experiment"])
            found = store.client.search_runs([exp_id], filter_string=query, max_results=1)
        except errors():
            return known  # store down: the run falls back offline as usual
        if found:
            tags = found[0].data.tags
            known |= {"run_id": found[0].info.run_id, "local_id": tags.get(LOCAL_ID_TAG, "")}
        return known

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

    @staticmethod
    def _values(result: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        """What one result logs: its metrics plus PBT-mutable reward coefficients as ``hp/``."""
        values = {k: v for k, v in result.items() if k not in _NOT_METRICS}
        energy = values.get("energy_per_inference_j")
        if isinstance(energy, int | float):  # the unit of the UI's saved view and the tables
            values["energy_per_inference_mj"] = energy * 1e3
        reward = config.get("rl", {}).get("recipe", {}).get("reward", {})
        values["hp"] = {k: v for k, v in reward.items() if isinstance(v, int | float)}
        return values

    def log_trial_result(self, iteration: int, trial: Any, result: dict[str, Any]) -> None:
        """Buffer the numeric results (one batched request at most every few seconds)."""
        step = int(result.get("training_iteration", iteration))
        values = self._values(result, trial.config)
        tid = trial.trial_id
        self._submit(lambda: self._result(tid, step, values))

    def _result(self, trial_id: str, step: int, values: dict[str, Any]) -> None:
        """Each step logs the series (``SERIES``); the trial's last step, in :meth:`_end`,
        every KPI. Why: a heuristic trial's running seed-means are superseded by its last
        result, and its ~45 KPIs at every step doubled the rows MLflow writes per trial."""
        run = self._runs.get(trial_id)
        if run is None or step <= self._skip.get(trial_id, -1):
            return
        run.log_metrics({k: v for k, v in values.items() if _is_series(k)}, step=step)
        self._logged.setdefault(trial_id, set()).add(step)
        self._last[trial_id] = (step, values)
        self._remember(trial_id, run, "running")

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        """Close the trial's run; the state file records it as finished or failed.

        On a resumed sweep the run first gets the steps of the trial's ``result.json`` it
        lacks: a trial Tune restores from its last checkpoint can end without reporting
        again, and if the killed driver's run for it was lost, its new run would end empty.
        """
        tid, config = trial.trial_id, dict(trial.config)
        rows = result_rows(trial) if self._resumed else []
        self._submit(lambda: self._end(tid, failed, rows, config))

    def _end(
        self,
        trial_id: str,
        failed: bool,
        rows: list[dict[str, Any]] | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        run = self._runs.pop(trial_id, None)
        if run is not None and rows:
            self._backfill(trial_id, run, rows, config or {})
        self._logged.pop(trial_id, None)
        step, values = self._last.pop(trial_id, (-1, {}))
        if run is not None and step >= 0:
            run.log_metrics({k: v for k, v in values.items() if not _is_series(k)}, step=step)
        if run is not None:
            run.end("FAILED" if failed else "FINISHED")
        self._remember(trial_id, run, "failed" if failed else "finished")

    def _backfill(
        self, trial_id: str, run: TrackedRun, rows: list[dict[str, Any]], config: dict[str, Any]
    ) -> None:
        """Log the series of every row the run lacks (neither stored before a re-attach nor
        logged since); the latest row becomes the one whose KPIs :meth:`_end` logs."""
        logged, floor = self._logged.get(trial_id, set()), self._skip.get(trial_id, -1)
        for row in rows:
            step = int(row.get("training_iteration", 0))
            if step <= floor or step in logged:
                continue
            values = self._values(row, config)
            run.log_metrics({k: v for k, v in values.items() if _is_series(k)}, step=step)
            if step > self._last.get(trial_id, (-1, {}))[0]:
                self._last[trial_id] = (step, values)

    def on_step_begin(self, iteration: int, trials: list[Any], **info: Any) -> None:
        """Once per fit: close the runs of trials that Tune already counts as done.

        A driver killed after Tune saved a trial as TERMINATED, but before this callback's I/O
        thread closed its run, leaves the run RUNNING (or not yet created) and the ledger at
        "running". Tune never runs that trial again, so it is closed here from the trial's
        ``result.json``: same run, missing steps only, FINISHED.
        """
        if self._checked:
            return
        self._checked = True
        for trial in trials:
            entry = self._state["trials"].get(trial.trial_id, {})
            if trial.status == "TERMINATED" and entry.get("status") != "finished":
                args = (trial.trial_id, str(trial), dict(trial.config), result_rows(trial))
                self._submit(functools.partial(self._close_stale, *args))

    def _close_stale(
        self, trial_id: str, name: str, config: dict[str, Any], rows: list[dict[str, Any]]
    ) -> None:
        if not rows:  # never silently: the run ends without a single step
            print(f"relmas: trial {name}: Tune counts it finished, but none of its results "
                  "are on disk (result.json); its MLflow run is closed without steps",
                  file=sys.stderr, flush=True)  # fmt: skip
        self._start(trial_id, name, config)
        for row in rows:
            step = int(row.get("training_iteration", 0))
            self._result(trial_id, step, self._values(row, config))
        self._end(trial_id, failed=False)

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        """Wait for queued I/O; runs of interrupted trials stay RUNNING (flushed) to resume."""
        self._submit(self._flush_open_runs)
        if self._worker is not None:
            self._worker.drain()

    def _flush_open_runs(self) -> None:
        for trial_id, run in self._runs.items():
            run.flush()
            self._remember(trial_id, run, "running")
