"""The one way relmas reads YAML: ``safe_load`` semantics plus caps on size, aliases and depth.

Why caps: ``yaml.safe_load`` refuses custom tags, but it still accepts a few hundred bytes of
nested aliases (the "billion laughs" document) that expand to billions of nodes as soon as
anything walks the result (pydantic, ``json.dumps``, MLflow params), a file of gigabytes, and
nesting deep enough to overflow Python's stack. All three become a one-line ``UserError`` here,
checked on the composed node graph before any Python object is built, so the refusal is fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from relmas.errors import UserError

MAX_FILE_BYTES = 10 * 1024 * 1024
# Nodes that exist only because an alias repeats a subtree; honest configs reuse a few small
# anchors, a billion-laughs document needs millions.
MAX_ALIAS_EXPANSION = 100_000
MAX_DEPTH = 64

# The pure-Python loader on purpose: libyaml's composer recurses in C and segfaults on deeply
# nested flow collections, where the Python one raises a catchable RecursionError.
_Loader = yaml.SafeLoader


def _children(node: yaml.Node) -> list[yaml.Node]:
    """Direct children of a node (keys and values of a mapping)."""
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _duplicate_key(node: yaml.Node) -> yaml.Node | None:
    """The first repeated plain key of a mapping node (PyYAML would silently keep the last)."""
    if not isinstance(node, yaml.MappingNode):
        return None
    seen: set[tuple[str, str]] = set()
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
            ident = (key.tag, key.value)
            if ident in seen:
                return key
            seen.add(ident)
    return None


def _measure(root: yaml.Node) -> tuple[int, int, int]:
    """(distinct nodes, nodes after expanding every alias, depth), iteratively (no recursion).

    An alias is the same node object reached twice, so the expanded size of a node is computed
    once and reused: linear in the document even when its expansion is astronomically large.
    A node reached again while still being measured is a recursive alias (``&a [*a]``).
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            dup = _duplicate_key(node)
            if dup is not None:
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key {dup.value!r}", problem_mark=dup.start_mark
                )
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            active.discard(key)
            continue
        if key in size:
            continue
        if key in active:
            raise RecursionError("recursive alias")
        active.add(key)
        stack.append((node, True))
        stack.extend((kid, False) for kid in _children(node) if id(kid) not in size)
    return len(size), size[id(root)], depth[id(root)]


def parse_yaml(text: str, field: str, subject: str = "") -> Any:
    """Parse one YAML document with safe tags only; refusals name ``field`` (and ``subject``,
    e.g. the file, at the start of the problem)."""
    lead = f"{subject} is " if subject else ""
    try:
        loader = _Loader(text)  # the reader already refuses control characters here
    except yaml.YAMLError as exc:
        raise UserError(field, f"{lead}not valid YAML: {_problem(exc)}", "fix the text") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node, field, lead)
        return loader.construct_document(node)
    except RecursionError:
        problem = f"{lead}YAML nested too deeply or recursive (an alias inside itself)"
        raise UserError(field, problem, f"flatten it (limit {MAX_DEPTH})") from None
    except yaml.YAMLError as exc:
        problem = f"{lead}not valid YAML{_where(exc)}: {_problem(exc)}"
        raise UserError(field, problem, "fix the YAML syntax") from None
    finally:
        loader.dispose()


def _check_size(node: yaml.Node, field: str, lead: str) -> None:
    """Refuse alias bombs and deep nesting before any Python object is built."""
    distinct, expanded, depth = _measure(node)
    if expanded - distinct > MAX_ALIAS_EXPANSION:
        problem = f"{lead}YAML whose aliases expand to {expanded:.3g} nodes"
        fix = f"at most {MAX_ALIAS_EXPANSION} extra nodes from anchors (&) and aliases (*)"
        raise UserError(field, problem, fix)
    if depth > MAX_DEPTH:
        problem = f"{lead}YAML nested {depth} levels deep"
        raise UserError(field, problem, f"flatten it (limit {MAX_DEPTH})")


def _where(exc: yaml.YAMLError) -> str:
    """`` at line L, column C`` when PyYAML knows where the problem is."""
    mark = getattr(exc, "problem_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def _problem(exc: yaml.YAMLError) -> str:
    """PyYAML's short description of the problem, on one line."""
    text = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
    return " ".join(str(text).split())


def read_text(path: Path, what: str, max_bytes: int = MAX_FILE_BYTES) -> str:
    """A user file's text: must exist, be a file, fit the size cap and be UTF-8."""
    if not path.is_file():
        raise UserError(what, f"file {str(path)!r} does not exist", "check the path")
    size = path.stat().st_size
    if size > max_bytes:
        problem = f"{path} is {size} bytes, larger than the {max_bytes}-byte limit"
        raise UserError(what, problem, "use a smaller file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problem = f"{path} is not UTF-8 text (byte {exc.start})"
        raise UserError(what, problem, "save it as UTF-8") from None
    except OSError as exc:
        raise UserError(what, f"cannot read {path} ({exc.strerror})", "check the path") from None


def read_yaml(path: Path, what: str) -> Any:
    """Parse a YAML file safely (size-capped, alias- and depth-capped, no custom tags)."""
    return parse_yaml(read_text(path, what), what, str(path))
