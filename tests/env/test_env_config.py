"""The env config is validated once, in the env's constructor, whatever route builds the env.

``gym.make``, RLlib's EnvRunners and Tune trials all hand the env a plain mapping; a typo there
used to be accepted silently (``topk`` left ``top_k`` at 8) or to raise a bare ``KeyError``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest

import relmas.env
from relmas.env.config import EnvConfig
from relmas.env.multi_accel import MultiAccelEnv
from relmas.errors import UserError


def test_env_id_names_the_version_it_builds() -> None:
    assert f"relmas/MultiAccel-v{relmas.env.ENV_VERSION}" == relmas.env.ENV_ID
    assert relmas.env.ENV_ID in gym.registry
    assert "relmas/MultiAccel-v0" not in gym.registry  # v0 observations no longer exist


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"topk": 2}, r"env config: topk: .*did you mean 'top_k'"),
        ({"top_k": 0}, r"env config: top_k: .*greater than or equal to 1"),
        ({"candidates": "edf"}, r"env config: candidates"),
        ({"seeds": []}, r"env config: seeds"),
        ({"decision_period_s": float("nan")}, r"env config: decision_period_s"),
        ({"scenario": "heavy", "load": 0.5}, r"load only applies to scenario 'toy'"),
        ({"reward": {"name": "sla", "miss": "x"}}, r"reward.miss: must be a finite number"),
        ({"reward": {"early_miss": 1}}, r"reward.early_miss: must be true or false"),
        ({"outlook_gate": True}, r"env config: .*outlook_gate needs outlook: true"),
        (
            {"outlook": True, "outlook_gate": True, "candidates": "mixed"},
            r"outlook_gate needs outlook: true and candidates: heuristic",
        ),
    ],
)
def test_bad_config_is_one_line_naming_the_field(config: dict[str, Any], message: str) -> None:
    for build in (MultiAccelEnv, lambda c: gym.make(relmas.env.ENV_ID, config=c)):
        with pytest.raises(UserError, match=message) as err:
            build(config)
        assert "\n" not in str(err.value)


def test_scenario_without_hardware_uses_the_default_chip() -> None:
    env = MultiAccelEnv({"scenario": "light", "num_requests": 5, "seeds": [0]})
    assert env.config.hardware == "2s2e"
    assert env.source.chip.num_accels == 4


def test_rllib_style_mapping_and_round_trip() -> None:
    class EnvContext(dict[str, Any]):  # RLlib passes a dict subclass with extra attributes
        worker_index = 3

    cfg = EnvConfig.from_mapping(EnvContext(top_k=3, scenario="toy"))
    assert cfg.top_k == 3
    assert cfg.as_mapping() == {"top_k": 3}
    assert EnvConfig.from_mapping(cfg.as_mapping()) == cfg


def test_the_config_alone_catches_reward_and_planaria_mistakes() -> None:
    # Checked by the model itself, so `relmas train` can refuse them before Ray starts.
    with pytest.raises(UserError, match=r"planaria_params: priority_exponet"):
        EnvConfig.from_mapping({"planaria_params": {"priority_exponet": 0.5}})
    with pytest.raises(UserError, match=r"reward\.name: .*did you mean .sla."):
        EnvConfig.from_mapping({"reward": {"name": "slaa"}})


def test_a_published_planaria_form_is_refused_for_the_features() -> None:
    # The incremental orderings (flags, prior) use relmas's Planaria rank(); another form would
    # be accepted and silently ignored.
    with pytest.raises(UserError, match=r"planaria_params\.form: .*not form 'dysta'"):
        EnvConfig.from_mapping({"planaria_params": {"form": "dysta"}})
