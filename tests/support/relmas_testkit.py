"""Helpers shared by tests: the reliability tests that drive ``relmas`` as a subprocess, and
the RL tests that build an RLModule.

Imported as ``relmas_testkit``: ``pyproject.toml`` puts ``tests/support`` on pytest's ``pythonpath``
(the suite uses ``--import-mode=importlib``, which adds no test directory to ``sys.path``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relmas.sim import Simulator

RELMAS = [sys.executable, "-m", "relmas.cli.main"]
TINY_SCENARIO = """\
name: tiny
num_requests: 60
offered_load: 0.9
tenants:
  - name: vision
    models: {resnet50: 1, mobilenet_v2: 1}
    priorities: {1: 1, 9: 1}
    sla_multiplier: 3.0
    arrival: {process: poisson, load_share: 1}
"""


def session_pids(sid: int) -> list[int]:
    """Live processes of session ``sid`` (a command started with ``start_new_session=True`` and
    everything it started), found in /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def kill_session(sid: int) -> None:
    """SIGKILL every process of the session this test started (by pid, nothing else)."""
    for pid in session_pids(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def finished_trials(state: Path) -> int:
    """Trials the sweep ledger records as finished (0 while it is not written yet)."""
    try:
        trials = json.loads(state.read_text()).get("trials", {})
    except (OSError, ValueError):
        return 0
    return sum(1 for t in trials.values() if t.get("status") == "finished")


def assert_one_run_per_trial(uri: str, experiment: str, trials: int, steps: int) -> None:
    """The "nothing lost, nothing twice" check after a fault: one FINISHED parent, exactly one
    FINISHED child per trial under it, and each child with every step ``1..steps`` once."""
    from collections import Counter

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert [p.info.status for p in parents] == ["FINISHED"], [p.info for p in parents]
    per_trial = Counter(c.data.tags["trial_id"] for c in children)
    assert len(per_trial) == trials and set(per_trial.values()) == {1}, per_trial
    assert {c.info.status for c in children} == {"FINISHED"}
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    for child in children:
        history = client.get_metric_history(child.info.run_id, "sla_rate")
        logged = sorted(m.step for m in history)
        assert logged == list(range(1, steps + 1)), (child.info.run_name, logged)


def seeded_module(env: Any, model_config: dict[str, Any], seed: int = 0) -> Any:
    """A fresh masking PPO RLModule for ``env`` (torch seeded first, so weights repeat).

    Shared by the export, pair-head and selection-script tests; torch is imported here, not at
    module import, so tests without torch can still use the other helpers.
    """
    from relmas.rl.imitate import build_module

    return build_module(env, model_config, seed)


def exact_oversubscription_s(sim: Simulator) -> float:
    """Integral of max(0, demand / B - 1) over time, from the recorded per-layer trace alone."""
    chip = sim.chip
    spans = []
    for a, rid, layer, start, end in sim.trace:
        model = sim.requests[rid].model
        spans.append((start, end, chip.demand_bytes_per_s[model][chip.accel_type[a]][layer]))
    cuts = sorted({t for s, e, _ in spans for t in (s, e)})
    total = 0.0
    for t0, t1 in itertools.pairwise(cuts):
        demand = sum(d for s, e, d in spans if s <= t0 and e >= t1)
        total += max(demand / chip.bandwidth_bytes_per_s - 1.0, 0.0) * (t1 - t0)
    return total


def export_policy(
    out: Path,
    model_config: dict[str, Any] | None = None,
    seed: int = 0,
    perturb: Any = None,
    **fields: Any,
) -> tuple[Any, Any]:
    """Export a freshly initialised policy for the toy recipe ``fields`` into ``out``.

    ``model_config`` (default: the recipe's own) may differ from what the recipe derives, to
    test export shapes a recipe cannot ask for (an LSTM with a head MLP); its prior weight is
    copied into the recipe, which is what the numpy policy adds at decision time.
    ``perturb(module)`` may change the weights before the export.
    """
    from relmas.env.multi_accel import MultiAccelEnv
    from relmas.rl.export import export_module
    from relmas.rl.recipe import Recipe
    from relmas.rl.trainer import module_config, policy_meta

    base = {"scenario": "toy", "hardware": "2s2e", "train_seeds": 1, "hidden": [8]}
    if model_config and "action_prior_weight" in model_config:
        fields = {**fields, "prior_weight": model_config["action_prior_weight"]}
    recipe = Recipe(**{**base, **fields})
    env = MultiAccelEnv(recipe.env_config())
    module = seeded_module(env, model_config or module_config(recipe), seed)
    if perturb is not None:
        perturb(module)
    export_module(module, out, policy_meta(recipe, 0))
    return module, env
