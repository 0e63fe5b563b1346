"""Scheduling policies, one per module, each registered by name.

Use :func:`make_scheduler` (``"edf"``, ``"pkg.mod:Class"`` or ``"rl:DIR"``) and
:func:`scheduler_names`; modules here are discovered automatically, so adding a policy touches one
file.
"""

from relmas.schedulers.base import OrderingScheduler, Scheduler, SchedulerParams
from relmas.schedulers.registry import (
    make_scheduler,
    register_scheduler,
    scheduler_class,
    scheduler_names,
)

__all__ = [
    "OrderingScheduler",
    "Scheduler",
    "SchedulerParams",
    "make_scheduler",
    "register_scheduler",
    "scheduler_class",
    "scheduler_names",
]
