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
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import ValidationError

from relmas.env.candidates import ORDERINGS, DeadlineWorkOrderings, Orderings, interleave
from relmas.env.chip_view import ChipView
from relmas.env.config import CANDIDATE_RULES
from relmas.env.layout import CLIP, UNIT_FIELDS, ObsLayout
from relmas.errors import UserError
from relmas.loaders.validation import validation_error
from relmas.schedulers.outlook import BaseOutlook
from relmas.schedulers.planaria import PlanariaParams, PlanariaScheduler
from relmas.schedulers.rollout import RolloutParams
from relmas.sim.chip import Chip
from relmas.sim.engine import Simulator
from relmas.sim.request import Request

ENV_VERSION = 2  # bump whenever the observation, action or reward semantics change
ENV_ID = f"relmas/MultiAccel-v{ENV_VERSION}"  # the registered id names the version it builds
# how far the ``outlook`` option simulates Planaria ahead: the rollout teacher's own horizon
OUTLOOK_HORIZON_S: float = RolloutParams.model_fields["horizon_s"].default


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


def gate_active(outlook_gate: bool, outlook: bool, candidates: str) -> bool:
    """Whether an encoder built with these options closes its outlook gate: the gate needs
    the outlook (Planaria's simulated future) and the ``heuristic`` rule (Planaria's action)."""
    return outlook_gate and outlook and candidates == "heuristic"


class FeatureEncoder:
    """Writes the observation and the action mask of a simulator state into fixed arrays.

    Actions are ``i * num_accels + a`` for candidate ``i`` on unit slot ``a``; the last index
    (``wait_action``) lets the engine move to the next event without dispatching. ``types`` are
    the accelerator types the policy knows (default: the chip's) and ``max_units`` the unit
    slots (default: the chip's units); slots beyond the chip's units are padding, never valid.
    """

    def __init__(
        self,
        chip: Chip,
        top_k: int,
        priority_scale: float = 9.0,
        candidates: str = "heuristic",
        planaria_params: Mapping[str, Any] | None = None,
        types: Sequence[str] | None = None,
        max_units: int | None = None,
        wait_slack: bool = False,
        outlook: bool = False,
        outlook_gate: bool = False,
        wait_guard: bool = False,
    ) -> None:
        if top_k < 1:
            raise ValueError("top_k must be >= 1")
        if candidates not in CANDIDATE_RULES:
            raise UserError(
                "candidates",
                f"unknown rule {candidates!r}",
                f"choose one of: {', '.join(CANDIDATE_RULES)}",
            )
        self.view = ChipView(chip, types or chip.type_names)
        slots = max_units or chip.num_accels
        if chip.num_accels > slots:
            raise UserError(
                "hardware",
                f"the chip has {chip.num_accels} sub-accelerators, the policy {slots} unit slots",
                "use a smaller chip or a policy with a pair head (any number of units)",
            )
        self.candidate_rule = candidates
        self.chip = chip
        self.top_k = top_k
        self.num_accels = slots
        self.num_types = len(self.view.types)
        self.priority_scale = float(priority_scale)
        self.time_scale_s = self.view.time_scale_s
        self._mean_layer_j = self.view.mean_layer_j
        hint = candidates == "heuristic"
        self.rank_depth = (top_k + len(ORDERINGS) - 1) // len(ORDERINGS) + 1
        self.planaria_params = dict(planaria_params or {})
        self.orderings = (
            Orderings(self.rank_depth, planaria_variant(self.planaria_params)) if hint else None
        )
        self._simple = None if hint else DeadlineWorkOrderings(top_k)
        self.layout = layout = ObsLayout(top_k, slots, self.num_types, hint, wait_slack, outlook)
        self.outlook = (
            BaseOutlook(planaria_variant(self.planaria_params), OUTLOOK_HORIZON_S)
            if outlook
            else None
        )
        self.outlook_gate = gate_active(outlook_gate, outlook, candidates)
        self.gate_closed = False  # this state: only Planaria's action was left valid
        self.wait_guard = wait_guard
        self.candidate_dim = layout.candidate_dim
        self.accel_dim = layout.accel_dim
        self.global_dim = layout.global_dim
        self.obs_dim = layout.obs_dim
        self.num_actions = top_k * slots + 1
        self.wait_action = self.num_actions - 1
        self.obs = np.zeros(self.obs_dim, dtype=np.float32)
        self.mask = np.zeros(self.num_actions, dtype=np.float32)
        self.prior = np.zeros(self.num_actions, dtype=np.float32)
        self._mask_grid = self.mask[:-1].reshape(top_k, slots)  # a view of ``mask``
        self.candidates: list[Request] = []
        self._step_buffers()

    def _step_buffers(self) -> None:
        """Constant pieces :meth:`encode` splices into its flat list, built once.

        Padding rows make the list exactly ``obs_dim`` long (no zeroing of ``obs``); the clip
        bounds are arrays because numpy's scalar-operand path costs more than the clip itself.
        """
        view, lay = self.view, self.layout
        self._head_rows = []  # ``present`` and the type one-hot of each real unit
        for k in view.unit_type:
            self._head_rows.append([1.0] + [float(k == t) for t in range(self.num_types)])
        pad = len(lay.unit_fields) - 1 - self.num_types - len(UNIT_FIELDS)  # planaria_unit
        self._accel_pad = [0.0] * pad
        self._idle_rows = [row + [0.0] * (len(UNIT_FIELDS) + pad) for row in self._head_rows]
        self._slot_pad = [0.0] * ((self.num_accels - self.chip.num_accels) * lay.accel_dim)
        self._type_units = [n / self.num_accels for n in view.type_units]
        self._global_pad = [0.0] * int(lay.hints)
        self._no_hints: list[list[float]] = [[]] * self.top_k  # the other rules have no flags
        cd, k = self.candidate_dim, self.top_k
        self._candidate_pad = [[0.0] * ((k - n) * cd) for n in range(k + 1)]
        if lay.hints:
            self._waits_index = lay.index("planaria_waits")
            units = range(self.chip.num_accels)
            self._unit_flag_index = [lay.index("planaria_unit", unit=a) for a in units]
        depth = self.rank_depth
        self._rank_weights = [(depth - j) / depth for j in range(depth)]
        self._lo = np.full(self.obs_dim, -CLIP, dtype=np.float32)
        self._hi = np.full(self.obs_dim, CLIP, dtype=np.float32)
        self._pack = struct.Struct(f"{self.obs_dim}f").pack_into  # native: a plain C cast

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
        rate, rem = sim.rates(), sim.remaining_work_s  # read once: both walk the busy units
        free_in = self._type_free_in(sim, rate, rem)
        ahead, lost = self._outlook_values(sim, cands)
        flat = self._candidate_values(
            sim, cands, free_in if self.layout.wait_slack else None, ahead
        )
        flat += self._accel_values(sim, rate, rem)
        flat += self._global_values(sim, free_in, lost)
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
        if self.wait_guard and cands and self._every_type_free(sim):
            mask[self.wait_action] = 0.0
        self.gate_closed = self.outlook_gate and not lost[0] and float(mask @ self.prior) > 0
        if self.gate_closed:  # Planaria loses nothing ahead: the teacher keeps its action
            mask[:] = self.prior

    def _every_type_free(self, sim: Simulator) -> bool:
        """``wait_guard``: a unit of every type on the chip is free, so waiting cannot be for a
        faster type to free up; only the rare hold for a request about to become ready is lost
        (measured in docs/rl.md, "Run-to-run spread, a collapse, and wait_guard")."""
        free, num_types = sim.free_accels, self.chip.num_types  # the types the chip has
        if len(free) < num_types:
            return False
        accel_type = self.chip.accel_type
        return len({accel_type[a] for a in free}) == num_types

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

    def _outlook_values(
        self, sim: Simulator, cands: list[Request]
    ) -> tuple[list[float] | None, list[float]]:
        """``outlook`` option: each candidate's slack where Planaria's own future ends, in
        isolated latencies, and the live requests that future loses / ``top_k``."""
        if self.outlook is None:
            return None, []
        finish, lost = self.outlook.at(sim, [r.rid for r in cands])
        iso = self.chip.isolated_latency_s
        ahead = [(r.deadline_s - f) / iso[r.model] for r, f in zip(cands, finish, strict=True)]
        return ahead, [lost / self.top_k]

    def _candidate_values(
        self,
        sim: Simulator,
        cands: list[Request],
        free_in: list[float] | None,
        ahead: list[float] | None = None,
    ) -> list[float]:
        """Candidate rows (dynamic values, static per-type row, per-type slack, with
        ``free_in`` the per-type slack after waiting for a unit of the type, with ``ahead``
        the slack where Planaria's future ends, heuristic flags), zero-padded."""
        view, now, scale = self.view, sim.now_s, self.priority_scale
        chip = self.chip
        iso, best, static = chip.isolated_latency_s, chip.remaining_best_s, view.static_rows
        hints = self._hint_rows if self.orderings is not None else self._no_hints
        type_slack = view.type_slack
        flat: list[float] = []
        for i, (r, flags) in enumerate(zip(cands, hints, strict=False)):  # a row per candidate
            m, layer = r.model, r.next_layer
            iso_s = iso[m]
            flat += (
                1.0,
                (r.deadline_s - now - best[m][layer]) / iso_s,
                (now - r.arrival_s) / iso_s,
                r.priority / scale,
            )
            flat += static[m][layer]
            slack = type_slack(m, layer, r.deadline_s, now)
            flat += slack
            if free_in is not None:  # the wait costs free_in (in time_scale_s) on each type
                w = self.time_scale_s / iso_s
                pairs = zip(slack, free_in, strict=True)
                flat += [s if s <= -CLIP else s - f * w for s, f in pairs]
            if ahead is not None:
                flat.append(ahead[i])
            flat += flags
        flat += self._candidate_pad[len(cands)]
        return flat

    def _accel_values(self, sim: Simulator, rate: list[float], rem: list[float]) -> list[float]:
        """Per unit: present, type one-hot, busy flag, remaining time, granted and demanded
        bandwidth, the running request's slack (the same expressions as the engine's per-unit
        views, with the rates read once), then padding slots."""
        chip, ts, pad = self.chip, self.time_scale_s, self._accel_pad
        bw, iso, best = chip.bandwidth_bytes_per_s, chip.isolated_latency_s, chip.remaining_best_s
        demand, now = sim.demand_bytes_per_s, sim.now_s
        flat: list[float] = []
        for a, req in enumerate(sim.accel_request):
            if req is None:
                flat += self._idle_rows[a]
                continue
            m = req.model
            slack = (req.deadline_s - now - best[m][req.next_layer]) / iso[m]
            flat += self._head_rows[a]
            flat += (1.0, rem[a] / rate[a] / ts, rate[a] * demand[a] / bw, demand[a] / bw, slack)
            flat += pad
        flat += self._slot_pad
        return flat

    def _global_values(
        self, sim: Simulator, free_in: list[float], lost: list[float]
    ) -> list[float]:
        """DRAM load, queue length, free fraction, arrival progress, episode time, per known
        type the unit share and the time until one is free, (``outlook``) the share of requests
        Planaria's future loses (+ flag)."""
        total = max(len(sim.specs), 1)
        return [
            sim.dram_demand_bytes_per_s / self.chip.bandwidth_bytes_per_s,
            len(sim.ready) / self.top_k,
            len(sim.free_accels) / self.chip.num_accels,
            1.0 - sim.arrivals_left / total,
            sim.now_s / (sim.specs[-1].arrival_s + self.time_scale_s) if sim.specs else 0.0,
            *self._type_units,
            *free_in,
            *lost,
            *self._global_pad,
        ]

    def _type_free_in(self, sim: Simulator, rate: list[float], rem: list[float]) -> list[float]:
        """Per known type: 0 if a unit of it is free, else the time until the first one frees
        (``CLIP`` if the chip has none), in mean isolated latencies."""
        unit_type, ts = self.view.unit_type, self.time_scale_s
        out = [CLIP] * self.num_types
        for a in sim.free_accels:
            out[unit_type[a]] = 0.0
        if len(sim.free_accels) < self.chip.num_accels:
            for a in sim.busy:
                k = unit_type[a]
                left = rem[a] / rate[a] / ts
                if left < out[k]:
                    out[k] = left
        return out

    def planaria_action(self) -> int:
        """The action index of Planaria's next dispatch (or wait) at the encoded state: the
        action the ``heuristic`` rule's prior marks (a one-hot)."""
        return int(np.argmax(self.prior))

    def decode(self, action: int) -> tuple[Request, int] | None:
        """``(request, accel)`` for a dispatch action, ``None`` for wait (no validity check).

        The caller applies what this returns, so the ``outlook`` learns here whether the run
        followed Planaria (its shadow future is reused only then)."""
        if action == self.wait_action:
            if self.outlook is not None:
                self.outlook.taken(None, None)
            return None
        i, a = divmod(action, self.num_accels)
        if self.outlook is not None:
            self.outlook.taken(self.candidates[i].rid, a)
        return self.candidates[i], a
