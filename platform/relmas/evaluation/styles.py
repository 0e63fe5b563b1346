"""One fixed colour and marker per scheduler, in every plot relmas draws.

Why fixed: colours used to follow the rank in each plot, so a scheduler changed colour between
plots and between runs, and a reader comparing two figures compared the wrong lines. The
built-in schedulers get a slot each in a fixed order (never the registry's, which grows);
any other name (a ``module:Class``, a parameterised reference) gets a slot from a stable hash
of its name, so it too keeps its style from run to run.
"""

from __future__ import annotations

import math
import zlib

# tab20 in its own order, dark/light pairs split apart so neighbours in FIXED differ clearly.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
    "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)  # fmt: skip
MARKERS = "osD^vP*XphH<>8d"
FIXED = (
    "planaria", "dysta", "sjf", "cd-msa", "edf", "least-laxity", "fcfs", "prema", "herald",
    "moca", "dream", "veltair", "magma", "round-robin", "least-loaded", "random", "rollout",
    "rl:default", "rl",  # "rl": a sweep's PPO trials
)  # fmt: skip
_PAIRS = len(PALETTE) * len(MARKERS) // math.gcd(len(PALETTE), len(MARKERS))  # distinct pairs


def style(name: str) -> tuple[str, str]:
    """``(colour, marker)`` of a scheduler, the same in every plot and every run.

    A label's decoration (``rollout?oracle=1 [ORACLE]``) is ignored; parameterised references
    and ``rl:DIR`` policies other than the shipped one hash to their own slot.
    """
    key = name.split(" [")[0]
    if key in FIXED:
        slot = FIXED.index(key)
    else:
        slot = len(FIXED) + zlib.crc32(key.encode()) % (_PAIRS - len(FIXED))
    return PALETTE[slot % len(PALETTE)], MARKERS[slot % len(MARKERS)]
