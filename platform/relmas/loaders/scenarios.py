"""Load scenario presets (``envs/*.yaml``) and trace CSVs, with one-line errors for mistakes.

A scenario is named either by preset name (``heavy`` -> ``envs/heavy.yaml``) or by a path to a
YAML file, so users can keep their own scenarios outside the repo.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from relmas.config.scenario import MAX_PRIORITY, Scenario, TraceArrival
from relmas.errors import UserError, unknown_name
from relmas.loaders.paths import data_root
from relmas.loaders.safe_yaml import read_text, read_yaml
from relmas.loaders.validation import validation_error
from relmas.sim.workload import TraceRecords

# A trace of a day at 1000 requests/s is ~100 MB of CSV; anything larger is not a trace.
MAX_TRACE_BYTES = 256 * 1024 * 1024


def scenario_dir() -> Path:
    """The folder holding the scenario presets."""
    return data_root() / "envs"


def scenario_names() -> list[str]:
    """Names of the shipped scenario presets."""
    return sorted(p.stem for p in scenario_dir().glob("*.yaml"))


def scenario_path(ref: str) -> Path:
    """Resolve a preset name or a YAML path to an existing file.

    A name is looked up among the presets only (never as a path under ``envs/``), and anything
    else must be a path the user wrote, ending in ``.yaml`` or ``.yml``.
    """
    path = Path(ref)
    if path.suffix in {".yaml", ".yml"}:
        if not path.is_file():
            raise UserError("scenario", f"file {ref!r} does not exist", "check the path")
        return path.resolve()
    names = scenario_names()
    if ref in names:
        return scenario_dir() / f"{ref}.yaml"
    if path.exists() or "/" in ref or "\\" in ref:
        raise UserError("scenario", f"{ref!r} is not a .yaml/.yml file", "pass a scenario YAML")
    raise unknown_name("scenario", ref, names)


def load_scenario(ref: str) -> tuple[Scenario, dict[str, TraceRecords]]:
    """Load and validate a scenario, plus the traces its trace tenants replay."""
    path = scenario_path(ref)
    data = read_yaml(path, "scenario")
    if not isinstance(data, dict):
        raise UserError("scenario", f"{path} must hold a mapping", "start with 'name: ...'")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise validation_error(f"scenario {path.name}", exc, Scenario) from None
    traces = {
        t.name: load_trace(path.parent / t.arrival.path, t.name)
        for t in scenario.tenants
        if isinstance(t.arrival, TraceArrival)
    }
    return scenario, traces


def _float(row: dict[str, str], col: str, where: str) -> float:
    """One finite, non-negative number of a CSV row."""
    try:
        value = float(row[col])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(where, f"column {col!r} is missing or not a number", "fix the CSV") from exc
    if not math.isfinite(value) or value < 0:
        raise UserError(where, f"{col} = {value} must be finite and >= 0", "fix the CSV")
    return value


def _priority(row: dict[str, str], where: str) -> int:
    """A trace priority: an integer in 1..MAX_PRIORITY, like a scenario's priorities."""
    value = _float(row, "priority", where)
    if not value.is_integer() or not 1 <= value <= MAX_PRIORITY:
        problem = f"priority = {value} must be an integer in 1..{MAX_PRIORITY}"
        raise UserError(where, problem, "fix the CSV")
    return int(value)


def _rows(path: Path, field: str) -> list[dict[str, str]]:
    """The CSV's rows as dicts (UTF-8, size-capped); a malformed file is a UserError."""
    text = read_text(path, field, MAX_TRACE_BYTES)
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise UserError(field, f"not valid CSV ({exc})", "fix the CSV") from None
    if not rows:
        raise UserError(field, "has no rows", "add a header 'arrival_s,model' and rows")
    return rows


def load_trace(path: Path, tenant: str) -> TraceRecords:
    """Read ``arrival_s,model[,priority][,deadline_s]``; times must be sorted and >= 0."""
    field = f"trace {path.name}"
    if not path.is_file():
        raise UserError(
            f"tenant {tenant}: arrival.path", f"{path} does not exist", "check the path"
        )
    rows = _rows(path, field)
    where = [f"{field} row {i + 2}" for i in range(len(rows))]
    arrival = np.array([_float(r, "arrival_s", w) for r, w in zip(rows, where, strict=True)])
    if np.any(np.diff(arrival) < 0):
        bad = int(np.argmax(np.diff(arrival) < 0)) + 3
        raise UserError(f"{field} row {bad}", "arrival_s goes backwards", "sort by arrival_s")
    models = tuple((r.get("model") or "").strip() for r in rows)
    if not all(models):
        raise UserError(field, "a row has an empty model", "fill the 'model' column")
    prio = deadline = None
    if "priority" in rows[0]:
        prio = np.array([_priority(r, w) for r, w in zip(rows, where, strict=True)])
    if "deadline_s" in rows[0]:
        deadline = np.array([_float(r, "deadline_s", w) for r, w in zip(rows, where, strict=True)])
        late = np.flatnonzero(deadline < arrival)
        if late.size:
            problem = f"deadline_s = {deadline[late[0]]} is before arrival_s = {arrival[late[0]]}"
            raise UserError(where[late[0]], problem, "deadline_s is absolute, not relative")
    return TraceRecords(arrival, models, prio, deadline)
