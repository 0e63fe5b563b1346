"""``relmas train --config FILE``: the recipe file, flag precedence and one-line errors (no Ray).

Why: the shipped policy must be reproducible from ``tune_configs/train_default.yaml`` alone, and a
typo in a recipe must fail before Ray starts, naming the field. The flags are generated from the
recipe model, so every field has one (and the same validation).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from relmas.cli import train as train_cli
from relmas.errors import UserError
from relmas.rl.recipe import Recipe

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "tune_configs" / "train_default.yaml"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="relmas")
    train_cli.register(parser.add_subparsers(required=True))
    return parser.parse_args(argv)


def _recipe(argv: list[str]) -> Recipe:
    return train_cli.recipe_of(train_cli.resolve_job(_parse(["train", *argv])))


def test_shipped_recipe_validates_into_the_documented_settings() -> None:
    r = _recipe(["--config", str(RECIPE)])
    env = r.env_config()
    pairs = env.pairs()
    assert {h for _, h in pairs} == {"2s2e", "3s1e", "1s3e", "2s2e_halfbw"}
    assert {"light", "medium", "heavy", "tight", "heavy_tight_sla"} <= {s for s, _ in pairs}
    assert env.reward is not None and env.reward["name"] == "sla"
    assert r.imitation is not None and r.imitation.teacher == "rollout"
    assert r.imitation.teacher_params == {"base": "auto"}
    assert r.pair_hidden and r.critic_future and r.seed == 0


@pytest.mark.parametrize(
    "path", sorted((REPO / "tune_configs").glob("train_*.yaml")), ids=lambda p: p.name
)
def test_every_training_recipe_validates(path: Path) -> None:
    """Every ``train_*.yaml`` a doc tells users to run must load; the gated ones keep the
    options their measured results need."""
    r = _recipe(["--config", str(path)])
    if path.name.startswith("train_gate_"):
        env = r.env_config()
        assert env.outlook and env.outlook_gate and r.iterations == 20
    if path.name != "train_gate_ensemble.yaml":  # the shipped policies were trained without it
        assert not r.env_config().wait_guard


def test_the_ensemble_recipe_is_the_guarded_medium_recipe_over_eighteen_seeds() -> None:
    """docs/rl.md reports the ensemble of the 18 guarded medium-recipe runs (``--wait-guard
    --seed N``, N = 0-17); its one-command recipe must train exactly those runs."""
    job = train_cli.resolve_job(
        _parse(["train", "--config", str(REPO / "tune_configs/train_gate_ensemble.yaml")])
    )
    medium = _recipe(["--config", str(REPO / "tune_configs/train_gate_medium.yaml"),
                      "--wait-guard"])  # fmt: skip
    assert job.ensemble_seeds == list(range(18))
    for seed in job.ensemble_seeds:
        member = train_cli.recipe_of(job.model_copy(update={"seed": seed}))
        assert member == medium.model_copy(update={"seed": seed})


def test_the_wait_guard_reaches_the_env_config() -> None:
    r = _recipe(["--config", str(REPO / "tune_configs" / "train_gate_medium.yaml")])
    guarded = r.model_copy(update={"wait_guard": True})
    assert guarded.env_config().wait_guard and not r.env_config().wait_guard


@pytest.mark.parametrize(
    ("name", "recipe"),
    [
        ("default", "train_default.yaml"),
        ("heavy_specialist", "train_gate_heavy.yaml"),
        ("medium_specialist", "train_gate_medium.yaml"),
    ],
)
def test_shipped_policy_was_trained_with_the_recipe(name: str, recipe: str) -> None:
    """policy.json records its training recipe; it must be the file's, or the file does not
    reproduce what ships (the iteration is chosen on validation seeds, see docs)."""
    from relmas.rl.policy_scheduler import SHIPPED_DIR

    shipped = json.loads((SHIPPED_DIR / name / "policy.json").read_text())
    path = REPO / "tune_configs" / recipe
    assert Recipe.load(shipped["recipe"]) == _recipe(["--config", str(path)])
    assert shipped["iterations"] <= shipped["recipe"]["iterations"]


def test_shipped_ensemble_members_were_trained_with_its_recipe() -> None:
    """rl:gate_ensemble's member seed_N is the recipe's run for seed N, as `relmas train
    --config tune_configs/train_gate_ensemble.yaml` writes it, at its last iteration."""
    from relmas.rl.policy_scheduler import SHIPPED_DIR

    path = REPO / "tune_configs" / "train_gate_ensemble.yaml"
    job = train_cli.resolve_job(_parse(["train", "--config", str(path)]))
    assert job.ensemble_seeds is not None
    for seed in job.ensemble_seeds:
        meta = json.loads(
            (SHIPPED_DIR / "gate_ensemble" / f"seed_{seed}" / "policy.json").read_text()
        )
        assert Recipe.load(meta["recipe"]) == train_cli.recipe_of(
            job.model_copy(update={"seed": seed})
        )
        assert meta["iterations"] == job.iterations


def test_every_recipe_field_is_a_flag_or_file_only() -> None:
    file_only = set(train_cli.FILE_ONLY)
    assert set(vars(_parse(["train"]))) >= set(Recipe.model_fields) - file_only


def test_flags_override_the_file_and_defaults_fill_the_rest(tmp_path: Path) -> None:
    cfg = tmp_path / "r.yaml"
    cfg.write_text("scenario: toy\niterations: 7\nlr: 0.001\nout: x\n")
    job = train_cli.resolve_job(
        _parse(["train", "--config", str(cfg), "--iterations", "3", "--out", str(tmp_path)])
    )
    assert (job.scenario, job.iterations, job.lr) == ("toy", 3, 0.001)
    assert job.out == tmp_path and job.hardware == "2s2e" and job.candidates == "heuristic"
    assert "action_prior_weight" not in train_cli.recipe_of(job).module_config(), "no prior"


def test_reward_flag_takes_a_preset_and_coefficients(tmp_path: Path) -> None:
    base = ["--out", str(tmp_path), "--scenario", "toy"]
    assert _recipe([*base, "--reward", "sla"]).reward == {"name": "sla"}
    r = _recipe([*base, "--reward", "sla", "--reward", "early_miss=true", "--reward", "energy=0.1"])
    assert r.reward == {"name": "sla", "early_miss": True, "energy": 0.1}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("iteratons: 3\nout: x\n", "iteratons"),
        ("iterations: 0\nout: x\n", "iterations"),
        ("candidates: random\nout: x\n", "candidates"),
        ("scenario: toy\n", "out"),
        ("- a list\n", "mapping"),
        ("pair_hidden: [8]\nlstm: 4\nout: x\n", "lstm"),
        ("reward: {name: sla, miss: -1}\nout: x\n", "reward.miss"),
    ],
)
def test_bad_recipes_are_one_line_user_errors(tmp_path: Path, text: str, needle: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(UserError, match=needle) as info:
        train_cli.resolve_job(_parse(["train", "--config", str(cfg)]))
    assert "\n" not in str(info.value)


def test_missing_config_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        train_cli.resolve_job(_parse(["train", "--config", str(tmp_path / "no.yaml")]))


def test_planaria_params_flags_replace_the_files_variant(tmp_path: Path) -> None:
    base = ["--config", str(RECIPE), "--out", str(tmp_path)]
    assert _recipe(base).planaria_params == {"priority_exponent": 0.5}
    flags = [
        "--planaria-params",
        "priority_exponent=0",
        "--planaria-params",
        "work_conserving=true",
    ]
    assert _recipe([*base, *flags]).planaria_params == {
        "priority_exponent": 0,
        "work_conserving": True,
    }
    with pytest.raises(UserError, match=r"planaria_params: priority_exponent.*greater than"):
        _recipe([*base, "--planaria-params", "priority_exponent=-1"])
    with pytest.raises(UserError, match="--planaria-params: 'x' is not KEY=VALUE"):
        _recipe([*base, "--planaria-params", "x"])
