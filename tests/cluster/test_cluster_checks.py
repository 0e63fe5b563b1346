"""The cluster checks of ``relmas tune`` without a cluster: which cluster is joined, storage and
tracking rules, runtime_env layout, the per-node probe and how its reports become errors.

Each rule is checked both ways (accepted and refused), and the CLI tests check the one-line,
exit-2 contract and that a refused setting never gets as far as contacting Ray.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from relmas import __version__
from relmas.cli.main import main
from relmas.errors import UserError
from relmas.sweeps import cluster
from relmas.sweeps.cluster import ClusterTarget
from relmas.tracking import TrackingOptions

LOCAL = ClusterTarget(None)
JOB = ClusterTarget("auto", in_job=True)
CLIENT = ClusterTarget("ray://head:10001")


def test_target_resolution() -> None:
    assert cluster.resolve_target(None, {}) == LOCAL
    assert cluster.resolve_target("local", {}) == LOCAL
    assert cluster.resolve_target("auto", {}).remote
    assert cluster.resolve_target("ray://h:10001", {}).client
    assert not cluster.resolve_target("10.0.0.1:6379", {}).client
    job = cluster.resolve_target(None, {cluster.JOB_ENV: "{}", "RAY_ADDRESS": "10.0.0.1:6379"})
    assert job == ClusterTarget("10.0.0.1:6379", in_job=True)
    with pytest.raises(UserError, match=r"^--address: http://h:8265 is the dashboard"):
        cluster.resolve_target("http://h:8265", {})


def test_storage_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert cluster.resolve_storage("st", LOCAL) == tmp_path / "st"
    assert cluster.resolve_storage("/mnt/shared/t", JOB) == Path("/mnt/shared/t")
    with pytest.raises(UserError, match=r"^--storage: st is relative: inside a Ray job"):
        cluster.resolve_storage("st", JOB)
    with pytest.raises(UserError, match=r"^--storage: s3://b/p is a URI.*mounted at the same path"):
        cluster.resolve_storage("s3://b/p", LOCAL)


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("sqlite:///mlflow.db", Path("mlflow.db")),
        ("sqlite:////abs/m.db", Path("/abs/m.db")),
        ("file:///abs/mlruns", Path("/abs/mlruns")),
        ("./mlruns", Path("mlruns")),
        ("http://h:5000", None),
        ("https://h", None),
        ("postgresql://u@h/db", None),
        ("databricks", None),
    ],
)
def test_local_store_detection(uri: str, path: Path | None) -> None:
    assert cluster.local_store(uri) == path


def test_tracking_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    sqlite = TrackingOptions(uri=f"sqlite:///{tmp_path / 'm.db'}")
    server = TrackingOptions(uri="http://mlflow:5000")
    for ok in [(sqlite, LOCAL, 1), (server, LOCAL, 8), (server, CLIENT, 1), (server, JOB, 3),
               (TrackingOptions(enabled=False), JOB, 8)]:  # fmt: skip
        cluster.check_tracking(*ok)
    outside = TrackingOptions(uri="sqlite:////var/lib/m.db")
    cluster.check_tracking(outside, JOB, 1)  # single node, outside the job's temporary copy
    with pytest.raises(UserError, match=r"^--tracking-uri: .* the cluster has 3 nodes.*http://"):
        cluster.check_tracking(sqlite, LOCAL, 3)
    with pytest.raises(UserError, match=r"^--tracking-uri: .*ray:// Tune's driver loop"):
        cluster.check_tracking(sqlite, CLIENT, 1)
    with pytest.raises(UserError, match=r"^--tracking-uri: .*temporary copy of working_dir"):
        cluster.check_tracking(TrackingOptions(uri="sqlite:///mlflow.db"), JOB, 1)


def test_package_layout_rules(tmp_path: Path) -> None:
    (tmp_path / "platform" / "relmas").mkdir(parents=True)
    wd = str(tmp_path)
    assert (
        cluster.check_package_layout({"working_dir": wd, "env_vars": {"PYTHONPATH": "platform"}})
        == []
    )
    (note,) = cluster.check_package_layout({"working_dir": wd})
    assert "PYTHONPATH lacks 'platform'" in note
    with pytest.raises(UserError, match=r"^runtime_env.py_modules: platform/ is the source root"):
        cluster.check_package_layout({"py_modules": [str(tmp_path / "platform")]})
    (tmp_path / "platform" / "__init__.py").touch()
    with pytest.raises(UserError, match=r"platform/__init__.py shadows the stdlib"):
        cluster.check_package_layout({"working_dir": wd})


def test_runtime_env_file_is_validated_by_ray(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    good = tmp_path / "env.yaml"
    good.write_text("working_dir: .\nenv_vars: {PYTHONPATH: platform}\n")
    assert cluster.load_runtime_env(good, CLIENT)["working_dir"] == str(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("working_dir: .\nenv_vars: {PYTHONPATH: 3}\n")  # Ray wants str -> str
    with pytest.raises(UserError, match=r"^--runtime-env: .*bad.yaml"):
        cluster.load_runtime_env(bad, CLIENT)
    with pytest.raises(UserError, match=r"^--runtime-env: this command runs inside a Ray job"):
        cluster.load_runtime_env(good, JOB)


def test_trial_scenarios_mirror_prepare_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cluster.trial_scenarios(["medium", "my.yaml"], prepared=False) == [
        "medium",
        str(tmp_path / "my.yaml"),
    ]
    assert cluster.trial_scenarios(["medium"], prepared=True) == []


def test_probe_runs_here_and_reports_what_it_sees(tmp_path: Path) -> None:
    (tmp_path / "seen").touch()
    probe = cluster._make_probe()
    report = probe([str(tmp_path / "seen"), str(tmp_path / "gone")], ["medium"])
    assert report["missing"] == [str(tmp_path / "gone")] and "error" not in report
    assert report["relmas"] == f"{__version__} from {Path(cluster.__file__).parents[1]}"
    assert Path(report["platform"]).is_relative_to(report["stdlib"])
    assert "no-such-preset" in probe([], ["no-such-preset"])["error"]


def test_probe_reports_from_a_node_without_relmas(tmp_path: Path) -> None:
    """The probe travels by value, so it still runs (and says why) where relmas is missing."""
    from ray import cloudpickle

    blob = tmp_path / "probe.pkl"
    blob.write_bytes(cloudpickle.dumps(cluster._make_probe()))
    code = (
        "import pickle, sys, json\n"
        "sys.modules['relmas'] = None  # a node where relmas is not importable\n"
        f"probe = pickle.loads(open({str(blob)!r}, 'rb').read())\n"
        "print(json.dumps(probe([], ['medium'])))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert "relmas" not in report and report["error"].startswith("ModuleNotFoundError"), report
    with pytest.raises(UserError, match=r"^runtime_env: relmas is not importable on node"):
        cluster.check_reports([{"ip": "n1", **report}], tmp_path, __version__)


def _report(**kw: Any) -> dict[str, Any]:
    base = {
        "ip": "10.0.0.2",
        "platform": "/usr/lib/python3.11/platform.py",
        "stdlib": "/usr/lib/python3.11",
        "missing": [],
        "relmas": f"{__version__} from /x",
    }
    return {k: v for k, v in (base | kw).items() if v is not None}


@pytest.mark.parametrize(
    ("report", "message"),
    [
        (_report(platform="/wd/platform/__init__.py"), "runtime_env: `import platform` on node"),
        (_report(missing=["/st/.marker"]), "--storage: /st is not shared: node 10.0.0.2"),
        (_report(relmas=None, error="ModuleNotFoundError: x"), "runtime_env: relmas is not impo"),
        (_report(error="UserError: RELMAS_HOME: not set"), "cluster: node 10.0.0.2: UserError"),
        (_report(relmas="9.9 from /old"), "runtime_env: node 10.0.0.2 runs relmas 9.9"),
    ],
)
def test_node_reports_become_one_line_errors(report: dict[str, Any], message: str) -> None:
    good = _report(ip="10.0.0.1")
    with pytest.raises(UserError) as exc:
        cluster.check_reports([good, report], Path("/st"), __version__)
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)


def test_good_reports_give_the_summary_line() -> None:
    line = cluster.check_reports([_report(ip="a"), _report(ip="b")], Path("/st"), __version__)
    assert line.startswith("cluster preflight ok: 2 node(s) [a, b]; relmas") and "/st" in line


def _sweep(tmp_path: Path, small_scenario: Path) -> Path:
    path = tmp_path / "sw.yaml"
    path.write_text(
        f"name: sw\ntrainable: heuristic\nscenarios: [{small_scenario}]\n"
        "hardware: {n_simba: [1, 2], n_eyeriss: 1, dram_bandwidth_gbps: 16}\n"
        "heuristic: {schedulers: [edf, sjf, fcfs], seeds: 1}\n"
    )
    return path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    started = time.monotonic()
    code = main(argv)
    out, err = capsys.readouterr()
    assert time.monotonic() - started < 30, "a refused setting must not wait for a cluster"
    return code, out, err


@pytest.mark.parametrize(
    ("extra", "start"),
    [
        (["--address", "http://h:8265"], "relmas: error: --address: http://h:8265 is the dash"),
        (
            ["--address", "ray://127.0.0.1:9", "--tracking-uri", "sqlite:///m.db"],
            "relmas: error: --tracking-uri: sqlite:///m.db is a local file store",
        ),
        (["--runtime-env", "deploy/runtime_env.yaml"], "relmas: error: --runtime-env: only"),
        (["--storage", "gs://bucket/tune"], "relmas: error: --storage: gs://bucket/tune is a URI"),
    ],
)
def test_cli_refuses_bad_cluster_settings_in_one_line(
    extra: list[str],
    start: str,
    tmp_path: Path,
    small_scenario: Path,
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RELMAS_NO_TRACK")  # tracking on: the store is part of what is checked
    code, _, err = _run(["tune", str(_sweep(tmp_path, small_scenario)), *extra], capsys)
    assert code == 2 and err.startswith(start) and err.count("\n") == 1, err
    assert "ray" not in sys.modules or not __import__("ray").is_initialized()


def test_dry_run_prints_plan_and_submit_command(
    tmp_path: Path, small_scenario: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELMAS_NO_TRACK")
    sweep = _sweep(tmp_path, small_scenario)
    argv = ["tune", str(sweep), "--dry-run", "--json", "--address", "http://10.0.0.5:8265",
            "--storage", "/mnt/shared/t", "--tracking-uri", "http://mlflow:5000"]  # fmt: skip
    code, out, _ = _run(argv, capsys)
    plan = json.loads(out)
    assert code == 0 and plan["trials"] == 2 * 3 and plan["schedulers"] == ["edf", "sjf", "fcfs"]
    assert plan["submit_command"] == (
        "ray job submit --address http://10.0.0.5:8265 -- python -m relmas.cli.main tune "
        f"{sweep} --storage /mnt/shared/t --tracking-uri http://mlflow:5000"
    )
    assert plan["submit_problems"] == [] and plan["target"] == "local"
    code, out, _ = _run(["tune", str(sweep), "--dry-run", "--json", "--no-track"], capsys)
    (problem,) = json.loads(out)["submit_problems"]  # default storage is relative
    assert code == 0 and problem.startswith("--storage: relmas_out/tune is relative")


def test_dry_run_inside_a_job_applies_the_job_rules(
    tmp_path: Path, small_scenario: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cluster.JOB_ENV, "{}")
    sweep = str(_sweep(tmp_path, small_scenario))
    code, _, err = _run(["tune", sweep, "--dry-run", "--storage", "rel"], capsys)
    assert code == 2 and err.startswith("relmas: error: --storage: rel is relative"), err
    code, out, _ = _run(["tune", sweep, "--dry-run", "--json", "--storage", str(tmp_path),
                         "--tracking-uri", "http://m:5000"], capsys)  # fmt: skip
    assert code == 0 and json.loads(out)["target"] == "auto"
