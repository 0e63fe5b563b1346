"""A sweep's ``rl:`` section as a search space over :class:`relmas.rl.recipe.Recipe`.

Every recipe field may be searched (``lr``, ``prior_weight``, ``hidden``, ``candidates``...), and
so may each entry of the mapping fields (``planaria_params.priority_exponent``,
``reward.bandwidth``). The section is checked against the recipe model before Ray starts: the
first value of every dimension together, then every other value (and range end) one at a time, so
a bad value anywhere in a grid is a one-line error naming its path.

Ray-free: :func:`to_tune` in :mod:`relmas.sweeps.space` turns the dimensions into Tune domains.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from relmas.errors import UserError, did_you_mean
from relmas.sweeps.config import _KINDS, Dim, RLSpace

# Set by the sweep or the trial, not by the recipe: the grid gives scenario and hardware, a trial
# samples in its own process, never checkpoints mid-trial, injects no faults and is compared by
# the sweep's metric (no in-run policy selection).
TRIAL_FIELDS = {
    "scenario": None,
    "hardware": None,
    "env_runners": 0,
    "checkpoint_every": 10**9,
    "fault_tolerance": None,
    "fault_injection": None,
    "select_seeds": 0,
}
MAPPING_FIELDS = ("planaria_params", "reward")
Path_ = tuple[str, ...]


@dataclass(frozen=True)
class RecipeSpace:
    """Fixed recipe values plus the dimensions to search, keyed by their path in the recipe."""

    fixed: dict[str, Any]
    dims: dict[Path_, Dim]

    def first(self) -> dict[str, Any]:
        """The recipe with every dimension at its first value (or lower end)."""
        return self.with_values({path: _first(dim) for path, dim in self.dims.items()})

    def with_values(self, values: dict[Path_, Any]) -> dict[str, Any]:
        """The fixed recipe with ``values`` placed at their paths (a trial's resolved config)."""
        out = {k: dict(v) if isinstance(v, dict) else v for k, v in self.fixed.items()}
        for path, value in values.items():
            target = out
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = value
        return out


def _first(dim: Dim) -> Any:
    values = dim.values()
    if values:
        return values[0]
    return int(dim.low()) if dim.randint is not None else dim.low()


def _is_dim(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _KINDS


def _list_field(name: str) -> bool:
    from relmas.rl.recipe import Recipe

    annotation = Recipe.model_fields[name].annotation
    return typing.get_origin(annotation) is list


def _as_dim(label: str, value: Any) -> Dim:
    try:
        return Dim.model_validate(value)
    except ValidationError as exc:
        msg = " ".join(str(exc.errors()[0]["msg"]).split())
        raise UserError(label, msg, "e.g. {grid: [1, 2]} or {uniform: [0.0, 1.0]}") from None


def parse_space(section: RLSpace, source: str) -> RecipeSpace:
    """Split the ``rl:`` section into fixed values and dimensions, and check both."""
    from relmas.rl.recipe import Recipe

    fixed: dict[str, Any] = {}
    dims: dict[Path_, Dim] = {}
    for key, value in section.recipe.items():
        label = f"{source}: rl.{key}"
        if key not in Recipe.model_fields:
            known = [f for f in Recipe.model_fields if f not in TRIAL_FIELDS]
            raise UserError(label, "unknown key", did_you_mean(key, [*known, "eval_seeds"]))
        if key in TRIAL_FIELDS:
            raise UserError(label, "is set by the sweep, not the rl: section", _trial_fix(key))
        if key in MAPPING_FIELDS and isinstance(value, dict) and not _is_dim(value):
            fixed[key] = {}
            for sub, inner in value.items():
                _place(fixed[key], dims, (key, sub), inner, f"{label}.{sub}", list_ok=False)
            continue
        _place(fixed, dims, (key,), value, label, list_ok=_list_field(key))
    space = RecipeSpace(fixed, dims)
    _check(space, source)
    return space


def _trial_fix(key: str) -> str:
    if key in ("scenario", "hardware"):
        return "use the sweep's scenarios: and hardware: grid"
    if key == "select_seeds":
        return "a sweep compares trials by its own metric; drop the key (relmas train chooses)"
    return "a trial samples in its own process without faults; drop the key"


def _place(
    target: dict[str, Any], dims: dict[Path_, Dim], path: Path_, value: Any, label: str,
    list_ok: bool,
) -> None:  # fmt: skip
    """Put a fixed value at ``path[-1]`` of ``target``, or record a dimension at ``path``."""
    if _is_dim(value) or (isinstance(value, list) and not list_ok):
        dims[path] = _as_dim(label, {"grid": value} if isinstance(value, list) else value)
    else:
        target[path[-1]] = value


def _variants(space: RecipeSpace) -> Iterator[tuple[Path_, Any]]:
    """Every value a dimension can take that is worth checking: grid values, range ends."""
    for path, dim in space.dims.items():
        values = dim.values()
        for value in values if values is not None else (dim.low(), dim.high()):
            yield path, int(value) if dim.randint is not None else value


def _check(space: RecipeSpace, source: str) -> None:
    """Validate the first-value recipe, then each dimension's values one at a time."""
    from relmas.rl.recipe import Recipe

    firsts = {path: _first(dim) for path, dim in space.dims.items()}
    for path, value in [(None, None), *_variants(space)]:
        values = firsts if path is None else {**firsts, path: value}
        Recipe.load(space.with_values(values), source, prefix="rl")
