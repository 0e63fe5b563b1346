"""The reward's DRAM-oversubscription term is the exact integral over the episode.

It used to sample the oversubscription *before* the step's dispatch and multiply it by the whole
elapsed time, missing the layer just dispatched and every change while the engine advanced
(-65% on the toy chip against the exact integral). Now the engine integrates it per event and
the env rewards the change; here the per-step terms must add up to an integral computed from the
recorded per-layer trace alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from relmas_testkit import exact_oversubscription_s

from relmas.env.multi_accel import MultiAccelEnv
from relmas.env.rewards import StepEvents

CFG: dict[str, Any] = {"scenario": "toy", "hardware": "2s2e", "seeds": [3], "num_requests": 60}


def _episode(config: dict[str, Any], follow_prior: bool) -> tuple[MultiAccelEnv, list[StepEvents]]:
    """One episode following Planaria's action (the prior) or random masked actions."""
    env = MultiAccelEnv(config)
    obs, _ = env.reset(seed=0)
    assert env.sim is not None
    env.sim.record_trace = True  # nothing has run yet: reset() stops at the first decision
    seen: list[StepEvents] = []
    shaped = env.reward_fn

    def record(ev: StepEvents) -> float:
        seen.append(ev)
        return shaped(ev)

    env.reward_fn = record  # type: ignore[assignment]
    rng, done = np.random.default_rng(0), False
    while not done:
        valid = np.flatnonzero(obs["action_mask"])
        prior = np.flatnonzero(obs["action_prior"] * obs["action_mask"])
        a = int(prior[0]) if follow_prior and prior.size else int(rng.choice(valid))
        obs, _, done, _, _ = env.step(a)
    return env, seen


@pytest.mark.parametrize("follow_prior", [True, False], ids=["planaria", "random"])
def test_bandwidth_term_sums_to_the_exact_integral(follow_prior: bool) -> None:
    env, events = _episode(CFG, follow_prior)
    assert env.sim is not None
    exact = exact_oversubscription_s(env.sim)
    assert exact > 0.01  # the toy chip's DRAM-heavy model oversubscribes
    assert sum(ev.oversubscription_s for ev in events) == pytest.approx(exact, rel=1e-9)
    first_decision_s = env.sim.requests[0].arrival_s  # reset() stops at the first arrival
    assert sum(ev.elapsed_s for ev in events) == pytest.approx(env.sim.now_s - first_decision_s)


def test_bandwidth_coefficient_charges_the_integral() -> None:
    # With only the bandwidth term, the return is -coef x integral / time scale, exactly.
    config = {**CFG, "reward": {"name": "sla", "met": 0, "miss": 0, "bandwidth": 0.5}}
    env, events = _episode(config, follow_prior=True)
    assert env.sim is not None
    expected = -0.5 * env.sim.oversubscription_s / env.encoder.time_scale_s
    assert env.episode_return == pytest.approx(expected, rel=1e-9)
    assert len(events) == env.steps
