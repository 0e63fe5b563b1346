"""EnvRunners that die mid-training are restarted and PPO still trains every iteration.

``env/faults.py`` crashes ``env.step`` on remote EnvRunners only: ``mode: exit`` kills the
actor's process (``os._exit``), ``mode: raise`` raises inside the runner. Each crash appends a
line to a crash log, so the tests count crashes independently of RLlib, and compare them with
RLlib's own restart counter (``fault_tolerance/num_remote_worker_restarts``). The negative test
turns restarts off: the same crash then ends the training, which is what makes the positive
tests mean something.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from relmas.env.faults import (
    EXIT_CODE,
    FaultInjectingEnv,
    InjectedFaultError,
    env_class,
    parse_fault_spec,
)
from relmas.env.multi_accel import MultiAccelEnv
from relmas.errors import UserError

TOY = {"scenario": "toy", "hardware": "1s1e", "seeds": [0, 1], "num_requests": 6}


class _Ctx(dict[str, Any]):
    """What RLlib passes to env constructors: the config plus ``worker_index``."""

    def __init__(self, config: dict[str, Any], worker_index: int) -> None:
        super().__init__(config)
        self.worker_index = worker_index


def _faulty(log: Path, mode: str = "raise", p: float = 1.0, cap: int = 0) -> dict[str, Any]:
    spec = {"crash_probability": p, "mode": mode, "crash_log": str(log), "max_crashes": cap}
    return {**TOY, "fault_injection": spec}


def _crashes(log: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in log.read_text().splitlines()] if log.is_file() else []


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"crash_probability": 1.5}, "crash_probability"),
        ({"crash_probability": -0.1}, "crash_probability"),
        ({"crash_probability": float("nan")}, "crash_probability"),
        ({"crash_probability": True}, "crash_probability"),
        ({"crash_probability": "often"}, "crash_probability"),
        ({"crash_probability": 0.1, "mode": "segfault"}, "mode"),
        ({"crash_probability": 0.1, "max_crashes": 2}, "max_crashes"),
        ({"crash_probability": 0.1, "typo": 1}, "typo"),
        ("0.1", "fault_injection"),
    ],
)
def test_bad_fault_specs_are_one_line_errors(spec: Any, field: str) -> None:
    with pytest.raises(UserError, match=f"fault_injection.*{field}|{field}") as err:
        env_class({**TOY, "fault_injection": spec})
    assert "\n" not in str(err.value)


def test_off_by_default_and_local_runner_never_crashes(tmp_path: Path) -> None:
    assert env_class(TOY) is MultiAccelEnv
    assert parse_fault_spec({**TOY, "fault_injection": {"crash_probability": 0}}) is None
    log = tmp_path / "crashes.jsonl"
    local = FaultInjectingEnv(_Ctx(_faulty(log), worker_index=0))
    local.reset(seed=0)
    for _ in range(20):
        mask = local.unwrapped.encoder.mask
        _, _, done, _, _ = local.step(int(mask.nonzero()[0][0]))
        if done:
            local.reset()
    assert _crashes(log) == []


def test_remote_runner_crashes_until_the_cap(tmp_path: Path) -> None:
    log = tmp_path / "crashes.jsonl"
    env = FaultInjectingEnv(_Ctx(_faulty(log, cap=2), worker_index=1))
    env.reset(seed=0)
    action = int(env.unwrapped.encoder.mask.nonzero()[0][0])
    for _ in range(2):
        with pytest.raises(InjectedFaultError):
            env.step(action)
    env.step(action)  # budget spent: behaves like the plain env
    assert [c["worker_index"] for c in _crashes(log)] == [1, 1]


def test_exit_mode_really_ends_the_process(tmp_path: Path) -> None:
    log = tmp_path / "crashes.jsonl"
    code = (
        "from relmas.env.faults import FaultInjectingEnv\n"
        "class C(dict): worker_index = 1\n"
        f"env = FaultInjectingEnv(C({_faulty(log, mode='exit')!r}))\n"
        "env.reset(seed=0)\n"
        "env.step(int(env.unwrapped.encoder.mask.nonzero()[0][0]))\n"
        "print('survived')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_CODE and "survived" not in proc.stdout, proc.stderr[-2000:]
    assert len(_crashes(log)) == 1


def test_training_file_keys_reach_rllib_and_bad_ones_fail_before_ray(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from relmas.cli.main import main
    from relmas.cli.train import recipe_of, resolve_job
    from relmas.rl.trainer import build_config

    base = f"scenario: toy\nhardware: 1s1e\nout: {tmp_path / 'out'}\n"
    good = tmp_path / "good.yaml"
    good.write_text(
        base + "fault_tolerance: {restart_failed_env_runners: false}\n"
        "fault_injection: {crash_probability: 0.5, mode: exit, crash_log: c.jsonl}\n"
    )
    recipe = recipe_of(resolve_job(argparse.Namespace(config=good)))
    fault = recipe.env_config().fault_injection
    assert fault is not None and Path(fault["crash_log"]).is_absolute()
    config = build_config(recipe)
    assert config.env is FaultInjectingEnv and config.restart_failed_env_runners is False
    assert config.delay_between_env_runner_restarts_s == 5.0
    bad = tmp_path / "bad.yaml"
    bad.write_text(base + "fault_injection: {crash_probability: 1.5}\n")
    capsys.readouterr()
    assert main(["train", "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fault_injection.crash_probability" in err[0], err


def _settings(env_config: dict[str, Any], **fault_tolerance: Any) -> Any:
    """A 3-iteration recipe on the toy chip with ``env_config``'s fault injection."""
    from relmas.rl.recipe import Recipe

    return Recipe(
        scenario="toy",
        hardware="1s1e",
        train_seeds=2,
        episode_requests=6,
        iterations=3,
        env_runners=1,
        batch_size=200,
        minibatch_size=100,
        epochs=1,
        checkpoint_every=100,
        hidden=[16],
        fault_tolerance={"delay_between_env_runner_restarts_s": 0.0, **fault_tolerance},
        fault_injection=env_config["fault_injection"],
    )


@pytest.mark.slow
def test_killed_env_runners_are_restarted_and_every_iteration_trains(
    ray_local: Any, tmp_path: Path
) -> None:
    from relmas.rl.trainer import train

    log = tmp_path / "crashes.jsonl"
    s = _settings(_faulty(log, mode="exit", p=0.05, cap=2), restart_failed_env_runners=True)
    history = train(s, tmp_path / "out", None)
    crashes = _crashes(log)
    assert len(crashes) == 2 and {c["worker_index"] for c in crashes} == {1}
    assert len({c["pid"] for c in crashes}) == 2, "the second crash is in the restarted process"
    assert [h.iteration for h in history] == [1, 2, 3]
    steps = [0, *(h.env_steps for h in history)]
    assert all(b - a >= 200 for a, b in itertools.pairwise(steps)), steps
    assert history[-1].env_runner_restarts == len(crashes)
    assert history[-1].healthy_env_runners == 1
    assert (tmp_path / "out" / "policy.npz").is_file()


@pytest.mark.slow
def test_raising_env_is_recreated_in_place(ray_local: Any, tmp_path: Path) -> None:
    from relmas.rl.trainer import train

    log = tmp_path / "crashes.jsonl"
    s = _settings(_faulty(log, mode="raise", p=0.05, cap=3), restart_failed_sub_environments=True)
    history = train(s, tmp_path / "out", None)
    assert len(_crashes(log)) == 3
    assert len({c["pid"] for c in _crashes(log)}) == 1, "same runner process: env recreated"
    assert [h.iteration for h in history] == [1, 2, 3] and history[-1].env_steps >= 600
    assert history[-1].env_runner_restarts == 0


@pytest.mark.slow
def test_without_restarts_a_dead_runner_ends_training(ray_local: Any, tmp_path: Path) -> None:
    from relmas.rl.trainer import train

    log = tmp_path / "crashes.jsonl"
    s = _settings(_faulty(log, mode="exit", p=0.05, cap=1), restart_failed_env_runners=False)
    with pytest.raises(Exception, match=r"(?i)actor|died|worker"):
        train(s, tmp_path / "out", None)
    assert len(_crashes(log)) == 1
