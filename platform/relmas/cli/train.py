"""``relmas train`` and ``relmas evaluate``: PPO training of the RL scheduler and its comparison.

Ray, torch and RLlib are imported inside the command functions only, so ``relmas --help`` and the
other sub-commands stay fast. Training seeds are ``0 .. train_seeds-1``; evaluation defaults to
held-out seeds starting at 10000, so the policy is judged on traces it never saw.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from relmas.cli.common import check_output, claim_sigterm, positive_int
from relmas.cli.console import PREFIX, console, library_output_to
from relmas.cli.model_flags import add_model_flags, given_flags
from relmas.cli.simulate import HARDWARE_HELP, SCENARIO_HELP
from relmas.errors import UserError
from relmas.loaders.safe_yaml import read_yaml
from relmas.rl.recipe import Recipe
from relmas.tracking import add_tracking_args

FILE_ONLY = ("fault_tolerance", "fault_injection", "imitation")  # nested or test-only: file only

EVAL_FIRST_SEED = 10_000


class TrainJob(Recipe):
    """A train file: a :class:`~relmas.rl.recipe.Recipe` plus where to write and how many runs
    of it (neither is part of the recipe a policy records)."""

    out: Path | None = Field(None, description="output directory (required here or in --config)")
    ensemble_seeds: list[int] | None = Field(
        None,
        description="train one run per seed into OUT/seed_N and write OUT as their ensemble "
        "(relmas ensemble; docs/rl.md); unset: one run with --seed",
    )

    @field_validator("ensemble_seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int] | None) -> list[int] | None:
        """Two or more distinct non-negative seeds: an ensemble of one run is that run."""
        if seeds is not None and (len(set(seeds)) != len(seeds) or len(seeds) < 2):
            raise ValueError("give two or more distinct seeds, e.g. 0,1,2,3,4,5")
        if seeds is not None and min(seeds) < 0:
            raise ValueError("seeds must be >= 0")
        return seeds


def register(subparsers: Any) -> None:
    """Add the ``train`` and ``evaluate`` sub-commands.

    Every recipe field is a flag (generated from :class:`relmas.rl.recipe.Recipe`); flags
    default to ``None`` ("not given"), so ``--config FILE`` values are overridden only by flags
    that were actually passed.
    """
    p = subparsers.add_parser("train", help="train the RL scheduler with PPO (RLlib)")
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="YAML recipe, e.g. tune_configs/train_default.yaml (default: none, flags only)",
    )
    helps = {"scenario": f"{SCENARIO_HELP}, or toy", "hardware": HARDWARE_HELP}
    add_model_flags(p, TrainJob, FILE_ONLY, helps)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the newest checkpoint in --out (same config) up to --iterations",
    )
    p.add_argument(
        "--address",
        default=None,
        help="an existing Ray cluster to label and sample on (default: a fresh local Ray)",
    )
    p.add_argument(
        "--init",
        type=Path,
        default=None,
        help="start PPO from this imitation round (<out>/imitation/round_NN) instead of "
        "imitating first; parameters that do not fit the recipe's network start fresh "
        "(default: none)",
    )
    add_tracking_args(p)
    p.set_defaults(func=run_train)
    _register_evaluate(subparsers)


def _register_evaluate(subparsers: Any) -> None:
    """``relmas evaluate``: held-out seeds from 10000 by default."""
    e = subparsers.add_parser("evaluate", help="compare a trained policy with the heuristics")
    e.add_argument("--checkpoint", type=Path, required=True,
                   help="a `relmas train --out` directory or a shipped policy's name")  # fmt: skip
    e.add_argument("--scenario", default="heavy", help=SCENARIO_HELP)
    e.add_argument("--hardware", default="2s2e", help=HARDWARE_HELP)
    e.add_argument("--seeds", type=positive_int, default=10, help="number of evaluation seeds")
    e.add_argument("--first-seed", type=int, default=EVAL_FIRST_SEED,
                   help="first held-out seed (training uses 0.., validation 5000..)")  # fmt: skip
    e.add_argument("--heuristics", default="all,planaria?priority_exponent=0.5",
                   help="comma list of the peers the best heuristic is chosen from ('all': "
                        "every registered heuristic)")  # fmt: skip
    e.add_argument("--also", default="",
                   help="comma list of more schedulers to pair the policy with, e.g. "
                        "rollout,planaria?priority_exponent=0.5 (default: none)")  # fmt: skip
    e.add_argument("--json", action="store_true", help="print JSON, not a table")
    add_tracking_args(e)
    e.set_defaults(func=run_evaluate)


def _read_config(path: Path) -> dict[str, Any]:
    """The ``--config`` file as a mapping."""
    from relmas.loaders.paths import resolve_shipped, shipped_files

    recipes = shipped_files("tune_configs", "trainable:", present=False)
    path = resolve_shipped(path, "--config", "training recipe", recipes)
    loaded = read_yaml(path, "--config")
    if not isinstance(loaded, dict):
        raise UserError("--config", f"{path} must hold a mapping", "write 'key: value' lines")
    return loaded


def resolve_job(args: argparse.Namespace) -> TrainJob:
    """Defaults < ``--config`` file < given flags, validated (one-line errors)."""
    path = getattr(args, "config", None)
    data: dict[str, Any] = _read_config(path) if path is not None else {}
    data.update(given_flags(args, TrainJob))
    label = f"train config {path.name if path else '(flags)'}"
    job = TrainJob.load(data, label)
    assert isinstance(job, TrainJob)
    if job.out is None:
        raise UserError("out", "no output directory", "pass --out DIR or set 'out:' in the file")
    check_output(job.out, "out", directory=True)
    return job


def recipe_of(job: TrainJob) -> Recipe:
    """The recipe part of a train job (what ``policy.json`` records)."""
    return Recipe.model_validate(job.model_dump(exclude={"out", "ensemble_seeds"}))


def run_train(args: argparse.Namespace) -> int:
    """Train, showing iteration, env steps/s and episode SLA rate in a progress bar.

    The MLflow run is opened before training and streams one step per iteration, so a Ctrl-C
    leaves it KILLED (not missing, not RUNNING); Ray is shut down on every exit path.
    """
    job = resolve_job(args)
    if job.ensemble_seeds is not None:
        from relmas.cli.train_ensemble import train_ensemble

        return train_ensemble(job, args, train_job)
    return train_job(job, args)


def train_job(job: TrainJob, args: argparse.Namespace) -> int:
    """One training run of ``job`` (``args`` carries ``--resume``, ``--init``, ``--address``
    and the tracking flags)."""
    cpus = os.cpu_count() or 1
    if job.env_runners > cpus:
        raise UserError(
            "--env-runners",
            f"{job.env_runners} exceeds the {cpus} available CPUs",
            f"use at most {cpus} (0 = sample in the driver)",
        )
    from relmas.env.sources import make_source

    recipe = recipe_of(job)
    make_source(recipe.env_config())  # fail fast on scenario and hardware names
    assert job.out is not None
    args.out, args.iterations = job.out, job.iterations
    from relmas.rl.resume import resume_point

    args.resume_from = resume_point(recipe, job.out) if getattr(args, "resume", False) else None
    init = getattr(args, "init", None)
    if init is not None and not (init / "module").is_dir():
        raise UserError(
            "--init",
            f"{init / 'module'} not found",
            "give an imitation round, <out>/imitation/round_NN",
        )
    from relmas.tracking.rl_hooks import training_run

    with (
        library_output_to(job.out / "console.log"),
        training_run(args, job.model_dump(mode="json"), args.out) as tracker,
    ):
        history = _train_on_ray(recipe, args, cpus, tracker.iteration)
        tracker.finish(history)
    print(f"policy: {args.out.resolve()} (use rl:{args.out}); {final_sla(history, args.out)}")
    return 0


def final_sla(history: list[Any], out: Path) -> str:
    """The SLA rate of the last *finished* training episodes, with the iteration it is from.

    Why not the last iteration's value: a long episode spans several iterations, and an
    iteration in which none ended reports NaN, so "last SLA rate nan" followed a progress bar
    that had just shown 0.800 (the bar already kept the last finished value).
    """
    done = [st for st in history if math.isfinite(st.sla_rate)]
    if not done:
        return (
            "no training episode finished (each spans more than an iteration's batch); "
            f"measure the policy with: relmas evaluate --checkpoint {out}"
        )
    last = done[-1]
    return (
        f"SLA rate {last.sla_rate:.3f} in the last finished training episodes (iteration "
        f"{last.iteration} of {history[-1].iteration}); held-out seeds: relmas evaluate "
        f"--checkpoint {out}"
    )


def _start_ray(address: str | None, cpus: int) -> None:
    """Join the cluster ``--address`` names, or start a private local Ray whose dashboard stays
    off (spelled out per call: tests/reliability/test_safety.py reads these calls statically)."""
    import ray

    if address:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    else:
        ray.init(
            address="local",
            num_cpus=cpus,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )


def _train_on_ray(
    recipe: Recipe, args: argparse.Namespace, cpus: int, on_iteration: Callable[[Any], None]
) -> list[Any]:
    """Imitate (if the recipe says so), then PPO, on a private local Ray unless one is already
    up or ``--address`` names a cluster; Ray is always shut down on the way out."""
    import ray

    owns_ray = not ray.is_initialized()  # tests and notebooks may already run a local Ray
    if owns_ray:
        _start_ray(getattr(args, "address", None), cpus)
        claim_sigterm()  # Ray's driver handler would abort without shutting Ray down
    try:
        init = getattr(args, "init", None)
        if init is None and recipe.imitation is not None and args.resume_from is None:
            from relmas.cli.imitation_progress import imitate_with_progress

            init = imitate_with_progress(recipe, args.out)
        if recipe.iterations == 0:
            from relmas.rl.selection import publish

            assert init is not None
            publish(init, args.out)
            return []
        history = _train_with_progress(recipe, args, on_iteration, init)
        if recipe.select_seeds:
            _select_with_status(recipe, args.out, init)
        return history
    finally:
        if owns_ray:
            ray.shutdown()


def _select_with_status(recipe: Recipe, out: Path, init: Path | None) -> None:
    """Choose the run's policy on validation seeds (``select_seeds``) and say which, and why."""
    from relmas.rl.dagger import VALIDATION_FIRST_SEED as FIRST
    from relmas.rl.selection import SELECTION_FILE, select

    last = FIRST + recipe.select_seeds - 1
    print(
        f"{PREFIX} choosing the policy on validation seeds {FIRST}-{last} of every training pair",
        file=sys.stderr,
        flush=True,
    )
    best = select(recipe, out, init)
    d = best.minus_reference
    print(
        f"{PREFIX} chose {best.name}: validation SLA {best.validation_sla:.4f}, "
        f"{d['mean']:+.4f} +- {d['stderr']:.4f} vs the pairs' references "
        f"(W/L/T {d['wins']}/{d['losses']}/{d['ties']}); table in {out / SELECTION_FILE}",
        file=sys.stderr,
        flush=True,
    )


def _train_with_progress(
    recipe: Recipe,
    args: argparse.Namespace,
    on_iteration: Callable[[Any], None] | None = None,
    init: Path | None = None,
) -> list[Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn

    from relmas.cli.progress import progress
    from relmas.rl.resume import checkpoint_iteration
    from relmas.rl.trainer import train

    columns = (
        TextColumn("[bold]train"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with progress(columns, console()) as bar:
        task = bar.add_task("train", total=args.iterations, status="starting")

        last = {"return": float("nan"), "sla": float("nan")}

        def show(st: Any) -> None:
            # Long episodes end only every few iterations: keep showing the last finished ones.
            if st.sla_rate == st.sla_rate:  # not NaN
                last.update({"return": st.episode_return_mean, "sla": st.sla_rate})
            if last["sla"] == last["sla"]:
                shown = f"episode return {last['return']:.3g}  SLA {last['sla']:.3f}"
            else:
                shown = "no episode finished yet"
            status = f"{st.env_steps_per_s:,.0f} env steps/s  {shown}"
            bar.update(task, completed=st.iteration, status=status)
            if on_iteration is not None:
                on_iteration(st)

        resume_from = getattr(args, "resume_from", None)
        if resume_from is not None:
            bar.update(task, completed=checkpoint_iteration(resume_from), status="resumed")
        return train(recipe, args.out, show, resume_from=resume_from, init=init)


def run_evaluate(args: argparse.Namespace) -> int:
    """The policy's metrics beside the best heuristic's on the same seeded requests."""
    from relmas.rl.evaluate import evaluate, format_table

    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    also = [ref.strip() for ref in args.also.split(",") if ref.strip()]
    from relmas.cli.compare import expand_schedulers

    heuristics = expand_schedulers(args.heuristics)
    report = evaluate(args.checkpoint, args.scenario, args.hardware, seeds, also, heuristics)
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    from relmas.tracking.rl_hooks import log_evaluation

    log_evaluation(args, report)
    return 0
