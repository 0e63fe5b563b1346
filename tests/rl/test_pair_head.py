"""The pair head: numpy export == torch module, and the scorer is shared across pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from relmas.env.multi_accel import MultiAccelEnv
from relmas.rl.export import load_numpy_policy

torch = pytest.importorskip("torch")
CFG: dict[str, Any] = {"scenario": "toy", "hardware": "2s2e", "seeds": [0], "num_requests": 20}


def _export(tmp_path: Path) -> tuple[Any, MultiAccelEnv]:
    """A pair-head module with non-trivial weights, exported to ``tmp_path``."""
    from relmas_testkit import export_policy

    def spread(module: Any) -> None:  # the init is near zero on purpose; make it non-trivial
        with torch.no_grad():
            for p in module.pair_head.parameters():
                p.normal_(0.0, 0.5)

    return export_policy(
        tmp_path, perturb=spread, pair_hidden=[16, 8], prior_weight=2.0, episode_requests=20
    )


def _rollout(env: MultiAccelEnv, steps: int) -> list[dict[str, np.ndarray]]:
    obs, _ = env.reset(seed=0)
    seq = [obs]
    for _ in range(steps):
        obs, *_ = env.step(int(np.flatnonzero(obs["action_mask"])[-1]))
        seq.append(obs)
    return seq


def test_numpy_pair_head_matches_torch(tmp_path: Path) -> None:
    from ray.rllib.core.columns import Columns

    module, env = _export(tmp_path)
    seq = _rollout(env, 12)
    obs = {k: torch.from_numpy(np.stack([o[k] for o in seq])) for k in seq[0]}
    with torch.no_grad():
        theirs = module.forward_inference({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS].numpy()
    policy = load_numpy_policy(tmp_path)
    ours = np.stack([policy.logits(o["observations"]) + 2.0 * o["action_prior"] for o in seq])
    valid = np.stack([o["action_mask"] for o in seq]) > 0.5
    np.testing.assert_allclose(ours[valid], theirs[valid], rtol=1e-4, atol=1e-5)
    assert np.ptp(ours[valid]) > 0.1, "weights this large must give distinct logits"


def test_swapping_two_candidates_swaps_their_logits(tmp_path: Path) -> None:
    _, env = _export(tmp_path)
    policy = load_numpy_policy(tmp_path)
    enc = env.encoder
    obs = next(o for o in _rollout(env, 30) if o["action_mask"][enc.num_accels :].any())
    x = obs["observations"].copy()
    cd, n = enc.candidate_dim, enc.num_accels
    swapped = x.copy()
    swapped[:cd], swapped[cd : 2 * cd] = x[cd : 2 * cd], x[:cd]
    a, b = policy.logits(x), policy.logits(swapped)
    np.testing.assert_allclose(a[:n], b[n : 2 * n], rtol=1e-6)
    np.testing.assert_allclose(a[n : 2 * n], b[:n], rtol=1e-6)
    np.testing.assert_allclose(a[2 * n :], b[2 * n :], rtol=1e-6)


@pytest.mark.parametrize("unit_types", [None, [0.0, 0.0], [0.5, 0.5], [1.0, 1.0]])
def test_numpy_pair_head_matches_torch_for_any_unit_type_row(
    tmp_path: Path, unit_types: list[float] | None
) -> None:
    """Both numpy forms (the one-gather form for one-hot or empty type rows, the split form
    for a mix) give torch's logits; ``None`` keeps the encoder's one-hot rows."""
    from ray.rllib.core.columns import Columns

    module, env = _export(tmp_path)
    lay = env.encoder.layout
    seq = _rollout(env, 12)
    if unit_types is not None:
        at = lay.units.start + lay.unit_type.start  # unit 0's type one-hot
        for o in seq:
            o["observations"][at : at + len(unit_types)] = unit_types
    obs = {k: torch.from_numpy(np.stack([o[k] for o in seq])) for k in seq[0]}
    with torch.no_grad():
        theirs = module.forward_inference({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS].numpy()
    policy = load_numpy_policy(tmp_path)
    ours = np.stack([policy.logits(o["observations"]) + 2.0 * o["action_prior"] for o in seq])
    valid = obs["action_mask"].numpy() > 0.5  # torch masks the rest
    assert valid[:, 0 : len(valid[0]) - 1 : env.encoder.num_accels].any(), "unit 0 never scored"
    np.testing.assert_allclose(ours[valid], theirs[valid], rtol=1e-4, atol=1e-5)
    gathers = next(iter(policy.pair._plans.values())).gathers  # type: ignore[union-attr]
    one_form = unit_types is None or unit_types == [0.0, 0.0]
    assert any(g is not None for g in gathers.values()) == one_form
