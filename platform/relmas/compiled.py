"""The optional compiled build: the modules mypyc compiles, and whether this install runs them.

Why: the event loop and the list schedulers run once per layer dispatch, millions of times in a
sweep, a rollout or RL sampling, and in CPython they reach about a fifth of a bare ``heapq``
loop's rate (``relmas bench sim``). `mypyc <https://mypyc.readthedocs.io>`_ compiles the same
type-annotated sources to C extensions, as black and mypy ship themselves; the results are the
same to the last bit (``tests/packaging/test_compiled_build.py`` checks it). A wheel built with
``RELMAS_COMPILE=1 pip install .`` holds them; an editable install stays pure Python, so an
edited ``.py`` is always the code that runs.

This module reads no relmas module at import time: ``setup.py`` runs it to get the list.
"""

from __future__ import annotations

import importlib
import importlib.machinery

ENV_VAR = "RELMAS_COMPILE"

# The engine and what it calls per event, and the schedulers whose whole decision is compiled
# code: the list schedulers on OrderingScheduler, and Planaria (the best heuristic on heavy, and
# the base a rollout simulates ahead with) with its helpers. Left out: result/metrics (once per
# run), arrivals/workload (numpy, before the run), decisions (mypyc compiles no exception
# subclass of a builtin), and the other schedulers, which define pydantic parameter models in
# their modules (mypyc cannot compile those) and subclass the compiled bases from Python.
MODULES: tuple[str, ...] = (
    "relmas.sim.bandwidth",
    "relmas.sim.chip",
    "relmas.sim.engine",
    "relmas.sim.lanes",
    "relmas.sim.lifecycle",
    "relmas.sim.progress",
    "relmas.sim.ready_log",
    "relmas.sim.request",
    "relmas.sim.snapshot",
    "relmas.schedulers._incremental",
    "relmas.schedulers._published",
    "relmas.schedulers.base",
    "relmas.schedulers.edf",
    "relmas.schedulers.fcfs",
    "relmas.schedulers.least_laxity",
    "relmas.schedulers.planaria",
    "relmas.schedulers.sjf",
)


def compiled_modules() -> list[str]:
    """The modules of :data:`MODULES` this interpreter loads from compiled extensions."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    out = []
    for name in MODULES:
        path = getattr(importlib.import_module(name), "__file__", None) or ""
        if path.endswith(suffixes):
            out.append(name)
    return out


def build_kind() -> str:
    """``"mypyc"`` when every module of :data:`MODULES` is compiled, ``"python"`` when none is,
    ``"mixed (k of n compiled)"`` otherwise (a stale build beside edited sources, say)."""
    k = len(compiled_modules())
    if k == 0:
        return "python"
    return "mypyc" if k == len(MODULES) else f"mixed ({k} of {len(MODULES)} compiled)"
