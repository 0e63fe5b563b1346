"""Start PPO from a saved module (an imitation round), keeping what still fits.

Why not RLlib's ``load_state_path``: it needs the saved module's exact architecture, so an
ablation that changes one part (the critic without the upcoming arrivals, ``critic_future:
false``) could not start from the same imitation weights as the run it is compared with. Here
every parameter whose name and shape match is copied, the rest keeps its fresh initialisation
(named in the return value and in the training log), and the EnvRunners get the result before
the first sample.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def matching_state(
    target: dict[str, Any], saved: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """``target`` with every same-named, same-shaped entry of ``saved``; and the names kept."""
    out, kept = dict(target), []
    for name, value in target.items():
        src = saved.get(name)
        if src is not None and np.shape(src) == np.shape(value):
            out[name] = np.asarray(src, dtype=np.asarray(value).dtype)
        else:
            kept.append(name)
    return out, kept


def warm_start(algo: Any, init: Path) -> list[str]:
    """Load ``init/module`` into the learner's module and sync the EnvRunners; returns the
    parameter names that stayed freshly initialised."""
    from ray.rllib.core import DEFAULT_MODULE_ID
    from ray.rllib.core.rl_module.rl_module import RLModule
    from ray.rllib.utils.numpy import convert_to_numpy

    saved = convert_to_numpy(RLModule.from_checkpoint(str((init / "module").resolve())).get_state())
    weights = convert_to_numpy(algo.learner_group.get_weights())
    weights[DEFAULT_MODULE_ID], fresh = matching_state(weights[DEFAULT_MODULE_ID], saved)
    algo.learner_group.set_weights(weights)
    algo.env_runner_group.sync_weights(
        from_worker_or_learner_group=algo.learner_group, inference_only=True
    )
    return fresh
