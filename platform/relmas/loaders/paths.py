"""Where relmas finds its data files (hardware specs, the workload catalog).

Why a function and an env var: the package is imported from an editable install, from a Ray
worker's copied ``working_dir`` and from tests with a temporary data tree, so the data location
must be overridable (``RELMAS_HOME``) and otherwise found relative to this file, not the cwd.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from relmas.errors import UserError

ENV_VAR = "RELMAS_HOME"


def data_root() -> Path:
    """Directory holding ``hardware_models/``: ``$RELMAS_HOME`` if set, else the repo root."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[3]
    if (repo / "hardware_models").is_dir():
        return repo
    raise UserError(
        ENV_VAR,
        f"not set, and no hardware_models/ directory next to the package ({repo})",
        f"set {ENV_VAR} to the directory that contains hardware_models/",
    )


def shipped_files(folder: str, marker: str, present: bool = True) -> dict[str, Path]:
    """The shipped YAML files in ``<data root>/<folder>``, by name, whose text does (or, with
    ``present=False``, does not) contain a line starting with ``marker`` (e.g. ``trainable:``
    tells a sweep file from a training recipe, which share ``tune_configs/``)."""
    base = data_root() / folder
    found: dict[str, Path] = {}
    for path in sorted(base.glob("*.yaml")):
        text = path.read_text(encoding="utf-8", errors="replace")
        has = any(line.startswith(marker) for line in text.splitlines())
        if has == present:
            found[path.stem] = path
    return found


def resolve_shipped(ref: Path, field: str, kind: str, shipped: dict[str, Path]) -> Path:
    """``ref`` if it is a file; else the shipped file it names; else a one-line error.

    Why: ``relmas tune tune_configs/x.yaml`` run from another directory used to say only that
    the file does not exist. A relative path is also tried from the data root (the checkout),
    a bare name (``heuristics_dse``) is looked up among ``shipped``, and a miss names the
    closest shipped file and where they all are.
    """
    if ref.is_file():
        return ref
    root = data_root()
    if not ref.is_absolute() and (root / ref).is_file():
        return root / ref
    if len(ref.parts) == 1 and ref.stem in shipped and ref.suffix in ("", ".yaml"):
        return shipped[ref.stem]
    close = difflib.get_close_matches(ref.stem, list(shipped), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    where = shipped[next(iter(shipped))].parent if shipped else root
    names = ", ".join(shipped) or "none"
    raise UserError(
        field,
        f"file {str(ref)!r} does not exist",
        f"{hint}shipped {kind} files in {where}: {names} (give a name or a path)",
    )


def sweep_path(ref: Path) -> Path:
    """A sweep file by path (also relative to the checkout) or by shipped name, e.g.
    ``heuristics_dse``: the YAML files of ``tune_configs/`` with a ``trainable:`` key."""
    return resolve_shipped(ref, "sweep", "sweep", shipped_files("tune_configs", "trainable:"))
