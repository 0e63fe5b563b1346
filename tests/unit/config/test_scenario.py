"""Scenario schema and loader: every bad scenario is a one-line ``UserError`` naming the field.

Each case writes a YAML file (and trace CSVs) under ``tmp_path`` and loads it the way the CLI does,
through ``load_scenario(path)``, or ``load_setup`` when the mistake only shows against the model
catalog (an unknown model name).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from relmas.config.scenario import BurstyArrival, PeriodicArrival, PoissonArrival, Scenario
from relmas.errors import UserError
from relmas.experiment import load_setup
from relmas.loaders.scenarios import load_scenario, scenario_names

TENANT: dict[str, Any] = {
    "name": "a",
    "models": {"resnet50": 1},
    "sla_multiplier": 2.0,
    "arrival": {"process": "poisson", "rate_per_s": 10.0},
}
GOOD: dict[str, Any] = {"name": "s", "num_requests": 10, "tenants": [TENANT]}


def scenario(**top: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    data.update(top)
    return data


def tenant(**fields: Any) -> dict[str, Any]:
    data = copy.deepcopy(TENANT)
    data.update(fields)
    return data


def arrival(**fields: Any) -> dict[str, Any]:
    return tenant(arrival=fields)


def _write(tmp_path: Path, data: Any, name: str = "scen.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


# (case id, scenario data, text that must appear in the error's field, text in the message)
BAD: list[tuple[str, Any, str, str]] = [
    ("negative rate", scenario(tenants=[arrival(process="poisson", rate_per_s=-1)]),
     "tenants.0.arrival.poisson.rate_per_s", "greater than 0"),
    ("zero rate", scenario(tenants=[arrival(process="bursty", rate_per_s=0)]),
     "tenants.0.arrival.bursty.rate_per_s", "greater than 0"),
    ("nan rate", scenario(tenants=[arrival(process="poisson", rate_per_s=float("nan"))]),
     "rate_per_s", "finite"),
    ("zero sla_multiplier", scenario(tenants=[tenant(sla_multiplier=0)]),
     "tenants.0.sla_multiplier", "greater than 0"),
    ("empty tenants", scenario(tenants=[]), "tenants", "at least 1"),
    ("missing tenants", {"name": "s", "num_requests": 10}, "tenants", "required"),
    ("duplicate tenant names", scenario(tenants=[tenant(), tenant()]),
     "", "tenant names must be unique"),
    ("rate and load_share", scenario(
        offered_load=1.0, tenants=[arrival(process="poisson", rate_per_s=1, load_share=1)]),
     "tenants.0.arrival", "exactly one of rate_per_s or load_share"),
    ("neither rate nor share", scenario(tenants=[arrival(process="poisson")]),
     "tenants.0.arrival", "exactly one of rate_per_s or load_share"),
    ("load_share without offered_load",
     scenario(tenants=[arrival(process="poisson", load_share=1)]), "", "offered_load"),
    ("offered_load without load_share", scenario(offered_load=0.5), "", "load_share"),
    ("no num_requests nor horizon", scenario(num_requests=None), "", "num_requests"),
    ("zero num_requests", scenario(num_requests=0), "num_requests", "greater than 0"),
    ("negative horizon", scenario(horizon_s=-1.0), "horizon_s", "greater than 0"),
    ("unknown key", scenario(warmup=3), "warmup", "Extra inputs"),
    ("typo in a tenant", scenario(tenants=[tenant(sla=2)]), "tenants.0.sla", "Extra inputs"),
    ("unknown process", scenario(tenants=[arrival(process="uniform", rate_per_s=1)]),
     "tenants.0.arrival", "uniform"),
    ("unknown bandwidth policy", scenario(bandwidth_policy="fair"), "bandwidth_policy",
     "proportional"),
    ("unknown drop policy", scenario(drop_policy="drop"), "drop_policy", "keep"),
    ("empty models", scenario(tenants=[tenant(models={})]), "tenants.0.models", "at least 1"),
    ("negative model weight", scenario(tenants=[tenant(models={"resnet50": -1})]),
     "tenants.0.models.resnet50", "greater than 0"),
    ("non-positive priority", scenario(tenants=[tenant(priorities={0: 1})]),
     "tenants.0", "priorities must be positive"),
    ("priority and priorities", scenario(tenants=[tenant(priority=3, priorities={1: 1})]),
     "tenants.0", "priority or priorities"),
    ("on_fraction above 1", scenario(
        tenants=[arrival(process="bursty", rate_per_s=1, on_fraction=1.5)]),
     "tenants.0.arrival.bursty.on_fraction", "less than or equal to 1"),
    ("zero fps", scenario(tenants=[arrival(process="periodic", fps=0)]),
     "tenants.0.arrival.periodic.fps", "greater than 0"),
    ("zero probability", scenario(tenants=[arrival(process="periodic", fps=30, probability=0)]),
     "tenants.0.arrival.periodic.probability", "greater than 0"),
    ("negative decision period", scenario(decision_period_s=-0.1), "decision_period_s",
     "greater than 0"),
    ("empty name", scenario(name=""), "name", "at least 1"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "field", "message"), [c[1:] for c in BAD], ids=[c[0] for c in BAD]
)
def test_bad_scenarios_are_user_errors_naming_the_field(
    tmp_path: Path, data: Any, field: str, message: str
) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(UserError) as err:
        load_scenario(str(path))
    assert err.value.field.startswith(f"scenario {path.name}")
    assert field in err.value.field
    assert message in err.value.problem
    assert "\n" not in str(err.value)  # one line for the CLI


def test_the_good_base_scenario_loads(tmp_path: Path) -> None:
    # Guards the table above: each case differs from a valid scenario only by its mistake.
    scen, traces = load_scenario(str(_write(tmp_path, GOOD)))
    assert scen.tenants[0].name == "a" and traces == {}
    assert isinstance(scen.tenants[0].arrival, PoissonArrival)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name: [a, b\n", "not valid YAML"),
        ("name: s\n  tenants: - x\n", "not valid YAML"),
        ("- name: s\n- name: t\n", "must hold a mapping"),
        ("", "must hold a mapping"),
        ("just a string\n", "must hold a mapping"),
    ],
    ids=["unclosed flow", "bad indentation", "a list", "empty file", "a scalar"],
)
def test_malformed_yaml(tmp_path: Path, text: str, problem: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(UserError) as err:
        load_scenario(str(path))
    assert err.value.field == "scenario"
    assert problem in err.value.problem
    assert "\n" not in str(err.value)


def test_missing_file_and_unknown_preset() -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_scenario("no/such/file.yaml")
    with pytest.raises(UserError, match="unknown name 'havy'") as err:
        load_scenario("havy")
    assert "heavy" in err.value.fix  # did you mean


def test_unknown_model_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, scenario(tenants=[tenant(models={"resnet5O": 1})]))
    with pytest.raises(UserError) as err:
        load_setup(str(path), "2s2e")
    assert "resnet5O" in str(err.value)
    assert "resnet50" in err.value.fix  # did you mean


# --------------------------------------------------------------------------- traces
def _trace_scenario(tmp_path: Path, csv_text: str) -> Path:
    (tmp_path / "t.csv").write_text(csv_text, encoding="utf-8")
    return _write(tmp_path, scenario(tenants=[arrival(process="trace", path="t.csv")]))


@pytest.mark.parametrize(
    ("csv_text", "field", "problem"),
    [
        ("arrival_s,model\n0.1,resnet50\n0.05,resnet50\n", "t.csv row 3", "backwards"),
        ("arrival_s,model\n-0.5,resnet50\n", "t.csv row 2", ">= 0"),
        ("arrival_s,model\nsoon,resnet50\n", "t.csv row 2", "not a number"),
        ("arrival_s,model\nnan,resnet50\n", "t.csv row 2", "finite"),
        ("arrival_s,model\n0.1,\n", "t.csv", "empty model"),
        ("arrival_s,model\n", "t.csv", "no rows"),
        ("model\nresnet50\n", "t.csv row 2", "arrival_s"),
        ("arrival_s,model,deadline_s\n0.1,resnet50,-1\n", "t.csv", "deadline_s"),
    ],
    ids=["unsorted", "negative", "not a number", "nan", "empty model", "no rows",
         "no arrival column", "negative deadline"],
)  # fmt: skip
def test_bad_traces(tmp_path: Path, csv_text: str, field: str, problem: str) -> None:
    path = _trace_scenario(tmp_path, csv_text)
    with pytest.raises(UserError) as err:
        load_scenario(str(path))
    assert field in err.value.field
    assert problem in err.value.problem


def test_missing_trace_file(tmp_path: Path) -> None:
    path = _write(tmp_path, scenario(tenants=[arrival(process="trace", path="gone.csv")]))
    with pytest.raises(UserError) as err:
        load_scenario(str(path))
    assert err.value.field == "tenant a: arrival.path"
    assert "gone.csv" in err.value.problem


def test_unknown_model_in_a_trace(tmp_path: Path) -> None:
    path = _trace_scenario(tmp_path, "arrival_s,model\n0.1,resnet50\n0.2,bogusnet\n")
    load_scenario(str(path))  # the CSV itself is well-formed
    with pytest.raises(UserError) as err:
        load_setup(str(path), "2s2e")
    assert "bogusnet" in str(err.value)


def test_trace_path_is_relative_to_the_scenario_file(tmp_path: Path) -> None:
    sub = tmp_path / "deep"
    sub.mkdir()
    path = _trace_scenario(sub, "arrival_s,model,priority\n0.0,resnet50,9\n0.5,vgg16,1\n")
    _, traces = load_scenario(str(path))
    tr = traces["a"]
    assert tr.arrival_s.tolist() == [0.0, 0.5]
    assert tr.model == ("resnet50", "vgg16")
    assert tr.priority is not None and tr.priority.tolist() == [9, 1]
    assert tr.deadline_s is None


# --------------------------------------------------------------------------- good scenarios
def test_priority_shorthand_and_defaults(tmp_path: Path) -> None:
    data = scenario(
        horizon_s=1.0,
        tenants=[
            tenant(name="one", priority=9),
            tenant(name="two", arrival={"process": "bursty", "rate_per_s": 5}),
            tenant(name="three", arrival={"process": "periodic", "fps": 30}),
        ],
    )
    scen, _ = load_scenario(str(_write(tmp_path, data)))
    one, two, three = scen.tenants
    assert one.priorities == {9: 1.0}
    assert two.priorities == {1: 1.0}  # default: one class, priority 1
    assert isinstance(two.arrival, BurstyArrival)
    assert (two.arrival.on_fraction, two.arrival.mean_burst_s) == (0.25, 0.05)
    assert isinstance(three.arrival, PeriodicArrival)
    assert (three.arrival.probability, three.arrival.jitter_s) == (1.0, 1e-5)
    assert scen.drop_policy == "keep" and scen.bandwidth_policy == "proportional"
    assert scen.decision_period_s is None


def test_model_names_in_first_use_order() -> None:
    scen = Scenario.model_validate(
        scenario(
            tenants=[
                tenant(name="x", models={"vgg16": 1, "alexnet": 2}),
                tenant(name="y", models={"alexnet": 1, "bert_base": 1}),
            ]
        )
    )
    assert scen.model_names == ["vgg16", "alexnet", "bert_base"]


def test_scenarios_are_frozen() -> None:
    scen = Scenario.model_validate(GOOD)
    with pytest.raises(ValueError, match="frozen"):
        scen.num_requests = 5  # type: ignore[misc]


@pytest.mark.parametrize("preset", scenario_names())
def test_every_preset_validates(preset: str) -> None:
    scen, traces = load_scenario(preset)
    assert scen.name == preset
    assert traces == {}
