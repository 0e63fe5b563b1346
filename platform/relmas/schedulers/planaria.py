"""Planaria's deadline-aware scoring on sub-accelerators, in relmas's form and two published ones.

Paper: Soroush Ghodrati, Byung Hoon Ahn, Joon Kyung Kim, Sean Kinzer, Brahmendra Reddy Yatham,
Navateja Alla, Hardik Sharma, Mohammad Alian, Eiman Ebrahimi, Nam Sung Kim, Cliff Young and
Hadi Esmaeilzadeh, "Planaria: Dynamic Architecture Fission for Spatial Multi-Tenant Acceleration
of Deep Neural Networks", MICRO 2020; scheduler as coded in he-actlab/planaria.code
(scheduler/scheduler.py).

Planaria (race mode, when not every task fits): ``slack_i = QoS_i - (now - start_i)``,
``possible_i = {c : remaining_time_i(c subarrays) <= slack_i}``, and
    score_i = priority_i / (slack_i * min(possible_i))   if possible_i is non-empty
            = -priority_i / remaining_time_i(all)         otherwise (cannot meet its QoS)
tasks get ``min(possible_i)`` subarrays (the fewest that meet the slack) in descending score,
and the spare subarrays are spread by score. A task that cannot meet its QoS gets no subarray
while another task can; when none can, subarrays go in proportion to ``|score|``.

Forms (``--param form=...``), with ``p`` the priority (``** priority_exponent``),
``slack = deadline - now`` and ``rem`` the best-type isolated remaining time:

- ``relmas`` (default, ours): meetable (``rem <= slack``) requests by ``p / (slack x rem)``, then
  the hopeless ones by descending ``-p / rem`` (the smallest ``p / rem`` first, the reverse of the
  authors' all-hopeless order); cheapest feasible unit, waiting for one (details below).
- ``dysta``: ``p / slack`` for every request, picked by the Dysta simulator's loop
  (:mod:`relmas.schedulers._published`): a request past its deadline scores negative and runs
  only when no request is before its deadline, newest first. This is ``Planaria`` in
  SamsungLabs/Sparse-Multi-DNN-Scheduling (dysta_scheduler/scheduler.py, ``rsc_estimate = 1``),
  the form behind the Dysta paper's (MICRO 2023) Planaria numbers. It ranks a request that can no
  longer make its deadline, but whose deadline is still ahead, *first* (small slack).
- ``authors``: Planaria's own race mode with one unit as a request's resource (its
  ``min(possible_i)`` is 1, as in Dysta): meetable requests by ``p / slack``, then the hopeless
  ones by ``p / rem``, largest first (the share of cores the authors' code gives them).
``dysta`` and ``authors`` place each pick on its fastest free unit and never leave a unit idle
while a request is ready, as the single-accelerator codes do. On one sub-accelerator the three
forms differ only in their order. Both relmas changes (``x rem`` and hopeless last) lower the
violation rate and lengthen long jobs' turnaround (docs/peers_as_published.md measures them).
``relmas`` stays the default: the RL env's candidate features and the shipped ``rl:default``
policy are built on :meth:`PlanariaScheduler.rank` and :meth:`~PlanariaScheduler.feasible_unit`,
which are this form's, and must not change under them.

The relmas form, per decision point (every layer boundary / arrival):
    meets_r  = rem_r <= slack_r
    score_r  = p_r / (slack_r * rem_r)   if meets_r   else   -p_r / rem_r
    feasible types of r: t with latency_s[m][t][l] + remaining_best_s[m][l + 1] <= slack_r
Requests that can meet their deadline come first (then descending score, then request id).
Each takes the free sub-accelerator of a feasible type with the least energy for its next layer
(ties: faster, then lower index); if no free unit is feasible, it waits for one. Requests that
cannot meet their deadline take their fastest free sub-accelerator (least lateness).

Adaptations of the relmas form (every one is ours, not Planaria's):
- "Units": at layer granularity a request runs on exactly one sub-accelerator, so it cannot span
  several units as a Planaria task spans subarrays. The resource a request needs from the chip is
  unit-time, whose minimum is ``rem_r`` (the best-type remaining time). So ``min(possible_i)``
  (fewest subarrays that meet the slack) becomes ``rem_r`` (fewest unit-seconds that meet it).
- "Fewest units that meet slack" becomes the *placement* rule: among free units whose type still
  meets the slack, take the cheapest one (least dynamic energy), leaving faster units to others.
  ``prefer_low_energy=False`` takes the fastest feasible unit instead.
- Planaria's fit mode (all tasks fit, spare subarrays spread by priority / remaining time)
  collapses here: a request can use at most one unit per layer, so there is nothing spare to
  spread to a placed request. Spare units go to requests that cannot meet their deadline; with
  ``work_conserving=True`` they also go to meetable requests whose feasible types are all busy
  (on their fastest free unit), otherwise those wait as a Planaria task waits for its minimum.
- Re-allocation happens at layer boundaries (Planaria: tile boundaries), with no fission cost.
- Time estimates are isolated, full-bandwidth costs; DRAM contention is not predicted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import numpy as np
from mypy_extensions import mypyc_attr

from relmas.schedulers._incremental import RankedQueue
from relmas.schedulers._planaria_params import PlanariaParams
from relmas.schedulers._published import dysta_pick_key
from relmas.schedulers.base import (
    Decision,
    Scheduler,
    SchedulerParams,
    best_free_accel,
    place_in_order,
)
from relmas.schedulers.registry import register_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Dispatch, Request

_TINY_S: Final = 1e-12  # keeps the score finite for zero-cost layers in hand-made chips


# Subclassable from Python when compiled (relmas.compiled); tests and users subclass it.
@mypyc_attr(allow_interpreted_subclasses=True)
class PlanariaScheduler(Scheduler):
    """Priority / (slack x remaining), hopeless last; form=dysta|authors: the published scores."""

    Params = PlanariaParams

    def __init__(self, params: SchedulerParams | None = None) -> None:
        super().__init__(params)
        assert isinstance(self.params, PlanariaParams)
        self._exponent = float(self.params.priority_exponent)  # read per rank call: hot path
        self._form = self.params.form
        self._work_conserving = self.params.work_conserving
        self._prefer_low_energy = self.params.prefer_low_energy  # read per unit: hot path
        self._queue = RankedQueue()  # the relmas form's order, kept incrementally

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None:
        """Forget the previous run's queue (a new simulator restarts it anyway)."""
        super().reset(sim, rng)
        self._queue = RankedQueue()

    def _weight(self, req: Request) -> float:
        return req.priority if self._exponent == 1.0 else req.priority**self._exponent

    def rank(self, sim: Simulator, req: Request) -> tuple[bool, float]:
        """(can meet its deadline, Planaria score) of the relmas form; larger runs first.

        Form-independent on purpose: the RL env's features call it on every step.
        """
        slack_s = req.deadline_s - sim.now_s
        rem_s = max(sim.chip.remaining_best_s[req.model][req.next_layer], _TINY_S)
        weight = req.priority if self._exponent == 1.0 else req.priority**self._exponent
        if rem_s <= slack_s:  # implies slack_s > 0
            return True, weight / (slack_s * rem_s)
        return False, -weight / rem_s

    def dysta_key(self, sim: Simulator, req: Request) -> tuple[bool, float, int]:
        """form=dysta: ``p / slack`` through the Dysta pick loop; larger runs first.

        Slack exactly 0 (a division by zero in Dysta's code) counts as past the deadline.
        """
        slack_s = req.deadline_s - sim.now_s
        score = self._weight(req) / slack_s if slack_s > 0 else -1.0
        return dysta_pick_key(score, req.rid)

    def authors_key(self, sim: Simulator, req: Request) -> tuple[bool, float, int]:
        """form=authors: meetable by ``p / slack``, then the hopeless by ``p / rem``."""
        slack_s = req.deadline_s - sim.now_s
        rem_s = max(sim.chip.remaining_best_s[req.model][req.next_layer], _TINY_S)
        if rem_s <= slack_s:
            return True, self._weight(req) / slack_s, -req.rid
        return False, self._weight(req) / rem_s, -req.rid

    def feasible_unit(self, sim: Simulator, req: Request, free: Sequence[int]) -> int | None:
        """The cheapest free unit whose type still lets ``req`` meet its deadline, if any."""
        chip, m, layer = sim.chip, req.model, req.next_layer
        budget_s = req.deadline_s - sim.now_s - chip.remaining_best_s[m][layer + 1]
        types = chip.accel_type
        if len(free) == 1:  # the common case (one unit just finished): feasible or not
            a = free[0]
            return a if chip.latency_s[m][types[a]][layer] <= budget_s else None
        lowest = [-1] * len(chip.type_names)  # the lowest free unit of each type
        for a in free:  # one pass of integer work: units of a type cost the same
            t = types[a]
            if lowest[t] < 0 or a < lowest[t]:
                lowest[t] = a
        best: tuple[float, float, int] | None = None
        for t, a in enumerate(lowest):  # (cost, latency, unit) as over every unit: same pick
            if a < 0:
                continue
            latency_s = chip.latency_s[m][t][layer]
            if latency_s > budget_s:
                continue
            cost = chip.energy_j[m][t][layer] if self._prefer_low_energy else latency_s
            if best is None or (cost, latency_s, a) < best:
                best = (cost, latency_s, a)
        return None if best is None else best[2]

    def meetable(self, sim: Simulator) -> list[Request]:
        """The waiting requests that can still meet their deadline, in the relmas form's order
        (best first), from the incremental queue; call once per decision point, before
        :meth:`late`. The RL env's candidate orderings read Planaria's order here too."""
        return self._queue.meetable(sim, self._weight, _TINY_S)

    def late(self, n: int) -> list[Request]:
        """The first ``n`` waiting requests that cannot meet their deadline, in order."""
        return self._queue.late(n)

    def decide(self, sim: Simulator) -> list[Decision]:
        """The form's order; relmas: feasible units, then spare ones; others: fastest free."""
        if self._form != "relmas":
            key: Callable[[Simulator, Request], tuple[bool, float, int]]
            key = self.dysta_key if self._form == "dysta" else self.authors_key
            ordered = sorted(sim.ready.values(), key=lambda r: key(sim, r), reverse=True)
            return place_in_order(sim, ordered)
        meetable = self.meetable(sim)
        free = sim.free_accels
        if len(free) == 1:  # the common case (one unit just finished): the loop below, unrolled
            for req in meetable:
                a = self.feasible_unit(sim, req, free)
                if a is not None:
                    return [Dispatch(req, a)]
            late = self.late(1)
            if late:
                return [Dispatch(late[0], free[0])]
            if meetable and (self._work_conserving or not sim.can_wait()):
                return [Dispatch(meetable[0], free[0])]
            return []
        return self._place(sim, meetable, list(free))

    def _place(self, sim: Simulator, meetable: list[Request], free: list[int]) -> list[Decision]:
        """Meetable requests on feasible units, then the late ones on their fastest units."""
        out: list[Decision] = []
        waiting: list[Request] = []
        for req in meetable:
            if not free:
                break
            a = self.feasible_unit(sim, req, free)
            if a is None:
                waiting.append(req)
                continue
            free.remove(a)
            out.append(Dispatch(req, a))
        for req in self.late(len(free)):  # cannot meet their deadline: fastest unit
            a = best_free_accel(sim, req, free)
            free.remove(a)
            out.append(Dispatch(req, a))
        if self._work_conserving or not (out or sim.can_wait()):
            for req in waiting[: len(free)]:
                a = best_free_accel(sim, req, free)
                free.remove(a)
                out.append(Dispatch(req, a))
        return out


# Registered by a call, not as a decorator: mypyc compiles no decorated class as a native one
# (this module is compiled in the compiled build, relmas.compiled).
register_scheduler("planaria")(PlanariaScheduler)
