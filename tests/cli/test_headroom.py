"""``relmas headroom``, ``compare`` with scheduler variants and lookahead, and the runs as Ray
tasks: tiny scenarios, one or two seeds, so each test takes seconds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relmas.cli.headroom import with_base
from relmas.cli.main import main
from relmas.evaluation.paired import is_oracle, label, paired_delta
from relmas.evaluation.runner import RunSpec, run_many
from relmas.schedulers import make_scheduler
from relmas.schedulers.registry import nest_dotted, split_ref


def test_compare_takes_variants_and_the_rollout_with_its_oracle_labelled(
    capsys: pytest.CaptureFixture[str], small_scenario: Path, tmp_path: Path
) -> None:
    names = "fcfs,planaria?priority_exponent=0.5,rollout?clairvoyant=true&horizon_s=0.02"
    argv = ["compare", "--scenario", str(small_scenario), "--schedulers", names, "--seeds", "1",
            "--jobs", "1", "--out", str(tmp_path / "cmp")]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "ORACLE" in printed
    result = json.loads((tmp_path / "cmp" / "results.json").read_text())
    assert [e["scheduler"] for e in result["summary"]] == names.split(",")


def test_headroom_pairs_every_scheduler_with_the_best_heuristic(
    capsys: pytest.CaptureFixture[str], small_scenario: Path, tmp_path: Path
) -> None:
    argv = ["headroom", "--scenario", str(small_scenario), "--heuristics", "fcfs,sjf",
            "--base", "planaria?priority_exponent=0.5", "--seeds", "2", "--jobs", "1", "--json",
            "--out", str(tmp_path / "hr")]  # fmt: skip
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {e["scheduler"]: e for e in out["table"]}
    assert set(rows) == {"fcfs", "sjf", "planaria?priority_exponent=0.5", "rollout",
                         "rollout?clairvoyant=true"}  # fmt: skip
    assert out["best_heuristic"] in {"fcfs", "sjf", "planaria?priority_exponent=0.5"}
    assert rows["rollout?clairvoyant=true"]["oracle"] and not rows["rollout"]["oracle"]
    assert rows[out["best_heuristic"]]["vs_best"]["ties"] == 2
    assert out["seeds"] == [10000, 10001]
    saved = json.loads((tmp_path / "hr" / "results.json").read_text())
    assert len(saved["runs"]) == 10


def test_headroom_rolls_out_the_best_heuristic_of_the_training_seeds(
    capsys: pytest.CaptureFixture[str], small_scenario: Path, tmp_path: Path
) -> None:
    argv = ["headroom", "--scenario", str(small_scenario), "--heuristics", "fcfs,sjf",
            "--select-seeds", "2", "--seeds", "1", "--jobs", "1", "--lookahead", "rollout",
            "--json", "--out", str(tmp_path / "hr")]  # fmt: skip
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    base = out["rollout_base"]
    assert base in {"fcfs", "sjf", "planaria?priority_exponent=0.5"}
    lookahead = [e["scheduler"] for e in out["table"] if e["scheduler"].startswith("rollout")]
    assert lookahead == [with_base("rollout", base) if "sjf" in base or "fcfs" in base
                         else "rollout"]  # fmt: skip
    assert (
        with_base("rollout", "planaria")
        == "rollout?base=planaria&base_params.priority_exponent=1.0"
    )


def test_the_reference_syntax() -> None:
    got = split_ref("planaria?priority_exponent=0.5&work_conserving=true&form=dysta")
    assert got == ("planaria", {"priority_exponent": 0.5, "work_conserving": True, "form": "dysta"})
    assert nest_dotted({"base": "sjf", "base_params.x": 1, "base_params.y": None}) == {
        "base": "sjf", "base_params": {"x": 1, "y": None}}  # fmt: skip
    sched = make_scheduler("rollout?base=planaria&base_params.priority_exponent=1&max_candidates=2")
    assert sched.base_params.model_dump()["priority_exponent"] == 1.0  # type: ignore[attr-defined]
    assert is_oracle("rollout?clairvoyant=true") and not is_oracle("rollout")
    assert "ORACLE" in label("rollout?horizon_s=0.1&clairvoyant=true")


@pytest.mark.parametrize(
    ("ref", "params", "expected"),
    [("planaria?priority_exponent", None, "KEY=VALUE"),
     ("planaria?form=relmas&form=dysta", None, "twice"),
     ("planaria?form=dysta", {"form": "authors"}, "twice"),
     ("planaria?form=nope", None, "form"),
     ("rl:x?a=1", None, "take no 'a'"),
     ("rl:x?wait_gard=true", None, "wait_guard"),
     ("rl:default?wait_guard=3", None, "wait_guard")],
)  # fmt: skip
def test_bad_references_are_one_line_user_errors(
    ref: str, params: dict[str, Any] | None, expected: str
) -> None:
    from relmas.errors import UserError

    with pytest.raises(UserError, match=expected):
        make_scheduler(ref, params)


def test_paired_delta_counts_wins_losses_and_ties() -> None:
    d = paired_delta([0.9, 0.8, 0.7], [0.8, 0.8, 0.75])
    assert d["wins"] == 1 and d["losses"] == 1 and d["ties"] == 1
    assert d["mean"] == pytest.approx(0.05 / 3)


def test_runs_as_ray_tasks_give_the_same_metrics(ray_local: Any, small_scenario: Path) -> None:
    specs = [RunSpec(str(small_scenario), "2s2e", name, seed)
             for name in ("rollout?horizon_s=0.01", "sjf") for seed in (0, 1)]  # fmt: skip
    local = run_many(specs, 1)
    remote = run_many(specs, 2, address="local")
    for a, b in zip(local, remote, strict=True):
        a.pop("cpu_s"), b.pop("cpu_s")
        assert a == b


def test_sigterm_stops_the_workers_without_waiting_for_their_runs(tmp_path: Path) -> None:
    """A rollout run takes minutes: SIGTERM must end ``compare`` and its pool at once."""
    import signal
    import subprocess
    import sys
    import time

    cmd = [sys.executable, "-m", "relmas.cli.main", "compare", "--scenario", "heavy",
           "--schedulers", "rollout", "--seeds", "2", "--jobs", "2", "--no-track",
           "--out", str(tmp_path / "cmp")]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120  # imports and cost tables first: slow on a busy machine
    while time.monotonic() < deadline:  # until the pool's workers run
        kids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
        if len(kids.stdout.split()) == 2:
            break
        time.sleep(0.5)
    time.sleep(2)  # both runs under way
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read().decode()
    time.sleep(1)
    left = subprocess.run(["pgrep", "-f", str(tmp_path / "cmp")], capture_output=True, text=True)
    assert left.stdout.strip() == ""  # no pool worker left running its simulation
