"""The README is executable: its tour and every "Extending it" example run here as written.

Why: a newcomer copies these blocks verbatim, so a renamed flag, a schema change or a broken
example must fail here, not on their machine. A block is found by the comment above it,
``<!-- example: NAME ACTION [PATH] -->``: ``write``/``append`` blocks go to PATH in a scratch copy
of the repo's data (found through ``RELMAS_HOME``), ``run`` blocks are executed command by command
in that copy, with the venv's ``relmas`` on PATH as after ``source .venv/bin/activate``. The tour
gets test-sized budgets (``TOUR_BUDGET``: the same commands with fewer seeds and iterations).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(
    r"^<!-- example: (?P<name>[\w-]+) (?P<action>write|append|run)(?: (?P<path>\S+))? -->\n"
    r"```\w*\n(?P<body>.*?)^```",
    re.S | re.M,
)
EXAMPLES = {
    "tour",
    *("scheduler", "scheduler-run", "scenario", "scenario-run", "composition", "composition-run"),
    *("accel-type", "accel-type-run", "model", "model-run"),
}
TINY_TRAIN = (
    "--iterations 1 --env-runners 0 --batch-size 128 --minibatch-size 64 --epochs 1 "
    "--hidden 16 --train-seeds 2 --episode-requests 20 --checkpoint-every 1"
)
# Flags appended to a tour command, by sub-command (argparse keeps an option's last value).
# `tune` only checks the sweep (tests/sweeps run real ones); `ui` would serve until killed
# (tests/tracking/test_mlflow_server.py starts and stops it).
TOUR_BUDGET = {
    "compare": "--seeds 1",
    "capacity": "--seeds 1 --tol 0.5",
    "bench": "--repeat 1",
    "bench imitate": "--states 5000",  # a sub-command's own budget wins over its command's
    "train": TINY_TRAIN,
    "evaluate": "--seeds 1",
    "tune": "--dry-run",
    "ui": "--help",
}
RL_COMMANDS = {"train", "evaluate"}  # start Ray/RLlib: the slow tier


@dataclass(frozen=True)
class Example:
    """One marked README code block."""

    name: str
    action: str
    path: str | None
    body: str


def readme_examples() -> dict[str, Example]:
    """Every marked block of README.md, by name (a duplicate name is an error)."""
    found: dict[str, Example] = {}
    for m in BLOCK.finditer((ROOT / "README.md").read_text(encoding="utf-8")):
        assert m["name"] not in found, f"README has two examples named {m['name']!r}"
        found[m["name"]] = Example(m["name"], m["action"], m["path"], m["body"])
    return found


def shell_commands(body: str) -> list[str]:
    """A bash block's commands: continuations joined, heredocs kept whole, comments skipped."""
    lines, out = body.splitlines(), []
    while lines:
        cmd = lines.pop(0)
        while cmd.endswith("\\"):
            cmd = cmd[:-1] + lines.pop(0)
        heredoc = re.search(r"<<'(\w+)'", cmd)
        if heredoc:
            end = lines.index(heredoc[1])
            cmd = "\n".join([cmd, *lines[: end + 1]])
            del lines[: end + 1]
        if cmd.strip() and not cmd.lstrip().startswith("#"):
            out.append(cmd)
    return out


@dataclass
class Workspace:
    """A scratch copy of the repo's data files where README commands run."""

    root: Path
    env: dict[str, str]

    def apply(self, example: Example) -> None:
        """Write or append a file block to its path in the workspace."""
        assert example.path, f"README example {example.name!r} has no path"
        target = self.root / example.path
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a" if example.action == "append" else "w", encoding="utf-8") as f:
            f.write(example.body)

    def run(self, cmd: str, timeout: float = 600) -> str:
        """Run one shell command; a non-zero exit fails the test with its stderr."""
        script = ["bash", "-c", f"set -eo pipefail\n{cmd}"]
        proc = subprocess.run(
            script, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert proc.returncode == 0, f"README command failed: {cmd}\n{proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr, f"{cmd}\n{proc.stderr[-3000:]}"
        return proc.stdout

    def run_example(self, name: str) -> list[str]:
        """Run every command of a ``run`` block in order; their outputs."""
        example = readme_examples()[name]
        assert example.action == "run"
        return [self.run(cmd) for cmd in shell_commands(example.body)]

    def use_package_copy(self) -> None:
        """Import relmas from a copy of the package, so a new scheduler file stays private."""
        src = ROOT / "platform" / "relmas"
        shutil.copytree(src, self.root / src.relative_to(ROOT),
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        self.env["PYTHONPATH"] = str(self.root / "platform")
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)  # compile the copy once, not per command


@pytest.fixture(scope="session")
def cost_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cost-table cache for all workspaces (keys hash the spec files, so sharing is safe)."""
    return tmp_path_factory.mktemp("cost_cache")


@pytest.fixture()
def ws(tmp_path: Path, cost_cache: Path) -> Workspace:
    """Data files copied into ``tmp_path/repo``; the environment a user's shell would have."""
    root = tmp_path / "repo"
    for folder in ("hardware_models", "envs", "tune_configs"):
        shutil.copytree(ROOT / folder, root / folder)
    env = {**os.environ, "RELMAS_HOME": str(root), "RELMAS_NO_TRACK": "1",
           "RELMAS_CACHE_DIR": str(cost_cache), "MPLBACKEND": "Agg",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    env.pop("PYTHONPATH", None)
    return Workspace(root, env)


def test_readme_marks_every_example() -> None:
    assert set(readme_examples()) == EXAMPLES


def test_scheduler_example(ws: Workspace) -> None:
    ws.use_package_copy()
    ws.apply(readme_examples()["scheduler"])
    simulated, compared = ws.run_example("scheduler-run")
    result = json.loads(simulated)
    assert result["scheduler"] == "latest-arrival"
    assert result["requests"] == result["completed"] > 0
    assert 0.0 <= result["sla_rate"] <= 1.0
    out_dir = re.search(r"--out (\S+)", shell_commands(readme_examples()["scheduler-run"].body)[1])
    assert out_dir and "latest-arrival" in compared
    summary = json.loads((ws.root / out_dir[1] / "results.json").read_text())["summary"]
    sla = {e["scheduler"]: e["sla_rate"]["mean"] for e in summary}
    assert set(sla) == {"fcfs", "latest-arrival"}
    assert sla["latest-arrival"] != sla["fcfs"]  # really a different policy, not an alias


def test_scenario_example(ws: Workspace) -> None:
    ws.apply(readme_examples()["scenario"])
    (out,) = ws.run_example("scenario-run")
    result = json.loads(out)
    assert result["requests"] == 300
    assert set(result["sla_rate_per_tenant"]) == {"camera", "chat"}
    assert 0.0 <= result["sla_rate"] <= 1.0


def test_composition_example(ws: Workspace) -> None:
    ws.apply(readme_examples()["composition"])
    listed, named, ad_hoc = ws.run_example("composition-run")
    assert "3s3e" in listed
    a, b = json.loads(named), json.loads(ad_hoc)
    assert len(a["utilization"]) == 6
    a.pop("hardware"), b.pop("hardware")
    assert a == b  # the named entry and the ad-hoc name are the same chip


def _total_cycles(layers_json: str) -> int:
    return sum(row["cycles"] for row in json.loads(layers_json))


def test_accel_type_example(ws: Workspace) -> None:
    ws.run_example("accel-type")
    layers, simulated = ws.run_example("accel-type-run")
    base = ws.run("relmas hw layers --model resnet50 --accel eyeriss --json")
    # 4x the PEs; not 4x fewer cycles, as small layers leave part of a bigger array idle
    assert _total_cycles(layers) < 0.75 * _total_cycles(base)
    result = json.loads(simulated)
    assert result["hardware"] == "2s2eb" and len(result["utilization"]) == 4
    assert 0.0 <= result["sla_rate"] <= 1.0


def test_model_example(ws: Workspace) -> None:
    ws.apply(readme_examples()["model"])
    listed, layers = ws.run_example("model-run")
    models = {m["name"]: m for m in json.loads(listed)["models"]}
    assert models["tiny_cnn"]["layers"] == 2
    rows = json.loads(layers)
    assert [r["name"] for r in rows] == ["conv1", "fc"]
    assert all(r["cycles"] > 0 and r["energy_j"] > 0 for r in rows)


def tour_commands(rl: bool) -> list[str]:
    """The tour's ``relmas`` commands with test budgets: the RL ones, or all the others.

    ``--schedulers all`` becomes two schedulers: all 16 take minutes on two cores.
    """
    cmds = [c for c in shell_commands(readme_examples()["tour"].body) if c.startswith("relmas ")]
    out = []
    for cmd in cmds:
        sub = cmd.split()[1]
        if (sub in RL_COMMANDS) == rl:
            cmd = re.sub(r"--schedulers all", "--schedulers fcfs,sjf", re.sub(r"#.*", "", cmd))
            budget = TOUR_BUDGET.get(" ".join(cmd.split()[1:3]), TOUR_BUDGET.get(sub, ""))
            out.append(f"{cmd.strip()} {budget}".strip())
    return out


def test_tour(ws: Workspace) -> None:
    cmds = tour_commands(rl=False)
    assert len(cmds) >= 10
    for cmd in cmds:
        out = ws.run(cmd)
        assert out.strip(), f"{cmd} printed nothing"
        if "--json" in cmd.split():
            json.loads(out)
    assert (ws.root / "relmas_out" / "heavy" / "results.json").is_file()


@pytest.mark.slow
def test_tour_rl(ws: Workspace) -> None:
    train, evaluate = tour_commands(rl=True)
    ws.run(train)
    report = ws.run(evaluate)
    assert "planaria" in report and "rl" in report
