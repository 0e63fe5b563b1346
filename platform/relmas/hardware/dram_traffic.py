"""Off-chip DRAM traffic of one layer from the on-chip buffer capacities (costmodel.md §3.4).

Layers run one at a time with no inter-layer fusion: inputs are read from DRAM and outputs
written back, which is what lets consecutive layers of a request run on different
sub-accelerators. When the weights do not fit on chip, the cheaper of two loop orders is taken
("DRAM-optimal tiling") among weights outer, inputs outer and outputs outer. On VGG-16 this
lands near Eyeriss's measured ~0.0035 DRAM accesses per MAC (calibration test).
"""

from __future__ import annotations

from dataclasses import dataclass

from relmas.hardware.accesses import DataflowResult, ceil_div
from relmas.hardware.layer import Layer


@dataclass(frozen=True, slots=True)
class Capacity:
    """On-chip capacities that decide the tiling, in words."""

    weight_words: int  # B_W: weights the PEs hold at once
    input_words: int  # B_I: input words buffered for one tile
    glb_words: int  # GLB size: psums of a filter block + one input channel slice
    psum_per_word: float  # psum size in words (16-bit psum, 8-bit word: 2)
    parallel_channels: int  # input channels the array consumes at once (the slice)


@dataclass(frozen=True, slots=True)
class Problem:
    """Tensor sizes of one independently tiled problem, in words."""

    weight_words: int
    input_words: int
    output_words: int
    channels: int  # input channels C
    filters: int  # output channels K
    spill_words: float  # psum round trips when one filter's reduction does not fit B_W


def tiled_traffic_words(prob: Problem, cap: Capacity) -> float:
    """Words moved for one problem: compulsory if the weights fit, else the cheapest tiling.

    Weights outer and inputs outer re-stream one operand per tile of the other and pay a psum
    round trip when one filter's reduction does not fit. Outputs outer keeps the partial sums of
    a block of filters in the GLB and re-streams the inputs once per block, so weights and
    outputs move exactly once.
    """
    w, i, o = prob.weight_words, prob.input_words, prob.output_words
    if w <= cap.weight_words:
        return float(w + i + o)
    candidates = [
        w + ceil_div(w, cap.weight_words) * i + o + prob.spill_words,
        i + ceil_div(i, cap.input_words) * w + o + prob.spill_words,
    ]
    slice_words = (i // prob.channels) * min(prob.channels, cap.parallel_channels)
    plane_words = (o // prob.filters) * cap.psum_per_word
    per_block = int((cap.glb_words - slice_words) // plane_words) if plane_words else 0
    if per_block >= 1:
        candidates.append(w + ceil_div(prob.filters, per_block) * i + o)
    return float(min(candidates))


def psum_spill_words(layer: Layer, result: DataflowResult, psum_per_word: float) -> float:
    """Extra words when one filter's reduction does not fit in the PE weight storage.

    The partial sums then make a round trip through DRAM for every extra reduction tile.
    """
    reduction = layer.c_per_group * layer.r * layer.s
    tiles = ceil_div(reduction, result.weight_capacity_words)
    return 2.0 * (tiles - 1) * layer.output_words * psum_per_word


def _problem(layer: Layer, items: int, spill: float) -> Problem:
    """The layer split into ``items`` identical independent problems."""
    return Problem(
        weight_words=layer.weight_words,
        input_words=layer.input_words // items,
        output_words=layer.output_words // items,
        channels=layer.c,
        filters=layer.k,
        spill_words=spill / items,
    )


def dram_bytes(layer: Layer, result: DataflowResult, word_bytes: int, psum_bytes: int) -> float:
    """Bytes a layer reads from and writes to DRAM on an accelerator with these capacities.

    Batched layers may also run image by image (batch outermost) when that moves less. A layer
    whose second operand is an activation (attention QK^T and AV) has a different "weight"
    tensor per batch item, so nothing is reused across the batch: each item is its own problem
    and both operands are streamed.
    """
    cap = Capacity(
        weight_words=result.weight_capacity_words,
        input_words=result.input_capacity_words,
        glb_words=result.glb_words,
        psum_per_word=psum_bytes / word_bytes,
        parallel_channels=result.parallel_channels,
    )
    spill = psum_spill_words(layer, result, cap.psum_per_word)
    per_item = layer.n * tiled_traffic_words(_problem(layer, layer.n, spill), cap)
    if layer.weights_are_activations:
        return per_item * word_bytes
    whole = tiled_traffic_words(_problem(layer, 1, spill), cap)
    return min(whole, per_item) * word_bytes
