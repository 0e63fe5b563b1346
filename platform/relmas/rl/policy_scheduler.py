"""A trained RL policy as a :class:`~relmas.schedulers.base.Scheduler` (``rl:DIR`` references).

The scheduler builds exactly the env's observation (:class:`relmas.env.features.FeatureEncoder`)
and returns one dispatch per call, or nothing for the wait action -- the same one-action-per-step
protocol as the env, so the engine re-asks at the same instant and the policy sees the same
states it was trained on. Inference runs in numpy from ``policy.npz``: no Ray, no torch.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from relmas.env.features import ENV_ID, ENV_VERSION, FeatureEncoder, gate_active
from relmas.errors import UserError
from relmas.rl.ensemble import ENSEMBLE_JSON, EnsemblePolicy, check_members, read_ensemble
from relmas.rl.export import (
    POLICY_NPZ,
    READABLE_FORMATS,
    NumpyPolicy,
    load_numpy_policy,
    read_meta,
)
from relmas.rl.recipe import Recipe
from relmas.rl.router import ROUTER_JSON, SHIPPED_PREFIX, RoutedScheduler, read_router
from relmas.rl.search import PolicySearch, check_width, make_search
from relmas.schedulers.base import Decision, Scheduler
from relmas.schedulers.registry import split_ref
from relmas.sim.engine import Simulator
from relmas.sim.request import Dispatch


class PolicyScheduler(Scheduler):
    """Greedy (argmax over valid actions) scheduler from an exported policy; with ``search``
    (``rl:DIR?search=2``), a policy-guided lookahead where its outlook gate is open
    (:mod:`relmas.rl.search`)."""

    name = "rl"

    def __init__(
        self,
        policy: NumpyPolicy | EnsemblePolicy,
        meta: dict[str, Any],
        source: str = "",
        wait_guard: bool | None = None,
        search: int = 0,
        search_base: object = None,
        search_confidence: object = None,
    ) -> None:
        super().__init__()
        self.policy = policy
        self.meta = meta
        self.recipe = r = Recipe.load(meta["recipe"], f"{source}/policy.json: recipe")
        self.source = source
        # ``rl:DIR?wait_guard=true`` guards a policy trained without it (None: as trained).
        self.wait_guard = self.recipe.wait_guard if wait_guard is None else wait_guard
        self.encoder: FeatureEncoder | None = None
        self.prior_weight = self.recipe.prior_weight
        self.search: PolicySearch | None = make_search(
            search, self.gated, r.planaria_params, search_base, search_confidence
        )

    @property
    def gated(self) -> bool:
        """Whether the policy's observation closes an outlook gate (``outlook_gate``)."""
        r = self.recipe
        return gate_active(r.outlook_gate, r.outlook, r.candidates)

    @property
    def decision_period_s(self) -> float | None:
        """The decision period the policy was trained with (None: event-driven)."""
        return self.recipe.decision_period_s

    def _check_chip(self, encoder: FeatureEncoder) -> None:
        """A flat policy needs the observation shape it was trained on; a pair head any chip
        whose unit types it knows (the encoder refuses other types)."""
        if self.policy.pair is not None or encoder.obs_dim == self.meta["obs_dim"]:
            return
        accel_types = [encoder.chip.type_names[t] for t in encoder.chip.accel_type]
        raise UserError(
            "hardware",
            f"policy {self.source} was trained on {self.recipe.hardware} "
            f"({self.meta['accel_types']}, obs_dim {self.meta['obs_dim']}), not on "
            f"{accel_types} (obs_dim {encoder.obs_dim})",
            "evaluate on the training hardware or train a policy for this one",
        )

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None:
        """Build the feature encoder for this run's chip (checked against the policy)."""
        super().reset(sim, rng)
        self.policy.reset_state()
        self._build(sim)

    def _build(self, sim: Simulator) -> FeatureEncoder:
        r, layout = self.recipe, self.meta["layout"]
        slots = None if self.policy.pair is not None else int(layout["num_accels"])
        enc = FeatureEncoder(
            sim.chip,
            r.top_k,
            float(self.meta["priority_scale"]),
            r.candidates,
            r.planaria_params,
            types=self.meta["types"],
            max_units=slots if slots is not None and slots >= sim.chip.num_accels else None,
            wait_slack=r.wait_slack,
            outlook=r.outlook,
            outlook_gate=r.outlook_gate,
            wait_guard=self.wait_guard,
        )
        self._check_chip(enc)
        self.encoder = enc
        return enc

    def decide(self, sim: Simulator) -> list[Decision]:
        """One dispatch chosen by the policy, or ``[]`` (wait)."""
        enc = self.encoder
        if enc is None or enc.chip is not sim.chip:
            self.policy.reset_state()
            enc = self._build(sim)
        enc.encode(sim)
        args = (enc.obs, enc.mask, enc.prior, self.prior_weight, enc.layout)
        search = self.search
        if search is not None and not enc.gate_closed and np.count_nonzero(enc.mask) > 1:
            ranked, probability = self.policy.ranked(*args)
            wanted = search.wanted(float(probability[0]))
            action = search.choose(sim, enc, ranked) if wanted else int(ranked[0])
        else:
            action = self.policy.act(*args)
        choice = enc.decode(action)
        if choice is None:
            return []
        return [Dispatch(choice[0], choice[1])]


SHIPPED_DIR = Path(__file__).resolve().parent / "policies"


def resolve_policy_dir(policy_dir: str | Path) -> Path:
    """A shipped policy's name (``rl:default``) or a directory path.

    A bare name (no path separator) that names a policy shipped in ``relmas/rl/policies/`` wins
    over a same-named directory in the working directory, so ``rl:default`` means one thing
    everywhere; write ``rl:./default`` for the local directory.
    """
    text = str(policy_dir)
    if not text.strip():
        raise UserError(
            "checkpoint",
            "empty policy reference (rl: needs a directory)",
            "write rl:default or rl:PATH to a `relmas train --out` directory",
        )
    if "/" not in text and "\\" not in text and (SHIPPED_DIR / text).is_dir():
        return SHIPPED_DIR / text
    return Path(text).expanduser().resolve()


# policy.json keys read at load or run time, with their JSON types.
_META_TYPES: dict[str, type | tuple[type, ...]] = {
    "obs_dim": int,
    "priority_scale": (int, float),
    "accel_types": list,
    "types": list,
    "layout": dict,
    "recipe": dict,
    "pre_activations": list,
    "post_activations": list,
}


def _check_meta(path: Path, meta: dict[str, Any]) -> None:
    """policy.json must come from this env version and export format and hold every key."""
    if meta.get("env_id") != ENV_ID or meta.get("env_version") != ENV_VERSION:
        raise UserError(
            "checkpoint",
            f"{path} was trained on {meta.get('env_id')} v{meta.get('env_version')}, "
            f"this build has {ENV_ID} v{ENV_VERSION}",
            "retrain with `relmas train`",
        )
    if meta.get("format_version") not in READABLE_FORMATS:
        raise UserError(
            "checkpoint",
            f"{path} has export format {meta.get('format_version')}, "
            f"this build reads {', '.join(map(str, READABLE_FORMATS))}",
            "re-run `relmas train`",
        )
    for key, kind in _META_TYPES.items():
        value = meta.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            problem = f"{path / 'policy.json'} field {key!r} is {value!r:.60}"
            raise UserError("checkpoint", problem, "re-export the policy with `relmas train`")
    if not all(isinstance(t, str) for t in meta["accel_types"]):
        raise UserError("checkpoint", f"{path} lists bad accel_types", "re-export the policy")


def load_policy_scheduler(
    policy_dir: str | Path,
    *,
    wait_guard: bool | None = None,
    search: int | None = None,
    search_base: str | None = None,
    search_confidence: float | None = None,
) -> PolicyScheduler | RoutedScheduler:
    """Load ``policy.npz`` + ``policy.json`` from a ``relmas train --out`` directory, an
    ensemble's directory (``relmas ensemble``), a router's (``relmas route``) or a shipped
    policy's name (``default``);
    ``wait_guard`` (``rl:DIR?wait_guard=true``) overrides the recipe's (see
    :class:`relmas.env.config.EnvConfig`); ``search`` (``rl:DIR?search=2``) searches among
    that many of the policy's best actions where its outlook gate is open (a router: its
    gated policies without a search of their own; its ``router.json`` may set it), 0 turns a
    router's search off; a policy without an outlook gate also needs ``search_base`` and
    ``search_confidence`` (``rl:default?search=2&search_base=edf&search_confidence=0.9``)."""
    if wait_guard is not None and not isinstance(wait_guard, bool):
        raise UserError("wait_guard", f"must be true or false, got {wait_guard!r}", "e.g. "
                        "rl:default?wait_guard=true")  # fmt: skip
    if search is not None:
        check_width(search)
    path = resolve_policy_dir(policy_dir)
    if not path.is_dir():
        raise UserError(
            "checkpoint",
            f"directory {path} does not exist",
            "pass the --out directory of `relmas train`",
        )
    if (path / ROUTER_JSON).is_file():
        if search_base is not None or search_confidence is not None:
            raise UserError("search_base", "a router's policies take their own search "
                            "parameters", "write them after the policy in router.json "
                            "(relmas route --tight 'rl:default?search=2&...')")  # fmt: skip
        return _load_router(path, wait_guard, search)
    return load_one_policy(path, wait_guard, search or 0, search_base, search_confidence)


def _load_router(path: Path, wait_guard: bool | None, search: int | None) -> RoutedScheduler:
    """A router's two policies; the search (the argument, else ``router.json``'s) goes to
    those with an outlook gate and no search of their own, and a search with neither gated is
    refused."""
    spec = read_router(path)
    width = spec.search if search is None else search
    parts = [_router_part(path, ref, wait_guard) for ref in (spec.tight, spec.calm)]
    gated = [p for p in parts if p.gated and p.search is None]
    if width and not gated:
        raise UserError("search", f"no policy of router {path} has an outlook gate and no "
                        "search of its own", "route a gated policy (rl:gate_ensemble) or drop "
                        "search")  # fmt: skip
    for part in gated if width else []:
        part.search = make_search(width, True, part.recipe.planaria_params)
    return RoutedScheduler(parts[0], parts[1], spec.threshold, str(path))


ROUTER_PART_PARAMETERS = ("search", "search_base", "search_confidence")


def _router_part(router: Path, ref: str, wait_guard: bool | None) -> PolicyScheduler:
    """One of a router's policies; its reference may carry search parameters
    (``rl:default?search=2&search_base=edf&search_confidence=0.9``)."""
    name, params = split_ref(ref)
    unknown = sorted(set(params) - set(ROUTER_PART_PARAMETERS))
    if unknown:
        raise UserError("checkpoint", f"router {router}: {ref!r:.60} has {unknown[0]!r}",
                        f"a router's policy takes {', '.join(ROUTER_PART_PARAMETERS)}")  # fmt: skip
    return load_one_policy(router_member(router, name), wait_guard, **params)


def router_member(router: Path, ref: str) -> Path:
    """A router's policy: ``rl:NAME`` is a shipped policy, anything else a sub-directory."""
    if ref.startswith(SHIPPED_PREFIX):
        name = ref[len(SHIPPED_PREFIX) :]
        if not (SHIPPED_DIR / name).is_dir():
            raise UserError("checkpoint", f"router {router} names {ref}, which is not a "
                            "shipped policy", "see `relmas list`")  # fmt: skip
        member = SHIPPED_DIR / name
    else:
        member = router / ref
    if not member.is_dir() or (member / ROUTER_JSON).is_file():
        raise UserError("checkpoint", f"router {router}: {member} is not an exported policy or "
                        "ensemble", "route two exports or ensembles (`relmas route`)")  # fmt: skip
    return member


def load_one_policy(
    path: str | Path,
    wait_guard: bool | None = None,
    search: int = 0,
    search_base: object = None,
    search_confidence: object = None,
) -> PolicyScheduler:
    """One export or one ensemble directory as a scheduler (a DAgger student, a router's
    policy): never a router. The ``search`` parameters: :func:`relmas.rl.search.make_search`."""
    path = Path(path)
    if (path / ROUTER_JSON).is_file():
        raise UserError("checkpoint", f"{path} is a router of two policies, not one",
                        "name one of the policies in its router.json")  # fmt: skip
    if (path / ENSEMBLE_JSON).is_file():
        dirs = read_ensemble(path)
        members = [load_export(d) for d in dirs]
        check_members([meta for _, meta in members], [str(d) for d in dirs])
        ensemble = EnsemblePolicy([policy for policy, _ in members])
        return PolicyScheduler(
            ensemble, members[0][1], str(path), wait_guard, search, search_base, search_confidence
        )
    return PolicyScheduler(
        *load_export(path), str(path), wait_guard, search, search_base, search_confidence
    )


def load_export(path: Path) -> tuple[NumpyPolicy, dict[str, Any]]:
    """One exported policy directory (``policy.json`` + ``policy.npz``), checked."""
    try:
        meta = read_meta(path)
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        problem = f"{path / 'policy.json'} is not a JSON object ({type(exc).__name__})"
        raise UserError("checkpoint", problem, "re-export the policy") from None
    _check_meta(path, meta)
    if not (path / POLICY_NPZ).is_file():
        raise UserError("checkpoint", f"{path / POLICY_NPZ} not found", "re-run `relmas train`")
    try:
        policy = load_numpy_policy(path)
    except (OSError, ValueError, KeyError, IndexError, TypeError, zipfile.BadZipFile) as exc:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        problem = f"{path / POLICY_NPZ} does not match policy.json ({reason})"
        raise UserError("checkpoint", problem, "re-export the policy") from None
    if policy.obs_dim != meta["obs_dim"]:
        raise UserError(
            "checkpoint", "policy.npz does not match policy.json's obs_dim", "re-export the policy"
        )
    return policy, meta
