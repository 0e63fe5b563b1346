"""Checking a scheduler's decisions before the engine applies any of them.

Why: a batch is applied all or nothing. An impossible decision (a busy unit, a request twice,
anything but ``Dispatch`` / ``Drop``) is a scheduler bug; raising before anything changes leaves
the simulator in a state some scheduler actually chose.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from relmas.sim.request import WAITING, Dispatch, Drop

if TYPE_CHECKING:
    from relmas.sim.engine import Simulator


class SchedulingError(RuntimeError):
    """A scheduler returned an impossible decision: a bug in the scheduler, not user input."""


def check_dispatch(sim: Simulator, d: Dispatch) -> None:
    """Raise :class:`SchedulingError` unless ``d`` can start now."""
    req, a = d.request, d.accel
    if req.state != WAITING or sim.ready.get(req.rid) is not req:
        raise SchedulingError(f"cannot dispatch {req!r}: it is not waiting")
    if not 0 <= a < len(sim.accel_request) or sim.accel_request[a] is not None:
        raise SchedulingError(f"cannot dispatch to sub-accelerator {a}: it is busy or unknown")
    if not 1 <= d.layers <= req.num_layers - req.next_layer:
        raise SchedulingError(f"cannot run {d.layers} layers of {req!r}")


def check_decisions(sim: Simulator, decisions: Sequence[object]) -> None:
    """Raise :class:`SchedulingError` unless the whole batch of decisions is possible."""
    rids: set[int] = set()
    accels: set[int] = set()
    for d in decisions:
        if isinstance(d, Dispatch):
            check_dispatch(sim, d)
            if d.accel in accels:
                raise SchedulingError(f"two dispatches to sub-accelerator {d.accel}")
            accels.add(d.accel)
        elif isinstance(d, Drop):
            if d.request.state != WAITING or d.request.rid not in sim.ready:
                raise SchedulingError(f"cannot drop {d.request!r}: it is not waiting")
        else:
            raise SchedulingError(f"{d!r} is not a Dispatch or a Drop")
        if d.request.rid in rids:
            raise SchedulingError(f"{d.request!r} appears twice in one decision")
        rids.add(d.request.rid)
