"""Run (or resume) a sweep: Ray start-up, the Tuner, the MLflow parent run and the Pareto front.

The parent MLflow run is opened here, on the driver, before Tune starts; its ids go into the
state file that :class:`~relmas.sweeps.callback.SweepTracker` reads, so after ``--resume`` the
same parent and the same unfinished trial runs continue (finished trials are not re-run by Tune
and so are not re-logged).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relmas.errors import UserError
from relmas.evaluation.summary import rank_key
from relmas.files import write_json_atomic
from relmas.sweeps.config import SweepConfig, load_sweep
from relmas.tracking.run import TrackedRun, TrackingOptions, start_run


@dataclass(frozen=True)
class SweepOutcome:
    """What ``relmas tune`` prints."""

    experiment_dir: Path
    trials: int
    finished: int
    errored: int
    wall_s: float
    best: dict[str, Any]
    pareto_json: Path | None
    parent_run_id: str


def _search_alg(cfg: SweepConfig) -> Any:
    from ray.tune.search import ConcurrencyLimiter

    algo = cfg.search.algorithm
    if algo in ("grid", "random"):
        return None
    try:
        if algo == "optuna":
            from ray.tune.search.optuna import OptunaSearch as Searcher
        else:
            from ray.tune.search.hyperopt import HyperOptSearch as Searcher
        searcher = Searcher()
    except (ImportError, AssertionError) as exc:
        raise UserError(
            "search.algorithm",
            f"{algo} is not installed ({exc})",
            f"pip install {algo}, or use grid/random",
        ) from None
    return ConcurrencyLimiter(searcher, max_concurrent=cfg.search.max_concurrent)


def _scheduler(cfg: SweepConfig, max_t: int) -> Any:
    from ray.tune.schedulers import ASHAScheduler, PopulationBasedTraining

    from relmas.sweeps.space import to_tune

    s = cfg.scheduler
    if s.type == "asha":
        return ASHAScheduler(
            time_attr="training_iteration",
            max_t=max_t,
            grace_period=s.grace_period,
            reduction_factor=s.reduction_factor,
        )
    if s.type == "pbt":
        reward = {k: to_tune(d, True) for k, d in s.mutations.items()}
        mutations = {"rl": {"recipe": {"reward": reward}}}
        return PopulationBasedTraining(
            time_attr="training_iteration",
            perturbation_interval=s.perturbation_interval,
            hyperparam_mutations=mutations,
        )
    return None


def _trainable(cfg: SweepConfig) -> Any:
    from ray import tune

    from relmas.sweeps.trainables import RelmasTrainable, heuristic_trainable

    fn = heuristic_trainable if cfg.trainable == "heuristic" else RelmasTrainable
    return tune.with_resources(fn, {"cpu": cfg.cpus_per_trial})


def _max_t(cfg: SweepConfig) -> int:
    """Longest trial in iterations (heuristics: seeds; RL: PPO iterations)."""
    default = cfg.heuristic.seeds
    if cfg.trainable != "heuristic":
        from relmas.sweeps.space import rl_space

        space = rl_space(cfg)
        dim = space.dims.get(("iterations",))
        rl_iterations = int(dim.high()) if dim is not None else int(space.first()["iterations"])
        both = cfg.trainable == "both"
        default = max(cfg.heuristic.seeds, rl_iterations) if both else rl_iterations
    return int(cfg.stop.get("training_iteration", default))


def build_tuner(cfg: SweepConfig, exp_dir: Path, callbacks: list[Any]) -> Any:
    """A fresh Tuner for ``cfg`` writing to ``exp_dir``; relmas's progress lines replace
    Tune's per-trial boxes (``verbose=0``, :class:`~relmas.sweeps.progress.SweepProgress`)."""
    from ray import tune

    from relmas.sweeps.progress import SweepProgress
    from relmas.sweeps.space import expected_trials, param_space
    from relmas.sweeps.tune_state import TuneStateBackup

    stop = dict(cfg.stop) or {"training_iteration": _max_t(cfg)}
    ckpt = tune.CheckpointConfig()
    if cfg.trainable != "heuristic":
        freq = cfg.scheduler.perturbation_interval if cfg.scheduler.type == "pbt" else _max_t(cfg)
        ckpt = tune.CheckpointConfig(
            checkpoint_frequency=freq, num_to_keep=4, checkpoint_at_end=True
        )
    return tune.Tuner(
        _trainable(cfg),
        param_space=param_space(cfg, exp_dir / "scenarios"),
        tune_config=tune.TuneConfig(
            metric=cfg.search.metric,
            mode=cfg.search.mode,
            num_samples=cfg.search.num_samples,
            search_alg=_search_alg(cfg),
            scheduler=_scheduler(cfg, _max_t(cfg)),
            max_concurrent_trials=cfg.search.max_concurrent,
            reuse_actors=cfg.trainable == "heuristic",
        ),
        run_config=tune.RunConfig(
            name=exp_dir.name,
            storage_path=str(exp_dir.parent),
            stop=stop,
            callbacks=[*callbacks, SweepProgress(expected_trials(cfg)), TuneStateBackup(exp_dir)],
            checkpoint_config=ckpt,
            verbose=0,
        ),
    )


def experiment_name(cfg: SweepConfig) -> str:
    """The MLflow experiment of a sweep's runs."""
    return f"relmas-tune-{cfg.name}"


def _parent(cfg: SweepConfig, opts: TrackingOptions, state: dict[str, Any]) -> TrackedRun:
    """The sweep's parent run: new, or re-attached after a resume."""
    return start_run(
        "tune",
        f"{cfg.name} {time.strftime('%m-%d %H:%M')}",
        cfg.model_dump(mode="json"),
        {"sweep": cfg.name, "trainable": cfg.trainable},
        options=opts,
        experiment=experiment_name(cfg),
        attach_to=state.get("parent_run_id", ""),
        local_id=state.get("parent_local_id", ""),
    )


def _write_state(
    path: Path, parent: TrackedRun, opts: TrackingOptions, state: dict[str, Any]
) -> None:
    state.update(
        {
            "enabled": opts.enabled,
            "uri": opts.resolved_uri if opts.enabled else "",
            "experiment": parent.payload.experiment,
            "parent_run_id": parent.run_id,
            "parent_local_id": parent.local_id,
            # trial runs cut off by an outage are kept here; inside a Ray job the default
            # (relative to the job's temporary working_dir) would be deleted with it
            "offline_dir": str(opts.offline_dir.resolve()) if opts.offline_dir else "",
        }
    )
    state.setdefault("trials", {})
    write_json_atomic(path, state)


def _open(
    cfg: SweepConfig, exp_dir: Path, resume: bool, opts: TrackingOptions
) -> tuple[Any, TrackedRun]:
    """Tuner + parent run, checking that resume/fresh matches what is on disk."""
    from ray import tune

    from relmas.sweeps.callback import SweepTracker, read_state, state_path_for

    state_path = state_path_for(exp_dir)
    exists = tune.Tuner.can_restore(str(exp_dir))
    if resume and not exists:
        raise UserError("--resume", f"no sweep to resume in {exp_dir}", "run without --resume")
    if not resume and exists:
        raise UserError(
            "sweep",
            f"{exp_dir} already holds this sweep",
            "add --resume to continue it, or use another --storage",
        )
    if resume:  # before anything is written: a damaged state without a copy is a user error
        _repair(exp_dir)
    state = read_state(state_path) if resume else {}
    if resume and opts.uri is None and state.get("uri"):
        opts = TrackingOptions(enabled=opts.enabled, uri=state["uri"])
    parent = _parent(cfg, opts, state)
    _write_state(state_path, parent, opts, state)
    if resume:
        tuner = _restore(cfg, exp_dir)
    else:
        tuner = build_tuner(cfg, exp_dir, [SweepTracker(state_path)])
    return tuner, parent


def _repair(exp_dir: Path) -> None:
    """Tune's restore files, repaired from relmas's copy if a kill cut them off (printed)."""
    from relmas.sweeps.tune_state import repair

    notice = repair(exp_dir)
    if notice:
        print(f"relmas: {notice}", file=sys.stderr, flush=True)


def _restore(cfg: SweepConfig, exp_dir: Path) -> Any:
    """``Tuner.restore`` with the param space passed again: ``tuner.pkl`` does not keep it,
    and without it a restore Tune could not read would restart the sweep with empty trial
    configs (:mod:`relmas.sweeps.tune_state`)."""
    from ray import tune

    from relmas.sweeps.space import param_space

    return tune.Tuner.restore(
        str(exp_dir),
        trainable=_trainable(cfg),
        param_space=param_space(cfg, exp_dir / "scenarios"),
        resume_unfinished=True,
        resume_errored=True,
    )


def _counts(cfg: SweepConfig, exp_dir: Path) -> tuple[int, int, int]:
    """(expected, finished, failed) trials from the sweep's ledger (survives interruptions)."""
    from relmas.sweeps.callback import read_state, state_path_for
    from relmas.sweeps.space import expected_trials

    statuses = [t.get("status") for t in read_state(state_path_for(exp_dir))["trials"].values()]
    return expected_trials(cfg), statuses.count("finished"), statuses.count("failed")


def _finish(
    cfg: SweepConfig, results: Any, exp_dir: Path, parent: TrackedRun, wall_s: float
) -> SweepOutcome:
    """Pareto front and parent-run summary; the parent stays RUNNING if trials are missing."""
    from relmas.sweeps.pareto import point, write_pareto

    points = [p for r in results if r.metrics and (p := point(r.config, r.metrics)) is not None]
    pareto = None
    if points:
        pareto, png = write_pareto(points, exp_dir, f"{cfg.name}: Pareto front")
        parent.log_artifact(pareto)
        parent.log_artifact(png)
    best = max(
        points, key=lambda p: rank_key(p["sla_rate"], p["energy_per_inference_j"]), default={}
    )
    expected, finished, failed = _counts(cfg, exp_dir)
    parent.log_metrics(
        {
            "trials": expected,
            "finished": finished,
            "errored": failed,
            "wall_s": wall_s,
            "best_sla_rate": best.get("sla_rate", float("nan")),
            # the saved UI view's columns: a collapsed parent row reads as the sweep's best
            "sla_rate": best.get("sla_rate", float("nan")),
            "energy_per_inference_mj": best.get("energy_per_inference_j", float("nan")) * 1e3,
        }
    )
    if finished + failed < expected:
        parent.flush()  # stays RUNNING: --resume continues it
    else:
        parent.set_tags({"best": f"{best.get('hardware')} {best.get('scheduler')}"})
        parent.end("FAILED" if failed else "FINISHED")
        parent.announce()
    return SweepOutcome(exp_dir, expected, finished, failed, wall_s, best, pareto, parent.run_id)


def run_sweep(
    path: Path, *, storage: Path, resume: bool = False, options: TrackingOptions | None = None
) -> SweepOutcome:
    """Validate the file, run (or resume) the Tuner, write the Pareto front, close the parent."""
    cfg = load_sweep(path)
    exp_dir = (storage / cfg.name).resolve()
    started = time.perf_counter()
    tuner, parent = _open(cfg, exp_dir, resume, options or TrackingOptions())
    results = tuner.fit()
    from relmas.sweeps.worker import drain_all

    drain_all()
    return _finish(cfg, results, exp_dir, parent, time.perf_counter() - started)
