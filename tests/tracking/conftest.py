"""Fixtures for tracking tests: a pre-migrated sqlite store copied per test, a closed port.

Why a template: creating MLflow's schema on a fresh sqlite file runs Alembic migrations
(several seconds); copying an already-migrated file takes milliseconds.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture()
def sqlite_uri(tmp_path: Path, fresh_mlflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, migrated sqlite store in ``tmp_path``; cwd moves there too (offline dir)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("RELMAS_NO_TRACK", raising=False)
    from relmas.tracking import client, run

    client.backend.cache_clear()
    client._DEAD.clear()
    run._WARNED.clear()
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture()
def closed_port_uri() -> Iterator[str]:
    """An http URI on a loopback port nobody listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield f"http://127.0.0.1:{port}"
