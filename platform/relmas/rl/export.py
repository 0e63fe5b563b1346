"""Export a trained masking PPO module to ``policy.npz`` + ``policy.json`` and run it in numpy.

Why: evaluating a policy should need neither Ray nor torch (imports cost seconds, pickled
checkpoints are Python- and Ray-version-sensitive), and a scheduler invoked at every decision
point must answer in microseconds. The actor path of the MLP (encoder + pi head) is a chain of
``Linear`` and element-wise activations, which numpy evaluates exactly.

This module imports only numpy and json at top level (torch lazily in :func:`export_module`), so
:mod:`relmas.rl.policy_scheduler` can load a policy in a Ray-free process.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from relmas.env.layout import ObsLayout
from relmas.errors import UserError
from relmas.files import dumps, write_atomic
from relmas.rl.pair_numpy import NumpyPairHead

POLICY_NPZ = "policy.npz"
POLICY_JSON = "policy.json"
# 3 added the optional pair head; 4 records the training recipe and the observation layout
# (relmas.rl.recipe, relmas.env.layout) instead of copies of their values; 5: the pair head's
# wait logit is an MLP over pooled pair features (wait_* arrays).
FORMAT_VERSION = 5
READABLE_FORMATS = (5,)
_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": lambda x: x,
}


Layer = tuple[np.ndarray, np.ndarray, str]


def _mlp_layers(seq: Any) -> list[Layer]:
    """(weight, bias, activation) of a torch ``Sequential`` of Linear + Tanh/ReLU."""
    import torch

    layers: list[Layer] = []
    for part in seq:
        if isinstance(part, torch.nn.Linear):
            w = part.weight.detach().cpu().numpy().astype(np.float32)
            b = part.bias.detach().cpu().numpy().astype(np.float32)
            layers.append((w, b, "linear"))
        elif isinstance(part, torch.nn.Tanh | torch.nn.ReLU):
            w, b, _ = layers[-1]
            layers[-1] = (w, b, type(part).__name__.lower())
        else:
            raise UserError(
                "model_config",
                f"cannot export layer {part!r} to numpy",
                "use fcnet/head layers without layernorm",
            )
    return layers


def _actor_parts(module: Any) -> tuple[list[Layer], dict[str, np.ndarray], list[Layer]]:
    """Actor path: encoder MLP (or LSTM tokenizer), optional LSTM weights, pi head MLP."""
    enc = module.encoder
    actor = enc.actor_encoder if hasattr(enc, "actor_encoder") else enc.encoder
    lstm: dict[str, np.ndarray] = {}
    if hasattr(actor, "lstm"):
        if actor.lstm.num_layers != 1:
            raise UserError("model_config", "only 1-layer LSTMs export", "set lstm num_layers=1")
        pre = _mlp_layers(actor.tokenizer.net.mlp) if actor.tokenizer is not None else []
        lstm = {
            k: v.detach().cpu().numpy().astype(np.float32)
            for k, v in actor.lstm.state_dict().items()
        }
    else:
        pre = _mlp_layers(actor.net.mlp)
    return pre, lstm, _mlp_layers(module.pi.net.mlp)


def _pair_parts(module: Any) -> tuple[list[Layer], list[Layer]]:
    """The pair head's scorer chain (hidden layers, then the output layer) and its wait MLP
    (both empty without a pair head)."""
    head = getattr(module, "pair_head", None)
    if head is None:
        return [], []
    return _mlp_layers([*head.hidden, head.out]), _mlp_layers([*head.wait[0], head.wait[1]])


def export_module(module: Any, out_dir: Path, meta: Mapping[str, Any]) -> Path:
    """Write the actor weights and ``meta`` (env version, obs shape, top_k...) into ``out_dir``."""
    pre, lstm, post = _actor_parts(module)
    pair, wait = _pair_parts(module)
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = {f"lstm_{k}": v for k, v in lstm.items()}
    for prefix, layers in (("pre", pre), ("post", post), ("pair", pair), ("wait", wait)):
        for i, (w, b, _) in enumerate(layers):
            arrays[f"{prefix}_w{i}"], arrays[f"{prefix}_b{i}"] = w, b
    np.savez(out_dir / POLICY_NPZ, **arrays)
    doc = dict(
        meta,
        format_version=FORMAT_VERSION,
        lstm=bool(lstm),
        pre_activations=[a for _, _, a in pre],
        post_activations=[a for _, _, a in post],
        pair_activations=[a for _, _, a in pair],
        wait_activations=[a for _, _, a in wait],
    )
    write_atomic(out_dir / POLICY_JSON, dumps(doc, sort_keys=True) + "\n")
    return out_dir / POLICY_NPZ


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class NumpyPolicy:
    """Greedy masked policy evaluated with numpy: MLP [-> LSTM cell] -> MLP head.

    With an LSTM the hidden state persists across calls (one call = one env step) until
    :meth:`reset_state`, as RLlib carries it through an episode.
    """

    def __init__(
        self,
        pre: list[Layer],
        post: list[Layer],
        lstm: Mapping[str, np.ndarray] | None = None,
        pair: NumpyPairHead | None = None,
    ) -> None:
        self.pair = pair
        self.pre = [(w.T.copy(), b, _ACTIVATIONS[a]) for w, b, a in pre]
        self.post = [(w.T.copy(), b, _ACTIVATIONS[a]) for w, b, a in post]
        self.lstm = dict(lstm or {})
        if self.lstm:
            self._w_ih_t = self.lstm["weight_ih_l0"].T.copy()
            self._w_hh_t = self.lstm["weight_hh_l0"].T.copy()
            self._b = self.lstm["bias_ih_l0"] + self.lstm["bias_hh_l0"]
        self.obs_dim = (pre[0][0] if pre else self.lstm["weight_ih_l0"]).shape[1]
        self.reset_state()

    def reset_state(self) -> None:
        """Zero the LSTM state (start of an episode / run)."""
        size = self._w_hh_t.shape[0] if self.lstm else 0
        self.h = np.zeros(size, np.float32)
        self.c = np.zeros(size, np.float32)

    def logits(self, obs: np.ndarray, layout: ObsLayout | None = None) -> np.ndarray:
        """Unmasked action logits of one observation (advances the LSTM state); a pair head
        reads ``obs`` by ``layout`` (any number of unit slots)."""
        if self.pair is not None:  # the pair head replaces the actor MLP (see rl/module.py)
            return self.pair(obs, layout)
        x = obs
        for wt, b, act in self.pre:
            x = act(x @ wt + b)
        if self.lstm:
            i, f, g, o = np.split(x @ self._w_ih_t + self.h @ self._w_hh_t + self._b, 4)
            self.c = _sigmoid(f) * self.c + _sigmoid(i) * np.tanh(g)
            self.h = _sigmoid(o) * np.tanh(self.c)
            x = self.h
        for wt, b, act in self.post:
            x = act(x @ wt + b)
        return x

    def act(
        self,
        obs: np.ndarray,
        mask: np.ndarray,
        prior: np.ndarray | None = None,
        w: float = 0.0,
        layout: ObsLayout | None = None,
    ) -> int:
        """Argmax over the valid actions of the logits plus ``w * prior`` (the module's prior).

        With one valid action (an ``outlook_gate`` policy where the gate is closed: most of
        heavy's decisions) the forward pass cannot change the answer and is skipped, unless an
        LSTM needs it to advance its state.
        """
        if not self.lstm:
            valid = np.flatnonzero(mask > 0.5)
            if len(valid) == 1:
                return int(valid[0])
        logits = self._scores(obs, prior, w, layout)
        return int(np.argmax(np.where(mask > 0.5, logits, -np.inf)))

    def ranked(
        self,
        obs: np.ndarray,
        mask: np.ndarray,
        prior: np.ndarray | None = None,
        w: float = 0.0,
        layout: ObsLayout | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The valid actions, most preferred first (ties: lower index first, so the first is
        :meth:`act`'s answer), and their probabilities (masked softmax): the candidates of a
        search (:mod:`relmas.rl.search`) and how sure the policy is."""
        valid = np.flatnonzero(mask > 0.5)
        logits = self._scores(obs, prior, w, layout)[valid].astype(np.float64)
        order = np.argsort(-logits, kind="stable")
        p = np.exp(logits[order] - logits[order[0]])
        return valid[order], p / p.sum()

    def _scores(
        self, obs: np.ndarray, prior: np.ndarray | None, w: float, layout: ObsLayout | None
    ) -> np.ndarray:
        """The logits plus ``w * prior``: what :meth:`act` and :meth:`ranked` order by."""
        logits = self.logits(obs, layout)
        return logits + w * prior if w and prior is not None else logits


def read_meta(policy_dir: Path) -> dict[str, Any]:
    """``policy.json`` of a policy directory, or a UserError naming the fix."""
    path = policy_dir / POLICY_JSON
    if not path.is_file():
        raise UserError(
            "checkpoint",
            f"{path} not found",
            "pass the --out directory of `relmas train` (it holds policy.json)",
        )
    try:
        return dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError) as exc:
        raise UserError("checkpoint", f"{path} is not valid JSON ({exc})", "re-export") from exc


def load_numpy_policy(policy_dir: Path) -> NumpyPolicy:
    """Load ``policy.npz`` written by :func:`export_module`."""
    meta = read_meta(policy_dir)
    with np.load(policy_dir / POLICY_NPZ) as data:
        pre = [
            (data[f"pre_w{i}"], data[f"pre_b{i}"], a) for i, a in enumerate(meta["pre_activations"])
        ]
        post = [
            (data[f"post_w{i}"], data[f"post_b{i}"], a)
            for i, a in enumerate(meta["post_activations"])
        ]
        lstm = {k[5:]: data[k] for k in data.files if k.startswith("lstm_")}
        pair = None
        if meta.get("pair_activations"):
            chains = [
                [
                    (data[f"{name}_w{i}"], data[f"{name}_b{i}"], _ACTIVATIONS[a])
                    for i, a in enumerate(meta[f"{name}_activations"])
                ]
                for name in ("pair", "wait")
            ]
            pair = NumpyPairHead(*chains, ObsLayout.from_dict(meta["layout"]))
    return NumpyPolicy(pre, post, lstm, pair)
