"""The workload catalog: layer shapes of real DNN models, read from versioned JSON files.

Why JSON on disk and not torchvision at run time: the shapes come from torchvision's model
definitions, but torchvision does not even import beside the project's torch wheel, and the
simulator and CI must not need torch. ``scripts/extract_layers.py`` runs the extraction once and the
JSON files under ``hardware_models/models/`` are committed; this module only reads and validates
them, so a hand-edited or stale file fails with one line that names the file and the field.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

from relmas.errors import UserError, unknown_name
from relmas.hardware.layer import LAYER_KINDS, Layer
from relmas.loaders.paths import data_root

SCHEMA_VERSION = 1
REGENERATE = "regenerate it with scripts/extract_layers.py"

# Header fields and their JSON types; the two version fields are null for hand-written models.
_HEADER_TYPES: dict[str, type] = {
    "schema_version": int,
    "name": str,
    "source": str,
    "generated_by": str,
    "total_macs": int,
    "layers": list,
}
_NULLABLE_STR = ("torch_version", "torchvision_version")
_LAYER_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Layer))
_STR_FIELDS = frozenset({"name", "kind"})
_BOOL_FIELDS = frozenset({"weights_are_activations"})


def models_dir() -> Path:
    """Directory of the catalog's JSON files: ``<data_root>/hardware_models/models``."""
    return data_root() / "hardware_models" / "models"


def model_names() -> list[str]:
    """Names of the models in the catalog, sorted (one per JSON file)."""
    directory = models_dir()
    if not directory.is_dir():
        return []
    return sorted(path.stem for path in directory.glob("*.json"))


def model_json_path(name: str) -> Path:
    """Path of a model's JSON file; an unknown name raises a did-you-mean ``UserError``."""
    names = model_names()
    if name not in names:
        raise unknown_name("model", name, names)
    return models_dir() / f"{name}.json"


def model_text(name: str) -> str:
    """Raw JSON text of a model, so a cost-table cache can hash exactly what was loaded."""
    return model_json_path(name).read_text(encoding="utf-8")


def load_model(name: str) -> list[Layer]:
    """Validated layers of a catalog model, in execution order.

    Parsed once per file version per process (the cache key includes the file's mtime, so a
    regenerated or test-written file is re-read); a fresh list is returned so callers may edit it.
    """
    path = model_json_path(name)
    return list(_load_file(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _load_file(path: Path, mtime_ns: int) -> tuple[Layer, ...]:
    """Parse and validate one file; ``mtime_ns`` is only part of the cache key."""
    del mtime_ns
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(
            str(path),
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            REGENERATE,
        ) from None
    _check_header(path, doc)
    layers = tuple(_parse_layer(path, i, raw) for i, raw in enumerate(doc["layers"]))
    _check_layers(path, doc, layers)
    return layers


def _error(path: Path, field: str, problem: str) -> UserError:
    """A one-line error naming the file and the offending field."""
    return UserError(f"{path}: {field}", problem, REGENERATE)


def _type_name(value: Any) -> str:
    """JSON-ish name of a value's type, for error messages."""
    return "null" if value is None else type(value).__name__


def _check_header(path: Path, doc: Any) -> None:
    """Top-level object: the schema version first, then every header field and its type."""
    if not isinstance(doc, dict):
        raise _error(path, "(top level)", f"expected a JSON object, got {_type_name(doc)}")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise _error(path, "schema_version", f"is {version!r}, this relmas reads {SCHEMA_VERSION}")
    for field, expected in _HEADER_TYPES.items():
        if field not in doc:
            raise _error(path, field, "missing")
        value = doc[field]
        if not isinstance(value, expected) or isinstance(value, bool):
            raise _error(path, field, f"expected {expected.__name__}, got {_type_name(value)}")
    for field in _NULLABLE_STR:
        if field not in doc:
            raise _error(path, field, "missing")
        if doc[field] is not None and not isinstance(doc[field], str):
            raise _error(path, field, f"expected str or null, got {_type_name(doc[field])}")
    if doc["name"] != path.stem:
        raise _error(path, "name", f"is {doc['name']!r} but the file is named {path.name!r}")


def _parse_layer(path: Path, index: int, raw: Any) -> Layer:
    """One layer object: exactly the ``Layer`` fields, with the right types and sane values."""
    where = f"layers[{index}]"
    if not isinstance(raw, dict):
        raise _error(path, where, f"expected a JSON object, got {_type_name(raw)}")
    for field in _LAYER_FIELDS:
        if field not in raw:
            raise _error(path, f"{where}.{field}", "missing")
        _check_field(path, f"{where}.{field}", field, raw[field])
    extra = sorted(set(raw) - set(_LAYER_FIELDS))
    if extra:
        raise _error(path, f"{where}.{extra[0]}", f"unknown field; allowed: {_LAYER_FIELDS}")
    if raw["kind"] not in LAYER_KINDS:
        raise _error(path, f"{where}.kind", f"is {raw['kind']!r}, expected one of {LAYER_KINDS}")
    if raw["c"] % raw["groups"] or raw["k"] % raw["groups"]:
        raise _error(path, f"{where}.groups", f"{raw['groups']} does not divide c and k")
    return Layer(**raw)


def _check_field(path: Path, where: str, field: str, value: Any) -> None:
    """Type check of one layer field: str, bool, or an integer >= 1."""
    if field in _STR_FIELDS:
        ok, expected = isinstance(value, str) and bool(value), "a non-empty string"
    elif field in _BOOL_FIELDS:
        ok, expected = isinstance(value, bool), "true or false"
    else:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        expected = "an integer >= 1"
    if not ok:
        raise _error(path, where, f"expected {expected}, got {value!r}")


def _check_layers(path: Path, doc: dict[str, Any], layers: tuple[Layer, ...]) -> None:
    """Whole-model checks: non-empty, unique layer names, and ``total_macs`` is their sum."""
    if not layers:
        raise _error(path, "layers", "is empty")
    seen: set[str] = set()
    for index, layer in enumerate(layers):
        if layer.name in seen:
            raise _error(path, f"layers[{index}].name", f"duplicate layer name {layer.name!r}")
        seen.add(layer.name)
    total = sum(layer.macs for layer in layers)
    if doc["total_macs"] != total:
        raise _error(path, "total_macs", f"is {doc['total_macs']}, but the layers sum to {total}")
