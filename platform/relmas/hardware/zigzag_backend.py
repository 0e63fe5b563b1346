"""ZigZag (``zigzag-dse==3.9.1``) as an optional, offline cross-check of relmas' cost model.

Never on the hot path: ZigZag takes seconds per layer (relmas: microseconds) and pulls in pandas,
onnx and sympy, so it is an extra (``pip install -e '.[zigzag]'``) and is imported lazily here.
Unlike the rest of ``relmas.hardware`` this module writes files (ZigZag only reads YAML paths and
dumps its results to a folder), always into a temporary directory that is removed afterwards.
The translation of relmas' specs into ZigZag's format, and what does not map, is in
``relmas.hardware.zigzag_yaml``.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from relmas.errors import UserError
from relmas.hardware.cost import validate_layer
from relmas.hardware.layer import Layer
from relmas.hardware.spec import AcceleratorSpec
from relmas.hardware.zigzag_yaml import hardware_doc, mapping_doc, workload_doc

SUPPORTED_DATAFLOWS = ("row_stationary", "weight_stationary")
DEFAULT_LPF_LIMIT = 2  # costmodel.md §2: lpf 2, 4 and 6 gave the same answer; 8 took 204 s


@dataclass(frozen=True, slots=True)
class ZigzagResult:
    """ZigZag's verdict on one layer (its best mapping under ``opt='latency'``).

    Attributes:
        layer: Layer name.
        accel: relmas accelerator type name.
        cycles: ZigZag's total latency in cycles (compute + on/off-loading stalls).
        ideal_cycles: MACs / array size, ZigZag's lower bound.
        energy_j: ZigZag's total dynamic energy (its pJ converted to J).
        dram_bytes: Bytes read from and written to the DRAM level, or None if unavailable.
        spatial_utilization: ZigZag's spatial MAC utilisation of the chosen mapping.
        spatial_mapping: ZigZag's chosen spatial mapping, as text.
        runtime_s: Wall time ZigZag took (parsing + mapping search + evaluation).
    """

    layer: str
    accel: str
    cycles: float
    ideal_cycles: float
    energy_j: float
    dram_bytes: float | None
    spatial_utilization: float
    spatial_mapping: str
    runtime_s: float


def import_zigzag_api() -> Any:
    """Import ``zigzag.api`` or explain how to get it; ZigZag is an optional extra."""
    try:
        return importlib.import_module("zigzag.api")
    except ImportError as exc:
        raise UserError(
            "zigzag",
            f"the ZigZag cross-check backend is not available ({exc})",
            "install the [zigzag] extra: pip install -e '.[zigzag]' (in a separate venv)",
        ) from None


def dram_bits_per_cycle(spec: AcceleratorSpec, bandwidth_bytes_per_s: float) -> int:
    """relmas' DRAM bandwidth as ZigZag's integer port width, rounded down to whole words."""
    word_bits = 8 * spec.word_bytes
    bits = int(bandwidth_bytes_per_s * 8 / spec.clock_hz) // word_bits * word_bits
    if bits < word_bits:
        raise UserError("bandwidth", f"{bandwidth_bytes_per_s} B/s is under one word per cycle")
    return bits


def write_inputs(
    layer: Layer, spec: AcceleratorSpec, bits_per_cycle: int, folder: Path, spatial: str = "search"
) -> tuple[Path, Path, Path]:
    """Write ZigZag's workload, hardware and mapping YAML files into ``folder``.

    ``sort_keys=False`` matters: ZigZag reads the memory hierarchy from the key order, and
    sorted keys make every mapping invalid (costmodel.md §2).
    """
    docs = {
        "workload.yaml": workload_doc(layer, spec),
        "hardware.yaml": hardware_doc(spec, bits_per_cycle),
        "mapping.yaml": mapping_doc(layer, spec, spatial),
    }
    for name, doc in docs.items():
        (folder / name).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return folder / "workload.yaml", folder / "hardware.yaml", folder / "mapping.yaml"


@contextlib.contextmanager
def _quiet_zigzag() -> Iterator[None]:
    """ZigZag logs every stage at INFO; keep only warnings while it runs."""
    logger = logging.getLogger("zigzag")
    previous = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _best_cme(cmes: Any) -> Any:
    """The single CostModelEvaluation of a one-layer run: ``cmes[0][1][0][0]`` in 3.9.1."""
    return cmes[0][1][0][0]


def _dram_bytes(cme: Any) -> float | None:
    """Bytes moved in and out of the top (DRAM) level, summed over operands and directions.

    Uses ZigZag's element move counts times their precision, not ``memory_word_access``, which
    counts port-width accesses. None when ZigZag's internals do not look as expected.
    """
    try:
        # imported here, not at module top: ZigZag is an optional extra
        from zigzag.hardware.architecture.memory_port import DataDirection
        from zigzag.mapping.data_movement import DataMoveAttr

        total_bits = 0.0
        for levels in cme.mapping.unit_mem_data_movement.values():
            top = levels[-1]
            counts = top.get_attribute(DataMoveAttr.DATA_ELEM_MOVE_COUNT)
            precision = top.get_attribute(DataMoveAttr.DATA_PRECISION)
            for direction in DataDirection:
                total_bits += counts.get(direction) * precision.get(direction)
        return total_bits / 8
    except (AttributeError, KeyError, IndexError, TypeError, ImportError):
        return None


def run_zigzag(
    layer: Layer,
    spec: AcceleratorSpec,
    bandwidth_bytes_per_s: float,
    lpf_limit: int = DEFAULT_LPF_LIMIT,
    spatial: str = "search",
    opt: str = "latency",
    api_loader: Callable[[], Any] = import_zigzag_api,
) -> ZigzagResult:
    """Cost ``layer`` on ``spec`` with ZigZag; seconds per layer, offline only.

    ``opt='latency'`` (the default) picks the fastest mapping; among mappings of equal latency
    its energy is whichever ZigZag met first, so use ``opt='EDP'`` to cross-check energy.
    """
    validate_layer(layer)
    if spec.dataflow not in SUPPORTED_DATAFLOWS:
        raise UserError("accel", f"dataflow {spec.dataflow!r} has no ZigZag translation")
    api = api_loader()
    bits = dram_bits_per_cycle(spec, bandwidth_bytes_per_s)
    with tempfile.TemporaryDirectory(prefix="relmas_zigzag_") as tmp:
        folder = Path(tmp)
        workload, hardware, mapping = write_inputs(layer, spec, bits, folder, spatial)
        start = time.perf_counter()
        with _quiet_zigzag():
            energy_pj, latency, cmes = api.get_hardware_performance_zigzag(
                workload=str(workload),
                accelerator=str(hardware),
                mapping=str(mapping),
                opt=opt,
                dump_folder=str(folder / "out"),
                lpf_limit=lpf_limit,
                loma_show_progress_bar=False,
            )
        runtime = time.perf_counter() - start
    return _result(layer, spec, (float(energy_pj), float(latency)), _best_cme(cmes), runtime)


def _result(
    layer: Layer, spec: AcceleratorSpec, totals: tuple[float, float], cme: Any, runtime: float
) -> ZigzagResult:
    """Pack ZigZag's totals (energy pJ, latency cycles) and its evaluation into a result."""
    energy_pj, latency = totals
    return ZigzagResult(
        layer=layer.name,
        accel=spec.name,
        cycles=latency,
        ideal_cycles=float(cme.ideal_cycle),
        energy_j=energy_pj * 1e-12,
        dram_bytes=_dram_bytes(cme),
        spatial_utilization=float(cme.mac_spatial_utilization),
        spatial_mapping=str(cme.spatial_mapping),
        runtime_s=runtime,
    )
