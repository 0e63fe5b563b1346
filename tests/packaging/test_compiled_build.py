"""The optional compiled build (``relmas.compiled``): built as a user builds it, and the same
results as pure Python to the last bit.

The wheel is built as ``RELMAS_COMPILE=1 pip install .`` builds it (``setup.py`` through the
in-tree backend), without build isolation (nothing to download in a test), from a copy of the
sources in a temporary directory (mypyc and setuptools write next to them). Subprocesses then
import the wheel's contents ahead of the editable checkout and check that every listed module
is compiled, that every heuristic leaves the same trace, per-request outcome, energy and end
time as this interpreter, and that the simulator's and the schedulers' unit tests (the
hypothesis snapshot and invariant tests among them) pass against it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DUMP = Path(__file__).with_name("dump_results.py")
SOURCES = ("pyproject.toml", "setup.py", "README.md", "build_backend", "platform")

pytestmark = pytest.mark.skipif(
    shutil.which("cc") is None and shutil.which("gcc") is None,
    reason="the compiled build needs a C compiler (cc or gcc on PATH)",
)


def _copy_sources(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.so")
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Build the compiled wheel, unpack it; the environment that runs it (PYTHONPATH first)."""
    base = tmp_path_factory.mktemp("compiled")
    src, wheels, site = base / "src", base / "wheels", base / "site"
    src.mkdir()
    _copy_sources(src)
    env = {**os.environ, "RELMAS_COMPILE": "1"}
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--quiet"]
    proc = subprocess.run(
        [*cmd, "-w", str(wheels), str(src)], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = wheels.glob("relmas-*.whl")
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    run_env = {k: v for k, v in os.environ.items() if k != "RELMAS_COMPILE"}
    return {**run_env, "PYTHONPATH": str(site), "RELMAS_HOME": str(ROOT)}


def _dumps(*envs: dict[str, str] | None) -> list[list[object]]:
    """The dump script's lines under each environment, the runs side by side (two cores)."""
    procs = [
        subprocess.Popen([sys.executable, str(DUMP)], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for env in envs
    ]  # fmt: skip
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-3000:]
        out.append([json.loads(line) for line in stdout.splitlines()])
    return out


def test_every_listed_module_is_compiled_and_every_heuristic_decides_the_same(
    compiled: dict[str, str],
) -> None:
    fast, pure = _dumps(compiled, None)
    assert fast[0] == {"build": "mypyc"}
    assert pure[0] == {"build": "python"}
    assert len(fast) == len(pure) > 40  # 3 setups x every heuristic
    for a, b in zip(fast[1:], pure[1:], strict=True):
        assert a == b, (a, b)


def test_the_simulator_and_scheduler_unit_tests_pass_compiled(compiled: dict[str, str]) -> None:
    # test_search: a policy's search hands the engine its actions (a numpy int once failed
    # there, compiled only).
    tests = ["tests/unit/sim", "tests/unit/schedulers", "tests/rl/test_search.py"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=ROOT, env=compiled, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert " passed" in proc.stdout.splitlines()[-1]
