"""Shared fixtures: the shipped accelerator specs, and a private copy of the data tree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from relmas.hardware.spec import AcceleratorSpec, DramSpec
from relmas.loaders import hardware
from relmas.loaders.paths import data_root


@pytest.fixture(scope="session")
def eyeriss() -> AcceleratorSpec:
    return hardware.load_accelerator("eyeriss")


@pytest.fixture(scope="session")
def simba() -> AcceleratorSpec:
    return hardware.load_accelerator("simba")


@pytest.fixture(scope="session")
def simba_chiplet() -> AcceleratorSpec:
    return hardware.load_accelerator("simba_chiplet")


@pytest.fixture(scope="session")
def dram() -> DramSpec:
    return hardware.load_dram()


@pytest.fixture
def data_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of hardware_models/ used as RELMAS_HOME, with a private cache dir."""
    source = data_root() / "hardware_models"
    shutil.copytree(source, tmp_path / "home" / "hardware_models")
    monkeypatch.setenv("RELMAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RELMAS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "home" / "hardware_models"
