"""Earliest deadline first (Liu & Layland 1973), at layer granularity.

Order: the ready request with the earliest absolute deadline. Placement: its fastest free
sub-accelerator type. Optimal for a single preemptive unit with feasible load; a standard
deadline-aware baseline for multi-tenant inference (e.g. Terastal's FCFS/EDF/DREAM comparison).
"""

from __future__ import annotations

from relmas.schedulers.base import OrderingScheduler
from relmas.schedulers.registry import register_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Request


class EdfScheduler(OrderingScheduler):
    """Earliest absolute deadline first."""

    static_key = True  # never changes while the request waits

    def key(self, sim: Simulator, req: Request) -> float:
        """Absolute deadline."""
        return req.deadline_s


# Registered by a call, not as a decorator: mypyc compiles no decorated class as a native one
# (this module is compiled in the compiled build, docs/simulator.md).
register_scheduler("edf")(EdfScheduler)
