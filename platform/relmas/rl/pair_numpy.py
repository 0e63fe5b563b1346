"""Numpy twin of :class:`relmas.rl.pair_head.PairHead` for Ray- and torch-free inference.

Kept separate from the torch module so a scheduler process never imports torch; the tests
compare both on random observations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

DIM_KEYS = ("top_k", "num_accels", "num_types", "candidate_dim", "accel_dim", "global_dim")
TYPE_FEATURES = 5
TYPE_OFFSET = 4


class NumpyPairHead:
    """Logits ``[K*N + 1]`` of one flat observation."""

    def __init__(
        self,
        dims: Mapping[str, int],
        layers: Sequence[tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]],
        wait: tuple[np.ndarray, np.ndarray],
    ) -> None:
        self.k, self.n, self.t, self.cd, self.ad, self.gd = (int(dims[k]) for k in DIM_KEYS)
        self.layers = [(w.T.copy(), b, act) for w, b, act in layers]
        self.wait_w, self.wait_b = wait[0].reshape(-1), float(wait[1].reshape(-1)[0])
        self._logits = np.zeros(self.k * self.n + 1, np.float32)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Score all pairs of one observation (a fresh array each call)."""
        k, n, t = self.k, self.n, self.t
        cand_end = k * self.cd
        cand = obs[:cand_end].reshape(k, self.cd)
        accel = obs[cand_end : cand_end + n * self.ad].reshape(n, self.ad)
        glob = obs[cand_end + n * self.ad :]
        per_type = cand[:, TYPE_OFFSET : TYPE_OFFSET + TYPE_FEATURES * t].reshape(k, t, -1)
        chosen = np.einsum("ktf,nt->knf", per_type, accel[:, :t])
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
