"""Hand-edited YAML mistakes become one-line UserErrors that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from relmas.errors import UserError
from relmas.loaders import hardware


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_unknown_accelerator_suggests_a_name(data_copy: Path) -> None:
    with pytest.raises(UserError, match="did you mean 'eyeriss'"):
        hardware.load_accelerator("eyeris")


def test_unknown_composition_suggests_a_name(data_copy: Path) -> None:
    with pytest.raises(UserError, match="did you mean '2s2e'"):
        hardware.load_composition("2s2")


def test_malformed_yaml_names_the_file(data_copy: Path) -> None:
    (data_copy / "simba.yaml").write_text("name: simba\narray: [1, 2\n")
    with pytest.raises(UserError, match=r"simba\.yaml: not valid YAML at line") as info:
        hardware.load_accelerator("simba")
    assert "\n" not in str(info.value)


def test_missing_field_names_the_field(data_copy: Path) -> None:
    _edit(data_copy / "eyeriss.yaml", "  weight_words: 192", "")
    with pytest.raises(UserError, match=r"eyeriss\.yaml: pe_buffers\.weight_words: Field required"):
        hardware.load_accelerator("eyeriss")


def test_wrong_type_names_the_field(data_copy: Path) -> None:
    _edit(data_copy / "eyeriss.yaml", "clock_hz: 1.0e9", "clock_hz: fast")
    with pytest.raises(UserError, match=r"eyeriss\.yaml: clock_hz: Input should be a valid number"):
        hardware.load_accelerator("eyeriss")


def test_negative_value_rejected(data_copy: Path) -> None:
    _edit(data_copy / "dram.yaml", "energy_per_byte_j: 64.0e-12", "energy_per_byte_j: -1")
    with pytest.raises(UserError, match=r"dram\.yaml: energy_per_byte_j: Input should be greater"):
        hardware.load_dram()


def test_name_must_match_file_stem(data_copy: Path) -> None:
    _edit(data_copy / "simba.yaml", "name: simba", "name: simba2")
    with pytest.raises(UserError, match="make the name equal to the file stem"):
        hardware.load_accelerator("simba")


def test_composition_with_unknown_type_and_negative_count(data_copy: Path) -> None:
    path = data_copy / "compositions.yaml"
    _edit(path, "counts: {simba: 2, eyeriss: 2}", "counts: {simbaa: 2, eyeriss: 2}")
    with pytest.raises(
        UserError, match=r"compositions\.2s2e\.counts\.simbaa.*did you mean 'simba'"
    ):
        hardware.load_compositions()
    _edit(path, "counts: {simbaa: 2, eyeriss: 2}", "counts: {simba: -2, eyeriss: 2}")
    with pytest.raises(UserError, match=r"compositions\.2s2e: Value error, count of 'simba'"):
        hardware.load_compositions()


def test_missing_data_root_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELMAS_HOME", str(tmp_path))
    assert hardware.accelerator_names() == []
    with pytest.raises(UserError, match="file not found"):
        hardware.load_dram()
