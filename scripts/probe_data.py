"""The deviation probe's data: its recipe, its cached teacher labels, the gate, the held-out count.

Why a module of its own: ``scripts/deviation_probe.py`` decides *what* to fit and measure;
this module holds the data those steps share, so the probe stays one readable page. The label
cache is keyed by everything the labels depend on (the teacher's base, episode length, kept
plain states, discount, observation blocks), so a probe of another variant never reads labels
made for a different observation layout.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from relmas.env.multi_accel import MultiAccelEnv
from relmas.rl.labels import collect_episode
from relmas.rl.recipe import Recipe
from relmas.rl.teacher import teacher_params
from relmas.schedulers.registry import make_scheduler

RECIPE = Path(__file__).resolve().parents[1] / "tune_configs" / "train_default.yaml"
HELD_OUT_CHUNK = 4096  # states per no-grad forward: the pair head's activations grow per state


def recipe_for(args: argparse.Namespace) -> Recipe:
    """The shipped recipe narrowed to the probe's pair and observation variant."""
    data = yaml.safe_load(RECIPE.read_text())
    data.pop("out", None)
    data.update(scenario=args.scenario, hardware=args.hardware, wait_slack=args.wait_slack)
    data.update(outlook=args.outlook or args.outlook_gate, outlook_gate=args.outlook_gate)
    if args.epochs:
        data["imitation"] = {**data["imitation"], "epochs": args.epochs}
    return Recipe.model_validate(data)


def labels(args: argparse.Namespace, recipe: Recipe, seed: int) -> dict[str, np.ndarray]:
    """One teacher-labelled episode (teacher acting), from the cache if there."""
    imitation = recipe.imitation
    assert imitation is not None
    # the cache key names everything the labels depend on, so another base never reads them
    made_by = f"{args.base}|{recipe.episode_requests}|{imitation.keep_plain}|{recipe.gamma}"
    made_by += "|wait_slack" if recipe.wait_slack else ""  # another observation layout
    made_by += "|outlook" if recipe.outlook else ""
    tag = hashlib.sha256(made_by.encode()).hexdigest()[:10]
    path = args.out / f"labels_{args.scenario}_{args.hardware}_{tag}_{seed}.npz"
    if path.is_file():
        with np.load(path) as data:
            return dict(data)
    teacher = make_scheduler(imitation.teacher, teacher_params(imitation, args.base))
    env = MultiAccelEnv(recipe.env_config().as_mapping())
    out = collect_episode(
        env, teacher, None, pair=(args.scenario, args.hardware), episode_seed=seed, beta=1.0,
        keep_plain=imitation.keep_plain, seed=seed, gamma=recipe.gamma,
    )  # fmt: skip
    arrays = out.arrays()
    np.savez(path, **arrays)
    return arrays


def held_out(module: Any, data: dict[str, np.ndarray]) -> dict[str, float]:
    """Right departures, and wrong actions elsewhere, of the fitted student on ``data``,
    in chunks of :data:`HELD_OUT_CHUNK` states (one pass over all of them grew with the
    number of episodes, as the fit's final measurement once did)."""
    import torch

    from relmas.rl.imitate import actor_logits

    parts = []
    with torch.no_grad():
        for i in range(0, len(data["obs"]), HELD_OUT_CHUNK):
            batch = {
                k: torch.from_numpy(data[k][i : i + HELD_OUT_CHUNK])
                for k in ("obs", "mask", "prior")
            }
            parts.append(actor_logits(module, batch).argmax(dim=1).numpy())
    action = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    hit = data["label"][np.arange(len(action)), action]
    dev = data["deviates"]
    return {
        "departures": int(dev.sum()),
        "departures_right": int((hit & dev).sum()),
        "other_states": int((~dev).sum()),
        "other_states_wrong": int((~hit & ~dev).sum()),
    }


def gated(recipe: Recipe, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Labels made without ``outlook_gate`` as the gated env would have masked them: where
    Planaria's future loses nothing, only its action (the prior) is valid. States whose label
    set then holds no valid action (the teacher disagreed with the prior) are left out."""
    env = MultiAccelEnv(recipe.env_config().as_mapping())
    lost = data["obs"][:, env.encoder.layout.index("outlook_lost")]
    closed = (lost == 0) & ((data["mask"] * data["prior"]).sum(axis=1) > 0)
    print(f"gate closed on {closed.mean():.1%} of {len(closed)} states, on "
          f"{int((closed & data['deviates']).sum())} of {int(data['deviates'].sum())} "
          "departures", flush=True)  # fmt: skip
    mask = np.where(closed[:, None], data["prior"], data["mask"])
    label = data["label"] & (mask > 0.5)
    keep = label.any(axis=1)
    return {k: v[keep] for k, v in {**data, "mask": mask, "label": label}.items()}
