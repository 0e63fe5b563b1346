"""relmas's own console view of a sweep, in place of Tune's per-trial boxes.

Why: with its default reporter Tune printed a configuration box and a result box per trial
(16,607 lines for the 288-trial ``heuristics_dse`` sweep), and its "current best trial" ranked on
a metric that RL trials report as NaN. Here one line is printed each time another tenth of the
trials is done, or a minute passes without one: trials done and failed, elapsed time, and the
best trial so far by the same ranking the final summary and the Pareto front use (SLA rate,
then energy per inference; RL trials by their held-out evaluation). Lines start with
``relmas:`` so the quiet console (``relmas.cli.console``) shows them.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

from ray.tune import Callback

from relmas.evaluation.summary import rank_key
from relmas.sweeps.pareto import point

QUIET_S = 60.0  # at most this long without a line while trials run


def describe(best: dict[str, Any]) -> str:
    """``4s0e@32 dysta: SLA 1.000 at 8.52 mJ/inference`` for a design point."""
    if not best:
        return "none yet"
    energy_mj = best["energy_per_inference_j"] * 1e3
    return (
        f"{best['hardware']} {best['scheduler']}: SLA {best['sla_rate']:.3f} at {energy_mj:.2f} mJ"
    )


def clock(seconds: float) -> str:
    """``1m05s`` / ``42s``."""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class SweepProgress(Callback):  # type: ignore[misc]
    """Counts finished trials and keeps the best design point; prints a line per 10%."""

    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.failed = 0
        self.best: dict[str, Any] = {}
        self._started = time.monotonic()
        self._last_line = self._started
        self._next_mark = self._mark_after(0)
        self._counted = False

    def __getstate__(self) -> dict[str, Any]:
        return {"total": self.total}  # Tune pickles callbacks; a resume counts afresh

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["total"])  # type: ignore[misc]

    def _mark_after(self, done: int) -> int:
        step = max(1, math.ceil(self.total / 10))
        return min((done // step + 1) * step, self.total)

    def _say(self, what: str) -> None:
        elapsed = clock(time.monotonic() - self._started)
        failed = f", {self.failed} failed" if self.failed else ""
        line = f"relmas: tune {what}{self.done}/{self.total} trials done{failed} ({elapsed})"
        print(f"{line}; best so far {describe(self.best)}", file=sys.stderr, flush=True)
        self._last_line = time.monotonic()

    def on_step_begin(self, iteration: int, trials: list[Any], **info: Any) -> None:
        """Once: after a resume, count the trials an earlier run already finished."""
        if not self._counted:
            self._counted = True
            for trial in trials:
                if trial.status == "TERMINATED":
                    self._consider(trial)
                    self.done += 1
            self._next_mark = self._mark_after(self.done)

    def _consider(self, trial: Any) -> None:
        candidate = point(dict(trial.config), trial.last_result or {})
        if candidate is not None and (
            not self.best
            or rank_key(candidate["sla_rate"], candidate["energy_per_inference_j"])
            > rank_key(self.best["sla_rate"], self.best["energy_per_inference_j"])
        ):
            self.best = candidate

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self.done += 1
        self._consider(trial)
        if self.done >= self._next_mark:
            self._next_mark = self._mark_after(self.done)
            self._say("")

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self.failed += 1

    def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
        if time.monotonic() - self._last_line > QUIET_S:
            running = sum(1 for t in trials if t.status == "RUNNING")
            self._say(f"{running} running, ")
