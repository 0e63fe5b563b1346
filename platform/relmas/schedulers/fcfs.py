"""First-come first-served: the baseline every multi-tenant paper compares against.

Order: earliest arrival first. Placement: the free sub-accelerator with the lowest isolated
latency for the request's next layer. At layer granularity this is FCFS per layer (a request that
arrived earlier always wins the next free unit), which is how Dysta's simulator defines it.
"""

from __future__ import annotations

from relmas.schedulers.base import OrderingScheduler
from relmas.schedulers.registry import register_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Request


class FcfsScheduler(OrderingScheduler):
    """Earliest arrival first."""

    static_key = True  # never changes while the request waits

    def key(self, sim: Simulator, req: Request) -> float:
        """Arrival time."""
        return req.arrival_s


# Registered by a call, not as a decorator: mypyc compiles no decorated class as a native one
# (this module is compiled in the compiled build, docs/simulator.md).
register_scheduler("fcfs")(FcfsScheduler)
