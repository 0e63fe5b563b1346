"""``relmas bench imitate``: memory and speed of the DAgger fit, per labelled state.

Why a bench: a DAgger run keeps every round's labelled states and fits on all of them, so what
bounds a run on a given machine is the fit's memory per state. Once, the fit's final measurement
ran one no-grad forward over the whole aggregate (~31 KB of pair-head activations a state, about
26x the labelled arrays) and a 168-episode run was OOM-killed without a message. The reference
measured in the same run is the labelled arrays' own bytes per state: the bench reports the fit's
peak extra memory as a ratio to them (target <= 2 at 100k states).

The fit runs in a fresh (spawned) process on synthetic labelled states of the real observation
shapes, so its peak resident memory is not masked by whatever this process touched before.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from typing import Any

import numpy as np

from relmas.cli.common import positive_int
from relmas.cli.simulate import HARDWARE_HELP
from relmas.rl.recipe import Recipe


def register_bench(bench_subparsers: Any) -> None:
    """Add ``bench imitate``."""
    p = bench_subparsers.add_parser("imitate", help="DAgger fit memory and speed per state")
    p.add_argument("--scenario", default="heavy", help="scenario preset or 'toy'")
    p.add_argument("--hardware", default="2s2e", help=HARDWARE_HELP)
    p.add_argument("--states", type=positive_int, default=100_000, help="synthetic labelled states")
    p.add_argument("--epochs", type=positive_int, default=1, help="passes of the fit over them")
    p.add_argument("--json", action="store_true", help="print JSON, not a table")
    p.set_defaults(func=cmd_bench_imitate)


def synthetic_labels(env: Any, states: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random labelled arrays with the env's shapes and dtypes (as ``Labelled.arrays`` gives)."""
    rng = np.random.default_rng(seed)
    dim = env.observation_space["observations"].shape[0]
    actions = int(env.action_space.n)
    future = env.observation_space["future"].shape[0]
    label = rng.random((states, actions)) < 0.1
    label[:, 0] = True  # every state has at least one right action
    return {
        "obs": rng.random((states, dim), dtype=np.float32),
        "mask": np.ones((states, actions), np.float32),
        "prior": np.zeros((states, actions), np.float32),
        "future": rng.random((states, future), dtype=np.float32),
        "label": label,
        "informative": rng.random(states) < 0.1,
        "deviates": rng.random(states) < 0.05,
        "ret": rng.random(states, dtype=np.float32),
    }


def _status_bytes(field: str) -> int:
    """``VmRSS`` / ``VmHWM`` of this process from ``/proc/self/status`` (Linux, kB)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak() -> int:
    """Reset the peak resident memory to the current one (Linux >= 4.0, ``clear_refs`` 5) and
    return it, so the peak measured next is the fit's, not that of building the data."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
        fh.write("5")
    return _status_bytes("VmRSS")


def measure_fit(recipe_data: dict[str, Any], states: int, epochs: int) -> dict[str, float]:
    """Peak extra resident memory and time of ``fit`` on ``states`` synthetic states (run this in
    a fresh process: the peak is per process)."""
    from relmas.env.multi_accel import MultiAccelEnv
    from relmas.rl.imitate import build_module, fit
    from relmas.rl.trainer import module_config

    recipe = Recipe.model_validate(recipe_data)
    env = MultiAccelEnv(recipe.env_config())
    module = build_module(env, module_config(recipe), recipe.seed)
    data = synthetic_labels(env, states)
    before = _reset_peak()
    t0 = time.perf_counter()
    fit(module, data, epochs=epochs, lr=1e-3, minibatch=256, informative_weight=5.0, seed=0,
        deviation_weight=20.0)  # fmt: skip
    elapsed_s = time.perf_counter() - t0
    data_bytes = sum(a.nbytes for a in data.values())
    extra = max(_status_bytes("VmHWM") - before, 0)
    return {
        "states": states,
        "data_bytes_per_state": data_bytes / states,
        "fit_extra_peak_bytes_per_state": extra / states,
        "ratio_fit_extra_to_data": extra / data_bytes,
        "fit_states_per_s": states * epochs / elapsed_s,
    }


def cmd_bench_imitate(args: argparse.Namespace) -> int:
    """Run the fit in a spawned process and print a table or JSON."""
    recipe = Recipe(scenario=args.scenario, hardware=args.hardware, train_seeds=3,
                    pair_hidden=[64, 64], hidden=[64, 64], critic_future=True)  # fmt: skip
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        out = pool.apply(measure_fit, (recipe.as_mapping(), args.states, args.epochs))
    out = {"scenario": args.scenario, "hardware": args.hardware, "epochs": args.epochs, **out}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for key, value in out.items():
            shown = f"{value:>14,.3f}" if isinstance(value, float) else f"{value:>14}"
            print(f"{key:<34}{shown}")
    return 0
