"""Where relmas finds its data files (hardware specs, the workload catalog).

Why a function and an env var: the package is imported from an editable install, from a Ray
worker's copied ``working_dir`` and from tests with a temporary data tree, so the data location
must be overridable (``RELMAS_HOME``) and otherwise found relative to this file, not the cwd.
"""

from __future__ import annotations

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
