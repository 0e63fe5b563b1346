"""The Tune trainables: ``heuristic`` (simulate, no training) and ``rl``/``both`` (PPO + eval).

All report the same unshaped KPI names at the top level (``sla_rate``,
``energy_per_inference_j``, ...), so one sweep file format, one MLflow layout and one Pareto
front serve both. The top-level value is always the trial's current judgement: a heuristic's
running seed-mean; for PPO, the last finished training episodes' value while it trains
(``train/<kpi>`` too) and, at its last iteration, its greedy policy on held-out seeds (also as
``eval/<kpi>``). So Tune's "best trial", ASHA/PBT, relmas's summary and the Pareto front all rank
on one metric name; the shaped ``episode_return_mean`` is reported but never selects.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ray import tune

from relmas.evaluation.runner import RunSpec, run_one
from relmas.sweeps.kpis import chip_of, mean_kpis

EVAL_FIRST_SEED = 10_000


def heuristic_trainable(config: dict[str, Any]) -> None:
    """One scheduler on one chip; one Tune iteration per seed (running seed-mean reported)."""
    hw = chip_of(config)
    rows: list[dict[str, Any]] = []
    for seed in range(int(config["seeds"])):
        rows.append(run_one(RunSpec(str(config["scenario"]), hw, str(config["scheduler"]), seed)))
        n_accels = int(config["n_simba"]) + int(config["n_eyeriss"])
        tune.report(
            {**mean_kpis(rows), "seed_sla_rate": rows[-1]["sla_rate"], "n_accels": n_accels}
        )


def trial_recipe(config: dict[str, Any]) -> Any:
    """The :class:`~relmas.rl.recipe.Recipe` of an RL trial: its ``rl.recipe`` (dimensions
    resolved by Tune) on the trial's scenario and chip, sampled in the trial's own process."""
    from relmas.rl.recipe import Recipe
    from relmas.sweeps.rl_space import TRIAL_FIELDS

    fixed = {k: v for k, v in TRIAL_FIELDS.items() if v is not None}
    data = {**config["rl"]["recipe"], **fixed}
    data.update(scenario=str(config["scenario"]), hardware=chip_of(config))
    return Recipe.load(data, "trial rl")


class RelmasTrainable(tune.Trainable):  # type: ignore[misc]
    """PPO or a heuristic on one chip; checkpointable, so PBT can exploit and Tune resume.

    One class serves ``rl`` and ``both`` sweeps: a trial whose ``scheduler`` is ``rl`` trains PPO
    (one Tune iteration per PPO iteration), any other runs that heuristic one seed per
    iteration, so heuristics and the learned policy share one grid, one MLflow experiment and
    one Pareto front.
    """

    def setup(self, config: dict[str, Any]) -> None:
        self.rows: list[dict[str, Any]] = []
        self.algo: Any = None
        if config["scheduler"] == "rl":
            from relmas.rl.trainer import build_config

            self.recipe = trial_recipe(config)
            self.algo = build_config(self.recipe).build_algo()

    def step(self) -> dict[str, Any]:
        n_accels = int(self.config["n_simba"]) + int(self.config["n_eyeriss"])
        if self.algo is None:
            spec = RunSpec(
                str(self.config["scenario"]),
                chip_of(self.config),
                str(self.config["scheduler"]),
                len(self.rows),
            )
            self.rows.append(run_one(spec))
            done = len(self.rows) >= int(self.config["seeds"])
            return {**mean_kpis(self.rows), "n_accels": n_accels, "done": done}
        return {**self._train_step(), "n_accels": n_accels}

    def _train_step(self) -> dict[str, Any]:
        from relmas.rl.callbacks import LOGGED_KPIS

        result = self.algo.train()
        runners = result.get("env_runners", {})
        out: dict[str, Any] = {k: float(runners[k]) for k in LOGGED_KPIS if k in runners}
        # ASHA/PBT rank on sla_rate every iteration; an iteration in which no training episode
        # ended has none, so carry the last observed value forward (and flag it as stale).
        fresh = math.isfinite(out.get("sla_rate", math.nan))
        self.last_sla = out["sla_rate"] if fresh else getattr(self, "last_sla", math.nan)
        out["sla_rate"], out["sla_rate_is_fresh"] = self.last_sla, int(fresh)
        out.update({f"train/{k}": v for k, v in out.items() if k in LOGGED_KPIS})
        out["episode_return_mean"] = float(runners.get("episode_return_mean", math.nan))
        out["env_steps"] = int(result.get("num_env_steps_sampled_lifetime", 0))
        if self.iteration + 1 >= self.recipe.iterations:
            held_out = self._evaluate()
            judged = {k.removeprefix("eval/"): v for k, v in held_out.items()}
            out.update(judged)  # the final KPIs are the held-out ones
            out.update(held_out)
            out["done"] = True
        return out

    def _evaluate(self) -> dict[str, float]:
        """Greedy policy on held-out seeds, through the same runner as the heuristics."""
        from relmas.rl.export import export_module
        from relmas.rl.trainer import policy_meta

        out = Path(self.logdir or ".").resolve() / "policy"
        meta = policy_meta(self.recipe, self.iteration + 1)
        export_module(self.algo.get_module(), out, meta)
        seeds = range(EVAL_FIRST_SEED, EVAL_FIRST_SEED + int(self.config["rl"]["eval_seeds"]))
        spec = [
            RunSpec(str(self.config["scenario"]), chip_of(self.config), f"rl:{out}", s)
            for s in seeds
        ]
        return mean_kpis([run_one(s) for s in spec], prefix="eval/")

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        path = Path(checkpoint_dir).resolve()
        if self.algo is not None:
            self.algo.save_to_path(str(path / "algo"))
        (path / "rows.json").write_text(json.dumps(self.rows), encoding="utf-8")

    def load_checkpoint(self, checkpoint: Any) -> None:
        path = Path(checkpoint).resolve()
        if self.algo is not None:
            self.algo.restore_from_path(str(path / "algo"))
        self.rows = json.loads((path / "rows.json").read_text(encoding="utf-8"))

    def cleanup(self) -> None:
        if self.algo is not None:
            self.algo.stop()
