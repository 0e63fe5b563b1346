"""Translate a relmas ``Layer`` and ``AcceleratorSpec`` into ZigZag 3.9.1 input documents.

Pure dict builders, no ZigZag import and no file I/O, so the translation can be read and unit
tested on its own; ``relmas.hardware.zigzag_backend`` writes these dicts to YAML and runs ZigZag.
Every mapping decision between the two models is documented here, next to the code that makes it
(and summarised in docs/zigzag.md), because a cross-check is only as honest as its translation.

What maps:
    * array geometry: Eyeriss 14 columns (D1) x 12 rows (D2); Simba 4-wide vectors (D1, C) x
      4 lanes (D2, K) x 16 PEs (D3), i.e. ``spec.array``;
    * storage capacities: PE scratchpads / buffers and the GLB, from ``spec.pe_buffers`` and
      ``spec.glb_bytes`` (bits = words x 8 x word_bytes);
    * energy: ZigZag's ``r_cost``/``w_cost`` is pJ per access of the full port width, so each is
      relmas' pJ/B times the port width in bytes (the "scale r_cost with the width" trap);
    * weights bypass the GLB on both designs (DRAM -> PE weight storage), as in relmas;
    * DRAM: 64 pJ/B and a port of ``dram_bits_per_cycle`` (relmas' bandwidth / clock);
    * precisions: 8-bit weights/inputs, psums of ``spec.psum_bytes``, 8-bit final outputs.

What does not map (documented so the ratios are read correctly):
    * relmas' on-chip bus limits (``input_bus_words_per_cycle``, ``weight_bus_words_per_cycle``)
      have no ZigZag equivalent beyond the port widths of the memories;
    * relmas' NoC energy (``noc_pj_per_byte``) has no ZigZag counterpart (no interconnect cost);
    * relmas' static power: ZigZag reports dynamic energy only, so relmas' dynamic energy is the
      number compared;
    * relmas' closed-form RS/WS mappings: ZigZag searches its own temporal mapping, and either
      its own spatial mapping (``spatial="search"``: one dimension per array axis, from the
      dimensions the relmas dataflow uses) or relmas' pinned one (``spatial="relmas"``);
    * ZigZag does not overlap initial DRAM on-loading with compute (costmodel.md §2), relmas'
      roofline does, so DRAM-bound layers look slower in ZigZag.
"""

from __future__ import annotations

from typing import Any

from relmas.hardware.dataflow_rs import is_depthwise, rs_mapping
from relmas.hardware.dataflow_ws import ws_mapping
from relmas.hardware.layer import Layer
from relmas.hardware.spec import AcceleratorSpec

CONV_EQUATION = "O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]"
DRAM_PJ_PER_BYTE = 64.0
_READ_ALLOC = {"I1": ["I1, tl"], "I2": ["I2, tl"], "O": ["O, tl", "O, th"]}
_WRITE_ALLOC = {"I1": ["I1, fh"], "I2": ["I2, fh"], "O": ["O, fh", "O, fl"]}


def workload_doc(layer: Layer, spec: AcceleratorSpec) -> list[dict[str, Any]]:
    """One ZigZag layer in the 7-D conv form (FC/GEMM are convs with P=Q=R=S=1, as in relmas).

    relmas has no padding: its input is ``(P-1)*stride + R`` rows, which is exactly what
    ZigZag derives from ``iy = stride*oy + fy``, so both models read the same input volume.
    """
    bits = 8 * spec.word_bytes
    return [
        {
            "id": 0,
            "name": layer.name,
            "operator_type": "Conv",
            "equation": CONV_EQUATION,
            "dimension_relations": [
                f"ix={layer.stride}*ox+1*fx",
                f"iy={layer.stride}*oy+1*fy",
            ],
            "loop_dims": ["B", "K", "G", "OX", "OY", "C", "FX", "FY"],
            "loop_sizes": [
                layer.n,
                layer.k_per_group,
                layer.groups,
                layer.q,
                layer.p,
                layer.c_per_group,
                layer.s,
                layer.r,
            ],
            "operand_precision": {
                "W": bits,
                "I": bits,
                "O": 8 * spec.psum_bytes,
                "O_final": bits,
            },
            "operand_source": {"W": 0, "I": 0},
        }
    ]


def _hint(spec: AcceleratorSpec) -> dict[str, list[str]]:
    """Per-axis dimensions ZigZag may unroll, the ones the relmas dataflow itself uses.

    Eyeriss RS: columns carry output rows (OY), leftover columns filters (K); rows carry filter
    rows (FY), leftover rows input channels (C). Simba WS: the vector carries C, the lanes K, the
    PEs K then output pixels. G is allowed where relmas spreads depthwise groups.
    """
    if spec.dataflow == "row_stationary":
        return {"D1": ["OY", "K", "G"], "D2": ["FY", "C", "G"]}
    return {"D1": ["C"], "D2": ["K"], "D3": ["K", "OY", "OX", "G"]}


def _unrolls(*pairs: tuple[str, int]) -> list[str]:
    """ZigZag's ``"DIM, size"`` entries, leaving out unrollings of size 1."""
    kept = [f"{dim}, {size}" for dim, size in pairs if size > 1]
    return kept or [f"{pairs[0][0]}, 1"]


def relmas_spatial_mapping(layer: Layer, spec: AcceleratorSpec) -> dict[str, list[str]]:
    """relmas' own closed-form spatial mapping, written as a (mixed) ZigZag spatial mapping.

    RS: cols = OY strip e x K replicas t, rows = FY x C replicas r (depthwise: G replicas).
    WS: vector = C, lanes = K, PEs = K groups x output-row split (depthwise: G over PEs). relmas
    splits P*Q pixels flat over PEs; ZigZag unrolls OY only, a small difference when P < PEs.
    """
    if spec.dataflow == "row_stationary":
        m = rs_mapping(layer, spec)
        e, r_eff = min(layer.p, spec.array.pe_cols), min(layer.r, spec.array.pe_rows)
        rep = "G" if is_depthwise(layer) else None
        cols = _unrolls(("OY", e), (rep or "K", min(m.k_rep, _size(layer, rep or "K"))))
        rows = _unrolls(("FY", r_eff), (rep or "C", min(m.c_rep, _size(layer, rep or "C"))))
        return {"D1": cols, "D2": rows}
    w = ws_mapping(layer, spec)
    if is_depthwise(layer):
        pes = _unrolls(("G", min(layer.groups, spec.array.num_pes)))
    else:
        pes = _unrolls(("K", w.pes_on_k), ("OY", min(layer.p, w.pes_on_pixels)))
    return {"D1": _unrolls(("C", w.width_used)), "D2": _unrolls(("K", w.lanes_used)), "D3": pes}


def _size(layer: Layer, dim: str) -> int:
    """Loop size of a ZigZag dimension (per group, as in the workload document)."""
    return {"K": layer.k_per_group, "C": layer.c_per_group, "G": layer.groups}[dim]


def mapping_doc(
    layer: Layer, spec: AcceleratorSpec, spatial: str = "search"
) -> list[dict[str, Any]]:
    """ZigZag mapping document: ``search`` lets ZigZag pick spatial mappings within the
    dataflow's dimensions (``spatial_mapping_hint``); ``relmas`` pins relmas' own spatial
    mapping so that only the temporal mapping (loop order, tiling) is searched.
    """
    entry: dict[str, Any] = {"name": "default"}
    if spatial == "relmas":
        entry["spatial_mapping"] = relmas_spatial_mapping(layer, spec)
    elif spatial == "search":
        entry["spatial_mapping_hint"] = _hint(spec)
    else:
        raise ValueError(f"spatial must be 'search' or 'relmas', got {spatial!r}")
    entry["memory_operand_links"] = {"O": "O", "W": "I2", "I": "I1"}
    # ZigZag requires a "default" entry and warns when the operator (Conv) has none of its own.
    return [entry, {**entry, "name": "Conv"}]


def _memory(
    size_bits: int,
    width_bits: int,
    pj_per_byte: float,
    operands: list[str],
    served: list[str],
) -> dict[str, Any]:
    """One ZigZag memory; cost per access is pJ/B x port bytes (ZigZag charges per port access)."""
    pj = pj_per_byte * width_bits / 8
    if len(operands) == 1:
        op = operands[0]
        ports = [
            _port("r_port_1", "read", width_bits, _READ_ALLOC[op]),
            _port("w_port_1", "write", width_bits, _WRITE_ALLOC[op]),
        ]
    else:
        alloc = [a for op in operands for a in (*_WRITE_ALLOC[op], *_READ_ALLOC[op])]
        ports = [_port("rw_port_1", "read_write", width_bits, alloc)]
    return {
        "size": int(size_bits),
        "r_cost": float(pj),
        "w_cost": float(pj),
        "area": 0.0,
        "latency": 1,
        "operands": operands,
        "ports": ports,
        "served_dimensions": served,
    }


def _port(name: str, kind: str, width_bits: int, alloc: list[str]) -> dict[str, Any]:
    """A port of fixed width (ZigZag's bandwidth_min/max, in bits per cycle)."""
    return {
        "name": name,
        "type": kind,
        "bandwidth_min": int(width_bits),
        "bandwidth_max": int(width_bits),
        "allocation": alloc,
    }


def _dram(dram_bits_per_cycle: int, all_dims: list[str]) -> dict[str, Any]:
    """DRAM holding all three operands, one port as wide as relmas' bandwidth per cycle."""
    return _memory(10**10, dram_bits_per_cycle, DRAM_PJ_PER_BYTE, ["I1", "I2", "O"], all_dims)


def eyeriss_hardware_doc(spec: AcceleratorSpec, dram_bits_per_cycle: int) -> dict[str, Any]:
    """ZigZag's shipped ``eyeriss_like`` adapted to relmas' eyeriss.yaml.

    Kept from the example: per-PE register files per operand, a GLB shared by inputs and
    outputs. Dropped: its 8 KB output SRAM and 64 KB weight SRAM, which relmas' spec does not
    have (relmas streams weights DRAM -> spads; psums live in the GLB).
    """
    word, psum, e, buf = 8 * spec.word_bytes, 8 * spec.psum_bytes, spec.energy, spec.pe_buffers
    dims = ["D1", "D2"]
    glb_width = int(spec.onchip_bandwidth.glb_read_words_per_cycle * word)
    memories = {
        "rf_ifmap": _memory(buf.input_words * word, word, e.pe_input_pj_per_byte, ["I1"], []),
        "rf_weight": _memory(buf.weight_words * word, word, e.pe_weight_pj_per_byte, ["I2"], []),
        "rf_psum": _memory(buf.psum_words * psum, psum, e.pe_psum_pj_per_byte, ["O"], []),
        "glb": _memory(spec.glb_bytes * 8, glb_width, e.glb_pj_per_byte, ["I1", "O"], dims),
        "dram": _dram(dram_bits_per_cycle, dims),
    }
    array = {
        "unit_energy": float(e.mac_pj),
        "unit_area": 0.0,
        "dimensions": dims,
        "sizes": [spec.array.pe_cols, spec.array.pe_rows],
    }
    return {"name": f"relmas_{spec.name}", "memories": memories, "operational_array": array}


def simba_hardware_doc(spec: AcceleratorSpec, dram_bits_per_cycle: int) -> dict[str, Any]:
    """A Simba-like WS core at relmas' exercise scale (not shipped by ZigZag; after Stream's
    ``simba_chiplet.yaml``): D1 = vector width (C), D2 = lanes (K), D3 = PEs.

    Per MAC: one weight register. Per lane: the accumulation buffer (served across the vector,
    whose products are reduced spatially). Per PE: weight buffer (all lanes' banks as one memory)
    and input buffer (broadcast to the lanes). Array level: GLB for inputs and outputs.
    """
    arr, buf, e = spec.array, spec.pe_buffers, spec.energy
    word, psum = 8 * spec.word_bytes, 8 * spec.psum_bytes
    pe_dims, all_dims = ["D1", "D2"], ["D1", "D2", "D3"]
    lane_psums = buf.psum_words // arr.lanes_per_pe
    glb_width = int(spec.onchip_bandwidth.glb_read_words_per_cycle * word)
    vec = arr.vector_width * word
    memories = {
        "weight_reg": _memory(word, word, e.weight_register_pj_per_byte, ["I2"], []),
        "accu_buffer": _memory(lane_psums * psum, psum, e.pe_psum_pj_per_byte, ["O"], ["D1"]),
        "weight_buffer": _memory(
            buf.weight_words * word,
            vec * arr.lanes_per_pe,
            e.pe_weight_pj_per_byte,
            ["I2"],
            pe_dims,
        ),
        "input_buffer": _memory(
            buf.input_words * word, vec, e.pe_input_pj_per_byte, ["I1"], pe_dims
        ),
        "glb": _memory(spec.glb_bytes * 8, glb_width, e.glb_pj_per_byte, ["I1", "O"], all_dims),
        "dram": _dram(dram_bits_per_cycle, all_dims),
    }
    array = {
        "unit_energy": float(e.mac_pj),
        "unit_area": 0.0,
        "dimensions": all_dims,
        "sizes": [arr.vector_width, arr.lanes_per_pe, arr.num_pes],
    }
    return {"name": f"relmas_{spec.name}", "memories": memories, "operational_array": array}


def hardware_doc(spec: AcceleratorSpec, dram_bits_per_cycle: int) -> dict[str, Any]:
    """The ZigZag hardware document for a relmas spec, chosen by its dataflow."""
    if spec.dataflow == "row_stationary":
        return eyeriss_hardware_doc(spec, dram_bits_per_cycle)
    return simba_hardware_doc(spec, dram_bits_per_cycle)
