"""What the MLflow UI shows for relmas's experiments: a description, the classic runs view, and a
saved table view with SLA rate and energy as the first columns.

Why: out of the box MLflow 3 lands a click on an experiment on its GenAI overview, shows no
metric column (a compare run has 98, all hidden) and no description. Three experiment tags fix
that, all set by relmas when it creates (or first reuses) an experiment, none needing a server
plug-in:

* ``mlflow.experimentKind = custom_model_development``: the experiment is a model-training one
  (MLflow's global GenAI / model-training switch still decides which tab opens, so the links
  relmas prints carry ``workflowType=machine_learning``);
* ``mlflow.note.content``: the description shown on the experiment page (what a parent and a
  child run hold, which metric is which);
* ``mlflow.sharedViewState.relmas``: a saved view (MLflow's "share view" format): the columns
  SLA rate, energy per inference, ... right after the run name. ``relmas ui`` prints the link
  to it for every experiment (:func:`view_url`).
"""

from __future__ import annotations

import json

VIEW_KEY = "relmas"
KIND_TAG = "mlflow.experimentKind"
NOTE_TAG = "mlflow.note.content"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"

_KPIS = ("sla_rate", "energy_per_inference_mj", "drop_rate", "p99_latency_s")
_COLUMNS = {
    "relmas-compare": [*_KPIS, "tags:best", "tags:scheduler"],
    "relmas-simulate": [*_KPIS, "tags:scheduler", "tags:scenario", "tags:hardware", "tags:seed"],
    "relmas-train": ["sla_rate", "episode_return_mean", "env_steps_per_s", "tags:scenario",
                     "tags:hardware"],
    "relmas-evaluate": ["policy/sla_rate", "best/sla_rate", "sla_delta/mean",
                        "policy/energy_per_inference_mj", "tags:best_heuristic"],
    "relmas-tune": ["sla_rate", "energy_per_inference_mj", "n_accels", "tags:hardware",
                    "tags:scheduler", "tags:best"],
}  # fmt: skip
_NOTES = {
    "relmas-compare": (
        "One **parent run per `relmas compare`**, named scenario / chip, offered load, seeds "
        "and time. The parent's `sla_rate` and `energy_per_inference_mj` are the best "
        "scheduler's (tag `best`); it holds every scheduler's `sla_rate/<scheduler>` and "
        "`energy_per_inference_mj/<scheduler>`, and the plots (`energy_sla.png`: SLA rate vs "
        "energy per scheduler; `sla_vs_load.png`; `gantt.png`) and `results.json` as "
        "artifacts. **One child run per scheduler** (expand the parent): seed means "
        "(`sla_rate`, `energy_per_inference_mj`, ...), `<kpi>_std`, the per-seed series "
        "`per_seed/<kpi>` and its `runs.json`. SLA rate counts every request (a drop is a "
        "violation); energy is per completed inference. See docs/metrics.md."
    ),
    "relmas-simulate": "One run per `relmas simulate`: one scheduler, one seed; every KPI.",
    "relmas-train": (
        "One run per `relmas train`: a step per PPO iteration (`sla_rate` of the episodes "
        "that finished in it, shaped `episode_return_mean`), the recipe as params, the "
        "exported policy as artifacts."
    ),
    "relmas-evaluate": (
        "One run per `relmas evaluate`: the policy (`policy/<kpi>`) beside the best heuristic "
        "(`best/<kpi>`) on the same held-out seeds, and their paired difference."
    ),
}


def _column(spec: str) -> str:
    """``sla_rate`` -> ``metrics.`sla_rate```; ``tags:best`` -> ``tags.`best```."""
    kind, _, name = spec.rpartition(":")
    return f"{kind or 'metrics'}.`{name}`"


def _base(experiment: str) -> str:
    return "relmas-tune" if experiment.startswith("relmas-tune-") else experiment


def description(experiment: str) -> str:
    """The experiment's description (markdown)."""
    if _base(experiment) == "relmas-tune":
        sweep = experiment.removeprefix("relmas-tune-")
        return (
            f"Sweep `{sweep}` (`relmas tune`): one **parent run per sweep** (the sweep file "
            "as params; `pareto.png`/`pareto.json`: the front over SLA rate, energy per "
            "inference and sub-accelerator count), **one child run per trial** (a chip and a "
            "scheduler). A trial's `sla_rate` is its judged value: a heuristic's seed mean, "
            "an RL trial's held-out evaluation (`eval/...`)."
        )
    return _NOTES.get(experiment, "")


def view_state(experiment: str) -> str:
    """The saved table view, in MLflow's share-view JSON: the KPI columns right after the run
    name, in this order, wide enough to read. Newest run first, which keeps children nested
    under their parent (sorting by a metric would list every run flat)."""
    columns = [_column(c) for c in _COLUMNS.get(_base(experiment), list(_KPIS))]
    name = "attributes.`Run Name`"
    state = {
        "orderByKey": "attributes.start_time",
        "orderByAsc": False,
        "selectedColumns": columns,
        "columnOrder": [name, *columns, "runDateAndNestInfo", "duration"],
        "columnWidths": {name: 330, **{c: 190 for c in columns}},
    }
    return json.dumps(state, separators=(",", ":"))


def experiment_tags(experiment: str) -> dict[str, str]:
    """Every tag relmas keeps on an experiment (set at creation, refreshed when they change)."""
    tags = {KIND_TAG: "custom_model_development", VIEW_TAG: view_state(experiment)}
    note = description(experiment)
    if note:
        tags[NOTE_TAG] = note
    return tags


# MLflow 3's UI has a global GenAI / model-training switch (default GenAI, kept in the browser),
# which wins over the experiment's kind; this query parameter selects model training.
WORKFLOW = "workflowType=machine_learning"


def view_url(base_url: str, experiment_id: str) -> str:
    """The link that opens ``experiment_id`` on its runs table in relmas's saved view."""
    query = f"{WORKFLOW}&viewStateShareKey={VIEW_KEY}"
    return f"{base_url.rstrip('/')}/#/experiments/{experiment_id}/runs?{query}"  # /runs: a
    # redirect from the bare experiment route drops the query


def home_url(base_url: str) -> str:
    """The experiment list in the model-training workflow (no GenAI overview on a click)."""
    return f"{base_url.rstrip('/')}/#/experiments?{WORKFLOW}"
