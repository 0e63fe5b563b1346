"""MAGMA: genetic-algorithm mapping of layer jobs to sub-accelerators, adapted to online use.

Paper: S.-C. Kao and T. Krishna, "MAGMA: An Optimization Framework for Mapping Multiple DNNs on
Multiple Accelerator Cores", HPCA 2022 (arXiv 2104.13997). Encoding, operators and the shared-DRAM
evaluator follow github.com/maestro-project/magma@f25ef66 (``scheuler_GA.py``), ``peers.md`` §8.

Genome, one gene pair per job (= a ready request's next layer): ``accel_j`` (any unit) and
``prio_j`` in [0, 1) (a unit runs its jobs in ascending ``prio``). Fitness is evaluated by MAGMA's
fluid model: busy units first finish their running layer, then each unit runs its queue; whenever
``sum(demand) > B`` every running job progresses at ``B / sum(demand)`` of full speed
(proportional sharing, the engine's default policy). Cost, lower is better::

    cost = #jobs j with finish_j > deadline_j - now - remaining_best(after j)    # est. misses
         + makespan_weight * makespan / (sum_j min_a T_j(a) + max busy time)

Operators per child: parents drawn from the best ``parent_fraction`` of the population, the best
``elite`` genomes survive unchanged; one-point crossover on one row (``crossover_rate``),
accelerator crossover copying every job the second parent maps to one unit (``crossover_acc_rate``),
per-gene mutation (``mutation_rate``).

Adaptations to this system:

- MAGMA maps a known batch offline to minimise makespan. Online, the GA runs at a decision point
  over the current ready set (at most ``max_jobs`` earliest-deadline requests), jobs are only the
  next layer of each request, and the fitness adds estimated deadline misses ahead of makespan,
  because the platform's objective is SLA satisfaction.
- Only the head of each *free* unit's queue is dispatched; jobs mapped to busy units wait (the
  plan may prefer waiting for a faster unit). A request keeps its gene (unit, priority) for its
  following layers until the next search, which runs when a request arrives or after
  ``replan_every`` decisions; searching at every layer boundary made MAGMA ~200x slower than the
  other schedulers (706 dispatches/s on ``heavy``) for no measured SLA gain.
- The initial population holds one greedy seed (earliest finish time in deadline order, like
  MAGMA's HEFT baseline) plus random genomes; MAGMA starts from random genomes only. Seeding keeps
  a tiny GA from being worse than the heuristic it is compared with.
- Population and generations are small by default (8 x 5) so a decision takes milliseconds;
  MAGMA uses population = #jobs and 10+ generations.
- The evaluator reads the running layers' remaining full-speed work (``sim.remaining_work_s``;
  MAGMA dispatches single layers, so no block remainder exists) and always assumes proportional
  sharing, even if the scenario runs another bandwidth policy.
- Cost: ``population * (generations + 1)`` fitness evaluations of ``O((jobs + units) * units)``
  per new ready set; about 2-4 ms with 16 jobs on 4 units in CPython.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import Field

from relmas.schedulers.base import Decision, Scheduler, SchedulerParams
from relmas.schedulers.registry import register_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Dispatch, Request

Genome = tuple[list[int], list[float]]  # (unit per job, priority per job)


class MagmaParams(SchedulerParams):
    """GA size and operator rates."""

    population: int = Field(8, ge=2, description="Genomes per generation.")
    generations: int = Field(5, ge=0, description="GA generations per new ready set.")
    crossover_rate: float = Field(0.9, ge=0, le=1, description="One-point crossover probability.")
    crossover_acc_rate: float = Field(
        0.1, ge=0, le=1, description="Probability of copying all jobs of one unit from parent 2."
    )
    mutation_rate: float = Field(0.05, ge=0, le=1, description="Per-gene mutation probability.")
    elite: int = Field(1, ge=0, description="Best genomes copied unchanged to the next generation.")
    parent_fraction: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Parents come from this best fraction (MAGMA: 0.1 of large "
        "populations; small populations need more).",
    )
    max_jobs: int = Field(
        16,
        ge=1,
        description="At most this many earliest-deadline ready "
        "requests enter the GA; bounds the decision time.",
    )
    makespan_weight: float = Field(
        0.1,
        ge=0,
        description="Weight of normalised makespan next to the estimated deadline misses.",
    )
    replan_every: int = Field(
        32,
        ge=1,
        description="Re-run the GA after this many decisions "
        "even if no request arrived; arrivals always trigger a search.",
    )


@dataclass
class Jobs:
    """Everything the fitness function needs about one decision point (times relative to now).

    Plain lists, not arrays: the evaluator indexes single elements in a tight loop.
    """

    reqs: list[Request]
    work_s: list[list[float]]  # [job][unit]: full-speed seconds of the next layer on each unit
    demand: list[list[float]]  # [job][unit]: bytes/s to run at full speed
    busy_work_s: list[float]  # per unit: full-speed seconds left of its running layer (0: free)
    busy_demand: list[float]
    latest_finish_s: list[float]  # per job: finishing later than this means a likely miss
    bandwidth: float
    ref_s: float


def make_jobs(sim: Simulator, reqs: list[Request]) -> Jobs:
    """Tabulate the costs of the candidate jobs on every unit."""
    chip = sim.chip
    units = range(chip.num_accels)
    types = chip.accel_type
    work = [[chip.compute_s[r.model][types[a]][r.next_layer] for a in units] for r in reqs]
    dem = [[chip.demand_bytes_per_s[r.model][types[a]][r.next_layer] for a in units] for r in reqs]
    running = [sim.accel_request[a] is not None for a in units]
    busy_work = [sim.remaining_work_s[a] if running[a] else 0.0 for a in units]
    busy_dem = [sim.demand_bytes_per_s[a] if busy_work[a] > 0 else 0.0 for a in units]
    latest = [
        r.deadline_s - sim.now_s - chip.remaining_best_s[r.model][r.next_layer + 1] for r in reqs
    ]
    ref_s = sum(min(w) for w in work) + max(busy_work) + 1e-12
    return Jobs(reqs, work, dem, busy_work, busy_dem, latest, chip.bandwidth_bytes_per_s, ref_s)


def unit_queues(genome: Genome, n_units: int) -> list[list[int]]:
    """Jobs per unit, next job last (so ``pop()`` takes it): ascending priority value first."""
    accels, prio = genome
    queues: list[list[int]] = [[] for _ in range(n_units)]
    for j in sorted(range(len(prio)), key=lambda k: (prio[k], k), reverse=True):
        queues[accels[j]].append(j)
    return queues


def evaluate(jobs: Jobs, genome: Genome) -> tuple[int, float]:
    """(estimated deadline misses, makespan_s) of a genome under proportional DRAM sharing.

    Under proportional sharing every running job advances by the same full-speed amount, so each
    event step is ``min(remaining work)`` and wall time grows by ``step / scale``.
    """
    queues = unit_queues(genome, len(jobs.busy_work_s))
    n_units = len(queues)
    cur = [-1] * n_units  # job on each unit; -1: a layer that was already running
    rem, dem = list(jobs.busy_work_s), list(jobs.busy_demand)
    active = []
    for a in range(n_units):
        if rem[a] <= 0:
            if not queues[a]:
                continue
            j = cur[a] = queues[a].pop()
            rem[a], dem[a] = jobs.work_s[j][a], jobs.demand[j][a]
        active.append(a)
    total, bw = sum(dem), jobs.bandwidth
    t_s, misses = 0.0, 0
    while active:
        step = min([rem[a] for a in active])
        t_s += step if total <= bw else step * total / bw
        still = []
        for a in active:
            rem[a] -= step
            if rem[a] > step * 1e-9:
                still.append(a)
                continue
            misses += cur[a] >= 0 and t_s > jobs.latest_finish_s[cur[a]]
            total -= dem[a]
            if queues[a]:
                j = cur[a] = queues[a].pop()
                rem[a], dem[a] = jobs.work_s[j][a], jobs.demand[j][a]
                total += dem[a]
                still.append(a)
        active = still
    return misses, t_s


def greedy_seed(jobs: Jobs) -> Genome:
    """Earliest-finish placement in deadline order (MAGMA's HEFT-like baseline), no contention."""
    n = len(jobs.reqs)
    ready_s = list(jobs.busy_work_s)
    units = range(len(ready_s))
    accels, prio = [0] * n, [0.0] * n
    order = sorted(range(n), key=jobs.latest_finish_s.__getitem__)
    for rank, j in enumerate(order):
        a = min(units, key=lambda u: (ready_s[u] + jobs.work_s[j][u], u))
        accels[j], prio[j] = a, rank / n
        ready_s[a] += jobs.work_s[j][a]
    return accels, prio


@register_scheduler("magma")
class MagmaScheduler(Scheduler):
    """Online MAGMA: a small GA per new ready set; dispatch the heads of free units' queues."""

    Params = MagmaParams

    def __init__(self, params: SchedulerParams | None = None) -> None:
        super().__init__(params)
        self._plan: dict[int, tuple[int, float]] = {}
        self._arrived_at_plan = -1
        self._since_plan = 0

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None:
        """Drop the cached plan."""
        super().reset(sim, rng)
        self._plan, self._arrived_at_plan, self._since_plan = {}, -1, 0

    def cost(self, jobs: Jobs, genome: Genome) -> float:
        """GA fitness (lower is better): misses, then weighted normalised makespan."""
        p = self.params
        assert isinstance(p, MagmaParams)
        misses, makespan_s = evaluate(jobs, genome)
        return misses + p.makespan_weight * makespan_s / jobs.ref_s

    def _random(self, n: int, n_units: int) -> Genome:
        return self.rng.integers(0, n_units, n).tolist(), self.rng.random(n).tolist()

    def _child(self, parents: list[Genome], n_units: int) -> Genome:
        """One offspring: crossover, accelerator crossover, mutation (MAGMA's operators).

        All random numbers of a child come from one draw: per-call overhead of the generator
        dominates at these genome sizes.
        """
        p = self.params
        assert isinstance(p, MagmaParams)
        first, second = parents[0], parents[1]
        if len(parents) > 2:
            i, k = self.rng.choice(len(parents), size=2, replace=False).tolist()
            first, second = parents[i], parents[k]
        accels, prio = list(first[0]), list(first[1])
        n = len(accels)
        u = self.rng.random(5 + 4 * n).tolist()
        if n > 1 and u[0] < p.crossover_rate:
            cut = 1 + int(u[1] * (n - 1))
            if u[2] < 0.5:  # one-point crossover of the unit row or of the priority row
                accels[cut:] = second[0][cut:]
            else:
                prio[cut:] = second[1][cut:]
        if u[3] < p.crossover_acc_rate:
            unit = int(u[4] * n_units)
            for j in range(n):
                if second[0][j] == unit:
                    accels[j], prio[j] = unit, second[1][j]
        for j in range(n):
            if u[5 + j] < p.mutation_rate:
                accels[j] = int(u[5 + n + j] * n_units)
            if u[5 + 2 * n + j] < p.mutation_rate:
                prio[j] = u[5 + 3 * n + j]
        return accels, prio

    def run_ga(self, jobs: Jobs, n_units: int) -> Genome:
        """Evolve a population seeded with the greedy plan; return the best genome."""
        p = self.params
        assert isinstance(p, MagmaParams)
        n = len(jobs.reqs)
        pop = [greedy_seed(jobs)] + [self._random(n, n_units) for _ in range(p.population - 1)]
        costs = [self.cost(jobs, g) for g in pop]
        n_parents = max(2, math.ceil(p.parent_fraction * p.population))
        n_elite = min(p.elite, p.population)
        for _ in range(p.generations):
            order = sorted(range(len(pop)), key=costs.__getitem__)
            parents = [pop[i] for i in order[:n_parents]]
            children = [self._child(parents, n_units) for _ in range(p.population - n_elite)]
            pop = [pop[i] for i in order[:n_elite]] + children
            costs = [costs[i] for i in order[:n_elite]] + [self.cost(jobs, g) for g in children]
        return pop[min(range(len(pop)), key=costs.__getitem__)]

    def search(self, sim: Simulator) -> dict[int, tuple[int, float]]:
        """Plan for the current ready set: rid -> (unit, priority)."""
        p = self.params
        assert isinstance(p, MagmaParams)
        reqs = sorted(sim.ready.values(), key=lambda r: (r.deadline_s, r.arrival_s, r.rid))
        jobs = make_jobs(sim, reqs[: p.max_jobs])
        accels, prio = self.run_ga(jobs, sim.chip.num_accels)
        return {r.rid: (a, q) for r, a, q in zip(jobs.reqs, accels, prio, strict=True)}

    def decide(self, sim: Simulator) -> Sequence[Decision]:
        """Search a plan on arrivals (or every ``replan_every`` decisions), then start the head
        job of each free unit; a stale plan with nothing for any free unit is searched again."""
        p = self.params
        assert isinstance(p, MagmaParams)
        self._since_plan += 1
        if len(sim.requests) != self._arrived_at_plan or self._since_plan >= p.replan_every:
            self._replan(sim)
        heads = self._heads(sim)
        if not heads and self._since_plan > 0:
            self._replan(sim)
            heads = self._heads(sim)
        return [Dispatch(heads[a][2], a) for a in sorted(heads)]

    def _replan(self, sim: Simulator) -> None:
        self._plan = self.search(sim)
        self._arrived_at_plan, self._since_plan = len(sim.requests), 0

    def _heads(self, sim: Simulator) -> dict[int, tuple[float, int, Request]]:
        """Per free unit, the waiting request with the lowest planned priority value."""
        heads: dict[int, tuple[float, int, Request]] = {}
        free, ready = set(sim.free_accels), sim.ready
        for rid, (accel, prio) in self._plan.items():
            if (
                rid in ready
                and accel in free
                and (accel not in heads or (prio, rid) < heads[accel][:2])
            ):
                heads[accel] = (prio, rid, ready[rid])
        return heads
