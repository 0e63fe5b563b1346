"""``relmas bench rl``: throughput of the RL stack, each number beside a reference measured in the
same run (so a slow machine does not look like a slow env).

* env steps/s with random masked actions vs Gymnasium ``CartPole-v1`` steps/s (target >= 0.2x),
  timed in alternating slices so background load hits both alike;
* RLlib sampling steps/s with 1 and 2 EnvRunners (policy forward included; median of 3 windows
  after a warm-up) and the scaling efficiency ``tput(2) / (2 * tput(1))``;
* policy decision latency (feature encoding + numpy forward), median and p99 in microseconds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from typing import Any

import numpy as np

from relmas.cli.simulate import HARDWARE_HELP
from relmas.rl.recipe import Recipe


def register_bench(bench_subparsers: Any) -> None:
    """Add ``bench rl``."""
    p = bench_subparsers.add_parser("rl", help="env / RLlib / policy throughput")
    p.add_argument("--scenario", default="heavy", help="scenario preset or 'toy'")
    p.add_argument("--hardware", default="2s2e", help=HARDWARE_HELP)
    p.add_argument(
        "--seconds", type=float, default=3.0, help="seconds of each env, in 10 alternating slices"
    )
    p.add_argument(
        "--candidates", default="heuristic", help="candidate rule: heuristic, mixed, deadline"
    )
    p.add_argument("--sample-steps", type=int, default=4000, help="steps per EnvRunner")
    p.add_argument(
        "--envs-per-runner",
        type=int,
        default=16,
        help="vectorised envs per EnvRunner (batched forward passes)",
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        help="policy directory or shipped name, with ?key=value parameters as after rl: "
        "(gate_ensemble?search=2) (default: random actions)",
    )
    p.add_argument("--no-rllib", action="store_true", help="skip the RLlib sampling timing")
    p.add_argument("--json", action="store_true", help="print JSON, not a table")
    p.set_defaults(func=run_bench_rl)


class _Stepper:
    """Random-action stepping of one env that can pause and resume (masked for the relmas env).

    Why resumable: :func:`bench_env` alternates short slices of the relmas env and CartPole, so
    a burst of background load slows both alike instead of skewing their ratio; each env keeps
    its episode across slices, so the relmas env still walks whole episodes.
    """

    def __init__(self, env: Any, masked: bool) -> None:
        self.env, self.masked = env, masked
        self.rng = np.random.default_rng(0)
        self.obs, _ = env.reset(seed=0)
        self.steps, self.elapsed_s = 0, 0.0

    def run(self, seconds: float) -> None:
        """Step for about ``seconds`` of wall time."""
        env, rng, obs, steps = self.env, self.rng, self.obs, 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            if self.masked:
                valid = np.flatnonzero(obs["action_mask"])
                action = int(valid[rng.integers(valid.size)])
            else:
                action = int(rng.integers(env.action_space.n))
            obs, _, term, trunc, _ = env.step(action)
            steps += 1
            if term or trunc:
                obs, _ = env.reset(seed=self.steps + steps)
        self.elapsed_s += time.perf_counter() - t0
        self.obs, self.steps = obs, self.steps + steps

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.elapsed_s if self.elapsed_s else 0.0


def bench_env(env_config: dict[str, Any], seconds: float, slices: int = 10) -> dict[str, float]:
    """relmas env vs CartPole-v1 in one process, ``seconds`` each, in alternating slices."""
    import gymnasium as gym

    from relmas.env.multi_accel import MultiAccelEnv

    ours = _Stepper(MultiAccelEnv(env_config), masked=True)
    cart = _Stepper(gym.make("CartPole-v1"), masked=False)
    for _ in range(max(slices, 1)):
        ours.run(seconds / max(slices, 1))
        cart.run(seconds / max(slices, 1))
    return {
        "env_steps_per_s": ours.steps_per_s,
        "cartpole_steps_per_s": cart.steps_per_s,
        "cartpole_ratio": ours.steps_per_s / cart.steps_per_s,
    }


def _sampling_rate(recipe: Recipe, runners: int, steps: int) -> float:
    from relmas.rl.trainer import build_config

    algo = build_config(recipe.model_copy(update={"env_runners": runners})).build_algo()
    try:
        group = algo.env_runner_group

        def sample(n: int) -> list[int]:
            return group.foreach_env_runner(
                lambda r: sum(e.env_steps() for e in r.sample(num_timesteps=n)),
                local_env_runner=False,
            )

        sample(max(steps // 2, 200))  # warm-up: first forward passes, env resets, Ray startup
        rates = []
        for _ in range(3):  # median of 3 windows: one slow window (a busy core) does not decide
            t0 = time.perf_counter()
            rates.append(sum(sample(steps)) / (time.perf_counter() - t0))
        return float(np.median(rates))
    finally:
        algo.stop()


def bench_rllib(recipe: Recipe, steps: int) -> dict[str, float]:
    """RLlib EnvRunner sampling throughput with 1 and 2 runners."""
    import os

    import ray

    ray.init(
        address="local",
        num_cpus=max(os.cpu_count() or 1, 2),
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        one = _sampling_rate(recipe, 1, steps)
        two = _sampling_rate(recipe, 2, steps)
    finally:
        ray.shutdown()
    return {
        "rllib_envs_per_runner": recipe.envs_per_runner,
        "rllib_steps_per_s_1_runner": one,
        "rllib_steps_per_s_2_runners": two,
        "rllib_scaling_efficiency": two / (2 * one),
    }


def _random_policy(chip: Any, recipe: Recipe) -> Any:
    """A policy scheduler with random 128x128 tanh weights: the latency of an untrained net."""
    from relmas.env.features import FeatureEncoder
    from relmas.rl.export import NumpyPolicy
    from relmas.rl.policy_scheduler import PolicyScheduler

    enc = FeatureEncoder(
        chip,
        recipe.top_k,
        candidates=recipe.candidates,
        wait_slack=recipe.wait_slack,
        outlook=recipe.outlook,
    )
    rng = np.random.default_rng(0)
    dims = [enc.obs_dim, 128, 128, enc.num_actions]
    layers = [
        (
            rng.normal(0, 0.1, (o, i)).astype(np.float32),
            np.zeros(o, np.float32),
            "tanh" if j < 2 else "linear",
        )
        for j, (i, o) in enumerate(itertools.pairwise(dims))
    ]
    meta = {
        "recipe": recipe.as_mapping(),
        "types": list(enc.view.types),
        "obs_dim": enc.obs_dim,
        "priority_scale": enc.priority_scale,
        "layout": enc.layout.to_dict(),
        "accel_types": [chip.type_names[t] for t in chip.accel_type],
    }
    return PolicyScheduler(NumpyPolicy(layers[:2], layers[2:]), meta, "random")


def bench_decision_latency(recipe: Recipe, checkpoint: str | None) -> dict[str, float]:
    """Per-decision latency of the numpy policy scheduler over one simulated episode, and
    (a policy-guided search) the share of decisions that searched."""
    from relmas.env.sources import make_source
    from relmas.schedulers.registry import make_scheduler

    source = make_source(recipe.env_config())
    sim = source.make_simulator(0)
    if checkpoint is not None:
        sched = make_scheduler(f"rl:{checkpoint}")  # its parameters checked, one line
    else:
        sched = _random_policy(source.chip, recipe)
    sched.reset(sim, np.random.default_rng(0))
    times_ns = []
    while sim.advance():
        t0 = time.perf_counter_ns()
        decisions = sched.decide(sim)
        times_ns.append(time.perf_counter_ns() - t0)
        sim.apply(decisions)
    us = np.array(times_ns) / 1e3
    out = {
        "decision_latency_us_median": float(np.median(us)),
        "decision_latency_us_mean": float(np.mean(us)),
        "decision_latency_us_p99": float(np.percentile(us, 99)),
        "decisions": len(us),
    }
    searches = [p.search for p in getattr(sched, "parts", [sched]) if p.search is not None]
    if searches:
        out["decisions_searched_share"] = sum(s.searches for s in searches) / max(len(us), 1)
        out["rollouts_per_decision"] = sum(s.rollouts for s in searches) / max(len(us), 1)
    return out


def run_bench_rl(args: argparse.Namespace) -> int:
    """Run the benchmarks and print a table or JSON."""
    recipe = Recipe(
        scenario=args.scenario,
        hardware=args.hardware,
        train_seeds=3,
        candidates=args.candidates,
        pair_hidden=[64, 64],  # the shipped policy's shape
        hidden=[64, 64],
        envs_per_runner=args.envs_per_runner,
    )
    env_config = recipe.env_config().as_mapping()
    out: dict[str, Any] = {
        "scenario": args.scenario,
        "hardware": args.hardware,
        "candidates": args.candidates,
    }
    out.update(bench_env(env_config, args.seconds))
    out.update(bench_decision_latency(recipe, args.checkpoint))
    if not args.no_rllib:
        out.update(bench_rllib(recipe, args.sample_steps))
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for key, value in out.items():
            print(
                f"{key:<32}{value:>14,.3f}" if isinstance(value, float) else f"{key:<32}{value:>14}"
            )
    return 0
