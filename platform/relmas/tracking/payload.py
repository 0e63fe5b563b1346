"""What a tracked run records, as plain data, and the local offline store that keeps it.

Why plain data first: a run's params, metrics, tags and artifact paths are collected in memory
whether or not MLflow is reachable, so a dead tracking server never loses a result. If upload
fails, the whole payload is written under ``relmas_out/mlflow_offline/<local_id>/`` (atomic
writes) and ``relmas sync`` uploads it later. This module never imports mlflow.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from relmas import __version__
from relmas.files import write_json_atomic

OFFLINE_DIR = Path("relmas_out") / "mlflow_offline"
PAYLOAD_FILE = "payload.json"
SYNCED_FILE = "synced.json"
MAX_PARAM_CHARS = 6000
PACKAGES = ("numpy", "pydantic", "ray", "torch", "gymnasium", "mlflow")
_BAD_KEY = re.compile(r"[^0-9A-Za-z_\-. /]")
# A key is secret if one of its words is one of these (``GITHUB_TOKEN``, ``db/password``), or it
# holds ``api key`` / ``access key`` / ``private key``; its value is logged as REDACTED. Whole
# words, so ``sort_keys``, ``monkey`` or a plain ``key`` are not caught.
_SECRET_WORDS = frozenset({"token", "password", "passwd", "secret", "apikey", "credential",
                           "credentials", "auth"})  # fmt: skip
_SECRET_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key")})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Za-z][a-z]*|[0-9]+")
REDACTED = "REDACTED"


@dataclass
class RunPayload:
    """Everything one MLflow run holds; JSON-serialisable so it can wait offline."""

    experiment: str
    name: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[tuple[str, float, int, int]] = field(default_factory=list)  # key, value, ts, step
    artifacts: list[str] = field(default_factory=list)
    status: str = "FINISHED"
    local_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    parent_local_id: str = ""
    parent_run_id: str = ""
    partial_run_id: str = ""

    def add_metrics(self, values: dict[str, float], step: int) -> list[tuple[str, float, int, int]]:
        """Append finite-or-NaN metrics at ``step``; returns the new entries."""
        ts = int(time.time() * 1000)
        new = [(k, float(v), ts, int(step)) for k, v in values.items()]
        self.metrics.extend(new)
        return new


def clean_key(key: str) -> str:
    """MLflow accepts only ``[A-Za-z0-9_-. /]`` in keys; replace anything else by ``_``."""
    return _BAD_KEY.sub("_", key)[:250]


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "u": [2, 3]}`` -> ``{"a/b": 1, "u_0": 2, "u_1": 3}``.

    Lists of numbers become ``<key>_<i>`` so per-sub-accelerator utilisation shows up as
    ``utilization_0``..; dicts nest with ``/`` like Ray's result keys.
    """
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}/{k}" if prefix else str(k)))
    elif isinstance(obj, list | tuple) and obj and all(isinstance(v, int | float) for v in obj):
        for i, v in enumerate(obj):
            out[f"{prefix}_{i}"] = v
    else:
        out[prefix] = obj
    return {clean_key(k): v for k, v in out.items()}


def is_secret_key(key: str) -> bool:
    """True if ``key`` (split into words at ``/_.-``, digits and camelCase) names a secret."""
    words = [word.lower() for word in _WORD.findall(key)]
    pairs = set(itertools.pairwise(words))
    return bool(_SECRET_WORDS.intersection(words) or _SECRET_PAIRS & pairs)


def _env_secrets() -> list[str]:
    """Values of secret-named environment variables (8+ characters, so they cannot match
    by accident), e.g. ``MLFLOW_TRACKING_PASSWORD``; they must never appear in a run."""
    return [v for k, v in os.environ.items() if is_secret_key(k) and len(v) >= 8]


def redact(values: dict[str, str]) -> dict[str, str]:
    """Secret-named keys get REDACTED; any value containing a secret env value is masked."""
    secrets = _env_secrets()
    out: dict[str, str] = {}
    for key, value in values.items():
        if is_secret_key(key):
            value = REDACTED
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        out[key] = value
    return out


def redact_config(obj: Any) -> Any:
    """:func:`redact` for a nested config, for artifacts such as ``resolved_config.yaml``."""
    if isinstance(obj, dict):
        return {k: REDACTED if is_secret_key(str(k)) else redact_config(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_config(v) for v in obj]
    if isinstance(obj, str):
        return redact({"": obj})[""]
    return obj


def as_params(config: dict[str, Any]) -> dict[str, str]:
    """Flattened config as MLflow params (strings, at most 6000 chars each), redacted.

    Why redaction here: every tracked command logs its whole resolved config, so a secret in a
    config (a token in a reward spec, a password in a URI) would otherwise land in the store.
    """
    return redact({k: str(v)[:MAX_PARAM_CHARS] for k, v in flatten(config).items()})


def as_metrics(values: dict[str, Any]) -> dict[str, float]:
    """Flattened numeric values (bools and None dropped; NaN kept, MLflow stores it)."""
    out: dict[str, float] = {}
    for k, v in flatten(values).items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        out[k] = float(v) if math.isfinite(v) or math.isnan(v) else math.nan
    return out


def config_hash(config: dict[str, Any]) -> str:
    """Short stable hash of a resolved config: equal configs group together in the UI."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """HEAD of the repo holding the package (empty if not a git checkout or git missing)."""
    repo = Path(__file__).resolve().parents[3]
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """``pkg.<name>`` -> installed version (once per process: a sweep tags hundreds of runs)."""
    out: dict[str, str] = {}
    for pkg in PACKAGES:
        try:
            out[f"pkg.{pkg}"] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def standard_tags(
    kind: str, config: dict[str, Any], extra: dict[str, Any], lean: bool = False
) -> dict[str, str]:
    """Reproducibility tags: kind, relmas version, git commit, config hash, package versions.

    ``lean`` (a sweep's trial runs) keeps kind and config hash only: the versions and commit
    are the parent's, and a tag is a row MLflow writes per trial (288 trials in a DSE sweep).
    """
    tags = {"relmas.kind": kind, "relmas.config_hash": config_hash(config)}
    if not lean:
        tags["relmas.version"] = __version__
        commit = git_commit()
        if commit:
            tags["mlflow.source.git.commit"] = commit
        tags.update(package_versions())
    tags.update({k: str(v) for k, v in extra.items() if v is not None})
    return redact(tags)


def save_offline(payload: RunPayload, root: Path | None = None) -> Path:
    """Persist ``payload`` (artifacts copied in) so ``relmas sync`` can upload it later."""
    run_dir = (root or OFFLINE_DIR) / payload.local_id
    art_dir = run_dir / "artifacts"
    kept: list[str] = []
    for src in map(Path, payload.artifacts):
        if src.is_file():
            art_dir.mkdir(parents=True, exist_ok=True)
            tmp = art_dir / f".{src.name}.tmp"
            shutil.copyfile(src, tmp)
            os.replace(tmp, art_dir / src.name)
            kept.append(str((art_dir / src.name).resolve()))
    data = asdict(payload) | {"artifacts": kept}
    write_json_atomic(run_dir / PAYLOAD_FILE, data, strict=False)  # NaN metrics round-trip
    return run_dir


def load_offline(run_dir: Path) -> RunPayload:
    """Read a payload written by :func:`save_offline`."""
    data = json.loads((run_dir / PAYLOAD_FILE).read_text(encoding="utf-8"))
    data["metrics"] = [tuple(m) for m in data["metrics"]]
    return RunPayload(**data)


def pending_runs(root: Path | None = None) -> list[Path]:
    """Offline run directories not yet synced, parents before children, oldest first."""
    base = root or OFFLINE_DIR
    if not base.is_dir():
        return []
    dirs = [d for d in base.iterdir() if (d / PAYLOAD_FILE).is_file()]
    dirs = [d for d in dirs if not (d / SYNCED_FILE).is_file()]
    dirs.sort(key=lambda d: (d / PAYLOAD_FILE).stat().st_mtime)
    return sorted(dirs, key=lambda d: bool(load_offline(d).parent_local_id))
