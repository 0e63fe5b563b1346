"""Imitation (DAgger) pieces: teacher labels as action sets, the set loss, the supervised fit,
and the recipe's checks. The Ray-driven rounds are in test_imitation_rounds.py (slow)."""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from relmas.env.multi_accel import MultiAccelEnv
from relmas.errors import UserError
from relmas.rl.labels import collect_episode, label_state, options_of
from relmas.rl.recipe import Recipe
from relmas.schedulers.registry import make_scheduler
from relmas.sim.request import Dispatch

torch = pytest.importorskip("torch")
TOY: dict[str, Any] = {"scenario": "toy", "hardware": "2s1e", "train_seeds": 3,
                       "episode_requests": 25, "pair_hidden": [32], "hidden": [8]}  # fmt: skip


@dataclass(frozen=True)
class _Option:
    decisions: list[Any]
    score: float
    evaluated: bool


@dataclass(frozen=True)
class _Advice:
    options: list[_Option]
    best: int


class _TieTeacher:
    """Offers its own choice, the same request on another free unit, and waiting; the first
    two tie (score 2), waiting scores 1."""

    def __init__(self) -> None:
        self.base = make_scheduler("planaria")

    def reset(self, sim: Any, rng: Any) -> None:
        self.base.reset(sim, rng)

    def advise(self, sim: Any) -> _Advice:
        first = [d for d in self.base.decide(sim) if isinstance(d, Dispatch)][:1]
        options = [_Option(first, 2.0, True)]
        other = [a for a in sim.free_accels if first and a != first[0].accel]
        if first and other:
            options.append(_Option([Dispatch(first[0].request, other[0])], 2.0, True))
        if sim.busy:
            options.append(_Option([], 1.0, True))
        return _Advice(options, 0)

    def decide(self, sim: Any) -> list[Any]:
        return self.advise(sim).options[0].decisions


def _env() -> MultiAccelEnv:
    return MultiAccelEnv(Recipe(**TOY).env_config())


def test_labels_are_the_set_of_best_scoring_actions() -> None:
    env, teacher = _env(), _TieTeacher()
    env.reset(seed=0)
    assert env.sim is not None
    teacher.reset(env.sim, np.random.default_rng(0))
    seen_tie = False
    for _ in range(200):
        options, best = options_of(teacher, env.sim)
        label, action, informative = label_state(env.encoder, options, best)
        assert label is not None and action is not None and label[action]
        assert informative == (len({s for _, s, _ in options}) > 1)
        if sum(1 for _, s, _ in options if s == 2.0) == 2:
            assert label.sum() == 2  # both tied options are right
            seen_tie = True
        _, _, done, _, _ = env.step(action)
        if done:
            break
    assert seen_tie


def test_a_plain_scheduler_teaches_its_own_decision() -> None:
    env = _env()
    env.reset(seed=0)
    assert env.sim is not None
    options, best = options_of(make_scheduler("edf"), env.sim)
    assert len(options) == 1 and best == 0
    label, _, informative = label_state(env.encoder, options, best)
    assert label is not None and int(label.sum()) == 1 and not informative


def test_set_loss_by_hand() -> None:
    from relmas.rl.imitate import set_loss

    # p = softmax([0, ln 3, 0]) = [1/5, 3/5, 1/5]; label {1}: -log(3/5); label {0, 2}: -log(2/5)
    logits = torch.tensor([[0.0, math.log(3.0), 0.0], [0.0, math.log(3.0), 0.0]])
    label = torch.tensor([[False, True, False], [True, False, True]])
    one = set_loss(logits[:1], label[:1], torch.ones(1))
    assert float(one) == pytest.approx(-math.log(3 / 5))
    both = set_loss(logits, label, torch.tensor([1.0, 3.0]))  # weighted mean
    assert float(both) == pytest.approx((-math.log(3 / 5) - 3 * math.log(2 / 5)) / 4)


def test_fit_learns_a_deterministic_teacher() -> None:
    from relmas.rl.imitate import build_module, evaluate, fit, weighted_tensors
    from relmas.rl.labels import Labelled
    from relmas.rl.trainer import module_config

    recipe = Recipe(**TOY)
    env = MultiAccelEnv(recipe.env_config())
    parts = [
        collect_episode(env, make_scheduler("planaria"), None, pair=("toy", "2s1e"),
                        episode_seed=s, beta=1.0, keep_plain=1.0, seed=s).arrays()
        for s in range(3)
    ]  # fmt: skip
    data = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    module = build_module(env, module_config(recipe), seed=0)
    fitted = fit(module, data, epochs=30, lr=3e-3, minibatch=64, informative_weight=1.0, seed=0)
    assert fitted.states == len(data["obs"]) > 200
    assert fitted.accuracy > 0.95 and fitted.loss < 0.2
    assert isinstance(Labelled().arrays(), dict)
    # measuring in chunks (bounded memory on a large aggregate) changes no statistic
    tensors = weighted_tensors(data, informative_weight=5.0, deviation_weight=20.0)
    whole = evaluate(module, tensors, chunk=len(data["obs"]))
    pieces = evaluate(module, tensors, chunk=7)
    assert astuple(pieces) == pytest.approx(astuple(whole), rel=1e-5, nan_ok=True)
    assert whole.states == fitted.states and not math.isnan(whole.value_explained)


@pytest.mark.parametrize(
    ("imitation", "needle"),
    [
        ({"rounds": 0}, r"imitation\.rounds"),
        ({"teacher": "planria"}, r"imitation\.teacher: .*did you mean .planaria."),
        ({"teacher": "planaria", "teacher_params": {"x": 1}}, r"imitation\.teacher: .*params\.x"),
        ({"beta": 1.5}, r"imitation\.beta"),
        ({"scenario_weights": {"tihgt": 2}}, r"imitation\.scenario_weights: unknown name 'tihgt'"),
        ({"scenario_weights": {"toy": 0}}, r"imitation\.scenario_weights\.toy"),
    ],
)
def test_bad_imitation_settings_are_one_line(imitation: dict[str, Any], needle: str) -> None:
    data = {**TOY, "imitation": {"teacher": "planaria", **imitation}}
    with pytest.raises(UserError, match=needle) as err:
        Recipe.load(data)
    assert "\n" not in str(err.value)


def test_imitation_needs_the_pair_head() -> None:
    with pytest.raises(UserError, match="pair_hidden"):
        Recipe.load({**TOY, "pair_hidden": [], "imitation": {"teacher": "planaria"}})


def test_warm_start_copies_what_fits_and_names_the_rest() -> None:
    from relmas.rl.warm_start import matching_state

    target = {"a": np.zeros((2, 3), np.float32), "b": np.zeros(4, np.float32), "c": np.ones(1)}
    saved = {"a": np.full((2, 3), 7.0), "b": np.ones(5), "d": np.ones(2)}
    out, fresh = matching_state(target, saved)
    assert fresh == ["b", "c"]  # b: another shape; c: not saved; d: unknown here, ignored
    np.testing.assert_array_equal(out["a"], np.full((2, 3), 7.0))
    assert out["a"].dtype == np.float32 and out["b"] is target["b"]


def test_teacher_bases_are_orderings_the_env_offers() -> None:
    from relmas.env.candidates import ORDERINGS
    from relmas.rl.teacher import BASE_CANDIDATES

    assert {ref.partition("?")[0] for ref in BASE_CANDIDATES} == set(ORDERINGS)


def test_equal_scenario_weights_take_pairs_in_turn() -> None:
    from relmas.rl.dagger import pair_schedule

    assert pair_schedule([1.0, 1.0, 1.0], 7) == [0, 1, 2, 0, 1, 2, 0]


@pytest.mark.parametrize("weights", [[1.0, 3.0], [8.0, 1.0, 1.0, 2.0], [0.5, 2.5, 1.0]])
def test_weighted_schedule_gives_every_prefix_its_share(weights: list[float]) -> None:
    from relmas.rl.dagger import pair_schedule

    picks = pair_schedule(weights, 60)
    for n in range(1, 61):
        for pair, weight in enumerate(weights):
            share = n * weight / sum(weights)
            assert abs(picks[:n].count(pair) - share) < len(weights), (n, pair)


def test_a_weight_for_a_preset_outside_the_mix_weighs_nothing() -> None:
    """``relmas train --config train_default.yaml --scenario heavy`` keeps the file's
    ``{tight: 8}``: it must load and leave the narrowed mix in turn."""
    from relmas.rl.dagger import episodes_of

    imitation = {"teacher": "planaria", "episodes": 4, "scenario_weights": {"tight": 8}}
    recipe = Recipe.load({**TOY, "hardware": ["2s1e", "1s2e"], "imitation": imitation})
    assert [p for p, _ in episodes_of(recipe, 0)] == [("toy", "2s1e"), ("toy", "1s2e")] * 2


def test_a_weighted_scenario_gets_its_share_of_the_episodes() -> None:
    from relmas.rl.dagger import episodes_of

    data = {**TOY, "hardware": ["2s1e", "1s2e"], "train_seeds": 5}
    imitation = {"teacher": "planaria", "episodes": 6, "rounds": 2}
    plain = Recipe.load({**data, "imitation": imitation})
    weighted_imitation = {**imitation, "scenario_weights": {"toy": 2}}
    weighted = Recipe.load({**data, "scenario": ["toy", "heavy"], "imitation": weighted_imitation})
    assert [p for p, _ in episodes_of(plain, 0)] == [("toy", "2s1e"), ("toy", "1s2e")] * 3
    rounds = episodes_of(weighted, 0) + episodes_of(weighted, 1)
    assert sum(p[0] == "toy" for p, _ in rounds) == 8  # 2 of every 3 episodes
    assert [s for _, s in rounds] == [0, 1, 2, 3, 4, 0, 2, 3, 4, 0, 1, 2]


def test_a_round_that_would_not_fit_in_memory_is_a_one_line_error(monkeypatch: Any) -> None:
    from relmas.rl import imitation_run

    held = {"obs": np.zeros((1000, 250), np.float32)}  # 1 MB
    new = {"obs": np.zeros((3000, 250), np.float32)}  # 3 MB
    need = 4_000_000 + imitation_run.FIT_OVERHEAD_BYTES
    monkeypatch.setattr(imitation_run, "available_bytes", lambda: need)
    imitation_run.check_room(1, held, new)  # just fits
    monkeypatch.setattr(imitation_run, "available_bytes", lambda: need - 1)
    with pytest.raises(UserError, match=r"^imitation\.episodes: round 1's labelled states need"):
        imitation_run.check_room(1, held, new)
    monkeypatch.setattr(imitation_run, "available_bytes", lambda: None)  # not Linux: no check
    imitation_run.check_room(1, held, new)


def test_available_memory_is_read_on_linux() -> None:
    from relmas.rl.imitation_run import available_bytes

    if not Path("/proc/meminfo").is_file():
        pytest.skip("no /proc/meminfo: the memory check is off here")
    free = available_bytes()
    assert free is not None and 2**20 < free < 2**50


def test_selection_takes_the_best_validation_and_the_earliest_among_equals() -> None:
    from relmas.rl.selection import best_index

    assert best_index([0.5, 0.7, 0.6]) == 1
    assert best_index([0.7, 0.5, 0.7]) == 0  # a tie goes to less training
    assert best_index([0.4]) == 0


def test_auto_bases_are_scored_on_the_configured_training_episodes() -> None:
    from relmas.rl.teacher import selection_episodes

    recipe = {"scenario": "heavy", "pair_hidden": [8], "episode_requests": 300}
    teacher = {"teacher_params": {"base": "auto"}}
    data, seeds = selection_episodes(Recipe.model_validate({**recipe, "imitation": teacher}))
    assert seeds == [0, 1, 2, 3] and data["episode_requests"] == 300  # the defaults
    wide = {**teacher, "base_seeds": 20, "base_full_episodes": True}
    data, seeds = selection_episodes(Recipe.model_validate({**recipe, "imitation": wide}))
    assert seeds == list(range(20))
    assert Recipe.model_validate(data).env_config().num_requests is None  # the whole trace


def test_selection_candidates_are_the_start_then_every_checkpoint(tmp_path: Path) -> None:
    import json

    from relmas.rl.selection import candidates

    for it in (10, 5, 15):
        (tmp_path / "checkpoints" / f"iter_{it:06d}").mkdir(parents=True)
        if it != 15:  # an interrupted save leaves no policy.json: not a candidate
            (tmp_path / "checkpoints" / f"iter_{it:06d}" / "policy.json").write_text("{}")
    start = tmp_path / "imitation" / "round_01"
    names = [name for name, _ in candidates(tmp_path, start)]
    assert names == ["start (round_01)", "PPO iteration 5", "PPO iteration 10"]
    assert candidates(tmp_path, None)[0][0] == "PPO iteration 5"
    # after --resume the start is what warm_start.json recorded
    (tmp_path / "warm_start.json").write_text(json.dumps({"init": str(start), "fresh": []}))
    assert candidates(tmp_path, None)[0] == ("start (round_01)", start)


def test_teacher_bases_round_trip_through_their_file(tmp_path: Path) -> None:
    from relmas.rl.teacher import load_bases, save_bases

    assert load_bases(tmp_path) == {}  # no imitation: no file
    bases = {("heavy", "2s2e"): "planaria?priority_exponent=0.5", ("tight", "1s3e@7.4"): "sjf"}
    save_bases(tmp_path, bases)
    assert load_bases(tmp_path) == bases


class _ReverseRay:
    """Ray's wait/get over task numbers, finishing the last submitted task first."""

    def __init__(self, results: list[Any]) -> None:
        self.results = results

    def wait(self, pending: list[int], num_returns: int) -> tuple[list[int], list[int]]:
        return pending[-num_returns:], pending[:-num_returns]

    def get(self, ref: int) -> Any:
        return self.results[ref]


def test_labelled_episodes_merge_in_submission_order_whatever_finishes_first() -> None:
    from relmas.rl.dagger import in_submission_order, merge

    episodes = [({"obs": np.full((2, 1), float(i))}, {"states": 2}) for i in range(4)]
    seen: list[dict[str, int]] = []
    parts, counts = in_submission_order(_ReverseRay(episodes), [0, 1, 2, 3], seen.append)
    assert merge(parts)["obs"].ravel().tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert counts["states"] == 8 and len(seen) == 4
