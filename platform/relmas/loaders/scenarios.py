"""Load scenario presets (``envs/*.yaml``) and trace CSVs, with one-line errors for mistakes.

A scenario is named either by preset name (``heavy`` -> ``envs/heavy.yaml``) or by a path to a
YAML file, so users can keep their own scenarios outside the repo.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from relmas.config.scenario import Scenario, TraceArrival
from relmas.errors import UserError, unknown_name
from relmas.loaders.paths import data_root
from relmas.sim.workload import TraceRecords

MAX_FILE_BYTES = 10 * 1024 * 1024


def scenario_dir() -> Path:
    """The folder holding the scenario presets."""
    return data_root() / "envs"


def scenario_names() -> list[str]:
    """Names of the shipped scenario presets."""
    return sorted(p.stem for p in scenario_dir().glob("*.yaml"))


def scenario_path(ref: str) -> Path:
    """Resolve a preset name or a YAML path to an existing file."""
    path = Path(ref)
    if path.suffix in {".yaml", ".yml"}:
        if not path.is_file():
            raise UserError("scenario", f"file {ref!r} does not exist", "check the path")
        return path.resolve()
    preset = scenario_dir() / f"{ref}.yaml"
    if not preset.is_file():
        raise unknown_name("scenario", ref, scenario_names())
    return preset


def read_yaml(path: Path, what: str) -> Any:
    """Parse a YAML file safely (size-capped, no custom tags) into plain data."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise UserError(what, f"{path} is larger than {MAX_FILE_BYTES} bytes", "use a smaller file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(what, f"{path} is not valid YAML ({first})", "fix the syntax") from exc


def validation_error(what: str, path: Path, exc: ValidationError) -> UserError:
    """Turn pydantic's first error into a one-line UserError naming the field."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "(top level)"
    return UserError(
        f"{what} {path.name}: {field}", err["msg"], "see the preset files for examples"
    )


def load_scenario(ref: str) -> tuple[Scenario, dict[str, TraceRecords]]:
    """Load and validate a scenario, plus the traces its trace tenants replay."""
    path = scenario_path(ref)
    data = read_yaml(path, "scenario")
    if not isinstance(data, dict):
        raise UserError("scenario", f"{path} must hold a mapping", "start with 'name: ...'")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise validation_error("scenario", path, exc) from exc
    traces = {
        t.name: load_trace(path.parent / t.arrival.path, t.name)
        for t in scenario.tenants
        if isinstance(t.arrival, TraceArrival)
    }
    return scenario, traces


def _float(row: dict[str, str], col: str, where: str) -> float:
    try:
        value = float(row[col])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(where, f"column {col!r} is missing or not a number", "fix the CSV") from exc
    if not math.isfinite(value) or value < 0:
        raise UserError(where, f"{col} = {value} must be finite and >= 0", "fix the CSV")
    return value


def load_trace(path: Path, tenant: str) -> TraceRecords:
    """Read ``arrival_s,model[,priority][,deadline_s]``; times must be sorted and >= 0."""
    field = f"trace {path.name}"
    if not path.is_file():
        raise UserError(
            f"tenant {tenant}: arrival.path", f"{path} does not exist", "check the path"
        )
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise UserError(field, "has no rows", "add a header 'arrival_s,model' and rows")
    arrival = np.array([_float(r, "arrival_s", f"{field} row {i + 2}") for i, r in enumerate(rows)])
    if np.any(np.diff(arrival) < 0):
        bad = int(np.argmax(np.diff(arrival) < 0)) + 3
        raise UserError(f"{field} row {bad}", "arrival_s goes backwards", "sort by arrival_s")
    models = tuple((r.get("model") or "").strip() for r in rows)
    if not all(models):
        raise UserError(field, "a row has an empty model", "fill the 'model' column")
    prio = deadline = None
    if "priority" in rows[0]:
        prio = np.array([int(_float(r, "priority", field)) for r in rows])
    if "deadline_s" in rows[0]:
        deadline = np.array([_float(r, "deadline_s", field) for r in rows])
    return TraceRecords(arrival, models, prio, deadline)
