"""Sweep-file validation (no Ray): every mistake is a one-line UserError naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from relmas.errors import UserError
from relmas.sweeps.config import load_sweep
from relmas.sweeps.pareto import pareto_front

REPO = Path(__file__).resolve().parents[2]
BASE = "name: x\ntrainable: {t}\nscenarios: [light]\nhardware: {hw}\n"
HW = "{n_simba: [1, 2], n_eyeriss: 0, dram_bandwidth_gbps: {uniform: [8, 32]}}"


# ``train_*.yaml`` are ``relmas train --config`` recipes, validated in tests/rl.
SWEEPS = sorted(
    p.name for p in (REPO / "tune_configs").glob("*.yaml") if not p.name.startswith("train_")
)


@pytest.mark.parametrize("name", SWEEPS)
def test_shipped_sweep_files_validate(name: str) -> None:
    assert load_sweep(REPO / "tune_configs" / name).name == Path(name).stem


@pytest.mark.parametrize(
    ("extra", "trainable", "hw", "needle"),
    [
        ("", "heuristic", "{n_simba: [0, 1], n_eyeriss: 0, dram_bandwidth_gbps: 8}", "both be 0"),
        ("search: {metric: episode_return_mean}\n", "rl", HW, "not an unshaped KPI"),
        ("scheduler: {type: pbt, mutations: {bandwidth: [0, 1]}}\n", "heuristic", HW, "pbt needs"),
        ("scheduler: {type: pbt}\n", "rl", HW, "mutations"),
        (
            "",
            "heuristic",
            "{n_simba: {uniform: [3, 1]}, n_eyeriss: 1, dram_bandwidth_gbps: 8}",
            "low",
        ),
        ("bogus: 1\n", "heuristic", HW, "bogus"),
    ],
)
def test_bad_sweep_files_fail_in_one_line(
    tmp_path: Path, extra: str, trainable: str, hw: str, needle: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BASE.format(t=trainable, hw=hw) + extra)
    with pytest.raises(UserError) as err:
        load_sweep(path)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_pareto_front_drops_dominated_points() -> None:
    pts = [
        {"sla_rate": 0.9, "energy_per_inference_j": 1.0, "n_accels": 4},
        {"sla_rate": 0.8, "energy_per_inference_j": 2.0, "n_accels": 4},  # dominated by 1st
        {"sla_rate": 0.7, "energy_per_inference_j": 2.0, "n_accels": 2},  # fewer devices
        {"sla_rate": 0.95, "energy_per_inference_j": 3.0, "n_accels": 8},
    ]
    front = pareto_front(pts)
    assert pts[1] not in front and len(front) == 3
    assert front[0]["sla_rate"] == 0.95


def test_rl_trials_build_the_shipped_recipes_policy_structure(tmp_path: Path) -> None:
    """rl: takes the recipe's prior, Planaria variant, pair head and discounting, and each
    trial's pair head gets the layout of that trial's chip."""
    from relmas.rl.trainer import module_config
    from relmas.sweeps.space import rl_space
    from relmas.sweeps.trainables import trial_recipe

    rl = (
        "rl: {prior_weight: 1.5, pair_hidden: [16], gamma: 0.995, entropy_coeff: 0.0,"
        " planaria_params: {priority_exponent: 0.5}}\n"
    )
    path = tmp_path / "s.yaml"
    path.write_text(BASE.format(t="rl", hw=HW) + rl)
    cfg = load_sweep(path)
    trial = {
        "scenario": "light", "n_simba": 1, "n_eyeriss": 0, "dram_bandwidth_gbps": 8.0,
        "rl": {"eval_seeds": 1, "recipe": rl_space(cfg).first()},
    }  # fmt: skip
    r = trial_recipe(trial)
    assert r.planaria_params == {"priority_exponent": 0.5} and r.candidates == "heuristic"
    assert (r.gamma, r.entropy_coeff, r.env_runners) == (0.995, 0.0, 0)
    assert (r.scenario, r.hardware) == ("light", "1s0e@8")
    model = module_config(r)
    assert model["action_prior_weight"] == 1.5
    assert model["pair_head"]["hidden"] == [16] and model["pair_head"]["layout"]["num_accels"] == 1


def test_every_rl_field_is_sweepable(tmp_path: Path) -> None:
    """Any recipe value, and any value of planaria_params / reward, may be a dimension."""
    pytest.importorskip("ray")
    from relmas.sweeps.space import expected_trials, param_space

    rl = (
        "rl: {prior_weight: [1.0, 2.0], lr: {loguniform: [1.0e-4, 1.0e-3]},"
        " hidden: {grid: [[16], [32, 32]]}, candidates: {choice: [heuristic, mixed]},"
        " planaria_params: {priority_exponent: {uniform: [0.3, 0.7]}},"
        " reward: {name: sla, early_miss: [true, false]}, eval_seeds: 2}\n"
    )
    path = tmp_path / "s.yaml"
    path.write_text(BASE.format(t="rl", hw=HW) + rl)
    cfg = load_sweep(path)
    space = param_space(cfg, tmp_path)
    recipe = space["rl"]["recipe"]
    assert space["rl"]["eval_seeds"] == 2
    assert recipe["prior_weight"] == {"grid_search": [1.0, 2.0]}
    assert recipe["hidden"] == {"grid_search": [[16], [32, 32]]}
    assert recipe["reward"]["name"] == "sla"
    assert recipe["reward"]["early_miss"] == {"grid_search": [True, False]}
    for key in ("lr", "candidates"):
        assert type(recipe[key]).__name__ in ("Float", "Categorical"), key
    assert type(recipe["planaria_params"]["priority_exponent"]).__name__ == "Float"
    assert expected_trials(cfg) == 2 * 2 * 2 * 2  # three rl grids x the two chips of HW


@pytest.mark.parametrize(
    ("rl", "needle"),
    [
        ("{prior_weight: [1.0, -1.0]}", r"rl\.prior_weight: .*greater than or equal to 0"),
        ("{planaria_params: {priority_exponent: [0.5, -2]}}", r"rl\.planaria_params"),
        ("{reward: {name: [sla, slaa]}}", r"rl\.reward\.name: unknown reward 'slaa'"),
        ("{hidden: {grid: [[16], [0]]}}", r"rl\.hidden\.0"),
        ("{scenario: heavy}", r"rl\.scenario: is set by the sweep"),
        ("{select_seeds: 5}", r"rl\.select_seeds: is set by the sweep.*relmas train chooses"),
        ("{lrr: 0.1}", r"rl\.lrr: unknown key; did you mean 'lr'"),
    ],
)
def test_a_bad_value_anywhere_in_an_rl_dimension_is_one_line(
    tmp_path: Path, rl: str, needle: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BASE.format(t="rl", hw=HW) + f"rl: {rl}\n")
    with pytest.raises(UserError, match=needle) as err:
        load_sweep(path)
    assert "\n" not in str(err.value)


def test_bad_planaria_params_in_a_sweep_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BASE.format(t="rl", hw=HW) + "rl: {planaria_params: {priority_exponet: 1}}\n")
    with pytest.raises(UserError, match=r"rl\.planaria_params: priority_exponet") as err:
        load_sweep(path)
    assert "\n" not in str(err.value)
