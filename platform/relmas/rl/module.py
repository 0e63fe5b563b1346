"""PPO RLModule that applies the env's action mask to the policy logits.

RLlib's new API stack has no built-in masking (``config.environment(action_mask_key=...)`` is
inert), so the module itself must do it: the PPO catalog builds encoder / pi / vf heads for the
*inner* ``observations`` box, and every forward pass adds ``log(mask)`` (clamped to FLOAT_MIN) to
the logits, so masked actions get probability ~0 both when sampling and in the PPO loss. Built on
``DefaultPPOTorchRLModule`` (the public class; the example module uses a deprecated alias).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
from ray.rllib.core.columns import Columns
from ray.rllib.utils.torch_utils import FLOAT_MIN


class MaskedPPOTorchRLModule(DefaultPPOTorchRLModule):
    """PPO module for ``Dict(observations=Box, action_mask=Box)`` observation spaces."""

    def __init__(self, *, observation_space: gym.Space | None = None, **kwargs: Any) -> None:
        if not isinstance(observation_space, gym.spaces.Dict) or not {
            "action_mask",
            "observations",
        } <= set(observation_space.spaces):
            raise ValueError("need a Dict observation space with 'action_mask' and 'observations'")
        self._obs_space_with_mask = observation_space
        super().__init__(observation_space=observation_space["observations"], **kwargs)

    def setup(self) -> None:
        """Build the heads on the inner box, then expose the full Dict space to connectors."""
        super().setup()
        self.observation_space = self._obs_space_with_mask

    @staticmethod
    def _split(batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
        """(mask, batch with the inner observations); never mutates the caller's batch."""
        obs = batch[Columns.OBS]
        batch = dict(batch)
        batch[Columns.OBS] = obs["observations"]
        return obs["action_mask"], batch

    @staticmethod
    def _mask(out: dict[str, Any], mask: torch.Tensor) -> dict[str, Any]:
        logits = out[Columns.ACTION_DIST_INPUTS]
        out[Columns.ACTION_DIST_INPUTS] = logits + torch.clamp(torch.log(mask), min=FLOAT_MIN)
        return out

    def _forward_inference(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        mask, inner = self._split(batch)
        return self._mask(super()._forward_inference(inner, **kwargs), mask)

    def _forward_exploration(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        mask, inner = self._split(batch)
        return self._mask(super()._forward_exploration(inner, **kwargs), mask)

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        mask, inner = self._split(batch)
        return self._mask(super()._forward_train(inner, **kwargs), mask)

    def compute_values(self, batch: dict[str, Any], embeddings: Any | None = None) -> torch.Tensor:
        """Value estimates; strips the mask first unless embeddings are given."""
        if embeddings is None and isinstance(batch[Columns.OBS], dict):
            _, batch = self._split(batch)
        return super().compute_values(batch, embeddings)
