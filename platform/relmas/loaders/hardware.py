"""Read the hardware YAML files (accelerator types, DRAM, compositions) into validated specs.

All disk access for hardware lives here so ``relmas.hardware`` stays pure. Every way a file can be
wrong (missing, not YAML, missing field, wrong type, unknown key) becomes a one-line ``UserError``
naming the file and the field, because these files are edited by hand and a traceback from deep
inside pydantic would not tell the user which line to fix.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from relmas.errors import UserError, unknown_name
from relmas.hardware.spec import AcceleratorSpec, Composition, DramSpec
from relmas.loaders.paths import data_root
from relmas.loaders.safe_yaml import parse_yaml as _parse_yaml
from relmas.loaders.safe_yaml import read_text
from relmas.loaders.validation import non_finite_path, validation_error

DRAM_FILE = "dram"
COMPOSITIONS_FILE = "compositions"
_NOT_ACCELERATORS = frozenset({DRAM_FILE, COMPOSITIONS_FILE})

ModelT = TypeVar("ModelT", bound=BaseModel)


def hardware_dir() -> Path:
    """Directory of the hardware YAML files: ``<data_root>/hardware_models``."""
    return data_root() / "hardware_models"


def spec_path(stem: str) -> Path:
    """Path of ``<stem>.yaml`` in the hardware directory."""
    return hardware_dir() / f"{stem}.yaml"


def spec_text(stem: str) -> str:
    """Raw text of a hardware YAML file (what the cost-table cache hashes)."""
    path = spec_path(stem)
    if not path.is_file():
        raise UserError(str(path), "file not found", "restore it or set RELMAS_HOME")
    return read_text(path, str(path))


def accelerator_names() -> list[str]:
    """Accelerator types: every ``*.yaml`` in the hardware directory except DRAM/compositions."""
    directory = hardware_dir()
    if not directory.is_dir():
        return []
    stems = (path.stem for path in directory.glob("*.yaml"))
    return sorted(stem for stem in stems if stem not in _NOT_ACCELERATORS)


def _load_yaml(stem: str) -> Any:
    """Parsed YAML of a hardware file, re-read only when the file changes."""
    path = spec_path(stem)
    text = spec_text(stem)
    return _parse(str(path), text)


@functools.lru_cache(maxsize=64)
def _parse(path: str, text: str) -> Any:
    """The shared safe YAML parser (size/alias/depth caps), cached per file content."""
    return _parse_yaml(text, path)


def validate(model: type[ModelT], data: Any, source: str, prefix: str = "") -> ModelT:
    """Validate ``data`` as ``model``; the first pydantic error becomes a one-line UserError.

    NaN and infinity are refused up front: the cost model would turn them into NaN latencies
    far from the line that caused them.
    """
    if not isinstance(data, dict):
        raise UserError(source, f"{prefix or 'top level'} must be a mapping", "see eyeriss.yaml")
    bad = non_finite_path(data, prefix)
    if bad:
        raise UserError(f"{source}: {bad}", "must be a finite number", "fix that field")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fix = "fix that field (see the comments in the file)"
        raise validation_error(source, exc, model, fix, prefix) from None


def load_accelerator(name: str) -> AcceleratorSpec:
    """The validated spec of accelerator type ``name`` (did-you-mean on unknown names)."""
    names = accelerator_names()
    if name not in names:
        raise unknown_name("accel", name, names)
    spec = validate(AcceleratorSpec, _load_yaml(name), str(spec_path(name)))
    if spec.name != name:
        raise UserError(
            f"{spec_path(name)}: name",
            f"is {spec.name!r} but the file is {name}.yaml",
            "make the name equal to the file stem",
        )
    return spec


def load_dram() -> DramSpec:
    """The shared DRAM spec (``dram.yaml``)."""
    return validate(DramSpec, _load_yaml(DRAM_FILE), str(spec_path(DRAM_FILE)))


def load_compositions() -> dict[str, Composition]:
    """All named compositions, in file order; counts must name known accelerator types."""
    source = str(spec_path(COMPOSITIONS_FILE))
    data = _load_yaml(COMPOSITIONS_FILE)
    if not isinstance(data, dict) or not isinstance(data.get("compositions"), dict):
        raise UserError(
            f"{source}: compositions", "missing or not a mapping", "see the file header"
        )
    known = accelerator_names()
    result: dict[str, Composition] = {}
    for name, body in data["compositions"].items():
        prefix = f"compositions.{name}"
        fields = {"name": str(name), **body} if isinstance(body, dict) else body
        composition = validate(Composition, fields, source, prefix)
        for accel in composition.counts:
            if accel not in known:
                err = unknown_name("accel", accel, known)
                raise UserError(f"{source}: {prefix}.counts.{accel}", err.problem, err.fix)
        result[composition.name] = composition
    return result


def load_composition(name: str) -> Composition:
    """One named composition (did-you-mean on unknown names)."""
    compositions = load_compositions()
    if name not in compositions:
        raise unknown_name("composition", name, compositions)
    return compositions[name]
