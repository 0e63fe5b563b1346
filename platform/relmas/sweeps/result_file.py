"""A Tune trial's reported results, read back from its ``result.json`` after a killed driver.

Why a module of its own: Tune appends one JSON line per report, and a driver killed with
SIGKILL while it wrote one leaves a cut-off line (at the end, or -- once the resumed sweep
appends again -- glued to the start of the next report). Reading every line with ``json.loads``
then crashed the resumed sweep (``JSONDecodeError: Unterminated string``) before it could close
the trial's MLflow run. A line that does not parse is skipped with a notice naming the file and
line, and the trial's ``last_result`` (restored by Tune) fills its iteration if that was the one
cut, so the run still gets every step Tune still knows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def parse_result_lines(path: Path) -> list[dict[str, Any]]:
    """The reports of a ``result.json`` that parse, in file order; a notice per cut-off line."""
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            print(
                f"relmas: {path}: line {number} was cut off (the driver was killed while Tune "
                "wrote it); skipped, the trial's last result stands in for it",
                file=sys.stderr,
            )
    return rows


def result_rows(trial: Any) -> list[dict[str, Any]]:
    """A trial's reported results, one per iteration (last report wins), from its
    ``result.json`` on local storage plus its last result; else just its last result."""
    last = trial.last_result or {}
    for base in (getattr(trial, "local_path", None), getattr(trial, "path", None)):
        path = Path(base) / "result.json" if base else None
        if path is not None and path.is_file():
            rows = parse_result_lines(path)
            by_step = {int(r.get("training_iteration", 0)): r for r in rows}
            if last:
                by_step.setdefault(int(last.get("training_iteration", 0)), last)
            return [by_step[k] for k in sorted(by_step)]
    step = int(last.get("training_iteration", 0)) if last else 0
    if step > 1:  # never silently: its run will hold this one step of several
        print(
            f"relmas: trial {trial}: no result.json under {getattr(trial, 'local_path', None)} "
            f"or {getattr(trial, 'path', None)}; its run gets only its last result (step {step})",
            file=sys.stderr,
        )
    return [last] if last else []
