"""The CLI on a core install (no optional extra): what needs none runs, the rest says which.

pyproject.toml promises that the core (cost model, simulator, schedulers, CLI) needs none of
the extras. Each case runs ``relmas`` in a subprocess where Ray, torch, gymnasium, MLflow and
the search libraries cannot be imported (``None`` in ``sys.modules``, as if not installed).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from relmas.cli.main import EXTRA_OF_MODULE

ROOT = Path(__file__).resolve().parents[2]
RUN = (
    "import sys\n"
    "for name in {blocked!r}:\n"
    "    sys.modules[name] = None\n"
    "from relmas.cli.main import main\n"
    "sys.exit(main({argv!r}))\n"
)


def _relmas(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``relmas ARGV`` without the extras, tracking as a user gets it (the suite turns it off)."""
    code = RUN.format(blocked=sorted(EXTRA_OF_MODULE), argv=list(argv))
    env = {k: v for k, v in os.environ.items() if k != "RELMAS_NO_TRACK"}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{cwd / 'mlflow.db'}"  # never the checkout's store
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def test_help_and_a_comparison_run_without_any_extra(tmp_path: Path) -> None:
    assert _relmas("--help", cwd=tmp_path).returncode == 0
    out = tmp_path / "cmp"
    proc = _relmas("compare", "--scenario", "light", "--seeds", "1", "--schedulers", "fcfs,edf",
                   "--no-track", "--out", str(out), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "results.json").is_file()


@pytest.mark.parametrize(
    ("argv", "extra"),
    [
        (("train", "--scenario", "toy", "--iterations", "1"), "rl"),
        (("compare", "--scenario", "light", "--seeds", "1", "--schedulers", "rl:default",
          "--no-track"), "rl"),
        (("simulate", "--scenario", "light", "--seed", "1"), "tracking"),
    ],
)  # fmt: skip
def test_a_command_of_an_extra_names_it_in_one_line(
    tmp_path: Path, argv: tuple[str, ...], extra: str
) -> None:
    proc = _relmas(*argv, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"relmas: error: {argv[0]}: needs the `{extra}` extra"), line
    assert f'pip install "relmas[{extra}]"' in line
    assert "Traceback" not in proc.stderr


def test_every_module_of_the_table_is_a_requirement_of_its_extra() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for module, extra in EXTRA_OF_MODULE.items():
        names = [r.split("[")[0].split("=")[0].strip().replace("-", "_") for r in extras[extra]]
        assert any(n == module or n.startswith(f"{module}_") for n in names), (module, extra)


def test_a_missing_piece_of_an_installed_extra_is_not_called_a_missing_extra(
    tmp_path: Path,
) -> None:
    """gymnasium installed but a submodule unimportable: a real error, shown as one, not advice."""
    code = (
        "import sys\n"
        "sys.modules['gymnasium.envs'] = None\n"
        "from relmas.cli.main import main\n"
        "sys.exit(main(['train', '--scenario', 'toy', '--iterations', '1']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1
    assert "ModuleNotFoundError" in proc.stderr and "needs the" not in proc.stderr
