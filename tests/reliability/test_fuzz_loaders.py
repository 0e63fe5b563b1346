"""Fuzzed input files: every loader returns a valid object or raises ``UserError``, nothing else.

Inputs are random text and bytes, character-level edits of shipped files, and structural edits
of valid documents (a value replaced by a weird one, a key deleted, renamed or added). Any other
exception is a crash a user would see as a traceback. Derandomized, so CI sees the same cases.
"""

from __future__ import annotations

import argparse
import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from relmas.cli.train import resolve_job
from relmas.errors import UserError
from relmas.experiment import load_setup
from relmas.hardware.spec import AcceleratorSpec, DramSpec
from relmas.loaders import hardware
from relmas.loaders.paths import data_root
from relmas.loaders.safe_yaml import parse_yaml
from relmas.loaders.scenarios import load_scenario, load_trace
from relmas.sweeps.config import load_sweep

FUZZ = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SLOW = settings(FUZZ, max_examples=100)  # examples that build chips or scan the schedulers
ROOT = data_root()
TENANT = {"name": "a", "models": {"resnet50": 1.0, "alexnet": 2.0}, "priorities": {1: 1, 9: 1},
          "sla_multiplier": 3.0, "arrival": {"process": "bursty", "load_share": 1.0}}  # fmt: skip
SCENARIOS = [
    {"name": "f", "num_requests": 20, "offered_load": 0.8, "tenants": [TENANT]},
    {"name": "g", "horizon_s": 0.05, "tenants": [
        {**TENANT, "arrival": {"process": "periodic", "fps": 60, "probability": 0.5}},
        {**TENANT, "name": "b", "arrival": {"process": "trace", "path": "t.csv"}}]},
    *(yaml.safe_load((ROOT / f"envs/{name}.yaml").read_text()) for name in ("heavy", "arvr")),
]  # fmt: skip
TRACE = "arrival_s,model,priority,deadline_s\n0.0,resnet50,1,0.5\n0.01,alexnet,9,0.2\n"
WEIRD = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(), st.text(max_size=8),
    st.sampled_from(["", "heavy", "2s2e", "all", "trace", "poisson", "rl", ".nan", "-1"]),
    st.lists(st.one_of(st.integers(-3, 3), st.text(max_size=3)), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(-2, 2), max_size=2),
)  # fmt: skip


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists."""
    items = (
        obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    )
    out = []
    for key, value in items:
        out.append((*prefix, key))
        out += _paths(value, (*prefix, key))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` with 1-3 random structural edits."""
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        if not paths:
            break
        *parent_path, key = draw(st.sampled_from(paths))
        parent = data
        for part in parent_path:
            parent = parent[part]
        op = draw(st.sampled_from(["replace", "replace", "delete", "rename", "add"]))
        if op == "replace":
            parent[key] = draw(WEIRD)
        elif op == "delete":
            del parent[key]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=6))] = parent.pop(key)
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=6))] = draw(WEIRD)
    return data


@st.composite
def edited_text(draw: st.DrawFn, text: str) -> str:
    """``text`` with 1-4 characters replaced, deleted or inserted (YAML-significant ones)."""
    chars = st.sampled_from([*":-[]{}&*!|>'\"#\n \t%@`,?", "\x00", "é", "\ufeff"])
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.text(chars, max_size=2)) + text[i + draw(st.integers(0, 2)) :]
    return text


def _only_user_errors(call: Callable[[], Any]) -> None:
    """Run a loader: success or a one-line UserError, anything else fails the test."""
    try:
        call()
    except UserError as exc:
        assert "\n" not in str(exc), str(exc)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory for the files each example writes (overwritten per example)."""
    path = tmp_path_factory.mktemp("fuzz")
    (path / "t.csv").write_text(TRACE)
    return path


def _write(path: Path, content: Any) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))))
def test_random_text_parses_or_is_a_user_error(text: str) -> None:
    _only_user_errors(lambda: parse_yaml(text, "fuzz"))


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_random_files_as_scenario_trace_and_sweep(work: Path, content: str | bytes) -> None:
    path = _write(work / "r.yaml", content)
    _only_user_errors(lambda: load_scenario(str(path)))
    _only_user_errors(lambda: load_sweep(path))
    _only_user_errors(lambda: load_trace(_write(work / "r.csv", content), "a"))


@SLOW
@given(st.sampled_from(range(len(SCENARIOS))).flatmap(lambda i: mutated(SCENARIOS[i])))
@example({**SCENARIOS[0], "tenants": [{**TENANT, "priority": [1, 2]}]})  # found: unhashable key
def test_mutated_scenarios_load_and_build(work: Path, data: Any) -> None:
    path = _write(work / "s.yaml", data)
    _only_user_errors(lambda: load_setup(str(path), "1s1e"))


@FUZZ
@given(edited_text((ROOT / "envs/arvr.yaml").read_text()))
def test_edited_scenario_text(work: Path, text: str) -> None:
    path = _write(work / "s.yaml", text)
    _only_user_errors(lambda: load_scenario(str(path)))


CELLS = ["0", "0.5", "-1", "nan", "inf", "1e400", "", "resnet50", "vgg16", "bogus", "9", "x,y"]
CSV_CELL = st.one_of(st.sampled_from([*CELLS, '"q"', "0.5e-3"]), st.text(max_size=4))


@FUZZ
@given(st.lists(st.lists(CSV_CELL, min_size=1, max_size=5), max_size=6), st.booleans())
def test_trace_csv_rows(work: Path, rows: list[list[str]], header: bool) -> None:
    head = ["arrival_s,model,priority,deadline_s"] if header else []
    text = "\n".join(head + [",".join(r) for r in rows])
    path = _write(work / "t2.csv", text)
    _only_user_errors(lambda: load_trace(path, "a"))


def _hardware_doc(name: str) -> Any:
    return yaml.safe_load((ROOT / "hardware_models" / f"{name}.yaml").read_text())


@FUZZ
@given(st.sampled_from(["eyeriss", "simba", "dram"]).flatmap(
    lambda n: st.tuples(st.just(n), mutated(_hardware_doc(n)))))  # fmt: skip
def test_mutated_hardware_specs(pair: tuple[str, Any]) -> None:
    name, data = pair
    model = DramSpec if name == "dram" else AcceleratorSpec
    _only_user_errors(lambda: hardware.validate(model, data, f"{name}.yaml"))


@SLOW
@given(mutated(_hardware_doc("compositions")))
def test_mutated_compositions(work: Path, data: Any) -> None:
    home = work / "home"
    if not home.exists():
        shutil.copytree(ROOT / "hardware_models", home / "hardware_models")
    _write(home / "hardware_models/compositions.yaml", data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RELMAS_HOME", str(home))
        _only_user_errors(hardware.load_compositions)


@SLOW
@given(st.sampled_from(["heuristics_dse", "reward_shaping", "hardware_dse"]).flatmap(
    lambda n: mutated(yaml.safe_load((ROOT / f"tune_configs/{n}.yaml").read_text()))))  # fmt: skip
def test_mutated_sweeps(work: Path, data: Any) -> None:
    path = _write(work / "w.yaml", data)
    _only_user_errors(lambda: load_sweep(path))


@FUZZ
@given(mutated(yaml.safe_load((ROOT / "tune_configs/train_heavy.yaml").read_text())))
def test_mutated_train_recipes(work: Path, data: Any) -> None:
    path = _write(work / "c.yaml", data)
    args = argparse.Namespace(config=path)
    _only_user_errors(lambda: resolve_job(args))
