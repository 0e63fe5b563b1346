"""Contract of ``relmas/MultiAccel-v2``: Gymnasium API, masking, determinism, rewards, KPIs.

All tests use the self-contained toy source (no cost model, no Ray), so they run in seconds.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import relmas.env
from relmas.env.multi_accel import KPI_KEYS, MultiAccelEnv
from relmas.errors import UserError
from relmas.sim.metrics import compute_metrics

CFG: dict[str, Any] = {
    "scenario": "toy",
    "hardware": "2s2e",
    "seeds": [1, 2, 3],
    "num_requests": 25,
}


def _rollout(env: MultiAccelEnv, seed: int, policy_seed: int = 0) -> tuple[list, float, dict]:
    """Random masked rollout to the end; returns (actions, return, final info)."""
    rng = np.random.default_rng(policy_seed)
    obs, _ = env.reset(seed=seed)
    actions, ret, done, info = [], 0.0, False, {}
    while not done:
        assert obs["action_mask"].sum() >= 1, "the mask must never be all zero"
        assert env.observation_space.contains(obs)
        a = int(rng.choice(np.flatnonzero(obs["action_mask"])))
        obs, r, done, truncated, info = env.step(a)
        assert not truncated
        actions.append(a)
        ret += r
    return actions, ret, info


def test_registered_and_check_env_passes() -> None:
    env = gym.make(relmas.env.ENV_ID, config={**CFG, "strict": False})
    check_env(env.unwrapped, skip_render_check=True)


def test_masked_random_rollout_reaches_the_end_with_kpis() -> None:
    env = MultiAccelEnv(CFG)
    actions, _, info = _rollout(env, seed=0)
    assert env.sim is not None and env.sim.finished
    assert set(KPI_KEYS) <= set(info)
    assert info["requests"] == 25 and info["decisions"] == len(actions)
    expected = compute_metrics(env.sim.result())
    assert info["sla_rate"] == pytest.approx(expected["sla_rate"])


def test_same_seed_same_episode_and_different_seed_differs() -> None:
    a1, r1, i1 = _rollout(MultiAccelEnv(CFG), seed=7)
    a2, r2, i2 = _rollout(MultiAccelEnv(CFG), seed=7)
    assert (a1, r1, i1) == (a2, r2, i2)
    seeds = {MultiAccelEnv(CFG).reset(seed=s)[1]["episode_seed"] for s in range(20)}
    assert seeds == {1, 2, 3}, "reset(seed) must pick among the configured episode seeds"


def test_episode_seed_option_selects_the_trace() -> None:
    env = MultiAccelEnv(CFG)
    _, info = env.reset(seed=0, options={"episode_seed": 2})
    assert info["episode_seed"] == 2
    specs = env.sim.specs if env.sim else []
    assert specs == env.source.make_simulator(2).specs


def test_stepping_a_masked_action_raises() -> None:
    env = MultiAccelEnv(CFG)
    obs, _ = env.reset(seed=0)
    invalid = np.flatnonzero(obs["action_mask"] == 0)
    assert invalid.size, "with 4 accelerators and few requests some action must be masked"
    with pytest.raises(ValueError, match="masked"):
        env.step(int(invalid[0]))
    with pytest.raises(ValueError):
        env.step(env.action_space.n)


def test_non_strict_mode_replaces_a_masked_action() -> None:
    env = MultiAccelEnv({**CFG, "strict": False})
    obs, _ = env.reset(seed=0)
    invalid = int(np.flatnonzero(obs["action_mask"] == 0)[0])
    env.step(invalid)  # no exception: only for check_env
    assert env.steps == 1


def test_mask_matches_free_accels_and_candidates() -> None:
    env = MultiAccelEnv({**CFG, "candidates": "deadline"})
    obs, _ = env.reset(seed=0)
    enc, sim = env.encoder, env.sim
    assert sim is not None
    mask = obs["action_mask"][:-1].reshape(enc.top_k, enc.num_accels)
    n_cand = min(len(sim.ready), enc.top_k)
    assert mask[:n_cand][:, sim.free_accels].all()
    assert mask.sum() == n_cand * len(sim.free_accels)
    deadlines = [r.deadline_s for r in enc.candidates]
    assert deadlines == sorted(deadlines)


def test_observation_shape_and_bounds() -> None:
    env = MultiAccelEnv({**CFG, "top_k": 3, "hardware": "1s3e"})
    enc = env.encoder
    # env v2, two known types, "heuristic" rule (env/layout.py): a candidate row is 4 fields,
    # 5 per type, a slack per type and 5 hints; a unit row present + type one-hot + 5 fields +
    # planaria_unit; the globals 5 fields + 2 per type + planaria_waits.
    assert enc.obs_dim == 3 * (4 + 5 * 2 + 2 + 5) + 4 * (1 + 2 + 5 + 1) + (5 + 2 * 2 + 1)
    assert env.action_space.n == 3 * 4 + 1
    obs, _ = env.reset(seed=0)
    assert obs["observations"].dtype == np.float32
    assert obs["observations"].shape == (enc.obs_dim,)
    assert np.all(np.abs(obs["observations"]) <= 10.0)


@pytest.mark.parametrize("drop_hopeless", [False, True])
def test_sla_reward_sums_to_met_minus_missed(drop_hopeless: bool) -> None:
    reward = {"name": "sla", "priority_weighted": False}
    cfg = {**CFG, "reward": reward, "drop_hopeless": drop_hopeless, "load": 1.5}
    env = MultiAccelEnv(cfg)
    _, ret, info = _rollout(env, seed=1)
    met = round(info["sla_rate"] * info["requests"])
    assert ret == pytest.approx(met - (info["requests"] - met))
    assert (info["drop_rate"] > 0) == drop_hopeless


def test_bandwidth_and_energy_terms_lower_the_return() -> None:
    base = {"name": "sla", "priority_weighted": False}
    _, plain, _ = _rollout(MultiAccelEnv({**CFG, "reward": base}), seed=1)
    shaped_cfg = {**base, "energy": 0.01, "bandwidth": 1.0}
    _, shaped, _ = _rollout(MultiAccelEnv({**CFG, "reward": shaped_cfg}), seed=1)
    assert shaped < plain


@pytest.mark.parametrize(
    ("reward", "field"),
    [
        ({"name": "nope"}, "reward.name"),
        ({"met": -1.0}, "reward.met"),
        ({"mett": 1}, "reward.mett"),
    ],
)
def test_bad_reward_config_is_a_user_error(reward: dict[str, Any], field: str) -> None:
    with pytest.raises(UserError, match=field):
        MultiAccelEnv({**CFG, "reward": reward})


def test_periodic_decision_cycle_reaches_the_end() -> None:
    env = MultiAccelEnv({**CFG, "decision_period_s": 2e-3})
    _, _, info = _rollout(env, seed=0)
    assert info["requests"] == 25
    assert env.sim is not None and env.sim.decision_period_s == 2e-3


def test_bad_hardware_is_a_user_error() -> None:
    with pytest.raises(UserError, match="hardware"):
        MultiAccelEnv({**CFG, "hardware": "2x"})


def test_a_miss_is_paid_at_the_first_step_after_its_deadline() -> None:
    """Waiting must not postpone a penalty: misses are scored when the deadline passes."""
    env = MultiAccelEnv({**CFG, "load": 1.5, "reward": {"name": "sla"}})
    obs, _ = env.reset(seed=0)
    update = env.outcomes.update
    log: list[tuple[float, float, list]] = []

    def spy(sim: Any, running: Any, final: bool) -> Any:
        before = log[-1][1] if log else 0.0
        out = update(sim, running, final)
        log.append((before, sim.now_s, out[1] if not final else []))
        return out

    env.outcomes.update = spy  # type: ignore[method-assign]
    rng, done = np.random.default_rng(0), False
    while not done:
        obs, _, done, _, _ = env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
    missed = [(t0, t1, r) for t0, t1, rs in log for r in rs]
    assert missed, "an overloaded random run must miss deadlines"
    for t0, t1, r in missed:
        assert t0 <= r.deadline_s < t1


@pytest.mark.parametrize("rule", ["mixed", "deadline"])
def test_candidate_rules_under_a_long_queue(rule: str) -> None:
    env = MultiAccelEnv({**CFG, "load": 3.0, "top_k": 4, "candidates": rule})
    obs, _ = env.reset(seed=0)
    sim, enc = env.sim, env.encoder
    assert sim is not None
    while len(sim.ready) <= 2 * enc.top_k:
        obs, *_ = env.step(enc.wait_action if obs["action_mask"][-1] else 0)
    ready = sorted(sim.ready.values(), key=lambda r: r.deadline_s)
    cands = enc.candidates
    assert len(cands) == enc.top_k
    if rule == "deadline":
        assert cands == ready[: enc.top_k]
        return
    assert cands[:2] == ready[:2]
    best = sim.chip.remaining_best_s
    work = sorted(best[r.model][r.next_layer] for r in ready[2:])
    assert sorted(best[r.model][r.next_layer] for r in cands[2:]) == work[:2]


def test_unknown_candidate_rule_is_a_user_error() -> None:
    with pytest.raises(UserError, match="candidates"):
        MultiAccelEnv({**CFG, "candidates": "random"})
