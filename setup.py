"""Build hook for the optional compiled build (everything else is in pyproject.toml).

``RELMAS_COMPILE=1 pip install .`` compiles the modules listed in ``relmas.compiled.MODULES``
with mypyc into C extensions inside the wheel; without it (the default) the wheel is pure
Python. The in-tree backend (``build_backend/relmas_build.py``) adds mypy to the build's
requirements when asked to compile, and refuses to compile an editable install.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path
from typing import Any

from setuptools import setup

ROOT = Path(__file__).resolve().parent


def _ext_modules() -> list[Any]:
    """mypyc's extensions for the listed modules if ``RELMAS_COMPILE=1``, else none."""
    listing = runpy.run_path(str(ROOT / "platform" / "relmas" / "compiled.py"))
    if os.environ.get(listing["ENV_VAR"], "0") != "1":
        return []
    if {"dist_info", "egg_info"} & set(sys.argv[1:]):  # metadata only: mypycify compiles now
        return []
    from mypyc.build import mypycify

    paths = [f"platform/{m.replace('.', '/')}.py" for m in listing["MODULES"]]
    return mypycify(paths, opt_level="3")


setup(ext_modules=_ext_modules())
