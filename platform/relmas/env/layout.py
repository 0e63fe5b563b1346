"""The observation layout, declared once: named fields, their order, and the slices they occupy.

Why: the flat observation used to be defined by the order in which the encoder concatenated
values, with offsets recomputed by hand in the encoder, the torch pair head and its numpy twin.
A reordering in one place would have silently fed a policy the wrong features. Now the encoder
writes, the pair heads slice and ``docs/rl.md`` documents from this one declaration
(``tests/env/test_layout.py`` checks every named field against an independent computation).

The flat vector is ``K`` candidate rows, then ``N`` unit rows, then the globals:

* candidate row: :data:`CANDIDATE_FIELDS`, then :data:`TYPE_FIELDS` for each accelerator type
  (type-major), then with the ``heuristic`` rule the :data:`HINT_FIELDS`;
* unit row: a one-hot of its type, :data:`UNIT_FIELDS`, then (``heuristic``) ``planaria_unit``;
* globals: :data:`GLOBAL_FIELDS`, then (``heuristic``) ``planaria_waits``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from relmas.env.candidates import ORDERINGS

# name -> what it holds (the text of docs/rl.md's table)
CANDIDATE_FIELDS = {
    "present": "1 for a real candidate, 0 for padding",
    "slack": "(deadline - now - best-case remaining time) / isolated latency",
    "waited": "(now - arrival) / isolated latency",
    "priority": "priority / priority_scale",
}
TYPE_FIELDS = {
    "remaining_latency": "isolated remaining time on this type / isolated latency",
    "remaining_demand": "mean DRAM demand of the remaining layers on this type / bandwidth",
    "layer_latency": "next layer's isolated latency on this type / mean layer latency",
    "layer_energy": "next layer's dynamic energy on this type / mean layer energy",
    "layer_demand": "next layer's DRAM demand on this type / bandwidth",
}
HINT_FIELDS = {
    "planaria_choice": "1 if this is Planaria's next dispatch",
    **{
        f"rank_{o.replace('-', '_')}": f"(depth - rank) / depth in {o}'s order, 0 below its top"
        for o in ORDERINGS
    },
}
UNIT_FIELDS = {
    "busy": "1 while a layer runs",
    "busy_remaining": "time until the running layer ends at current shares / mean isolated latency",
    "granted_bandwidth": "DRAM bandwidth granted now / bandwidth",
    "demanded_bandwidth": "DRAM bandwidth the running layer demands / bandwidth",
}
UNIT_HINT = {"planaria_unit": "1 on the unit Planaria's next dispatch takes"}
GLOBAL_FIELDS = {
    "dram_load": "sum of running layers' DRAM demand / bandwidth",
    "queue_length": "ready requests / top_k",
    "free_fraction": "free units / units",
    "arrival_progress": "arrived requests / requests",
    "episode_time": "now / (last arrival + mean isolated latency)",
}
GLOBAL_HINT = {"planaria_waits": "1 if Planaria would wait"}


@dataclass(frozen=True)
class ObsLayout:
    """Where every named value sits in the flat observation of one chip and candidate rule.

    Serialised as :meth:`to_dict` (into ``policy.json``), so a policy rebuilds the layout it was
    trained on without knowing the env's code.
    """

    top_k: int
    num_accels: int
    num_types: int
    hints: bool

    @cached_property
    def candidate_fields(self) -> tuple[str, ...]:
        """Names of a candidate row's values, in order (per-type ones as ``name[t]``)."""
        per_type = tuple(f"{f}[{t}]" for t in range(self.num_types) for f in TYPE_FIELDS)
        return (*CANDIDATE_FIELDS, *per_type, *(HINT_FIELDS if self.hints else ()))

    @cached_property
    def unit_fields(self) -> tuple[str, ...]:
        """Names of a unit row's values, in order."""
        onehot = tuple(f"type[{t}]" for t in range(self.num_types))
        return (*onehot, *UNIT_FIELDS, *(UNIT_HINT if self.hints else ()))

    @cached_property
    def global_fields(self) -> tuple[str, ...]:
        """Names of the global values, in order."""
        return (*GLOBAL_FIELDS, *(GLOBAL_HINT if self.hints else ()))

    @property
    def candidate_dim(self) -> int:
        """Values per candidate row."""
        return len(self.candidate_fields)

    @property
    def accel_dim(self) -> int:
        """Values per unit row."""
        return len(self.unit_fields)

    @property
    def global_dim(self) -> int:
        """Global values."""
        return len(self.global_fields)

    @property
    def candidates(self) -> slice:
        """The ``K * candidate_dim`` candidate values (reshape to ``[K, candidate_dim]``)."""
        return slice(0, self.top_k * self.candidate_dim)

    @property
    def units(self) -> slice:
        """The ``N * accel_dim`` unit values (reshape to ``[N, accel_dim]``)."""
        return slice(self.candidates.stop, self.candidates.stop + self.num_accels * self.accel_dim)

    @property
    def globals(self) -> slice:
        """The global values."""
        return slice(self.units.stop, self.units.stop + self.global_dim)

    @property
    def obs_dim(self) -> int:
        """Length of the flat observation."""
        return self.globals.stop

    @property
    def type_features(self) -> slice:
        """Within a candidate row: the per-type block, ``[num_types, len(TYPE_FIELDS)]`` flat."""
        start = len(CANDIDATE_FIELDS)
        return slice(start, start + self.num_types * len(TYPE_FIELDS))

    @property
    def unit_type(self) -> slice:
        """Within a unit row: the type one-hot."""
        return slice(0, self.num_types)

    def index(self, field: str, *, candidate: int | None = None, unit: int | None = None) -> int:
        """Flat index of a named value of candidate ``i``, unit ``a`` or the globals."""
        if candidate is not None:
            return candidate * self.candidate_dim + self.candidate_fields.index(field)
        if unit is not None:
            return self.units.start + unit * self.accel_dim + self.unit_fields.index(field)
        return self.globals.start + self.global_fields.index(field)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` turns back into this layout."""
        return {k: getattr(self, k) for k in ("top_k", "num_accels", "num_types", "hints")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObsLayout:
        """The layout :meth:`to_dict` wrote."""
        return cls(int(data["top_k"]), int(data["num_accels"]), int(data["num_types"]),
                   bool(data["hints"]))  # fmt: skip


def markdown_table() -> str:
    """The layout as the Markdown table in ``docs/rl.md`` (a test keeps the two identical)."""
    rows = ["| block | field | value |", "|---|---|---|"]
    blocks = (
        ("candidate (x top_k)", CANDIDATE_FIELDS),
        ("candidate, per type", TYPE_FIELDS),
        ("candidate, heuristic rule", HINT_FIELDS),
        ("unit (x units)", {"type[t]": "one-hot of the unit's type", **UNIT_FIELDS}),
        ("unit, heuristic rule", UNIT_HINT),
        ("global", GLOBAL_FIELDS),
        ("global, heuristic rule", GLOBAL_HINT),
    )
    for block, fields in blocks:
        rows += [f"| {block} | `{name}` | {text} |" for name, text in fields.items()]
    return "\n".join(rows)
