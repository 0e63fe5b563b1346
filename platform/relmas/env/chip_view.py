"""What the observation needs from one chip, computed once: its units mapped onto known types.

Why a module of its own: the encoder runs at every env step and must only splice precomputed
values, while a policy that runs on any chip needs every chip's features expressed over the
*policy's* accelerator types (``types``), not over the types the chip happens to have. A chip
without a unit of some known type still gets that type's columns (costs from the cost tables the
chip was built with when present, else zeros, and a slack of ``-CLIP``: never feasible), so the
same weights read every chip alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from relmas.env.layout import CLIP
from relmas.errors import UserError
from relmas.sim.chip import Chip


class ChipView:
    """A chip's static features over the known types ``types`` (order = feature order)."""

    def __init__(self, chip: Chip, types: Sequence[str]) -> None:
        unknown = [t for t in chip.type_names if t not in types]
        if unknown:
            raise UserError(
                "hardware",
                f"sub-accelerator type {unknown[0]!r} is not one the policy knows "
                f"({', '.join(types)})",
                "use a chip of those types or train a policy for this one",
            )
        self.chip = chip
        self.types = tuple(types)
        # known type index -> chip type index (None: the chip has no unit of that type)
        self.chip_type: list[int | None] = [
            chip.type_names.index(t) if t in chip.type_names else None for t in self.types
        ]
        self.unit_type = [self.types.index(chip.type_names[t]) for t in chip.accel_type]
        self.time_scale_s = float(np.mean(chip.isolated_latency_s))
        present = range(chip.num_types)
        self.mean_layer_j = [
            sum(min(chip.energy_j[m][t][i] for t in present) for i in range(n)) / n or 1.0
            for m, n in enumerate(chip.num_layers)
        ]
        self.static_rows = [
            [self._static_row(m, layer) for layer in range(n)]
            for m, n in enumerate(chip.num_layers)
        ]
        self.type_units = [self.unit_type.count(k) for k in range(len(self.types))]

    def _static_row(self, m: int, layer: int) -> list[float]:
        """Per known type: remaining work, remaining mean bandwidth demand, next-layer latency,
        energy and bandwidth demand, each made dimensionless (float32-exact Python floats)."""
        chip = self.chip
        iso, bw = chip.isolated_latency_s[m], chip.bandwidth_bytes_per_s
        layer_s, layer_j = iso / chip.num_layers[m], self.mean_layer_j[m]
        row: list[float] = []
        for t in self.chip_type:
            if t is None:
                row += [0.0] * 5
                continue
            rem_c = sum(chip.compute_s[m][t][layer:])
            rem_b = sum(chip.dram_bytes[m][t][layer:])
            row += [
                chip.remaining_latency_s[m][t][layer] / iso,
                rem_b / rem_c / bw if rem_c > 0 else 0.0,
                chip.latency_s[m][t][layer] / layer_s,
                chip.energy_j[m][t][layer] / layer_j,
                chip.demand_bytes_per_s[m][t][layer] / bw,
            ]
        return np.asarray(row, dtype=np.float32).tolist()

    def type_slack(self, m: int, layer: int, deadline_s: float, now_s: float) -> list[float]:
        """Per known type, the slack left if the next layer runs there now (``-CLIP`` if the
        chip has no unit of the type)."""
        chip = self.chip
        iso, rest = chip.isolated_latency_s[m], chip.remaining_best_s[m][layer + 1]
        budget = deadline_s - now_s - rest
        lat = chip.latency_s[m]
        return [-CLIP if t is None else (budget - lat[t][layer]) / iso for t in self.chip_type]
