"""The results tables in README.md and docs/ are what scripts/update_tables.py writes: a fresh
run reproduces the committed table to the last digit (runs are deterministic)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "update_tables", ROOT / "scripts/update_tables.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regions_are_found_and_rewritten_in_place() -> None:
    tables = _script()
    text = (
        "a\n<!-- table: t1 (x) -->\nold\n<!-- /table: t1 -->\n"
        "b\n<!-- table: t2 -->\n<!-- /table: t2 -->\n"
    )
    assert tables.regions(text) == ["t1", "t2"]
    new = tables.rewrite(text, {"t1": "| new |"})
    assert new == text.replace("old\n", "| new |\n")
    assert tables.rewrite(new, {"t1": "| new |"}) == new  # idempotent


def test_every_marked_region_has_a_generator() -> None:
    tables = _script()
    for rel in tables.FILES:
        names = tables.regions((ROOT / rel).read_text(encoding="utf-8"))
        assert names and set(names) <= set(tables.GENERATORS), rel


@pytest.mark.slow
def test_readme_results_table_matches_a_fresh_run() -> None:
    """README's heavy / 2s2e table (6 schedulers x seeds 0-4, 30 runs, ~1 min on 2 cores)."""
    tables = _script()
    assert tables.update(["results-heavy"], jobs=2, check=True) == [], (
        "README's results table is stale: run .venv/bin/python scripts/update_tables.py"
    )
