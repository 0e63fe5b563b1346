"""``relmas train`` and ``relmas evaluate``: PPO training of the RL scheduler and its comparison.

Ray, torch and RLlib are imported inside the command functions only, so ``relmas --help`` and the
other sub-commands stay fast. Training seeds are ``0 .. train_seeds-1``; evaluation defaults to
held-out seeds starting at 10000, so the policy is judged on traces it never saw.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relmas.cli.common import claim_sigterm, positive_int
from relmas.errors import UserError
from relmas.tracking import add_tracking_args

if TYPE_CHECKING:
    from relmas.cli.train_options import TrainOptions

EVAL_FIRST_SEED = 10_000


def _positive(value: str) -> int:
    n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def _hidden(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v]


def register(subparsers: Any) -> None:
    """Add the ``train`` and ``evaluate`` sub-commands.

    Train flags default to ``None`` ("not given"): defaults live in
    :class:`relmas.cli.train_options.TrainOptions`, so ``--config FILE`` values are overridden
    only by flags that were actually passed.
    """
    p = subparsers.add_parser("train", help="train the RL scheduler with PPO (RLlib)")
    p.add_argument("--config", type=Path, default=None, help="YAML recipe, e.g. train_heavy.yaml")
    p.add_argument("--scenario", help="scenario preset, YAML path, or 'toy' (heavy)")
    p.add_argument("--hardware", help="hardware composition, e.g. 2s2e (2s2e)")
    p.add_argument("--iterations", type=_positive, help="PPO iterations (20)")
    p.add_argument("--env-runners", type=_positive, help="0 = sample locally (debug) (0)")
    p.add_argument("--envs-per-runner", type=_positive)
    p.add_argument("--checkpoint-every", type=_positive, help="(10)")
    p.add_argument("--seed", type=int)
    p.add_argument("--train-seeds", type=_positive, help="episode seeds 0..N-1 (100)")
    p.add_argument(
        "--episode-requests", type=_positive, help="truncate training traces to N requests"
    )
    p.add_argument("--top-k", type=_positive, help="candidate requests per decision (8)")
    p.add_argument("--candidates", help="candidate rule: heuristic (default), mixed, deadline")
    p.add_argument("--reward", help="reward preset: sla, relmas (default), energy")
    p.add_argument("--decision-period-s", type=float, help="RELMAS cycle T_s")
    p.add_argument("--batch-size", type=_positive, help="env steps per iteration (2000)")
    p.add_argument("--minibatch-size", type=_positive)
    p.add_argument("--epochs", type=_positive)
    p.add_argument("--lr", type=float)
    p.add_argument("--gamma", type=float, help="discount per decision (0.99)")
    p.add_argument("--entropy-coeff", type=float)
    p.add_argument("--hidden", type=_hidden, help="e.g. 128,128")
    p.add_argument("--lstm", type=int, help="LSTM cell size (0 = MLP policy)")
    p.add_argument("--prior-weight", type=float, help="logit bonus of Planaria's action (0)")
    p.add_argument("--pair-hidden", type=_hidden, help="shared pair-scorer head, e.g. 64")
    p.add_argument(
        "--planaria-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Planaria variant behind the flags and prior, e.g. priority_exponent=0.5 (repeat)",
    )
    p.add_argument("--out", type=Path, help="output directory (required here or in --config)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the newest checkpoint in --out (same config) up to --iterations",
    )
    add_tracking_args(p)
    p.set_defaults(func=run_train)
    _register_evaluate(subparsers)


def _register_evaluate(subparsers: Any) -> None:
    """``relmas evaluate``: held-out seeds from 10000 by default."""
    e = subparsers.add_parser("evaluate", help="compare a trained policy with the heuristics")
    e.add_argument("--checkpoint", type=Path, required=True, help="the --out dir of train")
    e.add_argument("--scenario", default="heavy")
    e.add_argument("--hardware", default="2s2e")
    e.add_argument("--seeds", type=positive_int, default=10, help="number of evaluation seeds")
    e.add_argument("--first-seed", type=int, default=EVAL_FIRST_SEED)
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_tracking_args(e)
    e.set_defaults(func=run_evaluate)


def resolve_options(args: argparse.Namespace) -> Any:
    """Defaults < ``--config`` file < given flags, validated (one-line errors)."""
    from relmas.cli.simulate import parse_params
    from relmas.cli.train_options import flag_values, load_options

    flags = flag_values(args)
    if getattr(args, "planaria_param", None):  # replaces the file's planaria_params as a whole
        flags["planaria_params"] = parse_params(args.planaria_param, "--planaria-param")
    return load_options(getattr(args, "config", None), flags)


def settings_from_args(args: argparse.Namespace) -> Any:
    """TrainSettings for the parsed ``train`` arguments (and ``--config`` file)."""
    from relmas.rl.trainer import TrainSettings

    o = resolve_options(args)
    env_config = _env_config(o)
    model: dict[str, Any] = {"fcnet_hiddens": o.hidden, "head_fcnet_hiddens": []}
    if o.prior_weight:
        model["action_prior_weight"] = o.prior_weight
    if o.lstm:
        model.update(use_lstm=True, lstm_cell_size=o.lstm, max_seq_len=20)
    if o.pair_hidden:
        model["pair_head"] = _pair_head(o, env_config)
    return TrainSettings(
        env_config=env_config,
        iterations=o.iterations,
        num_env_runners=o.env_runners,
        num_envs_per_env_runner=o.envs_per_runner,
        checkpoint_every=o.checkpoint_every,
        seed=o.seed,
        train_batch_size=o.batch_size,
        minibatch_size=min(o.minibatch_size, o.batch_size),
        num_epochs=o.epochs,
        lr=o.lr,
        gamma=o.gamma,
        entropy_coeff=o.entropy_coeff,
        model_config=model,
        fault_tolerance=o.fault_tolerance.model_dump(),
    )


def _env_config(o: TrainOptions) -> dict[str, Any]:
    """The env's config for the training options (plain data: it is pickled to EnvRunners)."""
    env_config: dict[str, Any] = {
        "scenario": o.scenario,
        "hardware": o.hardware,
        "seeds": list(range(o.train_seeds)),
        "top_k": o.top_k,
        "candidates": o.candidates,
        "planaria_params": dict(o.planaria_params),
        "reward": o.reward_spec(),
        "decision_period_s": o.decision_period_s,
    }
    if o.episode_requests:
        env_config["num_requests"] = o.episode_requests
    if o.fault_injection:
        env_config["fault_injection"] = _fault_injection(o.fault_injection)
    return env_config


def _pair_head(o: TrainOptions, env_config: dict[str, Any]) -> dict[str, Any]:
    """The pair head's spec: its hidden widths plus the observation layout it slices."""
    if o.lstm:
        raise UserError("pair_hidden", "the pair head does not combine with lstm", "set lstm: 0")
    from relmas.env.multi_accel import MultiAccelEnv

    return {"hidden": list(o.pair_hidden), "dims": MultiAccelEnv(env_config).encoder.pair_dims}


def _fault_injection(raw: dict[str, Any]) -> dict[str, Any]:
    """Validated ``fault_injection`` with an absolute ``crash_log`` (runners may run elsewhere).

    Validating here makes a bad probability a one-line error before Ray starts, instead of
    EnvRunners failing (and being restarted) over and over.
    """
    from relmas.env.faults import parse_fault_spec

    parse_fault_spec({"fault_injection": raw})
    out = dict(raw)
    if out.get("crash_log"):
        out["crash_log"] = str(Path(out["crash_log"]).resolve())
    return out


def run_train(args: argparse.Namespace) -> int:
    """Train, showing iteration, env steps/s and episode SLA rate in a progress bar.

    The MLflow run is opened before training and streams one step per iteration, so a Ctrl-C
    leaves it KILLED (not missing, not RUNNING); Ray is shut down on every exit path.
    """
    opts = resolve_options(args)
    cpus = os.cpu_count() or 1
    if opts.env_runners > cpus:
        raise UserError(
            "--env-runners",
            f"{opts.env_runners} exceeds the {cpus} available CPUs",
            f"use at most {cpus} (0 = sample in the driver)",
        )
    from relmas.env.sources import make_source

    make_source({"scenario": opts.scenario, "hardware": opts.hardware})  # fail fast on names
    settings = settings_from_args(args)
    args.out, args.iterations = opts.out, opts.iterations
    from relmas.rl.resume import resume_point

    args.resume_from = resume_point(settings, opts) if getattr(args, "resume", False) else None
    from relmas.tracking.rl_hooks import training_run

    with training_run(args, opts.model_dump(mode="json"), args.out) as tracker:
        history = _train_on_ray(settings, args, cpus, tracker.iteration)
        tracker.finish(history)
    sla = history[-1].sla_rate if history else float("nan")
    print(f"policy: {args.out.resolve()} (use rl:{args.out}); last SLA rate {sla:.3f}")
    return 0


def _train_on_ray(
    settings: Any, args: argparse.Namespace, cpus: int, on_iteration: Callable[[Any], None]
) -> list[Any]:
    """Train on a private local Ray (unless one is already up), always shutting it down."""
    import ray

    owns_ray = not ray.is_initialized()  # tests and notebooks may already run a local Ray
    if owns_ray:
        ray.init(
            address="local",
            num_cpus=cpus,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
        claim_sigterm()  # Ray's driver handler would abort without shutting Ray down
    try:
        return _train_with_progress(settings, args, on_iteration)
    finally:
        if owns_ray:
            ray.shutdown()


def _train_with_progress(
    settings: Any, args: argparse.Namespace, on_iteration: Callable[[Any], None] | None = None
) -> list[Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from relmas.rl.resume import checkpoint_iteration
    from relmas.rl.trainer import train

    columns = (
        TextColumn("[bold]train"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns) as bar:
        task = bar.add_task("train", total=args.iterations, status="starting")

        last = {"return": float("nan"), "sla": float("nan")}

        def show(st: Any) -> None:
            # Long episodes end only every few iterations: keep showing the last finished ones.
            if st.sla_rate == st.sla_rate:  # not NaN
                last.update({"return": st.episode_return_mean, "sla": st.sla_rate})
            status = (
                f"{st.env_steps_per_s:,.0f} env steps/s  episode return "
                f"{last['return']:.3g}  SLA {last['sla']:.3f}"
            )
            bar.update(task, completed=st.iteration, status=status)
            if on_iteration is not None:
                on_iteration(st)

        resume_from = getattr(args, "resume_from", None)
        if resume_from is not None:
            bar.update(task, completed=checkpoint_iteration(resume_from), status="resumed")
        return train(settings, args.out, show, resume_from=resume_from)


def run_evaluate(args: argparse.Namespace) -> int:
    """The policy's metrics beside the best heuristic's on the same seeded requests."""
    from relmas.rl.evaluate import evaluate, format_table

    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    report = evaluate(args.checkpoint, args.scenario, args.hardware, seeds)
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    from relmas.tracking.rl_hooks import log_evaluation

    log_evaluation(args, report)
    return 0
