"""Numpy twin of :class:`relmas.rl.pair_head.PairHead` for Ray- and torch-free inference.

Kept separate from the torch module so a scheduler process never imports torch; the tests
compare both on random observations. The layout is given per call, so one exported head scores
a chip of any number of units (pairs share their weights; the wait logit pools over pairs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from relmas.env.layout import TYPE_FIELDS, ObsLayout

Layer = tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]


def _chain(x: np.ndarray, layers: Sequence[Layer]) -> np.ndarray:
    for wt, b, act in layers:
        x = act(x @ wt + b)
    return x


class NumpyPairHead:
    """Logits ``[K*N + 1]`` of one flat observation."""

    def __init__(self, pair: Sequence[Layer], wait: Sequence[Layer], layout: ObsLayout) -> None:
        # weights as (W^T, b, activation): the hidden chain, then the pair's output layer
        self.hidden = [(w.T.copy(), b, act) for w, b, act in pair[:-1]]
        self.out = [(w.T.copy(), b, act) for w, b, act in pair[-1:]]
        self.wait = [(w.T.copy(), b, act) for w, b, act in wait]
        self.layout = layout

    def __call__(self, obs: np.ndarray, layout: ObsLayout | None = None) -> np.ndarray:
        """Score all pairs of one observation laid out by ``layout`` (default: the training
        layout); a fresh array each call."""
        lay = layout or self.layout
        k, n, t = lay.top_k, lay.num_accels, lay.num_types
        cd, ad, gd = lay.candidate_dim, lay.accel_dim, lay.global_dim
        cand = obs[lay.candidates].reshape(k, cd)
        accel = obs[lay.units].reshape(n, ad)
        glob = obs[lay.globals]
        static = cand[:, lay.type_features].reshape(k, t, len(TYPE_FIELDS))
        per_type = np.concatenate([static, cand[:, lay.type_slack].reshape(k, t, 1)], axis=-1)
        chosen = np.einsum("ktf,nt->knf", per_type, accel[:, lay.unit_type])
        x = np.concatenate(
            [
                np.broadcast_to(cand[:, None, :], (k, n, cd)),
                np.broadcast_to(accel[None, :, :], (k, n, ad)),
                chosen,
                np.broadcast_to(glob[None, None, :], (k, n, gd)),
            ],
            axis=-1,
        )
        h = _chain(x, self.hidden)
        out = np.empty(k * n + 1, np.float32)
        out[:-1] = _chain(h, self.out).reshape(-1)
        valid = ((cand[:, None, 0] > 0.5) & (accel[None, :, 0] > 0.5)).reshape(-1)
        flat_h = h.reshape(k * n, -1)[valid]
        width = h.shape[-1]
        top = flat_h.max(axis=0) if flat_h.size else np.zeros(width, np.float32)
        mean = flat_h.mean(axis=0) if flat_h.size else np.zeros(width, np.float32)
        out[-1] = _chain(np.concatenate([glob, top, mean]), self.wait)[0]
        return out
