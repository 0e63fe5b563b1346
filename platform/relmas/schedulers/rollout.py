"""Rollout (pilot) scheduler: try a few actions, simulate the base heuristic after each one.

Method: one-step rollout of a base heuristic (Bertsekas, Tsitsiklis and Wu, "Rollout algorithms
for combinatorial optimization", J. Heuristics 1997; Bertsekas and Castañon, "Rollout algorithms
for stochastic scheduling problems", J. Heuristics 1999), also known as the pilot method (Duin
and Voß, "The pilot method", Networks 1999). If the base heuristic is sequentially consistent,
the rollout policy does at least as well as the base in expectation; here the score is a
truncated one, so that is a tendency, not a guarantee.

At each decision point (one action per call, like the RL env; the engine asks again at the same
instant while units are free and requests ready):
- candidates: the base's own action (option 0), *wait* (only while some unit is busy), the base's
  request on each other free unit type, and the top meetable requests of EDF, least-laxity,
  Planaria and SJF, each on its fastest free unit and on Planaria's feasible unit, up to
  ``max_candidates`` in all;
- each is applied to a snapshot of the simulator (non-clairvoyant: only requests that have
  arrived; ``clairvoyant=True`` is an ORACLE that also sees the real future arrivals, and is
  labelled as such wherever it is shown), then the base runs for ``horizon_s`` of simulated time;
- score = the requests live now (plus, for the oracle, those arriving within the horizon) that
  met their deadline or can still meet it (best-case remaining time);
- the best score wins, ties go to the base's action. When the base's own rollout already scores
  the best possible (every request that can still meet its deadline now still can), nothing
  else is simulated: ~94% of decisions on ``heavy``.

A base that returns several dispatches at once is reproduced one at a time: option 0 is its
drops plus its first dispatch; if that is chosen, the rest is kept and offered as option 0 at the
re-ask at the same instant (recognised by the state's fingerprint), without asking the base
again. So ``max_candidates=1`` reproduces the base bit for bit (tested for several bases).

Speed: the base's future is kept running ahead in a :class:`~relmas.schedulers._lookahead.Shadow`
while the run follows it, so a decision where the early exit applies usually costs no
simulation at all; Planaria keeps its queue order incrementally. Bases whose state is rebuilt
from the simulator (the list schedulers, Planaria, Dysta, DREAM, CD-MSA, MoCA, VELTAIR, random)
are asked on snapshots; stateful ones (PREMA, Herald, least-loaded, round-robin, MAGMA) keep one
instance on the real run, copied into each snapshot (slower).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from pydantic import Field, ValidationError, ValidationInfo, field_validator

from relmas.errors import did_you_mean
from relmas.schedulers import _lookahead as la
from relmas.schedulers._alternatives import alternatives
from relmas.schedulers.base import Decision, Scheduler, SchedulerParams
from relmas.schedulers.planaria import PlanariaScheduler
from relmas.schedulers.registry import (
    is_lookahead,
    register_scheduler,
    scheduler_class,
    scheduler_names,
)
from relmas.sim.engine import Simulator
from relmas.sim.request import Dispatch, Request
from relmas.sim.snapshot import deepcopy_memo

REBUILT = frozenset(("fcfs", "edf", "sjf", "least-laxity", "dysta", "planaria", "cd-msa", "dream",
                     "moca", "veltair", "random"))  # fmt: skip
USES_RNG = frozenset(("random",))
DEFAULT_BASE_PARAMS: dict[str, dict[str, Any]] = {"planaria": {"priority_exponent": 0.5}}


class RolloutParams(SchedulerParams):
    """The base heuristic, how far ahead to simulate, and how many actions to try."""

    base: str = Field("planaria", description="Base heuristic (any name of `relmas list`).")
    base_params: dict[str, Any] | None = Field(
        None,
        description="The base's parameters (default: priority_exponent 0.5 for planaria, the "
        "best heuristic on heavy; none for the others).",
    )
    horizon_s: float = Field(
        0.05, gt=0, allow_inf_nan=False, description="Simulated time rolled after each action."
    )
    max_candidates: int = Field(
        6, ge=1, description="Actions tried per decision, the base's included (1 = the base)."
    )
    clairvoyant: bool = Field(
        False, description="ORACLE: rollouts see the real future arrivals (an upper reference)."
    )

    @field_validator("base")
    @classmethod
    def _known_base(cls, value: str) -> str:
        names = scheduler_names()
        if value not in names:
            kind = "a lookahead scheduler" if is_lookahead(value) else "not a heuristic"
            raise ValueError(f"{value!r} is {kind}; {did_you_mean(value, names)}")
        return value

    @field_validator("base_params")
    @classmethod
    def _valid_for_base(cls, value: dict[str, Any] | None, info: ValidationInfo) -> Any:
        base = info.data.get("base")
        if value is None or base is None:
            return value
        params = scheduler_class(base).Params
        try:
            dumped = params.model_validate(value).model_dump()
        except ValidationError as exc:  # name the base's field
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "params"
            raise ValueError(f"{base} {field}: {' '.join(str(err['msg']).split())}") from None
        return {k: dumped[k] for k in value}


@dataclass(frozen=True, slots=True)
class Option:
    """One candidate action: its decisions (on the real simulator) and its rollout score.

    ``evaluated=False``: not simulated (skipped by the early exit); ``score`` is then the
    base's, not a measurement (NaN when nothing was simulated, ``max_candidates=1``).
    ``bound=True``: the rollout stopped once it could no longer beat the best option so far;
    ``score`` is then an upper bound of its score (at most the best's).
    """

    decisions: list[Decision]
    score: float
    evaluated: bool
    source: str = ""  # "base", "wait", "other-type", or "<ordering>#<rank>"
    bound: bool = False


@dataclass(frozen=True, slots=True)
class Advice:
    """The options at one decision point; ``options[best]`` is what :meth:`decide` returns."""

    options: list[Option]
    best: int


@register_scheduler("rollout", lookahead=True)
class RolloutScheduler(Scheduler):
    """One-step rollout of a base heuristic over a few candidate actions (a lookahead peer)."""

    Params = RolloutParams

    def __init__(self, params: SchedulerParams | None = None) -> None:
        super().__init__(params)
        p = self.params
        assert isinstance(p, RolloutParams)
        self.p = p
        cls = scheduler_class(p.base)
        raw = DEFAULT_BASE_PARAMS.get(p.base, {}) if p.base_params is None else p.base_params
        self._base_cls, self._base_params = cls, cls.Params.model_validate(raw)
        self.rebuilt, self.track_rng = p.base in REBUILT, p.base in USES_RNG
        self._base = self.new_base()  # stateful bases: the one instance on the real run
        self._roller = self.new_base()  # rebuilt bases: reset on each snapshot
        planaria = raw if p.base == "planaria" else DEFAULT_BASE_PARAMS["planaria"]
        self._planaria = PlanariaScheduler(PlanariaScheduler.Params.model_validate(planaria))
        if cls.bandwidth_policy is not None:  # e.g. MoCA: its caps need the capped policy
            self.__dict__["bandwidth_policy"] = cls.bandwidth_policy
        self.reuse = True  # keep the base's future running ahead (False: tests compare)
        self._clear(self.rng)

    @property
    def base_params(self) -> SchedulerParams:
        """The base's validated parameters (its defaults here included)."""
        return self._base_params

    def new_base(self) -> Scheduler:
        """A new instance of the base heuristic with its parameters."""
        return self._base_cls(self._base_params)

    def _clear(self, rng: np.random.Generator) -> None:
        self._shadow: la.Shadow | None = None
        self._pending: tuple[la.Fingerprint, list[Decision]] | None = None
        self._cached: tuple[la.Fingerprint, list[Request], Advice, bool] | None = None
        self._base_rng = rng

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None:
        """Start a run: the base gets ``rng`` as if it ran alone."""
        super().reset(sim, rng)
        self._clear(rng)
        if not self.rebuilt:
            self._base.reset(sim, rng)

    def decide(self, sim: Simulator) -> list[Decision]:
        """The decisions of the best option of :meth:`advise` (one dispatch, drops, or wait)."""
        advice = self._advise(sim, listing=False)
        return advice.options[advice.best].decisions

    def advise(self, sim: Simulator) -> Advice:
        """Every option at this state with its score and the one :meth:`decide` takes.

        The teacher API: options skipped by the early exit are listed with ``evaluated=False``.
        Calling it again (or :meth:`decide`) at the same state returns the same choice.
        """
        return self._advise(sim, listing=True)

    def _advise(self, sim: Simulator, listing: bool) -> Advice:
        fp = la.fingerprint(sim)
        cached = self._cached
        if cached is not None and cached[0] == fp and cached[1] is sim.ready_log:
            advice, listed = cached[2], cached[3]
            if listing and not listed:  # an early exit whose skipped options were not listed
                skipped = self._unevaluated(sim, advice.options[0])
                advice = replace(advice, options=advice.options + skipped)
                self._cached = (fp, sim.ready_log, advice, True)
            return advice
        batch = self._base_batch(sim, fp)
        option: list[Decision] = [d for d in batch if not isinstance(d, Dispatch)]
        dispatches: list[Decision] = [d for d in batch if isinstance(d, Dispatch)]
        option += dispatches[:1]
        advice, listed = self._choose(sim, option, batch, listing)
        followed = advice.best == 0
        self._pending = (la.after(fp, option), dispatches[1:]) if followed else None
        if not followed:
            self._shadow = None
        self._cached = (fp, sim.ready_log, advice, listed)
        return advice

    def _base_batch(self, sim: Simulator, fp: la.Fingerprint) -> list[Decision]:
        """The base's whole decision here (on ``sim``'s requests), asked once per state."""
        pending = self._pending
        if pending is not None and pending[0] == fp and pending[1]:
            return pending[1]
        if not self.rebuilt:
            return list(self._base.decide(sim))
        shadow = self._shadow
        record = shadow.next_record() if shadow is not None else None
        if record is None or record.fp != fp:
            shadow = self._shadow = self._new_shadow(sim)
            record = shadow.next_record()
            assert record is not None  # sim is at a decision point, so is its snapshot
        if record.rng is not None:
            self._base_rng = record.rng
        return la.on(sim, record.batch)

    def _new_shadow(self, sim: Simulator) -> la.Shadow:
        clone = sim.snapshot(clairvoyant=self.p.clairvoyant)
        base = self.new_base()
        base.reset(clone, copy.deepcopy(self._base_rng) if self.track_rng else self._base_rng)
        return la.Shadow(clone, base, self.track_rng)

    def _choose(
        self, sim: Simulator, option: list[Decision], batch: list[Decision], listing: bool
    ) -> tuple[Advice, bool]:
        """Score the base's action, then (unless it is already the best possible) the rest."""
        if self.p.max_candidates == 1:
            return Advice([Option(option, math.nan, False, "base")], 0), True
        end = sim.now_s + self.p.horizon_s
        rids, ceiling = la.scored(sim, end, self.p.clairvoyant)
        if self.rebuilt and self.reuse:
            assert self._shadow is not None
            top = float(self._shadow.score(end, rids))
        else:
            top = float(self._score(sim, batch, end, rids, -1.0)[0])
        options = [Option(option, top, True, "base")]
        if top >= ceiling:
            skipped = self._unevaluated(sim, options[0]) if listing else []
            return Advice(options + skipped, 0), listing
        best = 0
        for source, decisions in self._candidates(sim, option):
            if top >= ceiling:  # nothing can beat it: the rest are skipped
                options.append(Option(decisions, options[0].score, False, source))
                continue
            score, pruned = self._score(sim, decisions, end, rids, top)
            options.append(Option(decisions, float(score), True, source, pruned))
            if score > top:
                best, top = len(options) - 1, score
        return Advice(options, best), True

    def _unevaluated(self, sim: Simulator, base: Option) -> list[Option]:
        """The candidates an early exit skipped, listed with the base's score."""
        cands = self._candidates(sim, base.decisions)
        return [Option(d, base.score, False, source) for source, d in cands]

    def _score(
        self, sim: Simulator, decisions: list[Decision], end_s: float, rids: list[int], beat: float
    ) -> tuple[int, bool]:
        """Apply ``decisions`` to a snapshot and roll the base to ``end_s``: the score, and
        whether the rollout stopped early because it could not score above ``beat``."""
        clone = sim.snapshot(clairvoyant=self.p.clairvoyant)
        if self.rebuilt:
            base = self._roller
            rng = copy.deepcopy(self._base_rng) if self.track_rng else self._base_rng
        else:
            base = copy.deepcopy(self._base, deepcopy_memo(sim, clone))
        la.apply_first(clone, decisions)
        if self.rebuilt:
            base.reset(clone, rng)
        return la.roll(clone, base, end_s, rids, beat)

    def _candidates(
        self, sim: Simulator, option: list[Decision]
    ) -> list[tuple[str, list[Decision]]]:
        """The alternatives to the base's action (see :mod:`relmas.schedulers._alternatives`)."""
        return alternatives(sim, option, self._planaria, self.p.max_candidates - 1)
