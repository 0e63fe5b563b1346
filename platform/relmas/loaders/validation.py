"""Pydantic errors of hand-edited files as one-line ``UserError``s, with "did you mean" for keys.

Why a helper: scenario, sweep, train-config and hardware files are all validated by pydantic
models with ``extra="forbid"``, and pydantic reports a misspelt key as two unrelated errors
("hardwar: Extra inputs are not permitted", "hardware: Field required"). The misspelling is the
user's actual mistake, so it is reported first, together with the closest valid key.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from relmas.errors import UserError, did_you_mean


def _unwrap(tp: Any) -> Iterator[Any]:
    """The types inside an annotation: members of unions, element/value types of containers."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        yield from _unwrap(typing.get_args(tp)[0])
    elif origin in (typing.Union, types.UnionType, list, tuple, set, frozenset):
        for arg in typing.get_args(tp):
            yield from _unwrap(arg)
    elif origin is dict:
        yield from _unwrap(typing.get_args(tp)[1])
    else:
        yield tp


def _models(types_: Sequence[Any]) -> list[type[BaseModel]]:
    """The pydantic models among ``types_`` (after unwrapping)."""
    found = [t for tp in types_ for t in _unwrap(tp)]
    return [t for t in found if isinstance(t, type) and issubclass(t, BaseModel)]


def fields_at(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """Valid keys of the mapping at ``loc`` inside ``model`` ([] when it cannot be resolved).

    A location part that is not a field (a list index, a dict key, a union tag) descends into
    every model the current annotation may hold, so ``tenants.0.arrival.poisson`` resolves.
    """
    current: list[Any] = [model]
    for part in loc:
        models = _models(current)
        owners = [m for m in models if isinstance(part, str) and part in m.model_fields]
        if owners:
            current = [owners[0].model_fields[str(part)].annotation]
            continue
        tagged = [m for m in models if part == m.__name__ or _has_tag(m, part)]
        current = tagged or [t for tp in current for t in _unwrap(tp)]
    return sorted({name for m in _models(current) for name in m.model_fields})


def _has_tag(model: type[BaseModel], tag: int | str) -> bool:
    """True if a ``Literal`` field of ``model`` allows ``tag`` (a discriminated-union member)."""
    return any(
        tag in typing.get_args(f.annotation)
        for f in model.model_fields.values()
        if typing.get_origin(f.annotation) is typing.Literal
    )


def validation_error(
    label: str,
    exc: ValidationError,
    model: type[BaseModel] | None = None,
    fix: str = "see the shipped files for examples",
    prefix: str = "",
) -> UserError:
    """The most useful pydantic error as a one-line UserError; unknown keys come first.

    The field is ``<label>: <prefix>.<location>``; an unknown key gets the closest valid key of
    ``model`` at that location as its fix.
    """
    errors = exc.errors()
    extra = [e for e in errors if e["type"] == "extra_forbidden"]
    err = extra[0] if extra else errors[0]
    loc = tuple(err["loc"])
    field = ".".join(p for p in (prefix, *(str(x) for x in loc)) if p) or "(top level)"
    msg = " ".join(str(err["msg"]).split())
    if extra and model is not None and loc:
        known = fields_at(model, loc[:-1])
        if known:
            fix = did_you_mean(str(loc[-1]), known)
    return UserError(f"{label}: {field}", msg, fix)


def non_finite_path(data: Any, prefix: str = "") -> str | None:
    """Dotted path of the first NaN or infinite number inside plain data, else None."""
    if isinstance(data, float) and not math.isfinite(data):
        return prefix or "(top level)"
    items: Any = ()
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list | tuple):
        items = enumerate(data)
    for key, value in items:
        found = non_finite_path(value, f"{prefix}.{key}" if prefix else str(key))
        if found:
            return found
    return None
