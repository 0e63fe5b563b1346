"""Every named field of the declared observation layout holds what its name says.

The encoder writes rows by concatenation; :mod:`relmas.env.layout` declares the order. This test
reads each value through the layout's names and compares it with an independent computation from
the simulator, so a reordering or a changed formula on either side fails here. It also keeps
``docs/rl.md``'s table identical to the declaration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from relmas.env.candidates import ORDERINGS
from relmas.env.features import OUTLOOK_HORIZON_S
from relmas.env.layout import ObsLayout, markdown_table
from relmas.env.multi_accel import MultiAccelEnv
from relmas.schedulers._lookahead import advance, left_s, live_rids, outcome
from relmas.schedulers.planaria import PlanariaScheduler
from relmas.sim import Simulator
from relmas.sim.request import DONE, RUNNING

REPO = Path(__file__).resolve().parents[2]
CFG: dict[str, Any] = {"scenario": "toy", "hardware": "2s1e", "seeds": [4], "num_requests": 40}
# The same chip in 6 unit slots with the known types listed the other way round.
PADDED: dict[str, Any] = {**CFG, "types": ["eyeriss", "simba"], "max_units": 6}
# The opt-in block: each candidate's slack after waiting for a unit of each type.
WAIT: dict[str, Any] = {**PADDED, "wait_slack": True}
# The other opt-in block: Planaria's own simulated future (each candidate's slack where it ends).
OUTLOOK: dict[str, Any] = {**PADDED, "outlook": True}


def _planaria_future(env: MultiAccelEnv) -> tuple[Simulator, float]:
    """A snapshot of the env's state rolled by a fresh Planaria for the outlook's horizon, and
    the time it is scored at (the horizon's end if the snapshot ran out of events first)."""
    assert env.sim is not None
    clone = env.sim.snapshot()
    base = PlanariaScheduler()
    base.reset(clone, np.random.default_rng(0))
    end = env.sim.now_s + OUTLOOK_HORIZON_S
    while advance(clone):
        if clone.now_s >= end:
            return clone, clone.now_s
        clone.apply(base.decide(clone))
    return clone, max(clone.now_s, end)


def _expected_outlook(env: MultiAccelEnv, i: int) -> float:
    """The candidate's best-case finish where Planaria's future ends, by hand."""
    future, at = _planaria_future(env)
    chip, r = future.chip, future.requests[env.encoder.candidates[i].rid]
    if r.state == DONE:
        finish = r.finish_s
        return (r.deadline_s - finish) / chip.isolated_latency_s[r.model]
    rest = chip.remaining_best_s[r.model][r.next_layer + 1]
    if r.state == RUNNING:
        m, ty, layer = r.model, chip.accel_type[r.accel], r.next_layer
        left = future.remaining_work_s[r.accel] * chip.latency_s[m][ty][layer]
        finish = at + left / chip.compute_s[m][ty][layer] + rest
    else:
        left = left_s(future)
        finish = (
            at
            + rest
            + min(
                left[a] + chip.latency_s[r.model][chip.accel_type[a]][r.next_layer]
                for a in range(chip.num_accels)
            )
        )
    return (r.deadline_s - finish) / chip.isolated_latency_s[r.model]


def _free_in_s(env: MultiAccelEnv, k: int) -> float:
    """Seconds until a unit of known type ``k`` is free (0 if one is, inf if the chip has none)."""
    sim, enc = env.sim, env.encoder
    assert sim is not None
    units = [a for a in range(enc.chip.num_accels) if enc.view.unit_type[a] == k]
    waits = [0.0 if a in sim.free_accels else sim.busy_remaining_s(a) for a in units]
    return min(waits, default=float("inf"))


def _expected_candidate(env: MultiAccelEnv, i: int) -> dict[str, float]:
    sim, enc, chip = env.sim, env.encoder, env.encoder.chip
    assert sim is not None
    r = enc.candidates[i]
    m, layer, now = r.model, r.next_layer, sim.now_s
    iso = chip.isolated_latency_s[m]
    layer_s = iso / chip.num_layers[m]
    out = {
        "present": 1.0,
        "slack": (r.deadline_s - now - chip.remaining_best_s[m][layer]) / iso,
        "waited": (now - r.arrival_s) / iso,
        "priority": r.priority / 9.0,
        "planaria_choice": float(enc.choice is not None and enc.choice[0] is r),
    }
    for k, name in enumerate(enc.view.types):
        t = chip.type_names.index(name)
        out[f"remaining_latency[{k}]"] = chip.remaining_latency_s[m][t][layer] / iso
        out[f"layer_latency[{k}]"] = chip.latency_s[m][t][layer] / layer_s
        out[f"layer_demand[{k}]"] = (
            chip.demand_bytes_per_s[m][t][layer] / chip.bandwidth_bytes_per_s
        )
        rest = chip.remaining_best_s[m][layer + 1]
        out[f"type_slack[{k}]"] = (r.deadline_s - now - chip.latency_s[m][t][layer] - rest) / iso
        if enc.layout.wait_slack:
            after = now + min(_free_in_s(env, k), 10.0 * enc.time_scale_s)
            run_s = chip.latency_s[m][t][layer]
            out[f"wait_slack[{k}]"] = (r.deadline_s - after - run_s - rest) / iso
    if enc.layout.outlook:
        out["outlook"] = _expected_outlook(env, i)
    return out


def _expected_unit(env: MultiAccelEnv, a: int) -> dict[str, float]:
    sim, enc, chip = env.sim, env.encoder, env.encoder.chip
    assert sim is not None
    bw, req = chip.bandwidth_bytes_per_s, sim.accel_request[a]
    kind = chip.type_names[chip.accel_type[a]]
    out = {f"type[{k}]": float(name == kind) for k, name in enumerate(enc.view.types)}
    out["present"] = 1.0
    out["busy"] = float(req is not None)
    out["busy_remaining"] = sim.busy_remaining_s(a) / enc.time_scale_s
    out["granted_bandwidth"] = sim.granted_bandwidth_bytes_per_s(a) / bw
    out["planaria_unit"] = float(enc.choice is not None and enc.choice[1] == a)
    if req is not None:
        rest = chip.remaining_best_s[req.model][req.next_layer]
        out["running_slack"] = (req.deadline_s - sim.now_s - rest) / chip.isolated_latency_s[
            req.model
        ]
    return out


def _expected_globals(env: MultiAccelEnv) -> dict[str, float]:
    sim, enc = env.sim, env.encoder
    assert sim is not None
    out = {
        "dram_load": sim.dram_demand_bytes_per_s / enc.chip.bandwidth_bytes_per_s,
        "queue_length": len(sim.ready) / enc.top_k,
        "free_fraction": len(sim.free_accels) / enc.chip.num_accels,
        "arrival_progress": 1.0 - sim.arrivals_left / len(sim.specs),
        "planaria_waits": float(enc.choice is None),
    }
    for k in range(len(enc.view.types)):
        units = [a for a in range(enc.chip.num_accels) if enc.view.unit_type[a] == k]
        out[f"type_units[{k}]"] = len(units) / enc.num_accels
        waits = [0.0 if a in sim.free_accels else sim.busy_remaining_s(a) / enc.time_scale_s
                 for a in units]  # fmt: skip
        out[f"type_free_in[{k}]"] = min(waits, default=10.0)
    if enc.layout.outlook:
        live = live_rids(sim)
        future, at = _planaria_future(env)
        out["outlook_lost"] = (outcome(sim, live) - outcome(future, live, at)) / enc.top_k
    return out


def _check(obs: np.ndarray, layout: ObsLayout, expected: dict[str, float], **where: int) -> None:
    for name, value in expected.items():
        got = float(obs[layout.index(name, **where)])
        assert got == pytest.approx(np.clip(value, -10, 10), rel=1e-5, abs=1e-6), (name, where)


@pytest.mark.parametrize(
    "config", [CFG, PADDED, WAIT, OUTLOOK], ids=["own", "padded", "wait_slack", "outlook"]
)
def test_named_fields_hold_what_their_names_say(config: dict[str, Any]) -> None:
    env = MultiAccelEnv(config)
    layout = env.encoder.layout
    obs, _ = env.reset(seed=0)
    rng, done, steps = np.random.default_rng(1), False, 0
    while not done:
        flat = obs["observations"]
        for i in range(len(env.encoder.candidates)):
            _check(flat, layout, _expected_candidate(env, i), candidate=i)
        for i in range(len(env.encoder.candidates), layout.top_k):
            assert not flat[layout.index("present", candidate=i)]
        for a in range(env.encoder.chip.num_accels):
            _check(flat, layout, _expected_unit(env, a), unit=a)
        for a in range(env.encoder.chip.num_accels, layout.num_accels):  # padding slots
            assert not flat[layout.units][a * layout.accel_dim : (a + 1) * layout.accel_dim].any()
        assert not obs["action_mask"][:-1].reshape(layout.top_k, -1)[:, 3:].any()
        _check(flat, layout, _expected_globals(env))
        obs, _, done, _, _ = env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
        steps += 1
    assert steps > 50


def test_layout_dimensions_and_round_trip() -> None:
    layout = ObsLayout(top_k=3, num_accels=5, num_types=2, hints=True)
    assert layout.candidate_dim == 4 + (5 + 1) * 2 + 1 + len(ORDERINGS)
    assert layout.accel_dim == 1 + 2 + 5 + 1 and layout.global_dim == 5 + 2 * 2 + 1
    assert layout.obs_dim == 3 * layout.candidate_dim + 5 * layout.accel_dim + layout.global_dim
    assert ObsLayout.from_dict(layout.to_dict()) == layout
    older = {k: v for k, v in layout.to_dict().items() if k != "wait_slack"}  # a v2 policy.json
    assert ObsLayout.from_dict(older) == layout
    waiting = ObsLayout(top_k=3, num_accels=5, num_types=2, hints=True, wait_slack=True)
    assert waiting.candidate_dim == layout.candidate_dim + 2
    assert ObsLayout.from_dict(waiting.to_dict()).with_units(9).wait_slack
    looking = ObsLayout(top_k=3, num_accels=5, num_types=2, hints=True, outlook=True)
    assert looking.candidate_dim == layout.candidate_dim + 1
    assert looking.global_dim == layout.global_dim + 1
    assert ObsLayout.from_dict(looking.to_dict()).with_units(9).outlook
    assert layout.with_units(9).num_accels == 9 and layout.with_units(9).top_k == 3
    plain = ObsLayout(top_k=3, num_accels=5, num_types=2, hints=False)
    assert "planaria_unit" not in plain.unit_fields and plain.global_dim == 5 + 2 * 2
    env = MultiAccelEnv(CFG)
    assert env.observation_space["observations"].shape == (env.encoder.layout.obs_dim,)


def test_docs_show_the_declared_layout() -> None:
    assert markdown_table() in (REPO / "docs" / "rl.md").read_text()


def test_future_key_summarises_the_upcoming_arrivals() -> None:
    from relmas.env.layout import FUTURE_WINDOWS

    env = MultiAccelEnv(CFG)
    obs, _ = env.reset(seed=0)
    rng, done = np.random.default_rng(2), False
    while not done:
        sim, ts = env.sim, env.encoder.time_scale_s
        assert sim is not None
        iso = sim.chip.isolated_latency_s
        for i, w in enumerate(FUTURE_WINDOWS):
            upcoming = [s for s in sim.specs if sim.now_s < s.arrival_s <= sim.now_s + w * ts]
            work = sum(iso[s.model] for s in upcoming) / (sim.chip.num_accels * w * ts)
            assert obs["future"][i] == pytest.approx(min(work, 10.0), rel=1e-5, abs=1e-7)
        left = sum(1 for s in sim.specs if s.arrival_s > sim.now_s) / len(sim.specs)
        assert obs["future"][-1] == pytest.approx(left, rel=1e-6)
        obs, _, done, _, _ = env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))


def test_the_outlook_gate_leaves_only_planarias_action_where_its_future_loses_nothing() -> None:
    """The same actions through a gated and an ungated env: the same observations; the gated
    mask is Planaria's action alone exactly where ``outlook_lost`` is 0 (and that is valid)."""
    gated, plain = MultiAccelEnv({**OUTLOOK, "outlook_gate": True}), MultiAccelEnv(OUTLOOK)
    (g, _), (p, _) = gated.reset(seed=0), plain.reset(seed=0)
    lost_at = gated.encoder.layout.index("outlook_lost")
    rng, done, closed, steps = np.random.default_rng(2), False, 0, 0
    while not done:
        np.testing.assert_array_equal(g["observations"], p["observations"])
        shut = g["observations"][lost_at] == 0 and float(p["action_mask"] @ p["action_prior"]) > 0
        assert gated.encoder.gate_closed == shut
        expected = p["action_prior"] if shut else p["action_mask"]
        np.testing.assert_array_equal(g["action_mask"], expected)
        closed += shut
        action = int(rng.choice(np.flatnonzero(g["action_mask"])))
        (g, _, done, _, _), (p, *_) = gated.step(action), plain.step(action)
        steps += 1
    assert 0 < closed < steps
