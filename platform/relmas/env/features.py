"""Observation and action-mask encoding shared by the Gymnasium env and the exported policy.

Only numpy is used, so the numpy policy scheduler builds the *same* observation as the env without
importing gymnasium or torch: a policy can only be trusted at evaluation time if it sees exactly
the features it was trained on. Arrays are preallocated once per chip and overwritten in place,
because an env step must cost microseconds, not allocations.

The layout of the flat observation (all float32, clipped to ``[-CLIP, CLIP]``) is declared in
:mod:`relmas.env.layout`; the encoder writes its rows in exactly that order. Candidates are the
``K`` ready requests chosen by :meth:`FeatureEncoder.select_candidates`, padded with zeros.
``prior`` is the one-hot of Planaria's action (a heuristic prior the policy may add to its
logits, see :mod:`relmas.rl.module`).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import ValidationError

from relmas.env.candidates import ORDERINGS, DeadlineWorkOrderings, Orderings, interleave
from relmas.env.config import CANDIDATE_RULES
from relmas.env.layout import GLOBAL_FIELDS, UNIT_FIELDS, ObsLayout
from relmas.errors import UserError
from relmas.loaders.validation import validation_error
from relmas.schedulers.planaria import PlanariaParams, PlanariaScheduler
from relmas.sim.chip import Chip
from relmas.sim.engine import Simulator
from relmas.sim.request import Request

ENV_VERSION = 1  # bump whenever the observation, action or reward semantics change
ENV_ID = f"relmas/MultiAccel-v{ENV_VERSION}"  # the registered id names the version it builds
CLIP = 10.0


def planaria_variant(params: Mapping[str, Any]) -> PlanariaScheduler:
    """The Planaria whose order, choice and flags the ``heuristic`` rule shows (and the prior).

    ``planaria_params`` lets the prior follow a Planaria variant (e.g. ``priority_exponent``,
    which matches the unweighted ``sla_rate`` KPI better); ``{}`` is the paper's Planaria.
    """
    try:
        sched = PlanariaScheduler(PlanariaScheduler.Params.model_validate(dict(params)))
    except ValidationError as exc:
        raise validation_error(
            "planaria_params", exc, PlanariaParams, "see `relmas list`"
        ) from None
    form = getattr(sched.params, "form", "relmas")
    if form != "relmas":  # the incremental orderings use rank() / feasible_unit(): relmas's
        raise UserError(
            "planaria_params.form",
            f"the env's flags and prior follow relmas's Planaria, not form {form!r}",
            "drop form (or set form: relmas)",
        )
    return sched


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
            Orderings(self.rank_depth, planaria_variant(self.planaria_params)) if hint else None
        )
        self._simple = None if hint else DeadlineWorkOrderings(top_k)
        self.layout = layout = ObsLayout(top_k, self.num_accels, self.num_types, hint)
        self.candidate_dim = layout.candidate_dim
        self.accel_dim = layout.accel_dim
        self.global_dim = layout.global_dim
        self.obs_dim = layout.obs_dim
        self.num_actions = top_k * self.num_accels + 1
        self.wait_action = self.num_actions - 1
        self.obs = np.zeros(self.obs_dim, dtype=np.float32)
        self.mask = np.zeros(self.num_actions, dtype=np.float32)
        self.prior = np.zeros(self.num_actions, dtype=np.float32)
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
        rows: list[list[float]] = []
        self._row_offset: list[int] = []
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
        self._step_buffers()

    def _step_buffers(self) -> None:
        """Constant pieces :meth:`encode` splices into its flat list, built once.

        Padding rows make the list exactly ``obs_dim`` long (no zeroing of ``obs``); the clip
        bounds are arrays because numpy's scalar-operand path costs more than the clip itself.
        """
        pad = len(self.layout.unit_fields) - self.num_types - len(UNIT_FIELDS)  # planaria_unit
        self._accel_pad = [0.0] * pad
        self._idle_rows = [row + [0.0] * (len(UNIT_FIELDS) + pad) for row in self._onehot_rows]
        self._global_pad = [0.0] * (self.global_dim - len(GLOBAL_FIELDS))
        self._no_hints: list[list[float]] = [[]] * self.top_k  # the other rules have no flags
        cd, k = self.candidate_dim, self.top_k
        self._candidate_pad = [[0.0] * ((k - n) * cd) for n in range(k + 1)]
        if self.layout.hints:
            self._waits_index = self.layout.index("planaria_waits")
            units = range(self.num_accels)
            self._unit_flag_index = [self.layout.index("planaria_unit", unit=a) for a in units]
        depth = self.rank_depth
        self._rank_weights = [(depth - j) / depth for j in range(depth)]
        self._lo = np.full(self.obs_dim, -CLIP, dtype=np.float32)
        self._hi = np.full(self.obs_dim, CLIP, dtype=np.float32)
        self._pack = struct.Struct(f"{self.obs_dim}f").pack_into  # native: a plain C cast

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
        the best one or deviate where DRAM contention or the unit type makes it wrong.
        """
        orderings = self.orderings
        assert orderings is not None
        orderings.update(sim)
        self.choice = choice = orderings.planaria_choice(sim)
        self.tops = tops = orderings.top()
        picked = interleave(choice, tops, self.top_k, self._rank_weights)
        self._hint_rows = list(picked.values())
        return list(picked)

    def encode(self, sim: Simulator) -> None:
        """Refresh ``obs``, ``mask``, ``prior`` and ``candidates`` for the simulator state.

        The whole observation is built as one Python list (padding included, so nothing needs
        zeroing) and written by one native ``struct`` pack, the same float64 -> float32 C cast
        numpy applies but ~2x cheaper than converting three partial lists through numpy.
        """
        cands = self.candidates = self.select_candidates(sim)
        flat = self._candidate_values(sim, cands)
        flat += self._accel_values(sim)
        flat += self._global_values(sim)
        if self.orderings is not None:
            self._encode_hints(flat)
        obs = self.obs
        self._pack(obs, 0, *flat)  # type: ignore[arg-type]  # ndarray is a buffer; stubs lag
        np.minimum(obs, self._hi, out=obs)  # == np.clip (NaN and -0.0 included), ~2x cheaper
        np.maximum(obs, self._lo, out=obs)
        mask = self.mask
        mask.fill(0.0)
        if cands:
            n, grid = len(cands), self._mask_grid
            for a in sim.free_accels:  # one column slice each: cheaper than fancy indexing
                grid[:n, a] = 1.0
        mask[self.wait_action] = 1.0 if sim.can_wait() else 0.0

    def _encode_hints(self, flat: list[float]) -> None:
        """Planaria's unit or "Planaria waits" (set in ``flat``), and the action prior."""
        self.prior.fill(0.0)
        if self.choice is None:
            flat[self._waits_index] = 1.0
            self.prior[self.wait_action] = 1.0
            return
        a = self.choice[1]  # its request is always candidate 0
        flat[self._unit_flag_index[a]] = 1.0
        self.prior[a] = 1.0

    def _candidate_values(self, sim: Simulator, cands: list[Request]) -> list[float]:
        """Candidate rows (dynamic values, static per-layer row, heuristic flags), zero-padded."""
        chip, now, scale = self.chip, sim.now_s, self.priority_scale
        iso, best, static = chip.isolated_latency_s, chip.remaining_best_s, self._static_rows
        hints = self._hint_rows if self.orderings is not None else self._no_hints
        flat: list[float] = []
        for r, flags in zip(cands, hints, strict=False):  # a row per candidate (or more)
            m, layer = r.model, r.next_layer
            iso_s = iso[m]
            flat += (
                1.0,
                (r.deadline_s - now - best[m][layer]) / iso_s,
                (now - r.arrival_s) / iso_s,
                r.priority / scale,
            )
            flat += static[m][layer]
            flat += flags
        flat += self._candidate_pad[len(cands)]
        return flat

    def _accel_values(self, sim: Simulator) -> list[float]:
        """Per unit: type one-hot, busy flag, remaining time, granted and demanded bandwidth (the
        same expressions as the engine's per-unit views, with the rates read once)."""
        bw, ts, pad = self.chip.bandwidth_bytes_per_s, self.time_scale_s, self._accel_pad
        rate, rem, demand = sim.rates(), sim.remaining_work_s, sim.demand_bytes_per_s
        flat: list[float] = []
        for a, req in enumerate(sim.accel_request):
            if req is None:
                flat += self._idle_rows[a]
                continue
            flat += self._onehot_rows[a]
            flat += (1.0, rem[a] / rate[a] / ts, rate[a] * demand[a] / bw, demand[a] / bw)
            flat += pad
        return flat

    def _global_values(self, sim: Simulator) -> list[float]:
        """DRAM load, queue length, free fraction, arrival progress, episode time (+ flag)."""
        total = max(len(sim.specs), 1)
        return [
            sim.dram_demand_bytes_per_s / self.chip.bandwidth_bytes_per_s,
            len(sim.ready) / self.top_k,
            len(sim.free_accels) / self.num_accels,
            1.0 - sim.arrivals_left / total,
            sim.now_s / (sim.specs[-1].arrival_s + self.time_scale_s) if sim.specs else 0.0,
            *self._global_pad,
        ]

    def decode(self, action: int) -> tuple[Request, int] | None:
        """``(request, accel)`` for a dispatch action, ``None`` for wait (no validity check)."""
        if action == self.wait_action:
            return None
        i, a = divmod(action, self.num_accels)
        return self.candidates[i], a
