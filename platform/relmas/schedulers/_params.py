"""The base of every scheduler's parameter model (a helper module, not a scheduler).

Why a module of its own: :mod:`relmas.schedulers.base` is compiled in the optional compiled build
(docs/simulator.md), and mypyc cannot compile a pydantic model's module; parameters are read
once per run, so they lose nothing by staying interpreted.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SchedulerParams(BaseModel):
    """Tunable parameters of a scheduler; subclasses add fields with descriptions."""

    model_config = ConfigDict(frozen=True, extra="forbid")
