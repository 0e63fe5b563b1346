"""Observation and action-mask encoding shared by the Gymnasium env and the exported policy.

Only numpy is used, so the numpy policy scheduler builds the *same* observation as the env without
importing gymnasium or torch: a policy can only be trusted at evaluation time if it sees exactly
the features it was trained on. Arrays are preallocated once per chip and overwritten in place,
because an env step must cost microseconds, not allocations.

Layout of the flat observation (all float32, clipped to ``[-CLIP, CLIP]``):
``K`` candidate blocks of ``candidate_dim`` values, then ``N`` sub-accelerator blocks of
``accel_dim`` values, then ``global_dim`` global values. Candidates are the ``K`` ready requests
chosen by :meth:`FeatureEncoder.select_candidates`, padded with zeros.

With the ``heuristic`` candidate rule each candidate block also carries ``1 + len(ORDERINGS)``
flags (is Planaria's next dispatch; rank score ``(n - rank) / n`` in the top ``n`` of Planaria,
SJF, least-laxity and EDF orders), each sub-accelerator block a flag "Planaria's unit", and the
globals a flag "Planaria would wait". ``prior`` is the one-hot of Planaria's action (a
heuristic prior the policy may add to its logits, see :mod:`relmas.rl.module`).
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import ValidationError

from relmas.env.candidates import ORDERINGS, DeadlineWorkOrderings, Orderings
from relmas.errors import UserError
from relmas.loaders.validation import validation_error
from relmas.schedulers.planaria import PlanariaParams, PlanariaScheduler
from relmas.sim.chip import Chip
from relmas.sim.engine import Simulator
from relmas.sim.request import Request

ENV_ID = "relmas/MultiAccel-v0"
ENV_VERSION = 1  # bump whenever the observation, action or reward semantics change
CLIP = 10.0
CANDIDATE_RULES = ("heuristic", "mixed", "deadline")
GLOBAL_DIM = 5  # without the heuristic rule's "Planaria waits" flag


def _planaria(params: Mapping[str, Any]) -> PlanariaScheduler:
    """The Planaria whose order, choice and flags the ``heuristic`` rule shows (and the prior).

    ``planaria_params`` lets the prior follow a Planaria variant (e.g. ``priority_exponent``,
    which matches the unweighted ``sla_rate`` KPI better); ``{}`` is the paper's Planaria.
    """
    try:
        return PlanariaScheduler(PlanariaScheduler.Params.model_validate(dict(params)))
    except ValidationError as exc:
        raise validation_error(
            "planaria_params", exc, PlanariaParams, "see `relmas list`"
        ) from None


class FeatureEncoder:
    """Writes the observation and the action mask of a simulator state into fixed arrays.

    Actions are ``i * num_accels + a`` for candidate ``i`` on sub-accelerator ``a``; the last
    index (``wait_action``) lets the engine move to the next event without dispatching.
    """

    def __init__(
        self,
        chip: Chip,
        top_k: int,
        priority_scale: float = 9.0,
        candidates: str = "heuristic",
        planaria_params: Mapping[str, Any] | None = None,
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
        hint = candidates == "heuristic"
        self.rank_depth = (top_k + len(ORDERINGS) - 1) // len(ORDERINGS) + 1
        self.planaria_params = dict(planaria_params or {})
        self.orderings = (
            Orderings(self.rank_depth, _planaria(self.planaria_params)) if hint else None
        )
        self._simple = None if hint else DeadlineWorkOrderings(top_k)
        self.candidate_dim = 4 + 5 * self.num_types + hint * (1 + len(ORDERINGS))
        self.accel_dim = self.num_types + 4 + hint
        self.global_dim = GLOBAL_DIM + hint
        self.obs_dim = (
            top_k * self.candidate_dim + self.num_accels * self.accel_dim + self.global_dim
        )
        self.num_actions = top_k * self.num_accels + 1
        self.wait_action = self.num_actions - 1
        self.obs = np.zeros(self.obs_dim, dtype=np.float32)
        self.mask = np.zeros(self.num_actions, dtype=np.float32)
        self.prior = np.zeros(self.num_actions, dtype=np.float32)
        self._mask_grid = self.mask[:-1].reshape(top_k, self.num_accels)  # a view of ``mask``
        self.candidates: list[Request] = []
        self._precompute(chip)

    @property
    def pair_dims(self) -> dict[str, int]:
        """The observation layout a per-(candidate, unit) scorer slices (see rl/pair_head.py)."""
        return {
            "top_k": self.top_k,
            "num_accels": self.num_accels,
            "num_types": self.num_types,
            "candidate_dim": self.candidate_dim,
            "accel_dim": self.accel_dim,
            "global_dim": self.global_dim,
        }

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
        static = np.asarray(rows, dtype=np.float32).reshape(len(rows), 5 * self.num_types)
        # Python floats (exact float32 values): a step splices them into one flat buffer, which
        # is ~2x cheaper than three numpy assignments of small nested lists.
        self._static_rows = [
            [static[self._row_offset[m] + i].tolist() for i in range(n)]
            for m, n in enumerate(chip.num_layers)
        ]
        onehot = np.zeros((self.num_accels, self.num_types), dtype=np.float32)
        onehot[np.arange(self.num_accels), list(chip.accel_type)] = 1.0
        self._onehot_rows = onehot.tolist()
        pad = self.accel_dim - self.num_types - 4  # the heuristic rule's "Planaria's unit" flag
        self._accel_pad = [0.0] * pad
        self._idle_row = [0.0] * (4 + pad)

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

        ``heuristic`` (default): see :meth:`_heuristic_candidates`. ``deadline``: the earliest
        deadlines. ``mixed`` (env v0's default): half by earliest deadline, the rest by least
        remaining work -- under overload the earliest deadlines are often already hopeless, and
        shortest-remaining-first is what wins there, so the policy must be able to pick either.
        All rules read incremental heaps (:mod:`relmas.env.candidates`), never sort the queue.
        """
        if self.orderings is not None:
            return self._heuristic_candidates(sim)
        assert self._simple is not None
        return self._simple.select(sim, mixed=self.candidate_rule == "mixed")

    def _heuristic_candidates(self, sim: Simulator) -> list[Request]:
        """Planaria's next dispatch first, then the heuristics' top picks interleaved by rank.

        ``heuristic``: the policy sees what each strong heuristic would run next and can follow
        the best one or deviate where DRAM contention or the unit type makes it wrong. The flag
        rows are built in the same pass (one dict lookup per pick), as this runs every step.
        """
        orderings = self.orderings
        assert orderings is not None
        orderings.update(sim)
        self.choice = choice = orderings.planaria_choice(sim)
        self.tops = tops = orderings.top()
        n_flags, k, depth = 1 + len(ORDERINGS), self.top_k, self.rank_depth
        picked: dict[int, tuple[Request, list[float]]] = {}
        if choice is not None:
            picked[choice[0].rid] = (choice[0], [1.0] + [0.0] * (n_flags - 1))
        for j in range(depth):
            weight = (depth - j) / depth
            for o, top in enumerate(tops):
                if j >= len(top):
                    continue
                r = top[j]
                entry = picked.get(r.rid)
                if entry is None:
                    if len(picked) >= k:
                        continue
                    entry = picked[r.rid] = (r, [0.0] * n_flags)
                entry[1][1 + o] = weight
        self._hint_rows = [flags for _, flags in picked.values()]
        return [r for r, _ in picked.values()]

    def encode(self, sim: Simulator) -> None:
        """Refresh ``obs``, ``mask``, ``prior`` and ``candidates`` for the simulator state."""
        self.candidates = self.select_candidates(sim)
        self.obs.fill(0.0)
        self.mask.fill(0.0)
        self._encode_candidates(sim)
        self._encode_accels(sim)
        self._encode_global(sim)
        if self.orderings is not None:
            self._encode_hints()
        np.clip(self.obs, -CLIP, CLIP, out=self.obs)
        self.mask[self.wait_action] = 1.0 if sim.can_wait() else 0.0

    def _encode_hints(self) -> None:
        """Planaria's unit or "Planaria waits", and the action prior (rows are in candidates)."""
        self.prior.fill(0.0)
        if self.choice is None:
            self.obs[-1] = 1.0
            self.prior[self.wait_action] = 1.0
            return
        a = self.choice[1]  # its request is always candidate 0
        self.obs[self.top_k * self.candidate_dim + (a + 1) * self.accel_dim - 1] = 1.0
        self.prior[a] = 1.0

    def _encode_candidates(self, sim: Simulator) -> None:
        """Candidate rows (dynamic values, static per-layer row, heuristic flags) in one copy."""
        cands = self.candidates
        if not cands:
            return
        chip, now, scale = self.chip, sim.now_s, self.priority_scale
        iso, best, static = chip.isolated_latency_s, chip.remaining_best_s, self._static_rows
        hints = self._hint_rows if self.orderings is not None else None
        flat: list[float] = []
        for i, r in enumerate(cands):
            m, layer = r.model, r.next_layer
            flat += (
                1.0,
                (r.deadline_s - now - best[m][layer]) / iso[m],
                (now - r.arrival_s) / iso[m],
                r.priority / scale,
            )
            flat += static[m][layer]
            if hints is not None:
                flat += hints[i]
        self.obs[: len(flat)] = np.frombuffer(array("f", flat), np.float32)
        self._mask_grid[: len(cands), sim.free_accels] = 1.0

    def _encode_accels(self, sim: Simulator) -> None:
        """Per unit: type one-hot, busy flag, remaining time, granted and demanded bandwidth."""
        bw, ts, pad = self.chip.bandwidth_bytes_per_s, self.time_scale_s, self._accel_pad
        flat: list[float] = []
        for a, onehot in enumerate(self._onehot_rows):
            flat += onehot
            if sim.accel_request[a] is None:
                flat += self._idle_row
                continue
            flat += (
                1.0,
                sim.busy_remaining_s(a) / ts,
                sim.granted_bandwidth_bytes_per_s(a) / bw,
                sim.demand_bytes_per_s[a] / bw,
            )
            flat += pad
        start = self.top_k * self.candidate_dim
        self.obs[start : start + len(flat)] = np.frombuffer(array("f", flat), np.float32)

    def _encode_global(self, sim: Simulator) -> None:
        total = max(len(sim.specs), 1)
        start = self.obs_dim - self.global_dim
        self.obs[start : start + GLOBAL_DIM] = (
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
