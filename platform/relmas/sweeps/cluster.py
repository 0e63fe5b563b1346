"""Running a sweep on an existing Ray cluster: which cluster to join, and the checks before it.

Why a module of its own: on one machine every path, store and import just works; on a cluster
each one breaks in its own way, late (after the first trials) or silently. A relative
``--storage`` inside ``ray job submit`` lands in the job's temporary copy of ``working_dir``,
which Ray deletes; a sqlite store on a multi-node cluster is a file on whichever node the driver
ran on (with ``ray://`` the Tune loop runs on the head, not where you typed the command); a path
only the head can see makes every trial on another node fail to read its scenario; a
``runtime_env`` that does not put ``relmas`` on the workers' path fails every trial with
``ModuleNotFoundError``. Each check turns one of these into a one-line :class:`UserError` (exit
2) before Tune starts a trial. Ray is imported inside functions only.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from relmas.errors import UserError
from relmas.loaders.safe_yaml import read_yaml
from relmas.tracking.run import TrackingOptions

JOB_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"  # set by Ray's job supervisor for every entrypoint
PREFLIGHT_TIMEOUT_S = 600.0  # a node's first task may wait for a pip runtime_env to install
SERVER_FIX = (
    "start `mlflow server --host 0.0.0.0 --port 5000` where every node can reach it and pass "
    "--tracking-uri http://HOST:5000 (or set MLFLOW_TRACKING_URI), or use --no-track"
)
SHARED_FIX = (
    "use a filesystem mounted at the same path on every node (NFS/EFS, a ReadWriteMany volume "
    "on KubeRay) and pass that path"
)
SHIP_FIX = (
    "ship the repo with a runtime_env (working_dir: the repo, env_vars: {PYTHONPATH: platform}; "
    "see deploy/runtime_env.yaml) or install relmas on every node"
)


@dataclass(frozen=True)
class ClusterTarget:
    """Where the driver runs: a fresh local Ray (``address`` None) or an existing cluster."""

    address: str | None
    in_job: bool = False

    @property
    def remote(self) -> bool:
        """True when joining a cluster that someone else started."""
        return self.address is not None

    @property
    def client(self) -> bool:
        """Ray Client (``ray://``): Tune's driver loop then runs on the head node."""
        return bool(self.address) and str(self.address).startswith("ray://")


def resolve_target(address: str | None, environ: Mapping[str, str] | None = None) -> ClusterTarget:
    """``--address`` wins; inside ``ray job submit`` the job's own cluster; else local Ray."""
    env = os.environ if environ is None else environ
    in_job = JOB_ENV in env
    if address and address.startswith(("http://", "https://")):
        raise UserError(
            "--address",
            f"{address} is the dashboard (job submission) address, not a cluster to join",
            f"submit with `ray job submit --address {address} ...` (add --dry-run to print it), "
            "or pass auto, HOST:6379 or ray://HOST:10001",
        )
    if address == "local":
        return ClusterTarget(None, in_job)
    if address:
        return ClusterTarget(address, in_job)
    if in_job:
        return ClusterTarget(env.get("RAY_ADDRESS") or "auto", True)
    return ClusterTarget(None, False)


def resolve_storage(raw: str | Path, target: ClusterTarget) -> Path:
    """The absolute experiment root; URIs and job-relative paths are refused with the fix."""
    text = str(raw)
    if "://" in text:
        raise UserError(
            "--storage",
            f"{text} is a URI, but relmas keeps its sweep ledger and prepared scenario files "
            "there and trials read them as plain files",
            SHARED_FIX,
        )
    path = Path(text).expanduser()
    if target.in_job and not path.is_absolute():
        raise UserError(
            "--storage",
            f"{text} is relative: inside a Ray job it lands in the job's temporary copy of "
            "working_dir, which Ray deletes",
            "pass an absolute path on shared storage, e.g. --storage /mnt/shared/relmas/tune",
        )
    return path.resolve()


def local_store(uri: str) -> Path | None:
    """The file behind a sqlite/file/plain-path MLflow URI (None for a server or database)."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///"))
    if uri.startswith("file:"):
        return Path(urlparse(uri).path)
    return None if "://" in uri or uri.startswith("databricks") else Path(uri)


def check_tracking(opts: TrackingOptions, target: ClusterTarget, nodes: int = 1) -> None:
    """Refuse a file store where runs would be split across nodes or deleted with the job."""
    if not opts.enabled:
        return
    uri = opts.resolved_uri
    path = local_store(uri)
    if path is None:
        return
    if nodes > 1 or target.client:
        where = (
            f"the cluster has {nodes} nodes"
            if nodes > 1
            else "with ray:// Tune's driver loop logs from the head node, not this machine"
        )
        raise UserError("--tracking-uri", f"{uri} is a local file store but {where}", SERVER_FIX)
    if target.in_job and path.resolve().is_relative_to(Path.cwd().resolve()):
        raise UserError(
            "--tracking-uri",
            f"{uri} is inside the job's temporary copy of working_dir, which Ray deletes",
            SERVER_FIX,
        )


def load_runtime_env(path: Path, target: ClusterTarget) -> dict[str, Any]:
    """Read a runtime_env YAML for ``ray.init`` (relative paths are relative to the cwd, as
    with ``ray job submit --runtime-env``), check the package layout, let Ray validate it."""
    if target.in_job:
        raise UserError(
            "--runtime-env",
            "this command runs inside a Ray job, which already has the runtime_env of "
            "`ray job submit`",
            "drop --runtime-env here and give it to ray job submit",
        )
    data = read_yaml(path, "--runtime-env")  # size-, alias- and depth-capped, one-line errors
    if not isinstance(data, dict):
        raise UserError("--runtime-env", f"{path} must hold a mapping", "see deploy/")
    if isinstance(data.get("working_dir"), str) and "://" not in data["working_dir"]:
        data["working_dir"] = str(Path(data["working_dir"]).expanduser().resolve())
    check_package_layout(data)
    from ray.runtime_env import RuntimeEnv

    try:
        RuntimeEnv(**data)
    except (TypeError, ValueError) as exc:
        raise UserError("--runtime-env", f"{path}: {exc}", "see deploy/runtime_env.yaml") from None
    return data


def check_package_layout(runtime_env: Mapping[str, Any]) -> list[str]:
    """Refuse layouts that shadow the stdlib ``platform``; return notes on likely mistakes."""
    modules = [str(m) for m in runtime_env.get("py_modules") or []]
    if any(Path(m).name == "platform" for m in modules if "://" not in m):
        raise UserError(
            "runtime_env.py_modules",
            "platform/ is the source root, not a package (and the name of a stdlib module)",
            "list platform/relmas instead, or ship the repo as working_dir",
        )
    wd = runtime_env.get("working_dir")
    if not isinstance(wd, str) or "://" in wd:
        return []
    if (Path(wd) / "platform" / "__init__.py").exists():
        raise UserError(
            "runtime_env.working_dir",
            f"{wd}/platform/__init__.py shadows the stdlib platform module on every worker",
            "delete platform/__init__.py (platform/ is a source root)",
        )
    pythonpath = str((runtime_env.get("env_vars") or {}).get("PYTHONPATH", ""))
    if (Path(wd) / "platform" / "relmas").is_dir() and "platform" not in pythonpath.split(":"):
        return ["working_dir holds platform/relmas but PYTHONPATH lacks 'platform': workers "
                "import relmas only if it is installed on every node"]  # fmt: skip
    return []


def trial_scenarios(scenarios: list[str], prepared: bool) -> list[str]:
    """Scenario refs trials will read themselves (prepared ones live in the storage dir).

    Mirrors :func:`relmas.sweeps.space.prepare_scenario`: YAML paths become absolute on the
    driver, preset names are resolved by each node against its own data root.
    """
    if prepared:
        return []
    return [str(Path(s).resolve()) if s.endswith((".yaml", ".yml")) else s for s in scenarios]


def _make_probe() -> Callable[[list[str], list[str]], dict[str, Any]]:
    """The per-node check, a closure so cloudpickle ships it by value: it must still run and
    report on a node where relmas itself cannot be imported."""

    def probe(paths: list[str], scenarios: list[str]) -> dict[str, Any]:
        import platform
        import sysconfig
        from pathlib import Path as _Path

        out: dict[str, Any] = {
            "platform": str(_Path(platform.__file__).resolve()),
            "stdlib": str(_Path(sysconfig.get_paths()["stdlib"]).resolve()),
            "missing": [p for p in paths if not _Path(p).exists()],
        }
        try:
            import relmas
            from relmas.loaders.paths import data_root
            from relmas.loaders.scenarios import load_scenario

            out["relmas"] = f"{relmas.__version__} from {_Path(relmas.__file__).parent}"
            out["data_root"] = str(data_root())
            for ref in scenarios:
                load_scenario(ref)
        except Exception as exc:  # reported to the driver, which turns it into a UserError
            out["error"] = f"{type(exc).__name__}: {exc}"
        return out

    return probe


def probe_nodes(storage: Path, scenarios: list[str], timeout_s: float) -> list[dict[str, Any]]:
    """Run the probe once on every alive node; a marker file written here tests ``storage``."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    storage.mkdir(parents=True, exist_ok=True)
    marker = storage / f".relmas-preflight-{uuid.uuid4().hex}"
    marker.write_text("written by the driver; every node must see it\n", encoding="utf-8")
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        task = ray.remote(num_cpus=0, max_retries=0)(_make_probe())
        refs = [
            task.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
            ).remote([str(marker)], scenarios)
            for n in nodes
        ]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
        reports = []
        for node, ref in zip(nodes, refs, strict=True):
            report = {"error": f"no answer within {timeout_s:.0f} s", "missing": []}
            if ref in ready:
                try:
                    report = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    report = {"error": str(exc).strip().splitlines()[-1], "missing": []}
            reports.append({"ip": node.get("NodeManagerAddress", "?"), **report})
        return reports
    finally:
        marker.unlink(missing_ok=True)


def _node_problem(r: dict[str, Any], storage: Path, version: str) -> UserError | None:
    """The first thing wrong with one node's probe report, as the error the CLI prints."""
    node = f"node {r['ip']}"
    if "platform" in r and not Path(r["platform"]).is_relative_to(r["stdlib"]):
        found = f"`import platform` on {node} finds {r['platform']}, not the stdlib"
        return UserError("runtime_env", found, "remove platform/__init__.py from the shipped code")
    if r["missing"]:
        found = f"{storage} is not shared: {node} cannot see files in it"
        return UserError("--storage", found, SHARED_FIX)
    if "relmas" not in r:
        return UserError(
            "runtime_env", f"relmas is not importable on {node}: {r['error']}", SHIP_FIX
        )
    if "error" in r:
        return UserError("cluster", f"{node}: {r['error']}", SHIP_FIX)
    if not r["relmas"].startswith(f"{version} "):
        found = f"{node} runs relmas {r['relmas']}, the driver {version}"
        return UserError("runtime_env", found, SHIP_FIX)
    return None


def check_reports(reports: list[dict[str, Any]], storage: Path, version: str) -> str:
    """Raise the first problem a node reported; otherwise return a one-line summary."""
    for report in reports:
        problem = _node_problem(report, storage, version)
        if problem is not None:
            raise problem
    ips = ", ".join(r["ip"] for r in reports)
    sources = "; ".join(sorted({r["relmas"] for r in reports}))
    return (
        f"cluster preflight ok: {len(reports)} node(s) [{ips}]; relmas {sources}; "
        f"stdlib platform; storage {storage} visible on every node"
    )
