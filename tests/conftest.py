"""Fixtures shared by every test tier: a tiny scenario, a migrated MLflow store, a local Ray.

Kept in one place so the tiers agree on them; in particular Ray is module-scoped everywhere,
because ``tests/test_layout.py`` starts its own Ray (with a ``working_dir`` runtime env) and a
session-long instance from another directory would make that ``ray.init`` fail.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SMALL_SCENARIO = """\
name: small
description: tiny mixed workload for tests (40 requests)
num_requests: 40
offered_load: 0.9
tenants:
  - name: vision
    models: {resnet50: 1, mobilenet_v2: 1}
    priorities: {1: 1, 9: 1}
    sla_multiplier: 3.0
    arrival: {process: poisson, load_share: 1}
"""


@pytest.fixture(autouse=True)
def _no_tracking_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands under test must not write ./mlflow.db; tracking tests re-enable it explicitly
    (their ``sqlite_uri`` fixtures delete this variable)."""
    monkeypatch.setenv("RELMAS_NO_TRACK", "1")


@pytest.fixture()
def small_scenario(tmp_path: Path) -> Path:
    """A 40-request scenario YAML in a temporary directory."""
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_SCENARIO)
    return path


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow sqlite store with the schema already migrated (copying it takes ms, migrating
    a fresh file takes seconds)."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture()
def fresh_mlflow_db(tmp_path: Path, _template_db: Path) -> Path:
    """A copy of the migrated store in ``tmp_path``."""
    shutil.copyfile(_template_db, tmp_path / "mlflow.db")
    return tmp_path / "mlflow.db"


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    """A private local Ray (``address="local"``: never attach to a running or stale cluster)."""
    ray = pytest.importorskip("ray")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    yield ray
    ray.shutdown()
