"""Numpy twin of :class:`relmas.rl.pair_head.PairHead` for Ray- and torch-free inference.

Kept separate from the torch module so a scheduler process never imports torch; the tests
compare both on random observations. The layout is given per call, so one exported head scores
a chip of any number of units (pairs share their weights; the wait logit pools over pairs).

Why the first layer is split: a pair's input is ``[candidate, unit, candidate-on-unit's-type,
globals]``, so its first affine layer is a sum of one term per part. Each term is computed once
per candidate, unit, type or observation and broadcast, instead of building the ``K x N``
concatenated input and multiplying it: the same sums in another order (float32 rounding
differs at ~1e-6), and about a third less time per call, which is mostly numpy call overhead.

Faster still, and what runs whenever every unit row's type is a one-hot (or all zero, a padding
slot), as the encoder writes it: every pair input is then an element of the observation (or 0),
so one precomputed index gathers all ``K x N`` pair inputs and the first layer is one product --
about half the numpy calls of the split form. The split form remains for anything else (a mix
of types in one row, which only a hand-made observation has).
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
    # The gather form (module doc): positions in ``ext``, the observation followed by a 0 and
    # a 1 (the first layer's bias is the last row of its weights, times that 1).
    dim: int
    ext: np.ndarray  # scratch: the observation is copied here; ext[dim:] stays (0, 1)
    unit_types: np.ndarray  # [N, T] positions of the units' type one-hots
    presence: np.ndarray  # [K + N] positions of the candidates' and units' `present`
    pair_inputs: np.ndarray  # [T + 1, K, N, F + 1] each pair's input positions (then the 1) if
    # its unit has type t; the last: no type, the per-type part reads the 0
    gathers: dict[bytes, np.ndarray | None]  # unit-type rows seen -> [K * N, F + 1]; None: split
    valid: dict[bytes, np.ndarray | None]  # presence flags seen -> valid pair rows; None: all

    @classmethod
    def of(cls, lay: ObsLayout) -> _Plan:
        nf, feats, slack = len(TYPE_FIELDS), lay.type_features, lay.type_slack
        static = np.arange(feats.start, feats.stop).reshape(lay.num_types, nf)
        per_type = np.concatenate([static, np.arange(slack.start, slack.stop)[:, None]], axis=1)
        k, n, cd, ad, dim = lay.top_k, lay.num_accels, lay.candidate_dim, lay.accel_dim, lay.obs_dim
        cand0 = lay.candidates.start + cd * np.arange(k)  # [K] first position of each row
        unit0 = lay.units.start + ad * np.arange(n)
        typed = np.concatenate([per_type, np.zeros((1, nf + 1), np.intp)])  # row T: no type
        t1 = lay.num_types + 1
        parts = [
            (cand0[:, None] + np.arange(cd))[None, :, None, :],
            (unit0[:, None] + np.arange(ad))[None, None, :, :],
            (cand0[None, :, None] + typed[:, None, :])[:, :, None, :],
            np.arange(lay.globals.start, lay.globals.stop)[None, None, None, :],
            np.array([dim + 1])[None, None, None, :],  # the 1 that multiplies the bias
        ]
        pair_inputs = np.concatenate(
            [np.broadcast_to(x, (t1, k, n, x.shape[-1])) for x in parts], axis=-1
        )
        pair_inputs[-1, ..., cd + ad : cd + ad + nf + 1] = dim  # no type: the 0 slot
        ext = np.zeros(dim + 2, np.float32)
        ext[-1] = 1.0
        return cls(
            k, n, lay.candidates, lay.units, lay.globals, cd, ad, lay.unit_type, per_type, dim,
            ext, unit0[:, None] + np.arange(lay.unit_type.start, lay.unit_type.stop)[None, :],
            np.concatenate([cand0, unit0]), pair_inputs, {}, {},
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
        self._w_bias = np.vstack([wt, self.hidden[0][1]])  # the gather form's first layer

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
        ext = p.ext
        ext[: p.dim] = obs
        key = ext.take(p.unit_types).tobytes()
        gather = p.gathers[key] if key in p.gathers else _gather(p, key)
        if gather is None:
            cand = obs[p.cand].reshape(p.k, p.cand_dim)
            accel = obs[p.units].reshape(p.n, p.unit_dim)
            h1 = self._first_hidden(p, cand, accel, obs[p.glob]).reshape(p.k * p.n, -1)
        else:
            h1 = self.hidden[0][2](ext.take(gather) @ self._w_bias)
        h = _chain(h1, self.hidden[1:])
        out = np.empty(p.k * p.n + 1, np.float32)
        out[:-1] = _chain(h, self.out).reshape(-1)
        key = ext.take(p.presence).tobytes()
        rows = p.valid[key] if key in p.valid else _valid(p, key)
        flat_h = h if rows is None else h[rows]  # a real candidate on a real unit
        if flat_h.shape[0]:
            pooled = [flat_h.max(axis=0), flat_h.sum(axis=0) / flat_h.shape[0]]
        else:
            pooled = [np.zeros(h.shape[-1], np.float32)] * 2
        out[-1] = _chain(np.concatenate([obs[p.glob], *pooled]), self.wait)[0]
        return out


def _gather(p: _Plan, key: bytes) -> np.ndarray | None:
    """Every pair's input positions for these unit-type rows (cached in ``p``), or ``None`` if
    a row is neither a one-hot nor all zero (a mix of types: the split form handles it)."""
    onehot = np.frombuffer(key, np.float32).reshape(p.unit_types.shape)
    gather: np.ndarray | None = None
    if np.all((onehot == 0.0) | (onehot == 1.0)) and np.all(onehot.sum(axis=1) <= 1.0):
        types = np.where(onehot.any(axis=1), onehot.argmax(axis=1), p.unit_types.shape[1])
        by_unit = p.pair_inputs[types, :, np.arange(p.n)]  # [N, K, F + 1]
        gather = np.ascontiguousarray(by_unit.transpose(1, 0, 2)).reshape(p.k * p.n, -1)
    p.gathers[key] = gather
    return gather


def _valid(p: _Plan, key: bytes) -> np.ndarray | None:
    """Rows of the valid pairs (both ``present`` > 0.5) for these flags (cached in ``p``), or
    ``None`` if every pair is valid."""
    flags = np.frombuffer(key, np.float32) > 0.5
    valid = (flags[: p.k, None] & flags[None, p.k :]).reshape(-1)
    rows = None if valid.all() else np.flatnonzero(valid)
    p.valid[key] = rows
    return rows
