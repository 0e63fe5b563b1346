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
from relmas.env.layout import ObsLayout, markdown_table
from relmas.env.multi_accel import MultiAccelEnv

REPO = Path(__file__).resolve().parents[2]
CFG: dict[str, Any] = {"scenario": "toy", "hardware": "2s1e", "seeds": [4], "num_requests": 40}


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
    for t in range(chip.num_types):
        out[f"remaining_latency[{t}]"] = chip.remaining_latency_s[m][t][layer] / iso
        out[f"layer_latency[{t}]"] = chip.latency_s[m][t][layer] / layer_s
        bw_share = chip.demand_bytes_per_s[m][t][layer] / chip.bandwidth_bytes_per_s
        out[f"layer_demand[{t}]"] = bw_share
    return out


def _expected_unit(env: MultiAccelEnv, a: int) -> dict[str, float]:
    sim, enc, chip = env.sim, env.encoder, env.encoder.chip
    assert sim is not None
    bw, req = chip.bandwidth_bytes_per_s, sim.accel_request[a]
    out = {f"type[{t}]": float(chip.accel_type[a] == t) for t in range(chip.num_types)}
    out["busy"] = float(req is not None)
    out["busy_remaining"] = sim.busy_remaining_s(a) / enc.time_scale_s
    out["granted_bandwidth"] = sim.granted_bandwidth_bytes_per_s(a) / bw
    out["planaria_unit"] = float(enc.choice is not None and enc.choice[1] == a)
    return out


def _expected_globals(env: MultiAccelEnv) -> dict[str, float]:
    sim, enc = env.sim, env.encoder
    assert sim is not None
    return {
        "dram_load": sim.dram_demand_bytes_per_s / enc.chip.bandwidth_bytes_per_s,
        "queue_length": len(sim.ready) / enc.top_k,
        "free_fraction": len(sim.free_accels) / enc.num_accels,
        "arrival_progress": 1.0 - sim.arrivals_left / len(sim.specs),
        "planaria_waits": float(enc.choice is None),
    }


def _check(obs: np.ndarray, layout: ObsLayout, expected: dict[str, float], **where: int) -> None:
    for name, value in expected.items():
        got = float(obs[layout.index(name, **where)])
        assert got == pytest.approx(np.clip(value, -10, 10), rel=1e-5, abs=1e-6), (name, where)


def test_named_fields_hold_what_their_names_say() -> None:
    env = MultiAccelEnv(CFG)
    layout = env.encoder.layout
    obs, _ = env.reset(seed=0)
    rng, done, steps = np.random.default_rng(1), False, 0
    while not done:
        flat = obs["observations"]
        for i in range(len(env.encoder.candidates)):
            _check(flat, layout, _expected_candidate(env, i), candidate=i)
        for i in range(len(env.encoder.candidates), layout.top_k):
            assert not flat[layout.index("present", candidate=i)]
        for a in range(layout.num_accels):
            _check(flat, layout, _expected_unit(env, a), unit=a)
        _check(flat, layout, _expected_globals(env))
        obs, _, done, _, _ = env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
        steps += 1
    assert steps > 50


def test_layout_dimensions_and_round_trip() -> None:
    layout = ObsLayout(top_k=3, num_accels=5, num_types=2, hints=True)
    assert layout.candidate_dim == 4 + 5 * 2 + 1 + len(ORDERINGS)
    assert layout.accel_dim == 2 + 4 + 1 and layout.global_dim == 6
    assert layout.obs_dim == 3 * layout.candidate_dim + 5 * layout.accel_dim + 6
    assert ObsLayout.from_dict(layout.to_dict()) == layout
    plain = ObsLayout(top_k=3, num_accels=5, num_types=2, hints=False)
    assert "planaria_unit" not in plain.unit_fields and plain.global_dim == 5
    env = MultiAccelEnv(CFG)
    assert env.observation_space["observations"].shape == (env.encoder.layout.obs_dim,)


def test_docs_show_the_declared_layout() -> None:
    assert markdown_table() in (REPO / "docs" / "rl.md").read_text()
