"""A shared (candidate, sub-accelerator) scorer: the policy head with a scheduler's shape.

Why: a flat MLP from the whole observation to ``K * N + 1`` logits must learn separately, for
every slot ``i`` and unit ``a``, what makes running candidate ``i`` on unit ``a`` good; with a
heuristic prior dominating its early logits, PPO's weak per-slot signal never moved it (the
greedy policy stayed identical to Planaria for 40 iterations). A scheduler scores *pairs*
with one rule. This head does the same: one small MLP sees a candidate's row, a unit's row, the
candidate's cost on *that unit's type* (selected by the unit's type one-hot) and the globals,
and outputs one logit; the same weights score all ``K * N`` pairs, so every step trains the
rule on every pair, and the result is invariant to the order of candidates and units. The wait
logit is a linear function of the globals.

Where each row sits comes from :class:`relmas.env.layout.ObsLayout` (``model_config["pair_head"]
["layout"]``, the layout's ``to_dict``); the numpy twin in :mod:`relmas.rl.pair_numpy` slices
the same way and evaluates the exported weights identically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from relmas.env.layout import TYPE_FIELDS, ObsLayout


class PairHead(nn.Module):
    """Logits ``[B, K*N + 1]`` from flat observations ``[B, D]``."""

    def __init__(self, layout: Mapping[str, Any], hidden: Sequence[int]) -> None:
        super().__init__()
        self.layout = lay = ObsLayout.from_dict(dict(layout))
        self.k, self.n, self.t = lay.top_k, lay.num_accels, lay.num_types
        self.cd, self.ad, self.gd = lay.candidate_dim, lay.accel_dim, lay.global_dim
        layers: list[nn.Module] = []
        prev = self.cd + self.ad + len(TYPE_FIELDS) + self.gd
        for width in hidden:
            layers += [nn.Linear(prev, int(width)), nn.Tanh()]
            prev = int(width)
        last = nn.Linear(prev, 1)
        nn.init.normal_(last.weight, std=0.01)  # start near the prior (a near-zero correction)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)
        self.wait = nn.Linear(self.gd, 1)
        nn.init.zeros_(self.wait.weight)
        nn.init.zeros_(self.wait.bias)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Score every (candidate, unit) pair and the wait action."""
        b, k, n, t, lay = obs.shape[0], self.k, self.n, self.t, self.layout
        cand = obs[:, lay.candidates].reshape(b, k, self.cd)
        accel = obs[:, lay.units].reshape(b, n, self.ad)
        glob = obs[:, lay.globals]
        per_type = cand[:, :, lay.type_features].reshape(b, k, t, len(TYPE_FIELDS))
        chosen = torch.einsum("bktf,bnt->bknf", per_type, accel[:, :, lay.unit_type])
        x = torch.cat(
            [
                cand[:, :, None, :].expand(b, k, n, self.cd),
                accel[:, None, :, :].expand(b, k, n, self.ad),
                chosen,
                glob[:, None, None, :].expand(b, k, n, self.gd),
            ],
            dim=-1,
        )
        scores = self.net(x).reshape(b, k * n)
        return torch.cat([scores, self.wait(glob)], dim=-1)
