"""The masking module's sampling shortcuts change speed only: no gradients where RLlib samples,
gradients where the learner trains, and the same logits in either mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _module_and_batch(tmp_path: Path) -> tuple[Any, dict[str, Any]]:
    from ray.rllib.core.columns import Columns
    from relmas_testkit import export_policy

    module, env = export_policy(tmp_path, pair_hidden=[16, 8], episode_requests=20)
    obs, _ = env.reset(seed=0)
    seq = [obs]
    for _ in range(6):
        obs, *_ = env.step(int(np.flatnonzero(obs["action_mask"])[0]))
        seq.append(obs)
    batch = {k: torch.from_numpy(np.stack([o[k] for o in seq])) for k in seq[0]}
    return module, {Columns.OBS: batch}


def test_sampling_builds_no_graph_and_training_does(tmp_path: Path) -> None:
    from ray.rllib.core.columns import Columns

    module, batch = _module_and_batch(tmp_path)
    key = Columns.ACTION_DIST_INPUTS
    explore = module.forward_exploration(batch)[key]
    infer = module.forward_inference(batch)[key]
    train = module.forward_train(batch)[key]
    assert not explore.requires_grad and not infer.requires_grad
    assert train.requires_grad, "the learner's pass must keep its graph"
    torch.testing.assert_close(explore, train.detach())
    torch.testing.assert_close(infer, train.detach())


def test_mode_switch_sets_the_flag_without_walking_a_mode_free_module(tmp_path: Path) -> None:
    module, _ = _module_and_batch(tmp_path)
    assert module._mode_free  # linear and tanh layers only
    module.train()
    child = next(m for m in module.modules() if m is not module)
    assert child.training
    assert module.eval() is module and not module.training
    assert child.training, "a mode-free module sets its own flag and skips the walk"
    assert module.train() is module and module.training


def test_a_dropout_layer_makes_the_switch_walk(tmp_path: Path) -> None:
    from relmas.rl.module import mode_matters

    module, _ = _module_and_batch(tmp_path)
    assert not mode_matters(module)
    module.extra = torch.nn.Dropout(0.5)
    assert mode_matters(module)
    module._mode_free = False  # what setup() concludes for such a module
    module.eval()
    assert not module.extra.training
    module.train()
    assert module.extra.training
