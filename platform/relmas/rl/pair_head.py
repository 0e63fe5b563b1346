"""A shared (candidate, sub-accelerator) scorer: the policy head with a scheduler's shape.

Why: a flat MLP from the whole observation to ``K * N + 1`` logits must learn separately, for
every slot ``i`` and unit ``a``, what makes running candidate ``i`` on unit ``a`` good, and it
only fits one chip. A scheduler scores *pairs* with one rule. This head does the same: one small
MLP sees a candidate's row, a unit's row, the candidate's costs and slack on *that unit's type*
(selected by the unit's type one-hot) and the globals, and outputs one logit; the same weights
score all pairs, so the result does not depend on the order or the number of candidates and
units, and one policy runs on any chip of known types.

The wait logit must know whether waiting is worth it: whether a candidate would miss on the free
unit but meet on one that frees soon, or an urgent request is about to become ready. So it is an
MLP over the globals and the max- and mean-pool of the pairs' hidden features (valid pairs only:
a real candidate on a real unit), again independent of the number of units.

Where each row sits comes from :class:`relmas.env.layout.ObsLayout` (``model_config["pair_head"]
["layout"]``); the numpy twin in :mod:`relmas.rl.pair_numpy` slices the same way and evaluates the
exported weights identically.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from relmas.env.layout import TYPE_FIELDS, ObsLayout

PAIR_TYPE_FEATURES = len(TYPE_FIELDS) + 1  # the static per-type block plus the type slack


def tanh_mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear + tanh layers through ``sizes`` (the pair head's and the critic's hidden stack)."""
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.Tanh()]
    return nn.Sequential(*layers)


class PairHead(nn.Module):
    """Logits ``[B, K*N + 1]`` from flat observations ``[B, D]``."""

    def __init__(self, layout: Mapping[str, Any], hidden: Sequence[int]) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("the pair head needs at least one hidden layer")
        self.layout = lay = ObsLayout.from_dict(dict(layout))
        self.k, self.n, self.t = lay.top_k, lay.num_accels, lay.num_types
        self.cd, self.ad, self.gd = lay.candidate_dim, lay.accel_dim, lay.global_dim
        width = int(hidden[-1])
        pair_in = self.cd + self.ad + PAIR_TYPE_FEATURES + self.gd
        self.hidden = tanh_mlp([pair_in, *map(int, hidden)])
        self.out = nn.Linear(width, 1)
        nn.init.normal_(self.out.weight, std=0.01)  # start near the prior (a near-zero correction)
        nn.init.zeros_(self.out.bias)
        self.wait = nn.Sequential(tanh_mlp([self.gd + 2 * width, width]), nn.Linear(width, 1))
        nn.init.zeros_(self.wait[1].weight)
        nn.init.zeros_(self.wait[1].bias)

    def pairs(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(pair inputs ``[B, K, N, F]``, valid-pair mask ``[B, K, N]``, globals ``[B, G]``)."""
        b, k, n, t, lay = obs.shape[0], self.k, self.n, self.t, self.layout
        cand = obs[:, lay.candidates].reshape(b, k, self.cd)
        accel = obs[:, lay.units].reshape(b, n, self.ad)
        glob = obs[:, lay.globals]
        static = cand[:, :, lay.type_features].reshape(b, k, t, len(TYPE_FIELDS))
        per_type = torch.cat([static, cand[:, :, lay.type_slack].reshape(b, k, t, 1)], dim=-1)
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
        valid = (cand[:, :, None, 0] > 0.5) & (accel[:, None, :, 0] > 0.5)
        return x, valid, glob

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Score every (candidate, unit) pair and the wait action."""
        x, valid, glob = self.pairs(obs)
        b = obs.shape[0]
        h = self.hidden(x)
        scores = self.out(h).reshape(b, self.k * self.n)
        flat_h, flat_v = h.reshape(b, -1, h.shape[-1]), valid.reshape(b, -1, 1)
        count = flat_v.sum(dim=1)
        top = torch.where(flat_v, flat_h, torch.full_like(flat_h, -2.0)).amax(dim=1)
        top = torch.where(count > 0, top, torch.zeros_like(top))
        mean = (flat_h * flat_v).sum(dim=1) / count.clamp(min=1)
        wait = self.wait(torch.cat([glob, top, mean], dim=-1))
        return torch.cat([scores, wait], dim=-1)
