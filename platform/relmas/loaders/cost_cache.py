"""Build per-model cost tables once and cache them as ``.npz`` files.

Why a cache: every simulator process (and every Ray worker) needs the same tables; rebuilding
thousands of layers per start-up wastes seconds. Why a content hash as the key: a table is valid
exactly as long as the accelerator YAML, the DRAM YAML, the model JSON and the cost-model code
are unchanged, so those texts and the source of every module that computes a table (the
``relmas.hardware`` package and the loaders that parse its inputs) are hashed and any edit
rebuilds. A hand-bumped version number did this job before and was never bumped.
Writes go to a temporary file that is then renamed, so concurrent workers never read a half file.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import relmas.hardware as cost_model
from relmas.errors import unknown_name
from relmas.files import write_with
from relmas.hardware.tables import ModelCostTable, build_cost_table
from relmas.loaders import hardware
from relmas.loaders import models as catalog

CACHE_ENV_VAR = "RELMAS_CACHE_DIR"
# The code a table depends on: every module of the cost-model package, and the loaders that turn
# the YAML / JSON inputs into its arguments. Their source is part of the cache key.
SOURCE_FILES: tuple[Path, ...] = (
    *sorted(Path(cost_model.__file__).parent.glob("*.py")),
    Path(catalog.__file__),
    Path(hardware.__file__),
)


@functools.cache
def source_digest(files: tuple[Path, ...] = SOURCE_FILES) -> str:
    """sha256 over the cost model's own source files (read once per process)."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_dir() -> Path:
    """``$RELMAS_CACHE_DIR``, else ``~/.cache/relmas/cost_tables``."""
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "relmas" / "cost_tables"


def cache_key(model: str, accel: str) -> str:
    """sha256 over everything a table depends on."""
    digest = hashlib.sha256()
    for part in (
        source_digest(SOURCE_FILES),
        hardware.spec_text(accel),
        hardware.spec_text(hardware.DRAM_FILE),
        catalog.model_text(model),
    ):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def _cache_path(model: str, accel: str) -> Path:
    """File name readable by humans, unique by the hash."""
    return cache_dir() / f"{model}__{accel}__{cache_key(model, accel)[:24]}.npz"


def _read(path: Path) -> ModelCostTable | None:
    """A cached table, or None if the file is missing or unreadable (then it is rebuilt)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return ModelCostTable.from_arrays(data)
    except (OSError, KeyError, ValueError):
        return None


def _write(path: Path, table: ModelCostTable) -> None:
    """Atomic write: concurrent workers never read a half-written table."""
    arrays: dict[str, Any] = table.to_arrays()
    write_with(path, lambda fh: np.savez(fh, **arrays))


def cost_table(model: str, accel: str) -> ModelCostTable:
    """One table from the cache, built and stored on a miss."""
    path = _cache_path(model, accel)
    table = _read(path)
    if table is None:
        layers = catalog.load_model(model)
        spec = hardware.load_accelerator(accel)
        table = build_cost_table(model, layers, spec, hardware.load_dram())
        _write(path, table)
    return table


def cost_tables(
    models: Sequence[str], accel_types: Sequence[str]
) -> dict[tuple[str, str], ModelCostTable]:
    """Tables for every (model, accelerator type) pair, keyed by that pair.

    Names are checked up front so a typo fails before any table is built.
    """
    known_models = catalog.model_names()
    known_accels = hardware.accelerator_names()
    for model in models:
        if model not in known_models:
            raise unknown_name("model", model, known_models)
    for accel in accel_types:
        if accel not in known_accels:
            raise unknown_name("accel", accel, known_accels)
    return {
        (model, accel): cost_table(model, accel)
        for model in dict.fromkeys(models)
        for accel in dict.fromkeys(accel_types)
    }
