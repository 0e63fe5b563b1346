"""Planaria's parameters (a helper module, not a scheduler).

Why apart from :mod:`relmas.schedulers.planaria`: that module is compiled in the compiled build
(:mod:`relmas.compiled`), and mypyc cannot compile a module that defines a pydantic model.
``relmas.schedulers.planaria.PlanariaParams`` still names it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from relmas.schedulers._params import SchedulerParams


class PlanariaParams(SchedulerParams):
    """Which Planaria, and the placement knobs of relmas's sub-accelerator adaptation."""

    form: Literal["relmas", "dysta", "authors"] = Field(
        "relmas",
        description="relmas (ours): priority / (slack x remaining), hopeless last, cheapest "
        "feasible unit; dysta: priority / slack as in the Dysta authors' simulator "
        "(SamsungLabs/Sparse-Multi-DNN-Scheduling); authors: he-actlab/planaria.code race mode "
        "on one unit, priority / slack, then hopeless by priority / remaining.",
    )
    prefer_low_energy: bool = Field(
        True,
        description="Place a request that can meet its deadline on the least-energy free unit "
        "whose type still meets the slack (True) or on the fastest such unit (False). "
        "form=relmas only.",
    )
    work_conserving: bool = Field(
        False,
        description="Give free units left over to meetable requests whose feasible types are all "
        "busy, on their fastest free unit (True), instead of letting them wait (False). "
        "form=relmas only (the published forms never leave a unit idle).",
    )
    priority_exponent: float = Field(
        1.0,
        ge=0,
        description="Score with priority ** e (1 = Planaria). The sla_rate KPI counts every "
        "request once, so e < 1 trades priority-weighted for plain SLA (an ablation knob).",
    )
