"""``early_miss``: a miss is charged once, no later than at the deadline, and never for a
request that meets its deadline (the latest-start bound must be a true lower bound)."""

from __future__ import annotations

from typing import Any

import numpy as np

from relmas.env.multi_accel import MultiAccelEnv

MISS_ONLY = {"name": "sla", "met": 0.0, "miss": 1.0, "priority_weighted": False}


def _miss_times(early: bool, seed: int) -> tuple[list[float], dict[str, Any]]:
    """Simulated time of every miss charge in one random-policy episode (same actions)."""
    cfg = {
        "scenario": "heavy", "hardware": "2s2e", "num_requests": 120, "seeds": [seed],
        "reward": {**MISS_ONLY, "early_miss": early},
    }  # fmt: skip
    env = MultiAccelEnv(cfg)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=0)
    times: list[float] = []
    done, info = False, {}
    while not done:
        a = int(rng.choice(np.flatnonzero(obs["action_mask"])))
        obs, r, done, _, info = env.step(a)
        assert env.sim is not None
        times += [env.sim.now_s] * round(-r)
    return times, info


def test_early_miss_charges_each_miss_once_and_no_later() -> None:
    for seed in (1, 2):
        late, info_late = _miss_times(False, seed)
        early, info_early = _miss_times(True, seed)
        assert info_early["sla_rate"] == info_late["sla_rate"]  # same actions, same episode
        misses = round((1 - info_late["sla_rate"]) * info_late["requests"])
        assert len(early) == len(late) == misses > 0
        # the k-th earliest charge never comes after the k-th deadline-time charge
        assert all(e <= d for e, d in zip(sorted(early), sorted(late), strict=True))
        assert sum(early) < sum(late)  # and some come strictly earlier
