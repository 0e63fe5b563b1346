"""Numpy twin of :class:`relmas.rl.pair_head.PairHead` for Ray- and torch-free inference.

Kept separate from the torch module so a scheduler process never imports torch; the tests
compare both on random observations. The layout is given per call, so one exported head scores
a chip of any number of units (pairs share their weights; the wait logit pools over pairs).

Why the first layer is split: a pair's input is ``[candidate, unit, candidate-on-unit's-type,
globals]``, so its first affine layer is a sum of one term per part. Each term is computed once
per candidate, unit, type or observation and broadcast, instead of building the ``K x N``
concatenated input and multiplying it: the same sums in another order (float32 rounding
differs at ~1e-6), and about a third less time per call, which is mostly numpy call overhead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from relmas.env.layout import TYPE_FIELDS, ObsLayout
from relmas.errors import UserError

Layer = tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]


def _chain(x: np.ndarray, layers: Sequence[Layer]) -> np.ndarray:
    for wt, b, act in layers:
        x = act(x @ wt + b)
    return x


@dataclass(frozen=True)
class _Plan:
    """Slices and sizes of one layout, computed once (the layout's properties are not free)."""

    k: int
    n: int
    cand: slice
    units: slice
    glob: slice
    cand_dim: int
    unit_dim: int
    unit_type: slice
    per_type: np.ndarray  # [T, len(TYPE_FIELDS) + 1] indices of a candidate's values per type

    @classmethod
    def of(cls, lay: ObsLayout) -> _Plan:
        nf, feats, slack = len(TYPE_FIELDS), lay.type_features, lay.type_slack
        static = np.arange(feats.start, feats.stop).reshape(lay.num_types, nf)
        per_type = np.concatenate([static, np.arange(slack.start, slack.stop)[:, None]], axis=1)
        return cls(
            lay.top_k, lay.num_accels, lay.candidates, lay.units, lay.globals,
            lay.candidate_dim, lay.accel_dim, lay.unit_type, per_type,
        )  # fmt: skip


class NumpyPairHead:
    """Logits ``[K*N + 1]`` of one flat observation."""

    def __init__(self, pair: Sequence[Layer], wait: Sequence[Layer], layout: ObsLayout) -> None:
        # weights as (W^T, b, activation): the hidden chain, then the pair's output layer
        self.hidden = [(w.T.copy(), b, act) for w, b, act in pair[:-1]]
        self.out = [(w.T.copy(), b, act) for w, b, act in pair[-1:]]
        self.wait = [(w.T.copy(), b, act) for w, b, act in wait]
        self.layout = layout
        self._plans: dict[ObsLayout, _Plan] = {}
        if not self.hidden:  # the recipe requires pair_hidden; only a hand-made file lacks it
            raise UserError(
                "checkpoint", "the pair head has no hidden layer", "re-export with `relmas train`"
            )
        wt = self.hidden[0][0]  # rows of the first layer's W^T per input part (module doc)
        cd, ad, nf = layout.candidate_dim, layout.accel_dim, len(TYPE_FIELDS) + 1
        self._w_parts = (wt[:cd], wt[cd : cd + ad], wt[cd + ad : cd + ad + nf], wt[cd + ad + nf :])

    def _plan(self, lay: ObsLayout) -> _Plan:
        plan = self._plans.get(lay)
        if plan is None:
            plan = self._plans[lay] = _Plan.of(lay)
        return plan

    def _first_hidden(
        self, p: _Plan, cand: np.ndarray, accel: np.ndarray, glob: np.ndarray
    ) -> np.ndarray:
        """The first hidden layer's output ``[K, N, H]``, one term per input part."""
        w_cand, w_unit, w_type, w_glob = self._w_parts
        _, b, act = self.hidden[0]
        by_type = cand[:, p.per_type] @ w_type  # [K, T, H]: the candidate on each type
        by_unit = accel[:, p.unit_type] @ by_type  # [K, N, H]: its type's term on each unit
        per_cand = cand @ w_cand
        per_cand += glob @ w_glob + b
        by_unit += per_cand[:, None, :]
        by_unit += (accel @ w_unit)[None, :, :]
        return act(by_unit)

    def __call__(self, obs: np.ndarray, layout: ObsLayout | None = None) -> np.ndarray:
        """Score all pairs of one observation laid out by ``layout`` (default: the training
        layout); a fresh array each call."""
        p = self._plan(layout or self.layout)
        cand = obs[p.cand].reshape(p.k, p.cand_dim)
        accel = obs[p.units].reshape(p.n, p.unit_dim)
        glob = obs[p.glob]
        h = _chain(self._first_hidden(p, cand, accel, glob), self.hidden[1:])
        out = np.empty(p.k * p.n + 1, np.float32)
        out[:-1] = _chain(h, self.out).reshape(-1)
        valid = ((cand[:, 0] > 0.5)[:, None] & (accel[:, 0] > 0.5)[None, :]).reshape(-1)
        flat_h = h.reshape(p.k * p.n, -1)[valid]
        if flat_h.shape[0]:
            pooled = [flat_h.max(axis=0), flat_h.sum(axis=0) / flat_h.shape[0]]
        else:
            pooled = [np.zeros(h.shape[-1], np.float32)] * 2
        out[-1] = _chain(np.concatenate([glob, *pooled]), self.wait)[0]
        return out
