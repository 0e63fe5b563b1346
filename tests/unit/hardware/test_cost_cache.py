"""The .npz cost-table cache: round trip, rebuild on change, speed."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from relmas.errors import UserError
from relmas.hardware.tables import build_cost_table
from relmas.loaders import cost_cache, hardware
from relmas.loaders.models import load_model


def test_tables_are_built_cached_and_equal(data_copy: Path) -> None:
    tables = cost_cache.cost_tables(["mobilenet_v2", "resnet50"], ["eyeriss", "simba"])
    assert set(tables) == {
        (m, a) for m in ("mobilenet_v2", "resnet50") for a in ("eyeriss", "simba")
    }
    cached_files = sorted((data_copy.parent.parent / "cache").glob("*.npz"))
    assert len(cached_files) == 4
    again = cost_cache.cost_tables(["mobilenet_v2"], ["eyeriss"])[("mobilenet_v2", "eyeriss")]
    fresh = build_cost_table(
        "mobilenet_v2",
        load_model("mobilenet_v2"),
        hardware.load_accelerator("eyeriss"),
        hardware.load_dram(),
    )
    assert again.layer_names == fresh.layer_names
    np.testing.assert_array_equal(again.compute_s, fresh.compute_s)
    np.testing.assert_array_equal(again.energy_dynamic_j, fresh.energy_dynamic_j)


def test_changed_spec_rebuilds(data_copy: Path) -> None:
    before = cost_cache.cost_table("resnet50", "eyeriss")
    path = data_copy / "eyeriss.yaml"
    path.write_text(path.read_text().replace("clock_hz: 1.0e9", "clock_hz: 2.0e9"))
    after = cost_cache.cost_table("resnet50", "eyeriss")
    np.testing.assert_allclose(after.compute_s, before.compute_s / 2)
    assert len(list((data_copy.parent.parent / "cache").glob("resnet50__eyeriss__*.npz"))) == 2


def test_changed_dram_rebuilds(data_copy: Path) -> None:
    before = cost_cache.cost_table("resnet50", "simba")
    path = data_copy / "dram.yaml"
    path.write_text(path.read_text().replace("64.0e-12", "32.0e-12"))
    after = cost_cache.cost_table("resnet50", "simba")
    assert after.energy_dynamic_j.sum() < before.energy_dynamic_j.sum()


def test_corrupt_cache_file_is_rebuilt(data_copy: Path) -> None:
    table = cost_cache.cost_table("alexnet", "simba")
    (cached,) = (data_copy.parent.parent / "cache").glob("alexnet__simba__*.npz")
    cached.write_bytes(b"not a zip")
    again = cost_cache.cost_table("alexnet", "simba")
    np.testing.assert_array_equal(again.cycles, table.cycles)


def test_loading_cached_tables_takes_milliseconds(data_copy: Path) -> None:
    cost_cache.cost_tables(["resnet50", "mobilenet_v2", "vgg16"], ["eyeriss", "simba"])
    start = time.perf_counter()
    cost_cache.cost_tables(["resnet50", "mobilenet_v2", "vgg16"], ["eyeriss", "simba"])
    assert time.perf_counter() - start < 0.5  # ~10 ms measured; generous for slow CI


def test_unknown_names_fail_before_building(data_copy: Path) -> None:
    with pytest.raises(UserError, match="did you mean 'resnet50'"):
        cost_cache.cost_tables(["resnet5"], ["eyeriss"])
    with pytest.raises(UserError, match="did you mean 'simba'"):
        cost_cache.cost_tables(["resnet50"], ["smba"])
    assert not (data_copy.parent.parent / "cache").exists()


def test_edited_cost_model_source_rebuilds(
    data_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A change to the formulas in relmas/hardware/*.py must not reuse tables the old code built
    # (the key used to hash the inputs plus a hand-bumped version that was never bumped).
    sources = tmp_path / "src"
    sources.mkdir()
    copies = []
    for path in cost_cache.SOURCE_FILES:
        copies.append(sources / path.name)
        copies[-1].write_bytes(path.read_bytes())
    assert any(p.name == "dram_traffic.py" for p in copies)
    before = cost_cache.source_digest(tuple(copies))
    (sources / "dram_traffic.py").write_text((sources / "dram_traffic.py").read_text() + "#\n")
    cost_cache.source_digest.cache_clear()
    assert cost_cache.source_digest(tuple(copies)) != before
    # ... and the key of the real cache depends on that digest.
    key = cost_cache.cache_key("resnet50", "simba")
    monkeypatch.setattr(cost_cache, "SOURCE_FILES", tuple(copies))
    assert cost_cache.cache_key("resnet50", "simba") != key
