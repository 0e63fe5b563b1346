"""PPO training of the masking policy on ``relmas/MultiAccel-v0`` (RLlib new API stack).

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
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from relmas.env.features import ENV_ID, ENV_VERSION
from relmas.env.multi_accel import MultiAccelEnv
from relmas.rl.export import export_module


@dataclass
class TrainSettings:
    """Everything one training run needs; plain data so it can be logged and pickled."""

    env_config: dict[str, Any]
    iterations: int = 10
    num_env_runners: int = 0
    num_envs_per_env_runner: int = 1
    checkpoint_every: int = 10
    seed: int = 0
    train_batch_size: int = 2000
    minibatch_size: int = 256
    num_epochs: int = 4
    lr: float = 3e-4
    gamma: float = 0.99
    entropy_coeff: float = 0.01
    model_config: dict[str, Any] = field(
        default_factory=lambda: {"fcnet_hiddens": [128, 128], "head_fcnet_hiddens": []}
    )


@dataclass(frozen=True)
class IterationStats:
    """What the CLI's progress bar shows after each iteration."""

    iteration: int
    env_steps: int
    env_steps_per_s: float
    episode_return_mean: float
    sla_rate: float
    checkpoint: str = ""


def build_config(s: TrainSettings) -> Any:
    """The PPOConfig for ``s`` (masking module, KPI callback, seeded env runners)."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from relmas.rl.callbacks import KpiCallback
    from relmas.rl.module import MaskedPPOTorchRLModule

    return (
        PPOConfig()
        .environment(MultiAccelEnv, env_config=dict(s.env_config))
        .env_runners(
            num_env_runners=s.num_env_runners,
            num_envs_per_env_runner=s.num_envs_per_env_runner,
            rollout_fragment_length="auto",
        )
        .learners(num_learners=0)
        .training(
            train_batch_size_per_learner=s.train_batch_size,
            minibatch_size=s.minibatch_size,
            num_epochs=s.num_epochs,
            lr=s.lr,
            gamma=s.gamma,
            lambda_=0.95,
            entropy_coeff=s.entropy_coeff,
            clip_param=0.2,
        )
        .rl_module(
            rl_module_spec=RLModuleSpec(
                module_class=MaskedPPOTorchRLModule, model_config=dict(s.model_config)
            )
        )
        .callbacks(KpiCallback)
        .debugging(seed=s.seed)
        .reporting(metrics_num_episodes_for_smoothing=20)
    )


def policy_meta(s: TrainSettings, iterations: int) -> dict[str, Any]:
    """What ``policy.json`` records, so a policy is never run on an env it was not trained on."""
    env = MultiAccelEnv(s.env_config)
    chip, enc = env.source.chip, env.encoder
    return {
        "env_id": ENV_ID,
        "env_version": ENV_VERSION,
        "obs_dim": enc.obs_dim,
        "num_actions": enc.num_actions,
        "top_k": enc.top_k,
        "priority_scale": enc.priority_scale,
        "candidates": enc.candidate_rule,
        "scenario": str(s.env_config.get("scenario", "toy")),
        "hardware": str(s.env_config.get("hardware", "")),
        "accel_types": [chip.type_names[t] for t in chip.accel_type],
        "model_config": s.model_config,
        "action_prior_weight": float(s.model_config.get("action_prior_weight", 0.0)),
        "iterations": iterations,
        "settings": asdict(s),
    }


def _stats(
    result: dict[str, Any], iteration: int, elapsed_s: float, steps_before: int
) -> IterationStats:
    runners = result.get("env_runners", {})
    steps = int(result.get("num_env_steps_sampled_lifetime", 0))
    return IterationStats(
        iteration=iteration,
        env_steps=steps,
        env_steps_per_s=(steps - steps_before) / elapsed_s if elapsed_s > 0 else 0.0,
        episode_return_mean=float(runners.get("episode_return_mean", float("nan"))),
        sla_rate=float(runners.get("sla_rate", float("nan"))),
    )


def save_checkpoint(algo: Any, out_dir: Path, iteration: int, meta: dict[str, Any]) -> Path:
    """Full RLlib checkpoint under ``checkpoints/iter_NNNNNN`` plus the numpy export next to it."""
    path = (out_dir / "checkpoints" / f"iter_{iteration:06d}").resolve()
    algo.save_to_path(str(path))
    export_module(algo.get_module(), path, meta)
    return path


def train(
    s: TrainSettings,
    out_dir: Path,
    on_iteration: Callable[[IterationStats], None] | None = None,
) -> list[IterationStats]:
    """Train for ``s.iterations`` PPO iterations; checkpoint, export and log into ``out_dir``."""
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    algo = build_config(s).build_algo()
    history: list[IterationStats] = []
    steps = 0
    try:
        with (out_dir / "metrics.jsonl").open("a") as log:
            for it in range(1, s.iterations + 1):
                t0 = time.perf_counter()
                stats = _stats(algo.train(), it, time.perf_counter() - t0, steps)
                steps = stats.env_steps
                if it % max(s.checkpoint_every, 1) == 0 or it == s.iterations:
                    ckpt = save_checkpoint(algo, out_dir, it, policy_meta(s, it))
                    stats = IterationStats(**{**asdict(stats), "checkpoint": str(ckpt)})
                log.write(json.dumps(asdict(stats)) + "\n")
                log.flush()  # readable while training runs
                history.append(stats)
                if on_iteration is not None:
                    on_iteration(stats)
        export_module(algo.get_module(), out_dir, policy_meta(s, s.iterations))
    finally:
        algo.stop()
    return history
