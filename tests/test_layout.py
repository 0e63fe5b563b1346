"""Guards for the repository layout: the stdlib ``platform`` module is never shadowed, and the
core package stays light.

Why: the repo keeps a top-level ``platform/`` folder as a *source root*. If it ever became a
regular package (an ``__init__.py``) it would shadow the stdlib ``platform`` module wherever the
repo root is on ``sys.path``: ``python -c``/``python -m`` from the root, ``python -m pytest``, and
every Ray worker (Ray's ``working_dir`` is prepended to ``PYTHONPATH``). ``uuid`` calls
``platform.system()`` at import on Python < 3.13, so almost everything (pytest, Ray, MLflow, torch)
would break. See /work/shared/reference/aesthetics.md §2. Each test reproduces one of those routes.

The import-weight test keeps ``import relmas`` free of Ray, torch, gymnasium and MLflow, so the CLI
and the simulator start fast and CI needs none of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE_ROOT = REPO / "platform"
PACKAGE = SOURCE_ROOT / "relmas"
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
HEAVY = ("ray", "torch", "gymnasium", "mlflow")
RAY_EXCLUDES = [".venv", ".git", "*.npz", "relmas_out", "mlruns", "*.db"]
RAY_EXCLUDES += ["__pycache__", ".pytest_cache", ".ruff_cache"]


def _is_stdlib(path: str) -> bool:
    return Path(path).resolve().is_relative_to(STDLIB)


def _python(code: str, env: dict[str, str] | None = None) -> str:
    """Run ``python -c code`` from the repo root (where shadowing would bite) and return stdout."""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_platform_is_a_source_root_not_a_package() -> None:
    assert not (SOURCE_ROOT / "__init__.py").exists(), "platform/__init__.py shadows the stdlib"
    # Anything directly in platform/ is importable as a bare top-level name; keep it to relmas.
    stray = [
        entry.name
        for entry in SOURCE_ROOT.iterdir()
        if entry.name not in ("relmas", "__pycache__") and not entry.name.endswith(".egg-info")
    ]
    assert not stray, f"only relmas/ belongs in platform/, found {stray}"


@pytest.mark.parametrize("pythonpath", [None, str(REPO)], ids=["cwd", "PYTHONPATH=repo"])
def test_stdlib_platform_wins_from_repo_root(pythonpath: str | None) -> None:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath  # what Ray's working_dir does in every worker
    out = _python("import platform, uuid; print(platform.__file__); print(platform.system())", env)
    path, system = out.splitlines()
    assert _is_stdlib(path), f"platform resolved to {path}, not the stdlib under {STDLIB}"
    assert system


def test_python_m_pytest_from_repo_root(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "import platform\n"
        "import sysconfig\n"
        "from pathlib import Path\n\n\n"
        "def test_probe() -> None:\n"
        "    assert platform.system()\n"
        "    stdlib = Path(sysconfig.get_paths()['stdlib']).resolve()\n"
        "    assert Path(platform.__file__).resolve().is_relative_to(stdlib)\n"
        "    import relmas\n\n"
        "    assert relmas.__version__\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(probe), "-q", "-p", "no:cacheprovider"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def _core_modules() -> list[str]:
    """``relmas``, its main subpackages that exist, and every module of the pure core."""
    modules = ["relmas", "relmas.errors"]
    for sub in ("hardware", "sim", "schedulers", "loaders"):
        if (PACKAGE / sub).is_dir():
            modules.append(f"relmas.{sub}")
    for sub in ("hardware", "sim", "loaders"):
        for path in sorted((PACKAGE / sub).glob("*.py")) if (PACKAGE / sub).is_dir() else []:
            if path.stem != "__init__":
                modules.append(f"relmas.{sub}.{path.stem}")
    return modules


def test_core_imports_no_heavy_dependencies() -> None:
    modules = _core_modules()
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    loaded = json.loads(_python(code).strip().splitlines()[-1])
    assert loaded == [], f"importing {modules} pulled in {loaded}"


@pytest.fixture
def local_ray() -> Iterator[ModuleType]:
    """A private local Ray cluster whose workers get the repo root as ``working_dir``."""
    ray = pytest.importorskip("ray")
    ray.init(
        address="local",
        num_cpus=1,
        include_dashboard=False,
        runtime_env={"working_dir": str(REPO), "excludes": RAY_EXCLUDES},
    )
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_stdlib_platform_wins_in_ray_worker(local_ray: ModuleType) -> None:
    ray = local_ray

    @ray.remote
    def probe() -> dict[str, str]:
        import os as worker_os
        import platform

        import relmas

        return {
            "platform": platform.__file__,
            "system": platform.system(),
            "relmas": relmas.__file__,
            "cwd": worker_os.getcwd(),
            "pythonpath": worker_os.environ.get("PYTHONPATH", ""),
        }

    seen = ray.get(probe.remote(), timeout=120)  # a worker starts in ~5 s
    # The worker really runs in a copy of the repo that is on PYTHONPATH, the shadowing setup.
    assert (Path(seen["cwd"]) / "platform" / "relmas").is_dir(), seen
    assert seen["cwd"] in seen["pythonpath"].split(os.pathsep), seen
    assert _is_stdlib(seen["platform"]), seen
    assert seen["system"]
    assert Path(seen["relmas"]).name == "__init__.py", seen


def test_import_layers_hold() -> None:
    """hardware -> sim -> schedulers -> ... -> cli, nothing upward (pyproject's importlinter
    contract; lazy imports inside functions count too). CI also runs ``lint-imports`` itself."""
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.is_file():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    result = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout
