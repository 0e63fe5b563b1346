"""Safety: loopback-only servers, references loaded only from named paths, no secret in a run,
runs that carry what re-running them needs, and hostile input refused fast.

Only processes this module starts are signalled, by process group (``start_new_session``).
"""

from __future__ import annotations

import ast
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from relmas.cli import tracking_cmds
from relmas.cli.main import main
from relmas.errors import UserError
from relmas.loaders.safe_yaml import parse_yaml, read_yaml
from relmas.rl.policy_scheduler import SHIPPED_DIR, resolve_policy_dir
from relmas.schedulers import make_scheduler
from relmas.tracking.payload import REDACTED, as_params, redact_config, standard_tags

REPO = Path(__file__).resolve().parents[2]
SCENARIO = """\
name: small
num_requests: 40
offered_load: 0.9
tenants:
  - {name: vision, models: {resnet50: 1, mobilenet_v2: 1}, priorities: {1: 1, 9: 1},
     sla_multiplier: 3.0, arrival: {process: poisson, load_share: 1}}
"""
SECRETS = {"RAY_AUTH_TOKEN": "secret123-ray", "MLFLOW_TRACKING_PASSWORD": "secret456-pw",
           "AWS_SECRET_ACCESS_KEY": "secret789-aws", "GITHUB_TOKEN": "ghp_secret000"}  # fmt: skip


# ------------------------------------------------------------------ servers bind to loopback
def test_ui_binds_to_loopback_unless_asked_and_warns_then(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[list[str]] = []

    def popen(cmd: list[str], env: dict[str, str]) -> Any:
        started.append(cmd)
        return types.SimpleNamespace(wait=lambda: 0)

    # The patch is process-wide (``tracking_cmds.subprocess`` is the subprocess module), and
    # mlflow's first import shells out (``platform.processor()``): import it before patching,
    # or this test, run alone, leaves a half-imported mlflow that breaks every later test.
    import mlflow  # noqa: F401

    monkeypatch.setattr(tracking_cmds.subprocess, "Popen", popen)
    store = ["--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"]
    assert main(["ui", *store]) == 0
    assert started[-1][started[-1].index("--host") + 1] == "127.0.0.1"
    assert "warning" not in capsys.readouterr().err
    assert main(["ui", "--host", "0.0.0.0", *store]) == 0
    assert started[-1][started[-1].index("--host") + 1] == "0.0.0.0"
    assert "warning: --host 0.0.0.0 exposes" in capsys.readouterr().err


def _listening(port: int) -> list[str]:
    """Local addresses (hex, as in /proc/net/tcp*) of sockets listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                found.append(local.rsplit(":", 1)[0])
    return found


@pytest.mark.slow  # an MLflow server start: 10-30 s on 2 busy cores
@pytest.mark.e2e
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net")
def test_ui_really_listens_on_loopback_only(tmp_path: Path, fresh_mlflow_db: Path) -> None:
    pytest.importorskip("mlflow")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "relmas.cli.main", "ui", "--port", str(port),
           "--tracking-uri", f"sqlite:///{fresh_mlflow_db}"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not _listening(port):
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.3)
        loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1
        assert set(_listening(port)) <= loopback, _listening(port)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _ray_inits() -> list[dict[str, Any]]:
    """Keyword arguments (constants only) of every ``ray.init(...)`` call in the package."""
    calls = []
    for path in (REPO / "platform/relmas").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            func = getattr(node, "func", None)
            if isinstance(func, ast.Attribute) and func.attr == "init" and \
                    isinstance(func.value, ast.Name) and func.value.id == "ray":  # fmt: skip
                kw = {k.arg: getattr(k.value, "value", k.value) for k in node.keywords}
                calls.append({**kw, "file": path.name})
    return calls


def test_every_ray_started_by_relmas_keeps_its_dashboard_on_loopback() -> None:
    # Static, so it covers `relmas train` and `relmas tune` without starting Ray. A call that
    # joins an existing cluster (address other than "local") starts no dashboard of its own.
    started = [kw for kw in _ray_inits() if kw.get("address") == "local"]
    assert {kw["file"] for kw in started} >= {"train.py", "tune.py"}
    for kw in started:
        assert kw.get("include_dashboard") is False or kw.get("dashboard_host") == "127.0.0.1", kw


# ------------------------------------------------- references load only from the named paths
@pytest.fixture
def cwd_with_policies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory (also on sys.path, as under ``python -m``) full of loadable things:
    a policy at its top, in ``default/``, in ``relmas_out/mine/``, and a module ``edf.py``."""
    for where in (tmp_path, tmp_path / "default", tmp_path / "relmas_out" / "mine"):
        shutil.copytree(SHIPPED_DIR / "default", where, dirs_exist_ok=True)
    (tmp_path / "edf.py").write_text(f"open({str(tmp_path / 'imported')!r}, 'w').close()\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("RELMAS_HOME", str(REPO))
    return tmp_path


def test_empty_rl_reference_does_not_load_the_working_directory(cwd_with_policies: Path) -> None:
    with pytest.raises(UserError, match="empty policy reference"):
        make_scheduler("rl:")


def test_bare_names_are_shipped_policies_or_paths_never_searched(cwd_with_policies: Path) -> None:
    assert resolve_policy_dir("default") == SHIPPED_DIR / "default"  # not ./default
    assert resolve_policy_dir("./default") == cwd_with_policies / "default"
    with pytest.raises(UserError, match="does not exist"):
        make_scheduler("rl:mine")  # only relmas_out/mine exists: not searched
    assert make_scheduler("rl:relmas_out/mine").recipe == make_scheduler("rl:default").recipe


def test_builtin_scheduler_names_never_import_from_the_working_directory(
    cwd_with_policies: Path,
) -> None:
    assert type(make_scheduler("edf")).__module__ == "relmas.schedulers.edf"
    assert not (cwd_with_policies / "imported").exists()


# ---------------------------------------------------------------- tracked runs: no secrets
def test_secret_named_keys_and_secret_env_values_are_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_API_TOKEN", "tok-abcdef-123")
    params = as_params({"db": {"password": "hunter2"}, "uri": "http://u:tok-abcdef-123@h", "n": 1})
    assert params == {"db/password": REDACTED, "uri": f"http://u:{REDACTED}@h", "n": "1"}
    tags = standard_tags("simulate", {}, {"api_key": "k-1", "note": "has tok-abcdef-123"})
    assert tags["api_key"] == REDACTED and "tok-abcdef-123" not in tags["note"]
    assert tags["relmas.version"] and tags["relmas.kind"] == "simulate"  # the rest is kept
    nested = redact_config({"a": [{"token": 1}, "x tok-abcdef-123"], "b": 2.5})
    assert nested == {"a": [{"token": REDACTED}, f"x {REDACTED}"], "b": 2.5}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory, _template_db: Path) -> Iterator[Any]:
    """One tracked ``relmas simulate`` (random scheduler, seed 3, trace CSV) with secrets in
    the environment; yields (run, its downloaded artifacts, the store's files, the argv)."""
    from mlflow.tracking import MlflowClient

    from relmas.tracking import client, run

    root = tmp_path_factory.mktemp("tracked")
    shutil.copyfile(_template_db, root / "mlflow.db")
    (root / "s.yaml").write_text(SCENARIO)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    argv = ["simulate", "--scenario", str(root / "s.yaml"), "--scheduler", "random", "--seed", "3",
            "--json", "--trace-out", str(root / "trace.csv"), "--tracking-uri", uri]  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.delenv("RELMAS_NO_TRACK", raising=False)
        for key, value in SECRETS.items():
            mp.setenv(key, value)
        client.backend.cache_clear()  # a fresh store: forget clients and dead URIs
        client._DEAD.clear()
        run._WARNED.clear()
        assert main(argv) == 0
    mlflow = MlflowClient(tracking_uri=uri)
    (found,) = mlflow.search_runs([mlflow.get_experiment_by_name("relmas-simulate").experiment_id])
    arts = Path(mlflow.download_artifacts(found.info.run_id, "", str(root / "dl")))
    yield found, arts, root, argv


def test_no_secret_reaches_params_tags_artifacts_or_the_store(simulated: Any) -> None:
    found, arts, root, _ = simulated
    texts = [*found.data.params, *found.data.params.values(), *found.data.tags.values(),
             *found.data.tags, found.info.run_name]  # fmt: skip
    texts += [p.read_text(errors="replace") for p in arts.rglob("*") if p.is_file()]
    assert {p.name for p in arts.rglob("*") if p.is_file()} == {"resolved_config.yaml", "trace.csv"}
    blobs = [p.read_bytes() for p in root.rglob("*") if p.is_file() and p.suffix != ".csv"]
    for secret in SECRETS.values():
        assert not any(secret in t for t in texts), secret
        assert not any(secret.encode() in b for b in blobs), secret  # the sqlite file itself


def test_a_tracked_run_carries_what_re_running_it_needs(
    simulated: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    found, arts, root, _ = simulated
    tags, params = found.data.tags, found.data.params
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    assert tags["mlflow.source.git.commit"] == head
    assert tags["relmas.version"] and tags["pkg.numpy"] and tags["pkg.pydantic"]
    assert (params["seed"], params["scheduler"], params["hardware"]) == ("3", "random", "2s2e")
    config = yaml.safe_load((arts / "resolved_config.yaml").read_text())
    # Key order matters (model order = sampling order), so the artifact, not the flattened and
    # sorted params, is the record to re-run from.
    (root / "again.yaml").write_text(yaml.safe_dump(config["scenario_config"], sort_keys=False))
    capsys.readouterr()
    argv = ["simulate", "--scenario", str(root / "again.yaml"), "--hardware", params["hardware"],
            "--scheduler", params["scheduler"], "--seed", params["seed"], "--json"]  # fmt: skip
    assert main(argv) == 0  # the scenario file is gone from the run's point of view
    again = yaml.safe_load(capsys.readouterr().out)
    for key in ("sla_rate", "energy_j", "p99_latency_s", "dispatches"):
        assert found.data.metrics[key] == again[key], key


# -------------------------------------------------------- hostile input is refused quickly
def test_alias_bomb_and_huge_file_are_refused_in_well_under_a_second(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{b}: &{b} [{', '.join(['*' + a] * 10)}]\n" for a, b in itertools.pairwise("abcdefghij")
    )
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as fh:
        fh.truncate(4 * 2**30)  # sparse: 4 GB that take no disk
    start = time.perf_counter()
    with pytest.raises(UserError, match=r"aliases expand to 1\.\d+e\+10 nodes"):
        parse_yaml(bomb, "scenario")
    with pytest.raises(UserError, match="larger than the 10485760-byte limit"):
        read_yaml(huge, "scenario")
    assert time.perf_counter() - start < 1.0


def test_user_errors_stay_one_line_and_escape_terminal_control_codes() -> None:
    err = UserError("scenario a\nb.yaml", "bad key '\x1b[2Jx'", "fix\r")
    assert "\n" not in str(err) and "\r" not in str(err) and "\x1b" not in str(err)
    assert "\\x1b[2Jx" in str(err)


@pytest.mark.parametrize("doc", ["docs/rl.md", "docs/tracking_and_sweeps.md"])
def test_docs_say_checkpoints_are_pickles_to_trust_like_code(doc: str) -> None:
    text = (REPO / doc).read_text()
    security = text[text.index("## Security") :]
    assert "pickle" in security and "like code" in security
