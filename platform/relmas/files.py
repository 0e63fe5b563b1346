"""Writing files so that a reader never sees half of one, and strict JSON: one definition each.

Why atomic: a sweep ledger, a results file, a cost table or a policy is read by other processes
(Ray workers, a resumed run, ``relmas ui``) while it may be rewritten, and a Ctrl-C or a SIGKILL
can land mid-write. Writing a temporary file in the same directory and renaming it over the
target (``os.replace``, atomic on POSIX) leaves either the old file or the new one, never a mix.
Why strict JSON: NaN and infinity are not JSON; writing them (Python's default) produces files
other tools refuse, so missing values become ``null``.

Stdlib only: every layer may use this module.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_output(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """An open temporary file that replaces ``path`` when the block ends without an error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_directory(out: Path) -> Iterator[Path]:
    """A new temporary sibling of ``out`` that becomes ``out`` (absent or an empty directory,
    which the caller checks) when the block ends without an error, and is removed otherwise:
    a reader never sees half of a policy directory."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_output(path) as fh:
        fh.write(text)


def write_with(path: Path, write: Callable[[IO[Any]], None], binary: bool = True) -> None:
    """Let ``write`` fill a binary (or text) file that atomically becomes ``path``."""
    with atomic_output(path, "wb" if binary else "w") as fh:
        write(fh)


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN / infinity replaced by ``None``, recursively (tuples become lists)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def dumps(obj: Any, indent: int | None = 2, sort_keys: bool = False) -> str:
    """Strict JSON: missing values (NaN, infinity) become ``null``."""
    return json.dumps(json_safe(obj), indent=indent, allow_nan=False, sort_keys=sort_keys)


def write_json_atomic(path: Path, data: Any, indent: int | None = 1, strict: bool = True) -> None:
    """JSON written atomically; strict (NaN as ``null``) unless ``strict=False``, for files
    that must carry NaN back to a consumer that accepts it (MLflow metrics of offline runs)."""
    text = dumps(data, indent=indent) if strict else json.dumps(data, indent=indent)
    write_atomic(path, text)
