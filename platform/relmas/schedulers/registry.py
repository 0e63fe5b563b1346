"""Scheduler registry: one file per scheduler, registered by name; duplicate names are an error.

References accepted by :func:`make_scheduler`:
- a registered name (``edf``),
- ``PREFIX:REST`` where ``PREFIX`` names a resolver of the ``relmas.scheduler_resolvers``
  entry-point group, e.g. ``rl:DIR`` for a trained RL policy. Why entry points: the registry sits
  below ``relmas.rl`` in the layers and must not import it; the package declares the resolver in
  ``pyproject.toml`` and it is loaded only when such a reference is made (so plain heuristics
  never import the policy code). Other packages can add prefixes the same way.
- ``package.module:ClassName`` for a user's own scheduler class.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from relmas.errors import UserError, did_you_mean, unknown_name
from relmas.schedulers.base import Scheduler

S = TypeVar("S", bound=type[Scheduler])
_REGISTRY: dict[str, type[Scheduler]] = {}
_NOT_POLICIES = {"base", "registry"}


def register_scheduler(name: str) -> Callable[[S], S]:
    """Class decorator: register a scheduler under ``name`` (an error if the name is taken)."""

    def deco(cls: S) -> S:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            other = _REGISTRY[name]
            raise ValueError(f"scheduler {name!r} is already registered by {other.__module__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _load_builtin() -> None:
    """Import every module of this package so its ``@register_scheduler`` runs (once)."""
    package = importlib.import_module("relmas.schedulers")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in _NOT_POLICIES and not info.name.startswith("_"):
            importlib.import_module(f"relmas.schedulers.{info.name}")


def scheduler_names() -> list[str]:
    """Names of all built-in schedulers, sorted."""
    _load_builtin()
    return sorted(_REGISTRY)


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


def resolvers() -> dict[str, Callable[[str], Scheduler]]:
    """Reference prefixes (``rl``) and the callables they name, from the entry points."""
    found = importlib.metadata.entry_points(group=RESOLVER_GROUP)
    return {ep.name: _loader(ep) for ep in found}


def _loader(ep: importlib.metadata.EntryPoint) -> Callable[[str], Scheduler]:
    def load(rest: str) -> Scheduler:
        sched = ep.load()(rest)
        if not isinstance(sched, Scheduler):
            raise TypeError(f"resolver {ep.value} returned {type(sched).__name__}, not a Scheduler")
        return sched

    return load


def make_scheduler(ref: str, params: Mapping[str, Any] | None = None) -> Scheduler:
    """Build a scheduler from a reference and optional parameters (validated)."""
    prefix, sep, rest = ref.partition(":")
    if sep:
        resolve = resolvers().get(prefix)
        if resolve is not None:
            if params:
                raise UserError(
                    "--param", f"{ref} takes no parameters", f"drop --param for {prefix}:"
                )
            return resolve(rest)
    cls = _import_class(ref) if ":" in ref else scheduler_class(ref)
    try:
        return cls(cls.Params.model_validate(dict(params or {})))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "params"
        known = list(cls.Params.model_fields)
        fix = "see `relmas list`"
        if err["type"] == "extra_forbidden":
            fix = did_you_mean(field, known) if known else f"{ref} takes no parameters"
        msg = " ".join(str(err["msg"]).split())
        raise UserError(f"scheduler {ref} params.{field}", msg, fix) from None
