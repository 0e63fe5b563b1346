"""The relmas CLI run in-process through ``main(argv)``, as a user would type it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relmas.cli.main import main
from relmas.schedulers import scheduler_names

REQUIRED = {
    "sla_rate", "violation_rate", "drop_rate", "antt", "stp", "fairness", "p99_latency_s",
    "throughput_per_s", "energy_j", "energy_per_inference_j", "edp", "utilization",
    "dram_utilization", "requests",
}  # fmt: skip


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_list__names_every_scheduler_and_preset(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, ["list", "--json"])
    assert isinstance(out, dict)
    assert sorted(out["schedulers"]) == scheduler_names(lookahead=True)
    assert "rollout" in out["schedulers"] and "rollout" not in scheduler_names()
    assert len(out["schedulers"]) >= 16
    assert {"light", "medium", "heavy", "tight", "arvr"} <= set(out["scenarios"])
    policies = out["policies"]
    shipped = {"default", "gate_ensemble", "heavy_specialist", "medium_specialist", "sla_router",
               "search_router"}  # fmt: skip
    assert set(policies) == shipped
    assert not policies["default"]["outlook_gate"] and len(policies["default"]["scenarios"]) > 1
    assert policies["heavy_specialist"]["scenarios"] == ["heavy"]
    assert policies["heavy_specialist"]["outlook_gate"]
    assert [policies[n]["members"] for n in ("default", "gate_ensemble")] == [1, 18]
    assert policies["gate_ensemble"]["scenarios"] == ["medium"]
    router = policies["sla_router"]  # rl:default's pairs and gate_ensemble's, one member each
    assert router["router"] == {"threshold": 2.5, "tight": "rl:default", "calm": "rl:gate_ensemble",
                                "search": 0}  # fmt: skip
    assert router["members"] == 19 and router["scenarios"] == policies["default"]["scenarios"]
    searching = policies["search_router"]  # the same two policies, each searching
    tight = "rl:default?search=2&search_base=edf&search_confidence=0.9"
    assert searching["router"] == {**router["router"], "search": 2, "tight": tight}
    assert searching["scenarios"] == router["scenarios"]


def test_simulate__json_has_the_documented_metrics(
    capsys: pytest.CaptureFixture[str], small_scenario: Path
) -> None:
    out = run_json(capsys, ["simulate", "--scenario", str(small_scenario), "--scheduler", "edf",
                            "--json"])  # fmt: skip
    assert isinstance(out, dict)
    assert set(out) >= REQUIRED
    assert out["requests"] == 40
    assert 0.0 <= out["sla_rate"] <= 1.0
    assert len(out["utilization"]) == 4  # 2s2e


def test_simulate__scheduler_params_change_the_outcome(
    capsys: pytest.CaptureFixture[str], small_scenario: Path
) -> None:
    base = ["simulate", "--scenario", str(small_scenario), "--scheduler", "prema", "--json"]
    a = run_json(capsys, base)
    b = run_json(capsys, [*base, "--param", "thresholds=[100, 50, 1]"])
    assert isinstance(a, dict) and isinstance(b, dict)
    assert a["requests"] == b["requests"]


def test_simulate__trace_csv(capsys: pytest.CaptureFixture[str], small_scenario: Path,
                             tmp_path: Path) -> None:  # fmt: skip
    trace = tmp_path / "trace.csv"
    out = run_json(capsys, ["simulate", "--scenario", str(small_scenario), "--json",
                            "--trace-out", str(trace)])  # fmt: skip
    lines = trace.read_text().splitlines()
    assert lines[0] == "accel,accel_type,request,model,layer,start_s,end_s"
    assert isinstance(out, dict) and len(lines) - 1 == out["dispatches"]


def test_compare__writes_results_and_plots(
    capsys: pytest.CaptureFixture[str], small_scenario: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "cmp"
    argv = ["compare", "--scenario", str(small_scenario), "--schedulers", "fcfs,sjf",
            "--seeds", "2", "--loads", "0.5,1.0", "--jobs", "1", "--out", str(out_dir)]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "fcfs" in captured.out and "sjf" in captured.out
    # stderr is not a terminal here: the progress comes as plain lines, each run counted
    assert "relmas: 4 runs: 4/4 (100%)" in captured.err
    assert "relmas: 8 load-sweep runs: 8/8 (100%)" in captured.err
    result = json.loads((out_dir / "results.json").read_text())
    assert [e["scheduler"] for e in result["summary"]] == ["fcfs", "sjf"]
    assert len(result["runs"]) == 4 and len(result["load_runs"]) == 8
    for png in ("energy_sla.png", "sla_vs_load.png", "gantt.png"):
        assert (out_dir / png).stat().st_size > 10_000


def test_bench_sim__json(capsys: pytest.CaptureFixture[str], small_scenario: Path) -> None:
    out = run_json(capsys, ["bench", "sim", "--scenario", str(small_scenario), "--repeat", "1",
                            "--json"])  # fmt: skip
    assert isinstance(out, dict)
    assert out["cpu_dispatches_per_s_best"] > 0
    assert out["dispatches_per_run"] > 40
    assert isinstance(out["meets_target"], bool)


def test_capacity__json(capsys: pytest.CaptureFixture[str], small_scenario: Path) -> None:
    out = run_json(capsys, ["capacity", "--scenario", str(small_scenario), "--schedulers", "sjf",
                            "--seeds", "1", "--tol", "0.2", "--jobs", "1", "--json"])  # fmt: skip
    assert isinstance(out, list) and out[0]["scheduler"] == "sjf"
    assert 0.0 <= out[0]["max_offered_load"] <= 2.0
    assert out[0]["evaluations"]


BAD_INPUTS = [
    (["simulate", "--scenario", "nope"], "scenario: unknown name 'nope'"),
    (["simulate", "--scenario", "/no/such/file.yaml"], "does not exist"),
    (["simulate", "--hardware", "9s9e"], "unknown"),
    (["simulate", "--scheduler", "edff"], "did you mean 'edf'"),
    (["simulate", "--scheduler", "no_such_module:Cls"], "cannot import"),
    (["simulate", "--scheduler", "dysta", "--param", "beta"], "--param"),
    (["simulate", "--scheduler", "dysta", "--param", "nosuch=1"], "nosuch"),
    (["compare", "--schedulers", "fcfs,bogus"], "bogus"),
    (["simulate", "--scheduler", "rollout", "--param", "base=sjff"], "did you mean 'sjf'"),
    (["simulate", "--scheduler", "rollout", "--param", "horizon_s=0"], "horizon_s"),
    (["simulate", "--scheduler", "rollout", "--param", "max_candidates=0"], "max_candidates"),
    (["simulate", "--scheduler", "rollout", "--param", "base_params={form: x}"], "form"),
    (["simulate", "--scheduler", "planaria?priority_exponent=-1"], "priority_exponent"),
    (["compare", "--schedulers", "planaria?bogus=1", "--seeds", "1"], "bogus"),
    (["headroom", "--rollout", "sjf", "--seeds", "1"], "--rollout"),
    (["compare", "--scenario", "arvr", "--loads", "0.5", "--seeds", "1"], "fixed rates"),
    (["capacity", "--target", "1.5"], "--target"),
    (["hw", "layers", "--model", "resnet", "--accel", "simba"], "did you mean"),
]


@pytest.mark.parametrize(("argv", "expected"), BAD_INPUTS)
def test_bad_input__one_line_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [["simulate", "--seed", "x"], ["compare", "--seeds", "0"], ["simulate", "--bandwidth-gbps",
     "-1"], ["compare", "--loads", "0.5,nan"]],
)  # fmt: skip
def test_bad_numbers__argparse_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_malformed_scenario_yaml(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntenants: [\n")
    assert main(["simulate", "--scenario", str(bad)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_user_error_survives_worker_processes() -> None:
    import pickle

    from relmas.errors import UserError

    err = pickle.loads(pickle.dumps(UserError("--loads", "bad", "fix it")))
    assert isinstance(err, UserError)
    assert (err.field, err.problem, err.fix) == ("--loads", "bad", "fix it")
    assert str(err) == "--loads: bad; fix it"


def test_json_piped_into_head_ends_quietly() -> None:
    """``relmas ... --json | head``: the reader leaving is not an error (no traceback)."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "relmas.cli.main", "hw", "layers", "--model", "resnet50",
           "--accel", "eyeriss", "--json"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first write (head -0; a closed pager)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
