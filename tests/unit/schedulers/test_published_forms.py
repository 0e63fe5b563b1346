"""What the forms share: Dysta's pick loop as a sort key, the form parameter, ``relmas list``."""

from __future__ import annotations

import numpy as np
import pytest

from relmas.cli.simulate import param_label
from relmas.errors import UserError
from relmas.schedulers import make_scheduler, scheduler_class
from relmas.schedulers._published import dysta_pick_key
from relmas.sim import RequestSpec, Simulator
from relmas.sim.toy import toy_chip


def _dysta_loop(scores: list[float]) -> int:
    """The selection loop of Planaria / SDRM3_Scheduler in Dysta's scheduler.py, transcribed."""
    best, max_score = -1, -1.0
    for i, score in enumerate(scores):  # tasks in arrival order
        if max_score < 0 or max_score <= score:
            if max_score == score and best < i:  # the kept task arrived earlier
                continue
            best, max_score = i, score
    return best


@pytest.mark.parametrize(
    "scores",
    [
        [0.5, 0.6, 6.0, 2.0],  # the largest non-negative score
        [-3.0, 0.2, -0.5, 0.2],  # a tie: the earlier of the two
        [-0.5, -2.0, -0.1],  # all negative: the last one, whatever its score
        [-2.0, 0.0, -1.0],  # zero counts as non-negative
    ],
)
def test_the_sort_key_picks_what_dysta_picks(scores: list[float]) -> None:
    keys = [dysta_pick_key(s, rid) for rid, s in enumerate(scores)]
    assert max(range(len(scores)), key=lambda rid: keys[rid]) == _dysta_loop(scores)


@pytest.mark.parametrize(
    ("name", "forms"),
    [("planaria", ("relmas", "dysta", "authors")), ("prema", ("relmas", "dysta")),
     ("dream", ("relmas", "dysta"))],
)  # fmt: skip
def test_every_form_is_selectable_with_the_documented_default(name: str, forms: tuple[str]) -> None:
    # PREMA defaults to Dysta's reading since issue 15 (see its module doc); the others to relmas.
    default = "dysta" if name == "prema" else "relmas"
    assert scheduler_class(name).Params().form == default  # type: ignore[attr-defined]
    for form in forms:
        assert make_scheduler(name, {"form": form}).params.form == form  # type: ignore[attr-defined]
    with pytest.raises(UserError, match="form"):
        make_scheduler(name, {"form": "paper"})


def test_relmas_list_names_the_forms() -> None:
    field = scheduler_class("planaria").Params.model_fields["form"]
    assert param_label("form", field.annotation) == "form=relmas|dysta|authors"
    assert param_label("alpha", float) == "alpha"


@pytest.mark.parametrize(
    ("name", "form"),
    [("planaria", "dysta"), ("planaria", "authors"), ("prema", "dysta"), ("dream", "dysta")],
)
@pytest.mark.parametrize("drop_hopeless", [False, True])
def test_every_published_form_runs_a_random_workload_to_the_end(
    name: str, form: str, drop_hopeless: bool
) -> None:
    # Two simba and two eyeriss units, three 3-layer models (each type faster on some layers),
    # DRAM-bound layers, 40 Poisson arrivals with deadlines 1.2-5x isolated: queueing and misses
    # occur. Every request ends completed or dropped, and the published forms never leave a
    # unit idle while a request waits, so they drop nothing themselves.
    rng = np.random.default_rng(3)
    costs = {f"m{m}": {t: rng.uniform(0.5, 3.0, 3).tolist() for t in ("simba", "eyeriss")}
             for m in range(3)}  # fmt: skip
    traffic = {m: {t: [2e12, 0.0, 5e12] for t in c} for m, c in costs.items()}
    chip = toy_chip(["simba", "eyeriss"] * 2, costs, dram_bytes=traffic, bandwidth_bytes_per_s=2e12)
    specs = []
    for t in np.cumsum(rng.exponential(0.6, 40)).tolist():
        m = int(rng.integers(3))
        deadline = t + float(rng.choice([1.2, 2.0, 5.0])) * chip.isolated_latency_s[m]
        specs.append(RequestSpec(t, 0, m, int(rng.choice([1, 3, 9])), deadline))
    res = Simulator(chip, specs, drop_hopeless=drop_hopeless).run(
        make_scheduler(name, {"form": form}), seed=0
    )
    assert bool(np.all(res.completed | res.dropped))
    assert res.completed.sum() > 0
    if not drop_hopeless:
        assert not res.dropped.any()
