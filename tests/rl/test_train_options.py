"""``relmas train --config FILE``: the recipe file, flag precedence and one-line errors (no Ray).

Why: the shipped policy must be reproducible from ``tune_configs/train_heavy.yaml`` alone, and a
typo in a recipe must fail before Ray starts, naming the field.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

import pytest

from relmas.cli import train as train_cli
from relmas.errors import UserError

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "tune_configs" / "train_heavy.yaml"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="relmas")
    train_cli.register(parser.add_subparsers(required=True))
    return parser.parse_args(argv)


def test_shipped_recipe_validates_into_the_documented_settings() -> None:
    s = train_cli.settings_from_args(_parse(["train", "--config", str(RECIPE)]))
    env = s.env_config
    assert (env["scenario"], env["hardware"], env["candidates"]) == ("heavy", "2s2e", "heuristic")
    assert env["reward"]["name"] == "sla" and env["reward"]["energy"] > 0
    assert s.model_config["action_prior_weight"] > 0
    assert s.num_env_runners in (1, 2)


def test_shipped_policy_was_trained_with_the_recipe() -> None:
    """policy.json records its training settings; they must be the recipe's, or the recipe
    does not reproduce what ships (the iteration is chosen on validation seeds, see docs)."""
    import json

    from relmas.rl.policy_scheduler import SHIPPED_DIR

    shipped = json.loads((SHIPPED_DIR / "default" / "policy.json").read_text())["settings"]
    recipe = asdict(train_cli.settings_from_args(_parse(["train", "--config", str(RECIPE)])))
    for key in ("env_config", "model_config", "lr", "gamma", "train_batch_size", "seed"):
        assert shipped[key] == recipe[key], key
    assert shipped["iterations"] <= recipe["iterations"]


def test_flags_override_the_file_and_defaults_fill_the_rest(tmp_path: Path) -> None:
    cfg = tmp_path / "r.yaml"
    cfg.write_text("scenario: toy\niterations: 7\nlr: 0.001\nout: x\n")
    args = _parse(["train", "--config", str(cfg), "--iterations", "3", "--out", str(tmp_path)])
    opts = train_cli.resolve_options(args)
    assert (opts.scenario, opts.iterations, opts.lr) == ("toy", 3, 0.001)
    assert opts.out == tmp_path and opts.hardware == "2s2e" and opts.candidates == "heuristic"
    s = train_cli.settings_from_args(args)
    assert "action_prior_weight" not in s.model_config, "no prior unless asked for"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("iteratons: 3\nout: x\n", "iteratons"),
        ("iterations: 0\nout: x\n", "iterations"),
        ("candidates: random\nout: x\n", "candidates"),
        ("scenario: toy\n", "out"),
        ("- a list\n", "mapping"),
    ],
)
def test_bad_recipes_are_one_line_user_errors(tmp_path: Path, text: str, needle: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(UserError, match=needle) as info:
        train_cli.resolve_options(_parse(["train", "--config", str(cfg)]))
    assert "\n" not in str(info.value)


def test_missing_config_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        train_cli.resolve_options(_parse(["train", "--config", str(tmp_path / "no.yaml")]))


def test_planaria_param_flags_replace_the_files_variant(tmp_path: Path) -> None:
    base = ["train", "--config", str(RECIPE), "--out", str(tmp_path)]
    assert train_cli.resolve_options(_parse(base)).planaria_params == {"priority_exponent": 0.5}
    flags = ["--planaria-param", "priority_exponent=0", "--planaria-param", "work_conserving=true"]
    opts = train_cli.resolve_options(_parse([*base, *flags]))
    assert opts.planaria_params == {"priority_exponent": 0, "work_conserving": True}
    with pytest.raises(UserError, match=r"planaria_params: priority_exponent.*greater than"):
        train_cli.resolve_options(_parse([*base, "--planaria-param", "priority_exponent=-1"]))
    with pytest.raises(UserError, match="--planaria-param: 'x' is not KEY=VALUE"):
        train_cli.resolve_options(_parse([*base, "--planaria-param", "x"]))
