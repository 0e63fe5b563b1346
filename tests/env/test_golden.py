"""Golden values: any change of the observation layout or of the env's semantics fails here.

A policy is only valid on the observations it was trained on. These digests cover every
observation, mask, prior and reward of two fixed episodes (the toy chip and the real cost model),
and the shipped policy's SLA rate on two held-out seeds. When a change is *meant* to alter them,
bump ``ENV_VERSION`` (``relmas/env/features.py``), retrain or re-export the shipped policy, and
update the values here in the same commit.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest

from relmas.env.features import ENV_VERSION
from relmas.env.multi_accel import MultiAccelEnv
from relmas.rl.policy_scheduler import SHIPPED_DIR
from relmas.schedulers.registry import make_scheduler
from relmas.sim.metrics import compute_metrics

EPISODES: dict[str, tuple[dict[str, Any], str]] = {
    "toy": (
        {"scenario": "toy", "hardware": "2s2e", "seeds": [7], "num_requests": 40},
        "d6569425a6252180dcead94c362adf5e890671e2657ad937bf0b905aba4ee84c",
    ),
    "heavy": (
        {"scenario": "heavy", "hardware": "2s2e", "seeds": [0], "num_requests": 60},
        "bca22aa3c0cf7a6c5dddc0c1a33a7c4314468061dfb5a79d2d5a7715e24f5adc",
    ),
    "padded": (  # units as a set: another chip, in more slots than it has units
        {
            "scenario": "heavy",
            "hardware": "3s1e",
            "seeds": [0],
            "num_requests": 60,
            "types": ["simba", "eyeriss"],
            "max_units": 6,
        },
        "dbbdab93dd5895a04f822412b39fd757a4f498b7e07cb6efdbd6ad37be9b39b2",
    ),
}
SHIPPED_SLA = {10000: 0.93, 10001: 0.91375}  # full episodes, 800 requests


def episode_digest(config: dict[str, Any]) -> str:
    """sha256 of every observation, mask, prior, critic-only future summary and reward of one
    seeded random episode."""
    env = MultiAccelEnv(config)
    digest = hashlib.sha256()
    obs, _ = env.reset(seed=0)
    rng, done = np.random.default_rng(0), False
    while not done:
        for key in ("observations", "action_mask", "action_prior", "future"):
            digest.update(obs[key].tobytes())
        obs, reward, done, _, _ = env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
        digest.update(np.float64(reward).tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize("name", sorted(EPISODES))
def test_observations_of_fixed_episodes(name: str) -> None:
    config, expected = EPISODES[name]
    assert ENV_VERSION == 2, "a new env version needs new golden values"
    assert episode_digest(config) == expected


@pytest.mark.parametrize("seed", sorted(SHIPPED_SLA))
def test_shipped_policy_sla_on_fixed_seeds(seed: int) -> None:
    from relmas.experiment import load_setup, make_simulator

    sim = make_simulator(load_setup("heavy", "2s2e"), seed)
    sla = compute_metrics(sim.run(make_scheduler(f"rl:{SHIPPED_DIR / 'default'}"), seed=seed))
    assert sla["sla_rate"] == SHIPPED_SLA[seed]
