"""``relmas train`` and ``relmas evaluate``: PPO training of the RL scheduler and its comparison.

Ray, torch and RLlib are imported inside the command functions only, so ``relmas --help`` and the
other sub-commands stay fast. Training seeds are ``0 .. train_seeds-1``; evaluation defaults to
held-out seeds starting at 10000, so the policy is judged on traces it never saw.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from relmas.errors import UserError

EVAL_FIRST_SEED = 10_000


def _positive(value: str) -> int:
    n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def _hidden(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v]


def register(subparsers: Any) -> None:
    """Add the ``train`` and ``evaluate`` sub-commands."""
    p = subparsers.add_parser("train", help="train the RL scheduler with PPO (RLlib)")
    p.add_argument("--scenario", default="heavy", help="scenario preset, YAML path, or 'toy'")
    p.add_argument("--hardware", default="2s2e", help="hardware composition, e.g. 2s2e")
    p.add_argument("--iterations", type=_positive, default=20)
    p.add_argument("--env-runners", type=_positive, default=0, help="0 = sample locally (debug)")
    p.add_argument("--envs-per-runner", type=_positive, default=1)
    p.add_argument("--checkpoint-every", type=_positive, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-seeds", type=_positive, default=100, help="episode seeds 0..N-1")
    p.add_argument(
        "--episode-requests",
        type=_positive,
        default=0,
        help="truncate training traces to N requests (0 = the scenario's)",
    )
    p.add_argument("--top-k", type=_positive, default=8, help="candidate requests per decision")
    p.add_argument("--reward", default="relmas", help="reward preset: sla, relmas, energy")
    p.add_argument("--decision-period-s", type=float, default=None, help="RELMAS cycle T_s")
    p.add_argument("--batch-size", type=_positive, default=2000, help="env steps per iteration")
    p.add_argument("--minibatch-size", type=_positive, default=256)
    p.add_argument("--epochs", type=_positive, default=4)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--gamma", type=float, default=0.99, help="discount per decision")
    p.add_argument("--hidden", type=_hidden, default=[128, 128], help="e.g. 128,128")
    p.add_argument("--lstm", type=int, default=0, help="LSTM cell size (0 = MLP policy)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.set_defaults(func=run_train)

    e = subparsers.add_parser("evaluate", help="compare a trained policy with the heuristics")
    e.add_argument("--checkpoint", type=Path, required=True, help="the --out dir of train")
    e.add_argument("--scenario", default="heavy")
    e.add_argument("--hardware", default="2s2e")
    e.add_argument("--seeds", type=_positive, default=10, help="number of evaluation seeds")
    e.add_argument("--first-seed", type=int, default=EVAL_FIRST_SEED)
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")
    e.set_defaults(func=run_evaluate)


def settings_from_args(args: argparse.Namespace) -> Any:
    """TrainSettings for the parsed ``train`` arguments."""
    from relmas.rl.trainer import TrainSettings

    env_config: dict[str, Any] = {
        "scenario": args.scenario,
        "hardware": args.hardware,
        "seeds": list(range(max(args.train_seeds, 1))),
        "top_k": max(args.top_k, 1),
        "reward": {"name": args.reward},
        "decision_period_s": args.decision_period_s,
    }
    if args.episode_requests:
        env_config["num_requests"] = args.episode_requests
    model: dict[str, Any] = {"fcnet_hiddens": args.hidden, "head_fcnet_hiddens": []}
    if args.lstm:
        model.update(use_lstm=True, lstm_cell_size=args.lstm, max_seq_len=20)
    return TrainSettings(
        env_config=env_config,
        iterations=args.iterations,
        num_env_runners=args.env_runners,
        num_envs_per_env_runner=max(args.envs_per_runner, 1),
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
        train_batch_size=args.batch_size,
        minibatch_size=min(args.minibatch_size, args.batch_size),
        num_epochs=max(args.epochs, 1),
        lr=args.lr,
        gamma=args.gamma,
        model_config=model,
    )


def run_train(args: argparse.Namespace) -> int:
    """Train, showing iteration, env steps/s and episode SLA rate in a progress bar."""
    cpus = os.cpu_count() or 1
    if args.env_runners > cpus:
        raise UserError(
            "--env-runners",
            f"{args.env_runners} exceeds the {cpus} available CPUs",
            f"use at most {cpus} (0 = sample in the driver)",
        )
    from relmas.env.sources import make_source

    make_source({"scenario": args.scenario, "hardware": args.hardware})  # fail fast on names
    import ray

    settings = settings_from_args(args)
    owns_ray = not ray.is_initialized()  # tests and notebooks may already run a local Ray
    if owns_ray:
        ray.init(
            address="local",
            num_cpus=cpus,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    try:
        history = _train_with_progress(settings, args)
    finally:
        if owns_ray:
            ray.shutdown()
    sla = history[-1].sla_rate if history else float("nan")
    print(f"policy: {args.out.resolve()} (use rl:{args.out}); last SLA rate {sla:.3f}")
    return 0


def _train_with_progress(settings: Any, args: argparse.Namespace) -> list[Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

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

        return train(settings, args.out, show)


def run_evaluate(args: argparse.Namespace) -> int:
    """The policy's metrics beside the best heuristic's on the same seeded requests."""
    from relmas.rl.evaluate import evaluate, format_table

    seeds = list(range(args.first_seed, args.first_seed + max(args.seeds, 1)))
    report = evaluate(args.checkpoint, args.scenario, args.hardware, seeds)
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0
