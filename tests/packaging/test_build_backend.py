"""The in-tree build backend: what it asks for, and what it refuses (build_backend/relmas_build.py).

Loaded from its file, as pip loads it (``backend-path``); each call runs in the repository root,
where pip runs a local build.
"""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from relmas import compiled

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("RELMAS_COMPILE", raising=False)
    spec = importlib.util.spec_from_file_location(
        "relmas_build", ROOT / "build_backend" / "relmas_build.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_plain_build_asks_for_no_compiler(backend: ModuleType) -> None:
    assert not any(r.startswith("mypy") for r in backend.get_requires_for_build_wheel())


def test_the_compiled_build_asks_for_the_pinned_mypy_and_the_dependencies(
    backend: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(compiled.ENV_VAR, "1")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pin = [r for r in project["optional-dependencies"]["dev"] if r.startswith("mypy==")]
    assert backend.get_requires_for_build_wheel() == [*pin, *project["dependencies"]]
    assert backend.ENV_VAR == compiled.ENV_VAR


@pytest.mark.parametrize("hook", ["get_requires_for_build_editable", "build_editable"])
def test_an_editable_install_is_never_compiled(
    backend: ModuleType, monkeypatch: pytest.MonkeyPatch, hook: str
) -> None:
    monkeypatch.setenv(compiled.ENV_VAR, "1")
    args = ("unused",) if hook == "build_editable" else ()
    with pytest.raises(SystemExit, match=r"RELMAS_COMPILE=1: an editable install"):
        getattr(backend, hook)(*args)


def test_a_bad_value_names_the_variable_and_the_fix(
    backend: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(compiled.ENV_VAR, "yes")
    with pytest.raises(SystemExit, match=r"RELMAS_COMPILE: 'yes' is not 0 or 1; set it to 1"):
        backend.get_requires_for_build_wheel()


def test_the_pure_build_reports_itself() -> None:
    assert compiled.build_kind() == "python"
    assert compiled.compiled_modules() == []
