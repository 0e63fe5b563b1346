"""PPO RLModule that applies the env's action mask to the policy logits.

RLlib's new API stack has no built-in masking (``config.environment(action_mask_key=...)`` is
inert), so the module itself must do it: the PPO catalog builds encoder / pi / vf heads for the
*inner* ``observations`` box, and every forward pass adds ``log(mask)`` (clamped to FLOAT_MIN) to
the logits, so masked actions get probability ~0 both when sampling and in the PPO loss. Built on
``DefaultPPOTorchRLModule`` (the public class; the example module uses a deprecated alias).

Heuristic prior: with ``model_config["action_prior_weight"] = w > 0`` the module also adds
``w * action_prior`` (the env's one-hot of Planaria's action, see :mod:`relmas.env.features`) to
the logits. A freshly initialised network has near-zero logits, so the greedy policy starts as
Planaria and PPO learns *where to deviate* instead of rediscovering the heuristic from scratch;
the exported numpy policy adds the same term (``policy.json`` records ``w``).

Pair head: with ``model_config["pair_head"] = {"layout": {...}, "hidden": [64]}`` the logits come
from :class:`relmas.rl.pair_head.PairHead` (one scorer shared by every candidate/unit pair)
instead of the flat MLP's pi head; the value function keeps the default MLP critic.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
from ray.rllib.core.columns import Columns
from ray.rllib.utils.torch_utils import FLOAT_MIN
from torch import nn

from relmas.rl.pair_head import PairHead, tanh_mlp


def critic_mlp(width: int, hidden: list[int]) -> nn.Sequential:
    """A tanh MLP to one value (the pair-head policy's critic), one flat Sequential."""
    sizes = [width, *map(int, hidden)]
    return nn.Sequential(*tanh_mlp(sizes), nn.Linear(sizes[-1], 1))


# Layers that compute differently in training and eval mode (dropout, batch/instance norm).
_MODE_DEPENDENT = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._NormBase)


def mode_matters(module: nn.Module) -> bool:
    """Whether any submodule computes differently in training and in eval mode."""
    return any(isinstance(m, _MODE_DEPENDENT) for m in module.modules())


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
        cfg = self.model_config
        weight = cfg.get("action_prior_weight", 0.0) if isinstance(cfg, dict) else 0.0
        self.prior_weight = float(weight)

    def setup(self) -> None:
        """Build the heads on the inner box, then expose the full Dict space to connectors.

        One torch thread per process: the batches here are small (tens of observations), and
        with EnvRunners and the learner sharing a few cores, torch's default thread pool made a
        sampling forward pass 2.5x slower (measured: 439 vs 1132 sampled steps/s, 8 envs).
        """
        torch.set_num_threads(1)
        super().setup()
        self.observation_space = self._obs_space_with_mask
        cfg = self.model_config if isinstance(self.model_config, dict) else {}
        self.pair_head: PairHead | None = None
        if cfg.get("pair_head"):
            if cfg.get("use_lstm"):
                raise ValueError("pair_head does not combine with use_lstm")
            spec = cfg["pair_head"]
            self.pair_head = PairHead(spec["layout"], spec.get("hidden", [64]))
        self.critic: nn.Module | None = None
        self.critic_future = bool(cfg.get("critic_future", True))
        if self.pair_head is not None:
            spaces = self._obs_space_with_mask.spaces
            width = spaces["observations"].shape[0]
            if self.critic_future and "future" in spaces:
                width += spaces["future"].shape[0]
            self.critic = critic_mlp(width, cfg.get("fcnet_hiddens", [128, 128]))
        self._mode_free = not mode_matters(self)

    def train(self, mode: bool = True) -> MaskedPPOTorchRLModule:
        """Set the training flag; walk the submodules only if one of them depends on it.

        Why: RLlib's torch module switches to eval mode and back around every sampling forward
        pass, two walks over all ~30 submodules each time. This module's layers (linear, tanh)
        compute the same in either mode, so unless a dropout or normalisation layer is present
        (checked once in :meth:`setup`) only the flag changes.
        """
        if getattr(self, "_mode_free", False):
            self.training = mode
            return self
        return super().train(mode)

    def _split(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
        """(logit offset: log-mask plus the weighted prior, batch with the inner observations).

        Never mutates the caller's batch.
        """
        obs = batch[Columns.OBS]
        batch = dict(batch)
        batch[Columns.OBS] = obs["observations"]
        offset = torch.clamp(torch.log(obs["action_mask"]), min=FLOAT_MIN)
        if self.prior_weight and "action_prior" in obs:
            offset = offset + self.prior_weight * obs["action_prior"]
        return offset, batch

    def _mask(
        self, out: dict[str, Any], offset: torch.Tensor, inner: dict[str, Any]
    ) -> dict[str, Any]:
        """Add the offset to the pi head's logits."""
        out[Columns.ACTION_DIST_INPUTS] = out[Columns.ACTION_DIST_INPUTS] + offset
        return out

    def _pair(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The pair head's masked logits alone: the default actor encoder and pi head are not
        run at all (about half of a forward pass saved at every sampled step)."""
        offset, inner = self._split(batch)
        assert self.pair_head is not None
        return {Columns.ACTION_DIST_INPUTS: self.pair_head(inner[Columns.OBS]) + offset}

    def _forward_inference(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if self.pair_head is not None:
            with torch.no_grad():  # as RLlib's own _forward_inference: no autograd graph
                return self._pair(batch)
        mask, inner = self._split(batch)
        return self._mask(super()._forward_inference(inner, **kwargs), mask, inner)

    def _forward_exploration(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if self.pair_head is not None:
            with torch.no_grad():  # sampling needs no gradients (RLlib's default does the same)
                return self._pair(batch)
        mask, inner = self._split(batch)
        return self._mask(super()._forward_exploration(inner, **kwargs), mask, inner)

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if self.pair_head is not None:
            return self._pair(batch)  # values come from compute_values (no shared embedding)
        mask, inner = self._split(batch)
        return self._mask(super()._forward_train(inner, **kwargs), mask, inner)

    def compute_values(self, batch: dict[str, Any], embeddings: Any | None = None) -> torch.Tensor:
        """Value estimates. With a pair head, the critic is its own MLP over the observation and
        the upcoming arrivals (``future``), an input-dependent baseline; else RLlib's."""
        obs = batch[Columns.OBS]
        if self.critic is not None and isinstance(obs, dict):
            x = obs["observations"]
            if self.critic_future and "future" in obs:
                x = torch.cat([x, obs["future"]], dim=-1)
            return self.critic(x).squeeze(-1)
        if embeddings is None and isinstance(obs, dict):
            _, batch = self._split(batch)
        return super().compute_values(batch, embeddings)
