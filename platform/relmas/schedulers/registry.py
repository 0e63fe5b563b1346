"""Scheduler registry: one file per scheduler, registered by name; duplicate names are an error.

References accepted by :func:`make_scheduler`:
- a registered name (``edf``),
- ``PREFIX:REST`` where ``PREFIX`` names a resolver of the ``relmas.scheduler_resolvers``
  entry-point group, e.g. ``rl:DIR`` for a trained RL policy. Why entry points: the registry sits
  below ``relmas.rl`` in the layers and must not import it; the package declares the resolver in
  ``pyproject.toml`` and it is loaded only when such a reference is made (so plain heuristics
  never import the policy code). Other packages can add prefixes the same way; a resolver's
  keyword-only arguments are its parameters (``rl:default?wait_guard=true``).
- ``package.module:ClassName`` for a user's own scheduler class;
- any of these followed by ``?key=value&key=value`` parameters, e.g.
  ``planaria?priority_exponent=0.5`` (the best heuristic on ``heavy``) or
  ``rollout?base=sjf&horizon_s=0.02``. Why: ``compare`` and ``headroom`` take lists of names, and
  a variant needs a name to stand beside its default in one table. A dotted key fills a mapping
  parameter (``rollout?base_params.priority_exponent=1``); values are YAML-like scalars
  (``true``, ``3``, ``0.5``, ``null``, else text) checked by the scheduler's own parameters.

Lookahead schedulers (``rollout``) are registered like any other but left out of
:func:`scheduler_names` unless asked for: "every heuristic" (``compare --schedulers all``,
``relmas evaluate``, sweeps) must not silently include a scheduler that simulates ahead hundreds
of times per decision, nor count it as a heuristic.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import pkgutil
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from relmas.errors import UserError, did_you_mean, unknown_name
from relmas.schedulers.base import Scheduler

S = TypeVar("S", bound=type[Scheduler])
_REGISTRY: dict[str, type[Scheduler]] = {}
_LOOKAHEAD: set[str] = set()
_NOT_POLICIES = {"base", "registry"}


def register_scheduler(name: str, *, lookahead: bool = False) -> Callable[[S], S]:
    """Class decorator: register a scheduler under ``name`` (an error if the name is taken).

    ``lookahead=True`` marks a scheduler that simulates ahead (see the module docstring).
    """

    def deco(cls: S) -> S:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            other = _REGISTRY[name]
            raise ValueError(f"scheduler {name!r} is already registered by {other.__module__}")
        cls.name = name
        _REGISTRY[name] = cls
        if lookahead:
            _LOOKAHEAD.add(name)
        return cls

    return deco


def _load_builtin() -> None:
    """Import every module of this package so its ``@register_scheduler`` runs (once)."""
    package = importlib.import_module("relmas.schedulers")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in _NOT_POLICIES and not info.name.startswith("_"):
            importlib.import_module(f"relmas.schedulers.{info.name}")


def scheduler_names(*, lookahead: bool = False) -> list[str]:
    """Names of the built-in heuristics, sorted; ``lookahead=True`` adds ``rollout`` and kin."""
    _load_builtin()
    return sorted(n for n in _REGISTRY if lookahead or n not in _LOOKAHEAD)


def is_lookahead(name: str) -> bool:
    """Whether ``name`` is a registered lookahead scheduler (simulates ahead to decide)."""
    _load_builtin()
    return name in _LOOKAHEAD


def scheduler_class(name: str) -> type[Scheduler]:
    """The class registered under ``name``."""
    _load_builtin()
    if name not in _REGISTRY:
        raise unknown_name("scheduler", name, _REGISTRY)
    return _REGISTRY[name]


def _import_class(ref: str) -> type[Scheduler]:
    """The class named by ``package.module:ClassName``.

    Any failure while importing is the user's module failing (a typo in the reference, a
    syntax error in their file), so it is reported as a UserError, not a relmas crash.
    """
    module_name, _, attr = ref.partition(":")
    if not module_name.strip() or not attr.isidentifier():
        raise UserError(
            "scheduler",
            f"{ref!r} is not package.module:ClassName",
            "e.g. my_pkg.my_mod:MyScheduler, or a name from `relmas list`",
        )
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except Exception as exc:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise UserError(
            "scheduler", f"cannot import {ref!r} ({reason})", "check module:Class"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Scheduler)):
        raise UserError("scheduler", f"{ref!r} is not a Scheduler subclass", "subclass Scheduler")
    return cls


RESOLVER_GROUP = "relmas.scheduler_resolvers"


def resolvers() -> dict[str, Callable[..., Scheduler]]:
    """Reference prefixes (``rl``) and the callables they name, from the entry points."""
    found = importlib.metadata.entry_points(group=RESOLVER_GROUP)
    return {ep.name: _loader(ep) for ep in found}


def _loader(ep: importlib.metadata.EntryPoint) -> Callable[..., Scheduler]:
    def load(rest: str, params: Mapping[str, Any] | None = None) -> Scheduler:
        resolve = ep.load()
        params = dict(params or {})
        known = sorted(
            name
            for name, p in inspect.signature(resolve).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        )
        for key in params:
            if key not in known:
                fix = did_you_mean(key, known) if known else "drop the parameters"
                raise UserError("--param", f"{ep.name}: references take no {key!r}", fix)
        sched = resolve(rest, **params)
        if not isinstance(sched, Scheduler):
            raise TypeError(f"resolver {ep.value} returned {type(sched).__name__}, not a Scheduler")
        return sched

    return load


def make_scheduler(ref: str, params: Mapping[str, Any] | None = None) -> Scheduler:
    """Build a scheduler from a reference and optional parameters (validated).

    ``ref`` may carry ``?key=value&...`` parameters (module docstring); giving the same key
    there and in ``params`` is an error rather than a silent override.
    """
    ref, query = split_ref(ref)
    merged = nest_dotted({**query, **(params or {})})
    clash = sorted(set(query) & set(params or {}))
    if clash:
        raise UserError("scheduler", f"{clash[0]!r} is given twice", "give it once")
    prefix, sep, rest = ref.partition(":")
    if sep:
        resolve = resolvers().get(prefix)
        if resolve is not None:
            return resolve(rest, merged)
    cls = _import_class(ref) if ":" in ref else scheduler_class(ref)
    try:
        return cls(cls.Params.model_validate(merged))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "params"
        known = list(cls.Params.model_fields)
        fix = "see `relmas list`"
        if err["type"] == "extra_forbidden":
            fix = did_you_mean(field, known) if known else f"{ref} takes no parameters"
        msg = " ".join(str(err["msg"]).split())
        raise UserError(f"scheduler {ref} params.{field}", msg, fix) from None


def split_ref(ref: str) -> tuple[str, dict[str, Any]]:
    """``"planaria?priority_exponent=0.5"`` -> ``("planaria", {"priority_exponent": 0.5})``."""
    name, sep, query = ref.partition("?")
    if not sep:
        return ref, {}
    out: dict[str, Any] = {}
    for item in query.split("&"):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise UserError(
                "scheduler", f"{item!r} in {ref!r} is not KEY=VALUE", "e.g. planaria?form=dysta"
            )
        if key.strip() in out:
            raise UserError(
                "scheduler", f"{key.strip()!r} is given twice in {ref!r}", "give it once"
            )
        out[key.strip()] = scalar(value.strip())
    return name.strip(), out


def scalar(text: str) -> Any:
    """A parameter value typed like a YAML scalar: bool, null, int, float, else the text."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "none", "~"):
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def nest_dotted(params: Mapping[str, Any]) -> dict[str, Any]:
    """``{"base_params.form": "dysta"}`` -> ``{"base_params": {"form": "dysta"}}``.

    A dotted key merges into a mapping given whole under its first part, so
    ``--param base=planaria --param base_params.form=dysta`` works as well as the ``?`` form.
    """
    out: dict[str, Any] = {k: v for k, v in params.items() if "." not in k}
    for key, value in params.items():
        head, dot, tail = key.partition(".")
        if not dot:
            continue
        inner = out.get(head, {})
        if not isinstance(inner, Mapping):
            raise UserError("scheduler", f"{head!r} is not a mapping", f"drop {key!r} or {head!r}")
        out[head] = {**inner, tail: value}  # a copy: the caller's mapping stays as it was
    return out
