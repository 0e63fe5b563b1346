"""Numpy twin of :class:`relmas.rl.pair_head.PairHead` for Ray- and torch-free inference.

Kept separate from the torch module so a scheduler process never imports torch; the tests
compare both on random observations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from relmas.env.layout import TYPE_FIELDS, ObsLayout


class NumpyPairHead:
    """Logits ``[K*N + 1]`` of one flat observation."""

    def __init__(
        self,
        layout: Mapping[str, Any],
        layers: Sequence[tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]],
        wait: tuple[np.ndarray, np.ndarray],
    ) -> None:
        self.layout = lay = ObsLayout.from_dict(dict(layout))
        self.k, self.n, self.t = lay.top_k, lay.num_accels, lay.num_types
        self.cd, self.ad, self.gd = lay.candidate_dim, lay.accel_dim, lay.global_dim
        self.layers = [(w.T.copy(), b, act) for w, b, act in layers]
        self.wait_w, self.wait_b = wait[0].reshape(-1), float(wait[1].reshape(-1)[0])

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Score all pairs of one observation (a fresh array each call)."""
        k, n, t, lay = self.k, self.n, self.t, self.layout
        cand = obs[lay.candidates].reshape(k, self.cd)
        accel = obs[lay.units].reshape(n, self.ad)
        glob = obs[lay.globals]
        per_type = cand[:, lay.type_features].reshape(k, t, len(TYPE_FIELDS))
        chosen = np.einsum("ktf,nt->knf", per_type, accel[:, lay.unit_type])
        x = np.concatenate(
            [
                np.broadcast_to(cand[:, None, :], (k, n, self.cd)),
                np.broadcast_to(accel[None, :, :], (k, n, self.ad)),
                chosen,
                np.broadcast_to(glob[None, None, :], (k, n, self.gd)),
            ],
            axis=-1,
        )
        for wt, b, act in self.layers:
            x = act(x @ wt + b)
        out = np.empty(k * n + 1, np.float32)
        out[:-1] = x.reshape(-1)
        out[-1] = glob @ self.wait_w + self.wait_b
        return out
