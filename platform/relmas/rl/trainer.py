"""PPO training of the masking policy on ``relmas/MultiAccel-v2`` (RLlib new API stack), from a
:class:`relmas.rl.recipe.Recipe`.

Output directory layout (all paths absolute: RLlib checkpoint paths go through pyarrow's URI
parser, which rejects relative ones):

* ``checkpoints/iter_NNNNNN/``: full RLlib checkpoints every ``checkpoint_every`` iterations
  and at the end (resume with ``Algorithm.from_checkpoint``);
* ``policy.npz`` + ``policy.json``: the final actor exported for numpy inference
  (``make_scheduler("rl:OUT")``);
* ``metrics.jsonl``: one line per iteration (steps, throughput, return, unshaped KPIs).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from relmas.env.faults import env_class
from relmas.env.features import ENV_ID, ENV_VERSION
from relmas.env.multi_accel import MultiAccelEnv
from relmas.rl.export import export_module
from relmas.rl.recipe import Recipe
from relmas.rl.resume import checkpoint_iteration, rewind_metrics
from relmas.rl.warm_start import warm_start

RESTORE_WAIT_S = 600.0  # how long an iteration waits for restarted EnvRunners
RESTORE_POLL_S = 1.0
# RLlib gives up on a remote EnvRunner's sample() after 60 s and returns no samples; on a loaded
# 2-core machine a 8000-step batch takes longer, and every iteration came back empty.
SAMPLE_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class IterationStats:
    """What the CLI's progress bar shows after each iteration."""

    iteration: int
    env_steps: int
    env_steps_per_s: float
    episode_return_mean: float
    sla_rate: float
    checkpoint: str = ""
    total_loss: float = math.nan
    env_runner_restarts: int = 0
    healthy_env_runners: int = 0
    # how well the critic predicts the returns: the baseline ablation (critic_future) reads it
    vf_explained_var: float = math.nan
    entropy: float = math.nan


def observation_layout(recipe: Recipe) -> dict[str, Any]:
    """The observation layout of the recipe's env (its chip decides the number of units)."""
    return MultiAccelEnv(recipe.env_config()).encoder.layout.to_dict()


def module_config(recipe: Recipe) -> dict[str, Any]:
    """The RLModule's ``model_config`` (with the chip's layout when there is a pair head)."""
    return recipe.module_config(observation_layout(recipe) if recipe.pair_hidden else None)


def build_config(recipe: Recipe) -> Any:
    """The PPOConfig for ``recipe`` (masking module, KPI callback, seeded env runners)."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from relmas.rl.callbacks import KpiCallback
    from relmas.rl.module import MaskedPPOTorchRLModule

    env_config = recipe.env_config().as_mapping()
    return (
        PPOConfig()
        .environment(
            env_class(env_config),
            env_config=env_config,
            # Discrete actions: nothing to unsquash, but RLlib's connector deep-copies and walks
            # the actions of every env at every step (~5% of a sampled step) unless told not to.
            normalize_actions=False,
            clip_actions=False,
        )
        .env_runners(
            num_env_runners=recipe.env_runners,
            num_envs_per_env_runner=recipe.envs_per_runner,
            rollout_fragment_length="auto",
            sample_timeout_s=SAMPLE_TIMEOUT_S,
        )
        .learners(num_learners=0)
        .training(
            train_batch_size_per_learner=recipe.batch_size,
            minibatch_size=min(recipe.minibatch_size, recipe.batch_size),
            num_epochs=recipe.epochs,
            lr=recipe.lr,
            gamma=recipe.gamma,
            lambda_=0.95,
            entropy_coeff=recipe.entropy_coeff,
            clip_param=0.2,
        )
        .rl_module(
            rl_module_spec=RLModuleSpec(
                module_class=MaskedPPOTorchRLModule,
                model_config=module_config(recipe),
            )
        )
        .fault_tolerance(**recipe.fault_tolerance.model_dump())
        .callbacks(KpiCallback)
        .debugging(seed=recipe.seed)
        .reporting(metrics_num_episodes_for_smoothing=20)
    )


def policy_meta(recipe: Recipe, iterations: int) -> dict[str, Any]:
    """What ``policy.json`` records: the recipe it was trained with and what it derives, so a
    policy is never run on an observation it was not trained on."""
    env = MultiAccelEnv(recipe.env_config())
    chip, enc = env.source.chip, env.encoder
    return {
        "env_id": ENV_ID,
        "env_version": ENV_VERSION,
        "recipe": recipe.as_mapping(),
        "iterations": iterations,
        "types": list(enc.view.types),
        "layout": enc.layout.to_dict(),
        "obs_dim": enc.obs_dim,
        "num_actions": enc.num_actions,
        "priority_scale": enc.priority_scale,
        "accel_types": [chip.type_names[t] for t in chip.accel_type],
    }


def _stats(
    result: dict[str, Any], iteration: int, elapsed_s: float, steps_before: int
) -> IterationStats:
    runners = result.get("env_runners", {})
    steps = int(result.get("num_env_steps_sampled_lifetime", 0))
    faults = result.get("fault_tolerance", {})
    learner = result.get("learners", {}).get("default_policy", {})
    return IterationStats(
        iteration=iteration,
        env_steps=steps,
        env_steps_per_s=(steps - steps_before) / elapsed_s if elapsed_s > 0 else 0.0,
        episode_return_mean=float(runners.get("episode_return_mean", float("nan"))),
        sla_rate=float(runners.get("sla_rate", float("nan"))),
        total_loss=float(learner.get("total_loss", math.nan)),
        vf_explained_var=float(learner.get("vf_explained_var", math.nan)),
        entropy=float(learner.get("entropy", math.nan)),
        env_runner_restarts=int(faults.get("num_remote_worker_restarts", 0)),
        healthy_env_runners=int(faults.get("num_healthy_workers", 0)),
    )


def _staging(final: Path) -> Path:
    """A fresh hidden sibling of ``final`` to write into before renaming (same filesystem)."""
    tmp = final.parent / f".{final.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    return tmp


def export_atomic(module: Any, out_dir: Path, meta: dict[str, Any]) -> None:
    """``export_module`` into a staging dir, then rename: Ctrl-C never leaves half a policy.

    ``policy.json`` is renamed last, so a reader that sees it also sees the matching weights.
    """
    tmp = _staging(out_dir / "policy")
    try:
        export_module(module, tmp, meta)
        for name in sorted((p.name for p in tmp.iterdir()), key=lambda n: n.endswith(".json")):
            os.replace(tmp / name, out_dir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_checkpoint(algo: Any, out_dir: Path, iteration: int, meta: dict[str, Any]) -> Path:
    """Full RLlib checkpoint under ``checkpoints/iter_NNNNNN`` plus the numpy export next to it.

    Written into a staging directory and renamed, so an interrupted save leaves no checkpoint
    that looks complete but is not.
    """
    path = (out_dir / "checkpoints" / f"iter_{iteration:06d}").resolve()
    tmp = _staging(path)
    try:
        algo.save_to_path(str(tmp))
        export_module(algo.get_module(), tmp, meta)
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _train_iteration(algo: Any, recipe: Recipe, steps_before: int) -> dict[str, Any]:
    """One PPO iteration that sampled something.

    While every remote EnvRunner is down (crashed, being restarted by Ray), RLlib's ``train()``
    returns at once with no samples and no update, yet counts an iteration; a run with a
    crashing runner would then "finish" its budget without training. Such iterations are
    retried (RLlib probes the restarted runners at the start of each) for up to
    ``RESTORE_WAIT_S`` seconds.
    """
    deadline = time.monotonic() + RESTORE_WAIT_S
    while True:
        result: dict[str, Any] = algo.train()
        sampled = int(result.get("num_env_steps_sampled_lifetime", 0)) > steps_before
        if sampled or recipe.env_runners == 0:
            return result
        if time.monotonic() > deadline:
            raise RuntimeError(f"no EnvRunner sampled for {RESTORE_WAIT_S:.0f} s (all failed)")
        time.sleep(RESTORE_POLL_S)


def train(
    recipe: Recipe,
    out_dir: Path,
    on_iteration: Callable[[IterationStats], None] | None = None,
    resume_from: Path | None = None,
    init: Path | None = None,
) -> list[IterationStats]:
    """Train up to ``recipe.iterations`` PPO iterations; checkpoint, export and log into
    ``out_dir``.

    ``resume_from`` (a checkpoint of :func:`latest_checkpoint`) restores the algorithm's
    weights, optimizer and counters and continues with the iteration after it.
    """
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    algo = build_config(recipe).build_algo()
    if init is not None and resume_from is None:
        fresh = warm_start(algo, init)
        (out_dir / "warm_start.json").write_text(json.dumps({"init": str(init), "fresh": fresh}))
    history: list[IterationStats] = []
    steps, first = 0, 1
    if resume_from is not None:
        algo.restore_from_path(str(resume_from.resolve()))
        first = checkpoint_iteration(resume_from) + 1
        steps = rewind_metrics(out_dir, first - 1)
    try:
        with (out_dir / "metrics.jsonl").open("a") as log:
            for it in range(first, recipe.iterations + 1):
                t0 = time.perf_counter()
                result = _train_iteration(algo, recipe, steps)
                stats = _stats(result, it, time.perf_counter() - t0, steps)
                steps = stats.env_steps
                if it % recipe.checkpoint_every == 0 or it == recipe.iterations:
                    ckpt = save_checkpoint(algo, out_dir, it, policy_meta(recipe, it))
                    stats = IterationStats(**{**asdict(stats), "checkpoint": str(ckpt)})
                log.write(json.dumps(asdict(stats)) + "\n")
                log.flush()  # readable while training runs
                history.append(stats)
                if on_iteration is not None:
                    on_iteration(stats)
        export_atomic(algo.get_module(), out_dir, policy_meta(recipe, recipe.iterations))
    finally:
        algo.stop()
    return history
