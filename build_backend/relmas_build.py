"""setuptools' PEP 517 backend, plus what the optional compiled build needs (see setup.py).

With ``RELMAS_COMPILE=1`` the wheel build also needs mypy (its mypyc, pinned to the type
checker the project uses) and a C compiler; an editable install is refused, because compiled
modules placed beside the sources would silently shadow every later edit of them.
"""

from __future__ import annotations

import os
import tomllib
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (  # noqa: F401  (re-exported hooks)
    build_sdist,
    get_requires_for_build_sdist,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

ENV_VAR = "RELMAS_COMPILE"  # the same name as relmas.compiled.ENV_VAR (a test checks it)


def _compile() -> bool:
    value = os.environ.get(ENV_VAR, "0")
    if value not in ("0", "1"):
        raise SystemExit(
            f"relmas: error: {ENV_VAR}: {value!r} is not 0 or 1; set it to 1 to compile"
        )
    return value == "1"


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    """setuptools' requirements; when compiling, mypy and the project's own dependencies.

    mypyc type-checks the sources first, so it needs the packages they import (numpy,
    pydantic, mypy_extensions); pyproject.toml's ``dependencies`` and the dev extra's mypy pin
    keep one definition of each. setuptools' own answer is not asked then: it runs ``setup.py``,
    which would need mypyc installed already.
    """
    if _compile():
        with open("pyproject.toml", "rb") as f:
            project = tomllib.load(f)["project"]
        mypy = [r for r in project["optional-dependencies"]["dev"] if r.startswith("mypy==")]
        return [*mypy, *project["dependencies"]]
    return _setuptools.get_requires_for_build_wheel(config_settings)


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """setuptools' wheel, compiled or not (``setup.py`` reads the variable)."""
    _compile()
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def get_requires_for_build_editable(config_settings: dict[str, Any] | None = None) -> list[str]:
    """setuptools' requirements; refuses the compiled build (see the module docstring)."""
    if _compile():
        raise SystemExit(
            f"relmas: error: {ENV_VAR}=1: an editable install (pip install -e) stays pure Python; "
            f"unset {ENV_VAR}, or build the compiled package with pip install . (not -e)"
        )
    return _setuptools.get_requires_for_build_editable(config_settings)


def build_editable(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """setuptools' editable wheel (never compiled)."""
    if _compile():
        raise SystemExit(f"relmas: error: {ENV_VAR}=1: an editable install stays pure Python")
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
