"""Observation and action-mask encoding shared by the Gymnasium env and the exported policy.

Only numpy is used, so the numpy policy scheduler builds the *same* observation as the env without
importing gymnasium or torch: a policy can only be trusted at evaluation time if it sees exactly
the features it was trained on. Arrays are preallocated once per chip and overwritten in place,
because an env step must cost microseconds, not allocations.

Layout of the flat observation (all float32, clipped to ``[-CLIP, CLIP]``):
``K`` candidate blocks of ``candidate_dim`` values, then ``N`` sub-accelerator blocks of
``accel_dim`` values, then ``GLOBAL_DIM`` global values. Candidates are the ``K`` ready requests
chosen by :meth:`FeatureEncoder.select_candidates`, padded with zeros.
"""

from __future__ import annotations

import heapq
from operator import attrgetter

import numpy as np

from relmas.errors import UserError
from relmas.sim.chip import Chip
from relmas.sim.engine import Simulator
from relmas.sim.request import Request

ENV_ID = "relmas/MultiAccel-v0"
ENV_VERSION = 0  # bump whenever the observation, action or reward semantics change
CLIP = 10.0
CANDIDATE_RULES = ("mixed", "deadline")
GLOBAL_DIM = 5
_deadline = attrgetter("deadline_s")  # ties keep ready (dict insertion) order: deterministic


class FeatureEncoder:
    """Writes the observation and the action mask of a simulator state into fixed arrays.

    Actions are ``i * num_accels + a`` for candidate ``i`` on sub-accelerator ``a``; the last
    index (``wait_action``) lets the engine move to the next event without dispatching.
    """

    def __init__(
        self, chip: Chip, top_k: int, priority_scale: float = 9.0, candidates: str = "mixed"
    ) -> None:
        if top_k < 1:
            raise ValueError("top_k must be >= 1")
        if candidates not in CANDIDATE_RULES:
            raise UserError(
                "candidates",
                f"unknown rule {candidates!r}",
                f"choose one of: {', '.join(CANDIDATE_RULES)}",
            )
        self.candidate_rule = candidates
        self.chip = chip
        self.top_k = top_k
        self.num_accels = chip.num_accels
        self.num_types = chip.num_types
        self.priority_scale = float(priority_scale)
        self.candidate_dim = 4 + 5 * self.num_types
        self.accel_dim = self.num_types + 4
        self.obs_dim = top_k * self.candidate_dim + self.num_accels * self.accel_dim + GLOBAL_DIM
        self.num_actions = top_k * self.num_accels + 1
        self.wait_action = self.num_actions - 1
        self.obs = np.zeros(self.obs_dim, dtype=np.float32)
        self.mask = np.zeros(self.num_actions, dtype=np.float32)
        self._mask_grid = self.mask[:-1].reshape(top_k, self.num_accels)  # a view of ``mask``
        self.candidates: list[Request] = []
        self._precompute(chip)

    def _precompute(self, chip: Chip) -> None:
        """Static per-(model, layer) candidate features, computed once per chip.

        Everything in a candidate row except slack, waiting time and priority depends only on
        (model, next layer), so it is looked up from ``_static`` (one row per pair) at step time.
        """
        types = range(self.num_types)
        self._mean_layer_j = [
            sum(min(chip.energy_j[m][t][i] for t in types) for i in range(n)) / n or 1.0
            for m, n in enumerate(chip.num_layers)
        ]
        self.time_scale_s = float(np.mean(chip.isolated_latency_s))
        rows, self._row_offset = [], []
        for m, n in enumerate(chip.num_layers):
            self._row_offset.append(len(rows))
            rows += [self._static_row(chip, m, layer) for layer in range(n)]
        self._static = np.asarray(rows, dtype=np.float32).reshape(len(rows), 5 * self.num_types)
        onehot = np.zeros((self.num_accels, self.num_types), dtype=np.float32)
        onehot[np.arange(self.num_accels), list(chip.accel_type)] = 1.0
        self._type_onehot = onehot

    def _static_row(self, chip: Chip, m: int, layer: int) -> list[float]:
        """Per type: remaining work, remaining mean bandwidth demand, next-layer latency,
        energy and bandwidth demand, each made dimensionless."""
        iso, bw = chip.isolated_latency_s[m], chip.bandwidth_bytes_per_s
        layer_s, layer_j = iso / chip.num_layers[m], self._mean_layer_j[m]
        row = []
        for t in range(self.num_types):
            rem_c = sum(chip.compute_s[m][t][layer:])
            rem_b = sum(chip.dram_bytes[m][t][layer:])
            row += [
                chip.remaining_latency_s[m][t][layer] / iso,
                rem_b / rem_c / bw if rem_c > 0 else 0.0,
                chip.latency_s[m][t][layer] / layer_s,
                chip.energy_j[m][t][layer] / layer_j,
                chip.demand_bytes_per_s[m][t][layer] / bw,
            ]
        return row

    def select_candidates(self, sim: Simulator) -> list[Request]:
        """Up to ``top_k`` ready requests offered to the policy.

        ``deadline``: the earliest deadlines. ``mixed`` (default): half by earliest deadline,
        the rest by least remaining work -- under overload the earliest deadlines are often
        already hopeless, and shortest-remaining-first is what wins there, so the policy must be
        able to pick either kind.
        """
        k = self.top_k
        if self.candidate_rule == "deadline" or len(sim.ready) <= k:
            return heapq.nsmallest(k, sim.ready.values(), key=_deadline)
        ready = sorted(sim.ready.values(), key=_deadline)  # one C sort beats two heap passes
        n_deadline = (k + 1) // 2
        best = self.chip.remaining_best_s
        rest = heapq.nsmallest(
            k - n_deadline, ready[n_deadline:], key=lambda r: best[r.model][r.next_layer]
        )
        return ready[:n_deadline] + rest

    def encode(self, sim: Simulator) -> None:
        """Refresh ``obs``, ``mask`` and ``candidates`` for the current simulator state."""
        self.candidates = self.select_candidates(sim)
        self.obs.fill(0.0)
        self.mask.fill(0.0)
        self._encode_candidates(sim)
        self._encode_accels(sim)
        self._encode_global(sim)
        np.clip(self.obs, -CLIP, CLIP, out=self.obs)
        self.mask[self.wait_action] = 1.0 if sim.can_wait() else 0.0

    def _encode_candidates(self, sim: Simulator) -> None:
        cands = self.candidates
        if not cands:
            return
        chip, now, n = self.chip, sim.now_s, len(cands)
        iso, best = chip.isolated_latency_s, chip.remaining_best_s
        block = self.obs[: self.top_k * self.candidate_dim].reshape(self.top_k, self.candidate_dim)
        block[:n, :4] = [
            (
                1.0,
                (r.deadline_s - now - best[r.model][r.next_layer]) / iso[r.model],
                (now - r.arrival_s) / iso[r.model],
                r.priority / self.priority_scale,
            )
            for r in cands
        ]
        offset = self._row_offset
        block[:n, 4:] = self._static[[offset[r.model] + r.next_layer for r in cands]]
        self._mask_grid[:n, sim.free_accels] = 1.0

    def _encode_accels(self, sim: Simulator) -> None:
        start = self.top_k * self.candidate_dim
        d, bw = self.accel_dim, self.chip.bandwidth_bytes_per_s
        block = self.obs[start : start + self.num_accels * d].reshape(self.num_accels, d)
        block[:, : self.num_types] = self._type_onehot
        for a in sim.busy:
            block[a, self.num_types :] = (
                1.0,
                sim.busy_remaining_s(a) / self.time_scale_s,
                sim.granted_bandwidth_bytes_per_s(a) / bw,
                sim.demand_bytes_per_s[a] / bw,
            )

    def _encode_global(self, sim: Simulator) -> None:
        total = max(len(sim.specs), 1)
        self.obs[-GLOBAL_DIM:] = (
            sim.dram_demand_bytes_per_s / self.chip.bandwidth_bytes_per_s,
            len(sim.ready) / self.top_k,
            len(sim.free_accels) / self.num_accels,
            1.0 - sim.arrivals_left / total,
            sim.now_s / (sim.specs[-1].arrival_s + self.time_scale_s) if sim.specs else 0.0,
        )

    def decode(self, action: int) -> tuple[Request, int] | None:
        """``(request, accel)`` for a dispatch action, ``None`` for wait (no validity check)."""
        if action == self.wait_action:
            return None
        i, a = divmod(action, self.num_accels)
        return self.candidates[i], a
