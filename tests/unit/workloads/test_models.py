"""The workload catalog: committed layer shapes match published model sizes, and the loader
rejects bad files with one-line errors.

Why check against published figures: the JSON files are generated once with a throwaway torch
install and then trusted by every experiment; comparing each model's total MACs with an
independent published number catches a wrong hook, a missing layer or a mis-modelled GEMM.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from relmas.errors import UserError
from relmas.hardware.layer import LAYER_KINDS
from relmas.loaders.models import load_model, model_json_path, model_names, model_text

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "extract_layers.py"

# Published total MACs in GMAC, and the tolerance: half a unit of the last published digit, i.e.
# the extracted value must round to the published one.
# torchvision: the per-weights metadata ``meta["_ops"]`` in torchvision's source (e.g.
# ``ResNet50_Weights.IMAGENET1K_V1``), shown rounded in the "GFLOPS" column of
# https://pytorch.org/vision/stable/models.html (4.09, 0.3, 15.47, 1.5, 0.71, 0.35, 0.39).
# Despite the column's name, torchvision counts one multiply-accumulate as one op, i.e. MACs.
# BERT-base (s = 128): no official figure exists; the closed form per encoder layer is
# s * (4 d^2 + 2 d d_ff) + 2 s^2 d = s * 7.08M + 1536 s^2 MACs -> 0.931 GMAC x 12 = 11.17 GMAC
# (/work/shared/reference/costmodel.md §4). It agrees with the ~22 GFLOPs (2 FLOPs per MAC) often
# quoted for BERT-base at s = 128 in model-compression papers (recalled, not re-checked here).
PUBLISHED_GMAC: dict[str, tuple[float, float]] = {
    "resnet50": (4.089, 0.0005),
    "mobilenet_v2": (0.301, 0.0005),
    "vgg16": (15.470, 0.0005),
    "googlenet": (1.498, 0.0005),
    "alexnet": (0.714, 0.0005),
    "squeezenet": (0.349, 0.0005),
    "efficientnet_b0": (0.386, 0.0005),
    "bert_base": (11.2, 0.05),
}

# Conv2d + Linear calls per forward pass, derived from each architecture:
LAYER_COUNTS: dict[str, int] = {
    "resnet50": 54,  # stem + 16 bottlenecks x 3 + 4 downsample 1x1 + fc
    "mobilenet_v2": 53,  # stem + first block (dw, pw) + 16 blocks x 3 + 1x1 head + fc
    "vgg16": 16,  # 13 conv + 3 fc
    "googlenet": 58,  # 3 stem convs + 9 inception modules x 6 + fc
    "alexnet": 8,  # 5 conv + 3 fc
    "squeezenet": 26,  # conv1 + 8 fire modules x 3 + final 1x1 classifier conv
    "efficientnet_b0": 82,  # stem + 4 (first MBConv) + 15 MBConv x 5 + 1x1 head + fc
    "bert_base": 96,  # 12 encoder layers x (Q, K, V, scores, context, out, FFN up, FFN down)
}


def test_catalog_has_exactly_the_models() -> None:
    assert model_names() == sorted(PUBLISHED_GMAC)


@pytest.mark.parametrize("name", sorted(PUBLISHED_GMAC))
def test_total_macs_match_published_figure(name: str) -> None:
    published, tolerance = PUBLISHED_GMAC[name]
    gmac = sum(layer.macs for layer in load_model(name)) / 1e9
    assert abs(gmac - published) <= tolerance, f"{name}: {gmac:.4f} GMAC vs {published}"


@pytest.mark.parametrize("name", sorted(LAYER_COUNTS))
def test_layer_count(name: str) -> None:
    assert len(load_model(name)) == LAYER_COUNTS[name]


@pytest.mark.parametrize("name", sorted(PUBLISHED_GMAC))
def test_json_header_is_consistent(name: str) -> None:
    doc = json.loads(model_text(name))
    assert doc["schema_version"] == 1
    assert doc["name"] == name
    assert doc["generated_by"] == "scripts/extract_layers.py"
    assert doc["total_macs"] == sum(layer.macs for layer in load_model(name))
    assert all(layer.kind in LAYER_KINDS for layer in load_model(name))
    if name != "bert_base":
        assert doc["source"].startswith("torchvision.models.")
        assert doc["torch_version"] and doc["torchvision_version"]


def _kinds(name: str) -> set[str]:
    return {layer.kind for layer in load_model(name)}


def test_kinds_present() -> None:
    assert {"depthwise", "pointwise", "conv", "fc"} <= _kinds("mobilenet_v2")
    assert {"depthwise", "pointwise", "fc"} <= _kinds("efficientnet_b0")
    assert {"conv", "pointwise", "fc"} <= _kinds("resnet50")
    assert _kinds("vgg16") == {"conv", "fc"}
    assert _kinds("bert_base") == {"matmul"}


def test_depthwise_layers_are_depthwise() -> None:
    for layer in load_model("mobilenet_v2"):
        if layer.kind == "depthwise":
            assert layer.groups == layer.c == layer.k > 1
            assert layer.weight_words == layer.k * layer.r * layer.s


def test_bert_attention_is_grouped_by_head_and_streams_activations() -> None:
    layers = load_model("bert_base")
    attention = [layer for layer in layers if layer.weights_are_activations]
    assert len(attention) == 24  # scores and context in each of 12 encoder layers
    assert all(layer.groups == 12 and layer.p == 128 for layer in attention)
    scores = next(layer for layer in attention if layer.name.endswith("scores"))
    # Q_h[128, 64] x K_h^T[64, 128] for 12 heads: "weights" are all of K (128 x 768).
    assert (scores.c_per_group, scores.k_per_group) == (64, 128)
    assert scores.weight_words == 128 * 768
    assert scores.macs == 12 * 128 * 64 * 128


def test_loaded_list_is_a_fresh_copy() -> None:
    first = load_model("alexnet")
    first.clear()
    assert len(load_model("alexnet")) == LAYER_COUNTS["alexnet"]


def test_bert_is_reproducible_without_torch(tmp_path: Path) -> None:
    """The hand-written BERT part must run (and match the committed file) with no torch."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['extract_layers.py', '--out', {str(tmp_path)!r}, '--models', 'bert_base']\n"
        "try:\n"
        f"    runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "assert 'torch' not in sys.modules, 'bert_base extraction imported torch'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=tmp_path)
    produced = (tmp_path / "bert_base.json").read_text(encoding="utf-8")
    assert produced == model_text("bert_base")


def test_script_help_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True
    )
    assert "--models" in result.stdout and "--out" in result.stdout


# ---- loader errors -------------------------------------------------------------------------


def test_unknown_model_suggests_the_close_name() -> None:
    with pytest.raises(UserError, match=r"model: unknown name 'resnet5'; did you mean 'resnet50'"):
        load_model("resnet5")
    with pytest.raises(UserError, match="choose one of: alexnet"):
        model_json_path("../models/alexnet")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary RELMAS_HOME with an empty catalog; returns the catalog directory."""
    monkeypatch.setenv("RELMAS_HOME", str(tmp_path))
    models = tmp_path / "hardware_models" / "models"
    models.mkdir(parents=True)
    return models


def _write(models: Path, name: str, doc: Any) -> Path:
    path = models / f"{name}.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def _good_doc() -> dict[str, Any]:
    """The committed AlexNet file, read by path: RELMAS_HOME points at the tmp tree here."""
    committed = REPO / "hardware_models" / "models" / "alexnet.json"
    return json.loads(committed.read_text(encoding="utf-8"))


def _expect_error(models: Path, doc: Any, *fragments: str) -> None:
    path = _write(models, "alexnet", doc)
    with pytest.raises(UserError) as info:
        load_model("alexnet")
    message = str(info.value)
    assert "\n" not in message
    for fragment in (str(path), *fragments):
        assert fragment in message, message


def test_tmp_home_loads_a_good_copy(home: Path) -> None:
    good = _good_doc()
    assert model_names() == []
    _write(home, "alexnet", good)
    assert model_names() == ["alexnet"]
    assert sum(layer.macs for layer in load_model("alexnet")) == good["total_macs"]


def test_malformed_json(home: Path) -> None:
    _expect_error(home, '{"schema_version": 1,', "not valid JSON", "line 1")


def test_wrong_schema_version(home: Path) -> None:
    _expect_error(home, {**_good_doc(), "schema_version": 2}, "schema_version", "is 2")


def test_missing_header_field(home: Path) -> None:
    doc = _good_doc()
    del doc["total_macs"]
    _expect_error(home, doc, "total_macs: missing")


def test_missing_layer_field(home: Path) -> None:
    doc = _good_doc()
    del doc["layers"][3]["k"]
    _expect_error(home, doc, "layers[3].k: missing")


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("kind", "attention", "layers[0].kind"),
        ("p", 0, "layers[0].p: expected an integer >= 1"),
        ("stride", True, "layers[0].stride"),
        ("weights_are_activations", 1, "layers[0].weights_are_activations"),
        ("extra", 5, "layers[0].extra: unknown field"),
    ],
)
def test_bad_layer_value(home: Path, field: str, value: Any, fragment: str) -> None:
    doc = _good_doc()
    doc["layers"][0][field] = value
    _expect_error(home, doc, fragment)


def test_total_macs_mismatch(home: Path) -> None:
    doc = _good_doc()
    doc["total_macs"] += 1
    _expect_error(home, doc, "total_macs", "the layers sum to")


def test_name_must_match_file(home: Path) -> None:
    _expect_error(home, {**_good_doc(), "name": "vgg16"}, "name", "'alexnet.json'")


def test_regenerated_file_is_reread(home: Path) -> None:
    doc = _good_doc()
    path = _write(home, "alexnet", doc)
    assert len(load_model("alexnet")) == 8
    doc["layers"] = doc["layers"][:2]
    doc["total_macs"] = sum(layer.macs for layer in load_model("alexnet")[:2])
    path.write_text(json.dumps(doc), encoding="utf-8")
    stat = path.stat()  # bump the mtime explicitly: a same-tick rewrite may keep it
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert len(load_model("alexnet")) == 2
