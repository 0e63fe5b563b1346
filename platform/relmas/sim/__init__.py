"""Pure discrete-event simulator of multi-tenant DNN inference on a multi-accelerator.

Only the stdlib and numpy are used here: no Ray, torch, gymnasium, mlflow or file I/O, so the same
core runs heuristics at full speed, backs the Gymnasium env and can be tested in milliseconds.
"""

from relmas.sim.chip import Chip, build_chip
from relmas.sim.decisions import SchedulingError
from relmas.sim.engine import Simulator
from relmas.sim.request import Dispatch, Drop, Request, RequestSpec
from relmas.sim.result import SimResult

__all__ = [
    "Chip",
    "Dispatch",
    "Drop",
    "Request",
    "RequestSpec",
    "SchedulingError",
    "SimResult",
    "Simulator",
    "build_chip",
]
