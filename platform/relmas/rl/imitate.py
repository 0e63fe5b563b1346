"""Supervised training of the policy module on teacher-labelled states (the DAgger step).

Why a plain torch loop rather than RLlib's offline BC/MARWIL: the labels are *sets* of equally
good actions (the teacher's tied options) with per-state weights for the rare informative
states, and the loss, the weighting and the accuracy on informative states are a dozen lines
here, while RLlib's offline path reads recorded episodes of single actions through Ray Data. The
module is the same masking RLModule PPO trains (``relmas.rl.module``), so its weights seed the
RL fine-tuning unchanged.

Loss per state: ``-log sum_{a in labels} p(a)`` with ``p`` the masked softmax of the actor's
logits (plus ``prior_weight * prior``, exactly as at decision time), weighted by
``informative_weight`` on informative states and 1 on the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from relmas.rl.module import MaskedPPOTorchRLModule

VALUE_WEIGHT = 0.01  # the critic's squared error next to the imitation loss (returns ~ tens)
EVAL_CHUNK = 1024  # rows per no-grad forward when measuring a fit (~32 MB of activations)


@dataclass(frozen=True)
class FitStats:
    """What one supervised pass over the aggregated data achieved."""

    states: int
    informative: int
    loss: float
    accuracy: float  # the argmax is in the label set, over all states
    informative_accuracy: float  # the same over informative states only
    deviation_accuracy: float  # the same where the teacher departs from its base
    value_explained: float = math.nan  # 1 - Var(return - V) / Var(return) of the critic


def actor_logits(module: MaskedPPOTorchRLModule, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The masked logits the policy acts on (pair head + prior; -inf-like where masked)."""
    if module.pair_head is None:
        raise ValueError("imitation trains the pair head (set pair_hidden)")
    logits = module.pair_head(batch["obs"])
    if module.prior_weight:
        logits = logits + module.prior_weight * batch["prior"]
    return logits.masked_fill(batch["mask"] < 0.5, -1e9)


def set_nll(logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Per-state ``-log P(label set)``."""
    log_all = torch.logsumexp(logits, dim=-1)
    return log_all - torch.logsumexp(logits.masked_fill(~label, -1e9), dim=-1)


def set_loss(logits: torch.Tensor, label: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean ``-log P(label set)``."""
    return (set_nll(logits, label) * weight).sum() / weight.sum()


def weighted_tensors(
    data: dict[str, np.ndarray], informative_weight: float, deviation_weight: float
) -> dict[str, torch.Tensor]:
    """The labelled arrays as tensors (shared memory, no copy) plus each state's loss weight."""
    weight = np.where(data["informative"], informative_weight, 1.0)
    weight = np.where(data["deviates"], deviation_weight, weight).astype(np.float32)
    keys = ("obs", "mask", "prior", "future", "label", "informative", "deviates", "ret")
    return {**{k: torch.from_numpy(data[k]) for k in keys}, "weight": torch.from_numpy(weight)}


def critic_values(module: MaskedPPOTorchRLModule, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The critic's values of the states (as PPO computes them)."""
    obs = {"observations": batch["obs"], "action_mask": batch["mask"], "future": batch["future"]}
    return module.compute_values({"obs": obs})


def _chunked(
    module: MaskedPPOTorchRLModule, data: dict[str, torch.Tensor], chunk: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(per-state weighted loss, argmax-in-label-set, critic values or None), ``chunk`` rows
    at a time: the pair head's activations take ~30 KB per state, so one pass over a large
    aggregate would need tens of GB (a 168-episode DAgger run was OOM-killed this way)."""
    n = data["obs"].shape[0]
    losses, hits, values = [], [], []
    with torch.no_grad():
        for start in range(0, n, chunk):
            part = {k: v[start : start + chunk] for k, v in data.items()}
            logits = actor_logits(module, part)
            losses.append(set_nll(logits, part["label"]) * part["weight"])
            hits.append(part["label"].gather(1, logits.argmax(dim=1, keepdim=True))[:, 0])
            if module.critic is not None:
                values.append(critic_values(module, part))
    if not losses:
        return torch.zeros(0), torch.zeros(0, dtype=torch.bool), None
    return torch.cat(losses), torch.cat(hits), torch.cat(values) if values else None


def evaluate(
    module: MaskedPPOTorchRLModule, data: dict[str, torch.Tensor], chunk: int = EVAL_CHUNK
) -> FitStats:
    """Loss and accuracies on ``data`` (no gradient; ``chunk`` rows per forward pass)."""
    weighted, hit, values = _chunked(module, data, chunk)
    loss = float(weighted.sum() / data["weight"].sum())
    explained = math.nan
    if values is not None and data["ret"].numel() > 1:
        ret = data["ret"]
        explained = float(1 - (ret - values).var() / ret.var())
    info, dev = data["informative"], data["deviates"]
    n_info, n_dev = int(info.sum()), int(dev.sum())
    return FitStats(
        states=int(hit.numel()),
        informative=n_info,
        loss=loss,
        accuracy=float(hit.float().mean()) if hit.numel() else math.nan,
        informative_accuracy=float(hit[info].float().mean()) if n_info else math.nan,
        deviation_accuracy=float(hit[dev].float().mean()) if n_dev else math.nan,
        value_explained=explained,
    )


def fit(
    module: MaskedPPOTorchRLModule,
    data: dict[str, np.ndarray],
    *,
    epochs: int,
    lr: float,
    minibatch: int,
    informative_weight: float,
    seed: int,
    deviation_weight: float = 1.0,
) -> FitStats:
    """Train the actor (the pair head) on ``data`` for ``epochs`` passes; the statistics are
    measured after training, on the same data."""
    torch.set_num_threads(1)  # ~2.5x faster per minibatch than 2 threads on a shared 2-core box
    tensors = weighted_tensors(data, informative_weight, deviation_weight)
    params = list(module.pair_head.parameters()) if module.pair_head is not None else []
    if module.critic is not None:  # warm the critic on the episodes' returns meanwhile
        params += list(module.critic.parameters())
    optimizer = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n = tensors["obs"].shape[0]
    module.train()
    for _ in range(epochs):
        for idx in torch.randperm(n, generator=gen).split(minibatch):
            batch: dict[str, Any] = {k: v[idx] for k, v in tensors.items()}
            loss = set_loss(actor_logits(module, batch), batch["label"], batch["weight"])
            if module.critic is not None:
                loss = (
                    loss
                    + VALUE_WEIGHT * ((critic_values(module, batch) - batch["ret"]) ** 2).mean()
                )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    module.eval()
    return evaluate(module, tensors)


def build_module(env: Any, model_config: dict[str, Any], seed: int) -> MaskedPPOTorchRLModule:
    """A fresh masking RLModule for ``env`` (torch seeded first, so the weights repeat)."""
    from ray.rllib.algorithms.ppo.ppo_catalog import PPOCatalog

    torch.manual_seed(seed)
    return MaskedPPOTorchRLModule(
        observation_space=env.observation_space,
        action_space=env.action_space,
        inference_only=False,
        model_config=model_config,
        catalog_class=PPOCatalog,
    )
