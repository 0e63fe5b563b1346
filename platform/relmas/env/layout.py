"""The observation layout, declared once: named fields, their order, and the slices they occupy.

Why: the flat observation used to be defined by the order in which the encoder concatenated
values, with offsets recomputed by hand in the encoder, the torch pair head and its numpy twin.
A reordering in one place would have silently fed a policy the wrong features. Now the encoder
writes, the pair heads slice and ``docs/rl.md`` documents from this one declaration
(``tests/env/test_obs_layout.py`` checks every named field against an independent computation).

Sub-accelerators form a *set* (env v2): a unit row carries its type as a one-hot over the
policy's known accelerator types (not the chip's), rows beyond the chip's units are padding with
``present = 0``, and every per-type value exists for every known type. So one layout serves any
chip whose units are of known types, up to ``num_accels`` units; the pair head scores each
(candidate, unit) pair with shared weights and never depends on the number of units.

The flat vector is ``K`` candidate rows, then ``N`` unit rows, then the globals:

* candidate row: :data:`CANDIDATE_FIELDS`, then :data:`TYPE_FIELDS` for each known type
  (type-major), then :data:`TYPE_SLACK` for each known type, then (``wait_slack`` option)
  :data:`WAIT_SLACK` for each known type, then (``outlook`` option) :data:`OUTLOOK`, then
  (``heuristic`` rule) the :data:`HINT_FIELDS`;
* unit row: ``present``, a one-hot of its type, :data:`UNIT_FIELDS`, then (``heuristic``)
  ``planaria_unit``;
* globals: :data:`GLOBAL_FIELDS`, then :data:`GLOBAL_TYPE_FIELDS` for each known type, then
  (``outlook``) :data:`GLOBAL_OUTLOOK`, then (``heuristic``) ``planaria_waits``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from relmas.env.candidates import ORDERINGS

CLIP = 10.0  # every value is clipped to [-CLIP, CLIP]; it also marks "never" (type_slack)

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
TYPE_SLACK = {
    "type_slack": "(deadline - now - next layer on this type - best-case rest) / isolated "
    "latency: >= 0 if the request still meets its deadline when its next layer runs on this "
    "type now (-10 where the chip has no unit of the type)",
}
WAIT_SLACK = {
    "wait_slack": "(deadline - now - time until a unit of this type is free - next layer on "
    "this type - best-case rest) / isolated latency: the slack if the request waits for this "
    "type (= type_slack where one is free; -10 where the chip has none)",
}
OUTLOOK = {
    "outlook": "(deadline - best-case finish where Planaria's own future ends, "
    "`outlook_horizon_s` ahead) / isolated latency: < 0 if Planaria, left alone, loses it",
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
    "running_slack": "slack of the request running here (0 when idle): how urgently it will "
    "want a unit when this layer ends",
}
UNIT_HEAD = {
    "present": "1 for a unit of the chip, 0 for a padding slot",
    "type[t]": "one-hot of the unit's type among the known types",
}
UNIT_HINT = {"planaria_unit": "1 on the unit Planaria's next dispatch takes"}
GLOBAL_FIELDS = {
    "dram_load": "sum of running layers' DRAM demand / bandwidth",
    "queue_length": "ready requests / top_k",
    "free_fraction": "free units / units",
    "arrival_progress": "arrived requests / requests",
    "episode_time": "now / (last arrival + mean isolated latency)",
}
GLOBAL_TYPE_FIELDS = {
    "type_units": "units of this type / unit slots",
    "type_free_in": "time until the first unit of this type is free / mean isolated latency "
    "(0 if one is free, 10 if the chip has none)",
}
GLOBAL_OUTLOOK = {
    "outlook_lost": "live requests that can still meet their deadline now and that Planaria's "
    "own future loses / top_k: 0 where the rollout teacher keeps Planaria's action",
}
GLOBAL_HINT = {"planaria_waits": "1 if Planaria would wait"}
# The ``future`` key (the critic's only, never the actor's: an online scheduler cannot see it).
FUTURE_WINDOWS = (0.5, 1.0, 2.0, 4.0)  # in mean isolated latencies
FUTURE_FIELDS = {
    **{
        f"load_next_{w:g}": f"isolated work of the requests arriving in the next {w:g} mean "
        "isolated latencies / (units x that time)"
        for w in FUTURE_WINDOWS
    },
    "arrivals_left": "requests still to arrive / requests",
}


@dataclass(frozen=True)
class ObsLayout:
    """Where every named value sits in the flat observation of one candidate rule, type list and
    number of unit slots.

    Serialised as :meth:`to_dict` (into ``policy.json``): a policy rebuilds the layout it was
    trained on, or (pair head) the same layout with as many unit slots as the chip it runs on.
    """

    top_k: int
    num_accels: int
    num_types: int
    hints: bool
    wait_slack: bool = False  # opt-in (env config ``wait_slack``); older policies lack it
    outlook: bool = False  # opt-in (env config ``outlook``); older policies lack it

    @cached_property
    def candidate_fields(self) -> tuple[str, ...]:
        """Names of a candidate row's values, in order (per-type ones as ``name[t]``)."""
        types = range(self.num_types)
        per_type = tuple(f"{f}[{t}]" for t in types for f in TYPE_FIELDS)
        slack = tuple(f"{f}[{t}]" for t in types for f in TYPE_SLACK)
        wait = tuple(f"{f}[{t}]" for t in types for f in WAIT_SLACK) if self.wait_slack else ()
        outlook = tuple(OUTLOOK) if self.outlook else ()
        hints = tuple(HINT_FIELDS) if self.hints else ()
        return (*CANDIDATE_FIELDS, *per_type, *slack, *wait, *outlook, *hints)

    @cached_property
    def unit_fields(self) -> tuple[str, ...]:
        """Names of a unit row's values, in order."""
        onehot = tuple(f"type[{t}]" for t in range(self.num_types))
        return ("present", *onehot, *UNIT_FIELDS, *(UNIT_HINT if self.hints else ()))

    @cached_property
    def global_fields(self) -> tuple[str, ...]:
        """Names of the global values, in order."""
        per_type = tuple(f"{f}[{t}]" for f in GLOBAL_TYPE_FIELDS for t in range(self.num_types))
        outlook = tuple(GLOBAL_OUTLOOK) if self.outlook else ()
        return (*GLOBAL_FIELDS, *per_type, *outlook, *(GLOBAL_HINT if self.hints else ()))

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
        """Within a candidate row: the static per-type block, ``[num_types, len(TYPE_FIELDS)]``."""
        start = len(CANDIDATE_FIELDS)
        return slice(start, start + self.num_types * len(TYPE_FIELDS))

    @property
    def type_slack(self) -> slice:
        """Within a candidate row: the per-type slack block, ``[num_types]``."""
        start = self.type_features.stop
        return slice(start, start + self.num_types)

    @property
    def unit_type(self) -> slice:
        """Within a unit row: the type one-hot."""
        return slice(1, 1 + self.num_types)

    def index(self, field: str, *, candidate: int | None = None, unit: int | None = None) -> int:
        """Flat index of a named value of candidate ``i``, unit ``a`` or the globals."""
        if candidate is not None:
            return candidate * self.candidate_dim + self.candidate_fields.index(field)
        if unit is not None:
            return self.units.start + unit * self.accel_dim + self.unit_fields.index(field)
        return self.globals.start + self.global_fields.index(field)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` turns back into this layout."""
        keys = ("top_k", "num_accels", "num_types", "hints", "wait_slack", "outlook")
        return {k: getattr(self, k) for k in keys}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObsLayout:
        """The layout :meth:`to_dict` wrote."""
        return cls(int(data["top_k"]), int(data["num_accels"]), int(data["num_types"]),
                   bool(data["hints"]), bool(data.get("wait_slack", False)),
                   bool(data.get("outlook", False)))  # fmt: skip

    def with_units(self, num_accels: int) -> ObsLayout:
        """The same layout with another number of unit slots (a pair head runs on any)."""
        return ObsLayout(
            self.top_k, num_accels, self.num_types, self.hints, self.wait_slack, self.outlook
        )


def markdown_table() -> str:
    """The layout as the Markdown table in ``docs/rl.md`` (a test keeps the two identical)."""
    rows = ["| block | field | value |", "|---|---|---|"]
    blocks = (
        ("candidate (x top_k)", CANDIDATE_FIELDS),
        ("candidate, per known type", {**TYPE_FIELDS, **TYPE_SLACK}),
        ("candidate, per known type, `wait_slack` option", WAIT_SLACK),
        ("candidate, `outlook` option", OUTLOOK),
        ("candidate, heuristic rule", HINT_FIELDS),
        ("unit (x unit slots)", UNIT_HEAD | UNIT_FIELDS),
        ("unit, heuristic rule", UNIT_HINT),
        ("global", GLOBAL_FIELDS),
        ("global, per known type", GLOBAL_TYPE_FIELDS),
        ("global, `outlook` option", GLOBAL_OUTLOOK),
        ("global, heuristic rule", GLOBAL_HINT),
        ("future (critic only, separate key)", FUTURE_FIELDS),
    )
    for block, fields in blocks:
        rows += [f"| {block} | `{name}` | {text} |" for name, text in fields.items()]
    return "\n".join(rows)
