"""Planaria's incremental queue decides exactly as a full sort of the queue at every decision.

The reference below is the relmas form's ``decide`` as it was before the queue became
incremental (sort every ready request by ``(meets, score, -rid)``, largest first). Random toy
workloads with ties, drops and every placement knob run through both, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from relmas.schedulers import make_scheduler
from relmas.schedulers.base import Decision, best_free_accel
from relmas.schedulers.planaria import PlanariaScheduler
from relmas.sim import Chip, RequestSpec, Simulator
from relmas.sim.request import Dispatch, Request
from relmas.sim.toy import toy_chip


class FullSortPlanaria(PlanariaScheduler):
    """The relmas form with the whole queue sorted at every decision (the reference)."""

    def decide(self, sim: Simulator) -> list[Decision]:
        ranked = sorted(sim.ready.values(), key=lambda r: (*self.rank(sim, r), -r.rid))
        ranked.reverse()
        free = list(sim.free_accels)
        out: list[Decision] = []
        waiting: list[Request] = []
        for req in ranked:
            if not free:
                break
            meets = self.rank(sim, req)[0]
            a = self.feasible_unit(sim, req, free) if meets else best_free_accel(sim, req, free)
            if a is None:
                waiting.append(req)
                continue
            free.remove(a)
            out.append(Dispatch(req, a))
        if self.params.work_conserving or not (out or sim.can_wait()):  # type: ignore[attr-defined]
            for req in waiting[: len(free)]:
                a = best_free_accel(sim, req, free)
                free.remove(a)
                out.append(Dispatch(req, a))
        return out


def _workload(seed: int) -> tuple[Chip, list[RequestSpec]]:
    rng = np.random.default_rng(seed)
    lengths = [0.5, 1.0, 1.5, 2.0]  # a grid: exact ties between scores and deadlines
    layers = {f"m{m}": {t: rng.choice(lengths, n).tolist() for t in ("simba", "eyeriss")}
              for m, n in enumerate(rng.integers(1, 5, 3))}  # fmt: skip
    units = ["simba", "eyeriss", "simba"][: int(rng.integers(1, 4))]
    chip = toy_chip(units, layers, bandwidth_bytes_per_s=1e12)
    specs = []
    for t in np.round(np.cumsum(rng.exponential(0.6, 40)) * 2) / 2:
        m = int(rng.integers(3))
        slack = float(rng.choice([1.0, 1.5, 3.0]))
        specs.append(RequestSpec(float(t), 0, m, int(rng.choice([1, 3, 9])),
                                 float(t) + slack * chip.isolated_latency_s[m]))  # fmt: skip
    return chip, specs


@pytest.mark.parametrize(
    "params",
    [{}, {"priority_exponent": 0.5}, {"priority_exponent": 0.0}, {"work_conserving": True},
     {"prefer_low_energy": False}],
)  # fmt: skip
@pytest.mark.parametrize("drop", [False, True])
def test_the_incremental_queue_decides_as_a_full_sort(
    params: dict[str, object], drop: bool
) -> None:
    for seed in range(12):
        chip, specs = _workload(seed)
        runs = []
        reference = FullSortPlanaria(PlanariaScheduler.Params.model_validate(params))
        for sched in (make_scheduler("planaria", params), reference):
            sim = Simulator(chip, specs, drop_hopeless=drop, record_trace=True)
            res = sim.run(sched, seed=0)
            runs.append((res.trace, res.finish_s.tolist(), res.dropped.tolist()))
        assert runs[0] == runs[1], seed
