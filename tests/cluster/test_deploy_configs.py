"""The example cluster definitions in deploy/ stay valid and consistent with the project.

Nothing here starts a cluster. Each file is checked by the tool that consumes it where that tool
ships offline (Ray's runtime_env validator, the cluster launcher's prepare + JSON-schema
validation that ``ray up`` runs, Ray's working_dir packager) and otherwise against the facts it
must agree with: the Ray version and pins in pyproject.toml, a sweep file and a ``relmas``
command that exist (the RayJob entrypoint is dry-run through the real CLI, in the environment
the job would give it).
"""

from __future__ import annotations

import copy
import json
import shlex
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from relmas.cli.main import main
from relmas.sweeps import cluster

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
RAY_VERSION = "2.60.0"
IMAGE = f"rayproject/ray:{RAY_VERSION}-py311"
EXTRAS = ("rl", "tracking", "search")  # what a cluster node needs (not dev, not zigzag)


def _load(name: str) -> Any:
    return yaml.safe_load((DEPLOY / name).read_text())


def _pinned() -> dict[str, Requirement]:
    """Every requirement a node needs, by name, as pyproject.toml states it."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    reqs = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    reqs += [Requirement(r) for extra in EXTRAS for r in extras[extra]]
    return {r.name: r for r in reqs}


def test_pyproject_pins_the_ray_version_the_images_carry() -> None:
    ray = _pinned()["ray"]
    assert str(ray.specifier) == f"=={RAY_VERSION}", ray
    python = IMAGE.rsplit("-py", 1)[1]
    spec = PYPROJECT["project"]["requires-python"]
    assert spec == ">=3.11" and int(python[1:]) >= 11, (IMAGE, spec)


def _containers(job: dict[str, Any]) -> list[dict[str, Any]]:
    spec = job["spec"]["rayClusterSpec"]
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    return [c for g in groups for c in g["template"]["spec"]["containers"]]


def test_rayjob_cluster_spec() -> None:
    job = _load("kuberay-rayjob.yaml")
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    spec = job["spec"]
    cluster_spec = spec["rayClusterSpec"]
    assert cluster_spec["rayVersion"] == RAY_VERSION
    assert cluster_spec["authOptions"] == {"mode": "token"}
    assert spec["shutdownAfterJobFinishes"] is True and spec["ttlSecondsAfterFinished"] > 0
    assert cluster_spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    (workers,) = cluster_spec["workerGroupSpecs"]
    assert 0 <= workers["minReplicas"] <= workers["replicas"] <= workers["maxReplicas"]
    for container in _containers(job):
        assert container["image"] == IMAGE, container["name"]
        res = container["resources"]
        assert res["requests"] == res["limits"] and "cpu" in res["requests"], container["name"]
        assert not any("gpu" in k for k in res["limits"]), "CPU-only cluster"
        assert {"name": "shared", "mountPath": "/mnt/shared"} in container["volumeMounts"]


def _runtime_env(job: dict[str, Any]) -> dict[str, Any]:
    return dict(yaml.safe_load(job["spec"]["runtimeEnvYAML"]))


def test_rayjob_runtime_env_is_valid_and_pinned_like_pyproject() -> None:
    from ray.runtime_env import RuntimeEnv

    env = _runtime_env(_load("kuberay-rayjob.yaml"))
    RuntimeEnv(**env)  # Ray's own validation (working_dir URI, pip options, env_vars types)
    assert env["working_dir"].startswith("https://") and env["working_dir"].endswith(".zip")
    assert env["env_vars"]["PYTHONPATH"] == "platform"
    assert env["env_vars"]["MLFLOW_TRACKING_URI"].startswith("http://")
    assert cluster.check_package_layout(env) == []
    listed = {r.name: r for r in map(Requirement, env["pip"]["packages"])}
    pinned = _pinned()
    assert listed.keys() == pinned.keys(), set(listed) ^ set(pinned)
    for name, req in listed.items():
        assert req.specifier == pinned[name].specifier, (req, pinned[name])
        assert req.extras >= pinned[name].extras, (req, pinned[name])
    assert "https://download.pytorch.org/whl/cpu" in env["pip"]["pip_install_options"]


def test_rayjob_entrypoint_dry_runs_in_the_job_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    job = _load("kuberay-rayjob.yaml")
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:4] == ["python", "-m", "relmas.cli.main", "tune"], argv
    assert (REPO / argv[4]).is_file() and argv[4].startswith("tune_configs/"), argv
    storage = Path(argv[argv.index("--storage") + 1])
    assert storage.is_relative_to("/mnt/shared"), "storage must be on the shared volume"
    monkeypatch.chdir(REPO)  # the job's cwd is the unpacked working_dir
    monkeypatch.delenv("RELMAS_NO_TRACK", raising=False)
    monkeypatch.setenv(cluster.JOB_ENV, "{}")
    for key, value in _runtime_env(job)["env_vars"].items():
        monkeypatch.setenv(key, value)
    assert main([*argv[3:], "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["trials"] > 0 and plan["target"] == "auto" and plan["storage"] == str(storage)
    assert plan["tracking_uri"] == _runtime_env(job)["env_vars"]["MLFLOW_TRACKING_URI"]
    assert plan["submit_problems"] == [], plan["submit_problems"]


def test_runtime_env_file_ships_the_package_and_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ray._private.runtime_env.packaging import create_package  # what ray job submit runs

    monkeypatch.chdir(REPO)  # working_dir "." is the directory the command runs in
    env = cluster.load_runtime_env(DEPLOY / "runtime_env.yaml", cluster.ClusterTarget("auto"))
    assert env["working_dir"] == str(REPO) and env["env_vars"] == {"PYTHONPATH": "platform"}
    assert cluster.check_package_layout(env) == []
    zipped = tmp_path / "wd.zip"
    create_package(env["working_dir"], zipped, include_gitignore=True, excludes=env["excludes"])
    names = set(zipfile.ZipFile(zipped).namelist())
    needed = ["platform/relmas/__init__.py", "platform/relmas/sweeps/cluster.py",
              "platform/relmas/rl/policies/default/policy.npz", "hardware_models/compositions.yaml",
              "envs/medium.yaml", "tune_configs/quickstart.yaml"]  # fmt: skip
    assert not [n for n in needed if n not in names], "missing from the upload"
    tops = {n.split("/")[0] for n in names}
    assert not tops & {".git", ".venv", "relmas_out", ".hypothesis"}, tops
    assert "platform/__init__.py" not in names
    assert zipped.stat().st_size < 20 * 2**20, "keep the upload small (gRPC limit ~512 MiB)"


def test_ray_up_config_passes_the_cluster_launcher_validation() -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = _load("ray-cluster.onprem.yaml")
    validate_config(prepare_config(copy.deepcopy(config)))  # what `ray up` runs before SSH
    broken = copy.deepcopy(config)
    broken["docker"]["imge"] = IMAGE
    with pytest.raises(Exception, match="imge"):  # the validation is not a no-op
        validate_config(prepare_config(broken))


def test_ray_up_config_installs_pinned_relmas_with_token_auth() -> None:
    config = _load("ray-cluster.onprem.yaml")
    assert config["docker"]["image"] == IMAGE
    assert "-e RAY_AUTH_MODE=token" in config["docker"]["run_options"]
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    assert config["file_mounts"]["~/relmas"] == "."
    (install,) = config["setup_commands"]
    assert f'-e "$HOME/relmas[{",".join(EXTRAS)}]"' in install
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in install
    head = " ".join(config["head_start_ray_commands"])
    assert "ray start --head" in head and "--dashboard-host=127.0.0.1" in head
    assert "mlflow server" in head and "--host 127.0.0.1" in head
    assert any("ray start --address=$RAY_HEAD_IP" in c for c in config["worker_start_ray_commands"])
