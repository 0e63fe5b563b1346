"""Fixtures for CLI tests (the small scenario comes from tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_tracking(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI tests must not write ./mlflow.db; tracking has its own tests (tests/tracking)."""
    monkeypatch.setenv("RELMAS_NO_TRACK", "1")
