"""Command-line flags generated from a pydantic model's fields: one definition for file and flags.

Why: ``relmas train`` used to declare every recipe option twice, once as a model field and once
as a hand-written flag, and the two lists drifted. Here each field of the model becomes a flag
named after it (``batch_size`` -> ``--batch-size``) with the field's description and default as
its help. Flags default to ``None`` ("not given"), so precedence is simply model defaults < file
< given flags, and every value goes through the model's own validation (one-line errors).

Field shapes: numbers and strings take one value; ``bool`` becomes ``--x / --no-x``; a list of
ints takes ``1,2,3``; a mapping takes ``KEY=VALUE`` (repeatable, YAML-typed values, the flags
replace the file's mapping as a whole), where a bare ``VALUE`` means ``name=VALUE`` if the field
says so (``reward``: ``--reward sla``). Nested models and the fields in ``skip`` are file-only.
"""

from __future__ import annotations

import argparse
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from relmas.errors import UserError
from relmas.loaders.safe_yaml import parse_yaml


def _str_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _names(value: str) -> str | list[str]:
    names = _str_list(value)
    return names[0] if len(names) == 1 else names


def _int_list(value: str) -> list[int]:
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 64,64, got {value!r}") from None


def _kind(field: FieldInfo) -> str:
    """'bool', 'int', 'float', 'str', 'path', 'names', 'ints', 'strs', 'mapping' or 'skip'
    (file only) for a field's type."""
    tp = field.annotation
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if set(args) == {str, list[str]}:
        return "names"  # one name, or a comma-separated list of them
    if typing.get_origin(tp) in (typing.Union, type(int | None)) and len(args) == 1:
        tp = args[0]  # Optional[X] -> X
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        tp, origin = typing.get_args(tp)[0], typing.get_origin(typing.get_args(tp)[0])
    if tp is bool:
        return "bool"
    if tp is Path:
        return "path"
    if tp in (int, float, str) or origin is typing.Literal:
        return {int: "int", float: "float"}.get(tp, "str")  # type: ignore[call-overload]
    if origin is list:
        return "strs" if typing.get_args(tp) == (str,) else "ints"
    if origin is dict:
        return "mapping"
    return "skip"


def _help(text: str, default_text: str) -> str:
    """``text (default: X)``, the one help style of every relmas option (cli/parser.py)."""
    return f"{text.strip()} (default: {default_text})".strip()


def _default_text(field: FieldInfo, kind: str) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if kind in ("ints", "strs"):
        return ",".join(map(str, value)) or "none"
    if kind == "mapping":
        return " ".join(f"{k}={v}" for k, v in value.items()) or "none"
    return str(value)


def add_model_flags(
    parser: argparse.ArgumentParser,
    model: type[BaseModel],
    skip: Iterable[str] = (),
    helps: dict[str, str] | None = None,
) -> None:
    """One flag per field of ``model`` (except ``skip`` and nested models), all defaulting to
    ``None`` so that :func:`given_flags` returns only what the user typed. ``helps`` replaces
    a field's description where the command line says more (e.g. the chip shorthand)."""
    for name, field in model.model_fields.items():
        kind = _kind(field)
        if name in skip or kind == "skip":
            continue
        flag = "--" + name.replace("_", "-")
        text = (helps or {}).get(name) or field.description or ""
        if kind == "mapping":
            text += "; repeatable"
        help_text = _help(text, _default_text(field, kind))
        if kind == "bool":
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction,
                                default=None, help=help_text)  # fmt: skip
        elif kind == "mapping":
            parser.add_argument(flag, dest=name, action="append", default=None,
                                metavar="KEY=VALUE", help=help_text)  # fmt: skip
        else:
            convert = {"int": int, "float": float, "ints": _int_list, "path": Path,
                       "names": _names, "strs": _str_list}.get(kind, str)  # fmt: skip
            parser.add_argument(flag, dest=name, type=convert, default=None, help=help_text)


def _mapping(name: str, items: list[str], bare_key: str | None) -> dict[str, Any]:
    """``KEY=VALUE`` items as a mapping; a bare item is ``bare_key=item`` when allowed."""
    flag = "--" + name.replace("_", "-")
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep and bare_key:
            key, value = bare_key, item
        elif not sep or not key.strip():
            raise UserError(flag, f"{item!r} is not KEY=VALUE", f"e.g. {flag} key=0.5")
        out[key.strip()] = parse_yaml(value, f"{flag} {key.strip()}", repr(value))
    return out


def given_flags(args: argparse.Namespace, model: type[BaseModel]) -> dict[str, Any]:
    """The model fields the user set on the command line, converted to field values."""
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        if _kind(field) == "mapping":
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            bare = extra.get("bare_key")
            value = _mapping(name, value, bare if isinstance(bare, str) else None)
        out[name] = value
    return out
