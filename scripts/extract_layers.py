"""Extract the layer shapes of the workload catalog into versioned JSON files.

Why this script exists: the simulator needs real layer shapes (the loop-nest sizes of every
convolution and GEMM), but neither the simulator nor CI should need torch or torchvision, and
nothing may be downloaded. So the shapes are extracted once from torchvision's *model definitions*
(``weights=None`` builds random weights, downloads nothing) and committed as
``hardware_models/models/<name>.json``; ``relmas.loaders.models`` reads those files.

How: forward hooks on every ``nn.Conv2d`` and ``nn.Linear`` record input/output shapes during one
``torch.zeros(1, 3, 224, 224)`` forward pass. BERT-base is written from the architecture by hand
(no ``transformers``) and needs no torch at all, so ``--models bert_base`` works anywhere.

Kinds: ``depthwise`` (groups == C == K > 1); ``pointwise`` (1x1, groups == 1, P*Q > 1); ``fc``
(nn.Linear on a single vector, and also a 1x1 conv on a 1x1 map such as EfficientNet's
squeeze-and-excitation convs, which is the same matrix-vector product); ``matmul`` (BERT GEMMs);
else ``conv``.

Attention heads: QK^T and AV are each one layer with ``groups = heads`` (not batch ``n = heads``).
With groups, ``weight_words`` is the whole K (or V) of all heads and ``input_words`` is the whole
Q (or score matrix), the real tensor sizes; a batch of 12 would share one head's "weights" and
undercount the streamed operand 12x.

How the committed files were produced (torchvision on PyPI does not import beside the project's
torch 2.13 CPU wheel, so a throwaway venv outside the repo is used)::

    python3 -m venv /tmp/tvenv
    /tmp/tvenv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/tvenv/bin/python scripts/extract_layers.py --out hardware_models/models
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "hardware_models" / "models"
SCHEMA_VERSION = 1
INPUT_SHAPE = (1, 3, 224, 224)

# Catalog name -> (torchvision constructor, extra keyword arguments).
# GoogLeNet: no auxiliary heads (inference) and no truncated-normal init (slow, and irrelevant).
TORCHVISION_MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "resnet50": ("resnet50", {}),
    "mobilenet_v2": ("mobilenet_v2", {}),
    "vgg16": ("vgg16", {}),
    "googlenet": ("googlenet", {"aux_logits": False, "init_weights": False}),
    "alexnet": ("alexnet", {}),
    "squeezenet": ("squeezenet1_1", {}),
    "efficientnet_b0": ("efficientnet_b0", {}),
}
HAND_WRITTEN_MODELS = ("bert_base",)
MODEL_NAMES: tuple[str, ...] = (*TORCHVISION_MODELS, *HAND_WRITTEN_MODELS)

Record = dict[str, Any]


def layer_record(
    name: str,
    kind: str,
    *,
    n: int,
    c: int,
    k: int,
    groups: int,
    p: int,
    q: int,
    r: int = 1,
    s: int = 1,
    stride: int = 1,
    weights_are_activations: bool = False,
) -> Record:
    """One layer as a dict whose keys are exactly the fields of ``relmas.hardware.layer.Layer``.

    The script does not import relmas so that it runs in the throwaway torchvision venv; the
    loader checks the keys against the dataclass, so a schema drift fails loudly there.
    """
    return {
        "name": name,
        "kind": kind,
        "n": n,
        "c": c,
        "k": k,
        "groups": groups,
        "p": p,
        "q": q,
        "r": r,
        "s": s,
        "stride": stride,
        "weights_are_activations": weights_are_activations,
    }


def record_macs(rec: Record) -> int:
    """Multiply-accumulates of a record: ``N * K * C/G * P * Q * R * S`` (as ``Layer.macs``)."""
    c_per_group = rec["c"] // rec["groups"]
    return rec["n"] * rec["k"] * c_per_group * rec["p"] * rec["q"] * rec["r"] * rec["s"]


def classify_conv(c: int, k: int, groups: int, p: int, q: int, r: int, s: int) -> str:
    """Kind of a Conv2d; a 1x1 conv on a 1x1 map is a matrix-vector product, hence ``fc``."""
    if groups == c == k > 1:
        return "depthwise"
    if r == s == 1 and groups == 1:
        return "pointwise" if p * q > 1 else "fc"
    return "conv"


def conv_record(name: str, module: Any, inp: Any, out: Any) -> Record:
    """Record of one ``nn.Conv2d`` call from its input (N,C,H,W) and output (N,K,P,Q) shapes."""
    n, c = int(inp.shape[0]), int(inp.shape[1])
    k, p, q = (int(d) for d in out.shape[1:])
    r, s = (int(d) for d in module.kernel_size)
    stride_h, stride_w = (int(d) for d in module.stride)
    if stride_h != stride_w or tuple(module.dilation) != (1, 1):
        raise ValueError(f"{name}: non-square stride or dilation is not representable in Layer")
    groups = int(module.groups)
    kind = classify_conv(c, k, groups, p, q, r, s)
    return layer_record(
        name, kind, n=n, c=c, k=k, groups=groups, p=p, q=q, r=r, s=s, stride=stride_h
    )


def linear_record(name: str, module: Any, inp: Any) -> Record:
    """Record of one ``nn.Linear`` call: a GEMM with M = all leading dims but the batch."""
    n = int(inp.shape[0])
    m = math.prod(int(d) for d in inp.shape[1:-1])
    kind = "fc" if m == 1 else "matmul"
    return layer_record(
        name, kind, n=n, c=int(module.in_features), k=int(module.out_features), groups=1, p=m, q=1
    )


def torchvision_layers(name: str) -> tuple[list[Record], dict[str, Any]]:
    """Run one forward pass of a torchvision model with shape-recording hooks.

    torch is imported here, not at module level, so the BERT part runs without torch.
    """
    import torch
    import torchvision

    constructor, kwargs = TORCHVISION_MODELS[name]
    model = getattr(torchvision.models, constructor)(weights=None, **kwargs).eval()
    records: list[Record] = []
    seen: dict[str, int] = {}

    def hook(module: Any, args: tuple[Any, ...], out: Any) -> None:
        base = module_names[module]
        seen[base] = seen.get(base, 0) + 1
        unique = base if seen[base] == 1 else f"{base}#{seen[base]}"
        if isinstance(module, torch.nn.Conv2d):
            records.append(conv_record(unique, module, args[0], out))
        else:
            records.append(linear_record(unique, module, args[0]))

    module_names = {m: n for n, m in model.named_modules()}
    for module in module_names:
        if isinstance(module, torch.nn.Conv2d | torch.nn.Linear):
            module.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros(*INPUT_SHAPE))
    extra = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    shape = "x".join(str(d) for d in INPUT_SHAPE)
    meta = {
        "source": f"torchvision.models.{constructor}(weights=None{extra}), input {shape}",
        "torch_version": str(torch.__version__),
        "torchvision_version": str(torchvision.__version__),
    }
    return records, meta


def bert_gemm(name: str, c: int, k: int, seq: int, heads: int = 1) -> Record:
    """One BERT GEMM over ``seq`` tokens; ``heads > 1`` is a per-head GEMM whose second operand
    is an activation (QK^T or AV), written as one layer with ``groups = heads``."""
    return layer_record(
        name, "matmul", n=1, c=c, k=k, groups=heads, p=seq, q=1, weights_are_activations=heads > 1
    )


def bert_layers(
    num_layers: int = 12, d_model: int = 768, heads: int = 12, d_ff: int = 3072, seq: int = 128
) -> list[Record]:
    """BERT encoder GEMMs by hand (Devlin et al. 2019); embeddings, LayerNorm, softmax, pooler
    are left out because they are not MAC-bound layers an accelerator's PE array would run."""
    d_head = d_model // heads
    records: list[Record] = []
    for i in range(num_layers):
        pre = f"encoder.layer.{i}."
        records += [
            bert_gemm(pre + "attention.self.query", d_model, d_model, seq),
            bert_gemm(pre + "attention.self.key", d_model, d_model, seq),
            bert_gemm(pre + "attention.self.value", d_model, d_model, seq),
            # per head: scores[s, s] = Q_h[s, 64] K_h^T[64, s]
            bert_gemm(pre + "attention.self.scores", heads * d_head, heads * seq, seq, heads),
            # per head: ctx[s, 64] = A_h[s, s] V_h[s, 64]
            bert_gemm(pre + "attention.self.context", heads * seq, heads * d_head, seq, heads),
            bert_gemm(pre + "attention.output.dense", d_model, d_model, seq),
            bert_gemm(pre + "intermediate.dense", d_model, d_ff, seq),
            bert_gemm(pre + "output.dense", d_ff, d_model, seq),
        ]
    return records


def build_document(name: str) -> dict[str, Any]:
    """The full versioned JSON document of one catalog model."""
    if name == "bert_base":
        records = bert_layers()
        meta: dict[str, Any] = {
            "source": "BERT-base encoder written by hand: 12 layers, d_model=768, 12 heads, "
            "d_ff=3072, sequence 128, batch 1; embeddings, LayerNorm, softmax and pooler "
            "not counted",
            "torch_version": None,
            "torchvision_version": None,
        }
    else:
        records, meta = torchvision_layers(name)
    return {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "source": meta["source"],
        "generated_by": "scripts/extract_layers.py",
        "torch_version": meta["torch_version"],
        "torchvision_version": meta["torchvision_version"],
        "total_macs": sum(record_macs(r) for r in records),
        "layers": records,
    }


def render(doc: dict[str, Any]) -> str:
    """JSON text with one layer per line, so a regenerated file diffs layer by layer."""
    head = {key: value for key, value in doc.items() if key != "layers"}
    lines = [f"  {json.dumps(key)}: {json.dumps(value)}," for key, value in head.items()]
    layers = ",\n".join(f"    {json.dumps(rec)}" for rec in doc["layers"])
    return "{\n" + "\n".join(lines) + '\n  "layers": [\n' + layers + "\n  ]\n}\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line: where to write and which models."""
    parser = argparse.ArgumentParser(
        description="Extract layer shapes of the workload catalog into "
        "<out>/<model>.json (torchvision models need torch and torchvision; bert_base needs "
        "neither).",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=MODEL_NAMES,
        default=list(MODEL_NAMES),
        metavar="NAME",
        help=f"models to extract (default: all of {', '.join(MODEL_NAMES)})",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Write one JSON file per requested model and print a one-line summary for each."""
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.models:
        doc = build_document(name)
        path = args.out / f"{name}.json"
        path.write_text(render(doc), encoding="utf-8")
        gmac = doc["total_macs"] / 1e9
        print(f"{name:16s} {len(doc['layers']):4d} layers {gmac:8.3f} GMAC -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
