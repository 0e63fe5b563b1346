"""One DNN layer as a loop nest, the unit every cost model and the simulator work on.

Convolutions, depthwise/grouped convolutions, fully connected layers and matmuls are all written
as the same 7-D loop nest (N, K, C/G, P, Q, R, S), as Timeloop and MAESTRO do, so one cost model
covers them. A GEMM ``O[m, n] = sum_k I[m, k] W[k, n]`` is ``P = m, Q = 1, C = k, K = n``,
``R = S = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LayerKind = Literal["conv", "depthwise", "pointwise", "fc", "matmul"]
LAYER_KINDS: tuple[str, ...] = ("conv", "depthwise", "pointwise", "fc", "matmul")


@dataclass(frozen=True, slots=True)
class Layer:
    """Shape of one layer.

    Attributes:
        name: Layer name, unique within its model (e.g. ``layer1.0.conv2``).
        kind: ``conv``, ``depthwise``, ``pointwise``, ``fc`` or ``matmul``.
        n: Batch size.
        c: Input channels (for a GEMM: the reduction dimension).
        k: Output channels (for a GEMM: output columns).
        groups: Convolution groups (``groups == c == k`` is depthwise).
        p: Output rows (for a GEMM: output rows, e.g. tokens).
        q: Output columns (1 for a GEMM).
        r: Filter rows.
        s: Filter columns.
        stride: Stride (same in both directions).
        weights_are_activations: True for attention's QK^T and AV, whose second operand is an
            activation produced at run time, so it is streamed from DRAM, never pre-loaded.
    """

    name: str
    kind: str
    n: int
    c: int
    k: int
    groups: int
    p: int
    q: int
    r: int
    s: int
    stride: int = 1
    weights_are_activations: bool = False

    @property
    def c_per_group(self) -> int:
        """Input channels seen by one filter."""
        return self.c // self.groups

    @property
    def k_per_group(self) -> int:
        """Output channels per group."""
        return self.k // self.groups

    @property
    def input_h(self) -> int:
        """Input rows read (no padding): ``(P - 1) * stride + R``."""
        return (self.p - 1) * self.stride + self.r

    @property
    def input_w(self) -> int:
        """Input columns read (no padding): ``(Q - 1) * stride + S``."""
        return (self.q - 1) * self.stride + self.s

    @property
    def macs(self) -> int:
        """Multiply-accumulates: ``N * K * C/G * P * Q * R * S``."""
        return self.n * self.k * self.c_per_group * self.p * self.q * self.r * self.s

    @property
    def weight_words(self) -> int:
        """Weight tensor size in words: ``K * C/G * R * S``."""
        return self.k * self.c_per_group * self.r * self.s

    @property
    def input_words(self) -> int:
        """Input tensor size in words: ``N * C * H * W``."""
        return self.n * self.c * self.input_h * self.input_w

    @property
    def output_words(self) -> int:
        """Output tensor size in words: ``N * K * P * Q``."""
        return self.n * self.k * self.p * self.q
