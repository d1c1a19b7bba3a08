"""Load: read a YAML file (YAML 1.2) into a document that knows the line and column of every node.

The one YAML loader of the project. It refuses what a config file never needs and
an attacker would use: aliases (alias bombs), deep nesting, huge files, invalid
UTF-8, duplicate keys. Failures become diagnostics, never tracebacks.

Positions come from ruamel.yaml's round-trip parser, which is pure Python and slow on
large files. So a file whose every node is plain (mappings with string keys, lists,
strings, booleans, nulls, decimal numbers) is first read by libyaml through PyYAML
with YAML 1.2 core-schema resolvers, giving the very values ruamel would; ruamel then
parses it only if a diagnostic needs a position. Anything else (an alias, a duplicate
key, a tag, a hex number, a date, a parse error...) takes the ruamel path, which
reports it exactly.
"""

from __future__ import annotations

import re
from functools import cached_property, lru_cache
from pathlib import Path

from bodywork_render.diagnostics import BodyworkError, Diagnostic

TYPE_CHECKING = False  # without importing typing: see diagnostics.py
if TYPE_CHECKING:
    from typing import Any, Protocol

    class Files(Protocol):
        """Where a project's files are read from instead of the disk: one commit of its repository."""

        where: str
        """Where, for messages: e.g. "at commit 1a2b3c4"."""

        def read(self, path: Path) -> bytes | None:
            """The content of the file at ``path`` (a path on disk), None when there is none."""

        def is_file(self, path: Path) -> bool:
            """Whether there is a file at ``path``."""


MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 50

PathKey = tuple["str | int", ...]


class Document:
    """A parsed YAML file: ``data`` holds plain Python values, ``tree`` the positioned nodes."""

    def __init__(self, file: str, data: Any, text: str) -> None:
        self.file = file
        self.data = data
        self.text = text

    @cached_property
    def tree(self) -> Any:
        """ruamel.yaml's positioned nodes of the text, parsed on first use (None if ruamel cannot read it)."""
        from ruamel.yaml.error import YAMLError

        try:
            return _yaml().load(self.text)
        except (YAMLError, RecursionError):
            return None

    def position(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        """1-based line and column of the value at ``path`` (of its key with ``key=True``).

        A path that does not exist (a missing field) points at its nearest existing parent.
        """
        node = self.tree
        line, column = _node_start(node)
        for depth, part in enumerate(path):
            last = depth == len(path) - 1
            lc = getattr(node, "lc", None)
            if isinstance(node, dict) and part in node and lc is not None:
                pos = lc.key(part) if (last and key) else lc.value(part)
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node) and lc is not None:
                pos = lc.item(part)
                node = node[part]
            else:
                break
            if pos is None:  # ruamel records no position for some tagged nodes: keep the parent's
                break
            line, column = pos[0] + 1, pos[1] + 1
        return line, column


def _node_start(node: Any) -> tuple[int, int]:
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return 1, 1
    return lc.line + 1, lc.col + 1


def read_yaml(path: Path, display: str | None = None) -> Document:
    """Read and parse one YAML file, or raise BodyworkError with a positioned diagnostic."""
    file = display or str(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise BodyworkError([Diagnostic(file, 0, 0, "", "error", f"cannot read file: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise BodyworkError(
            [
                Diagnostic(
                    file,
                    0,
                    0,
                    "",
                    "error",
                    f"file is larger than {MAX_FILE_BYTES // 1024} KiB; a bodywork.yaml is a few KiB",
                )
            ]
        )
    return parse_yaml(raw, file)


def read_document(path: Path, files: Files | None = None) -> Document:
    """``read_yaml`` of ``path``, or of its content in ``files`` when given; BodyworkError when it is not there."""
    if files is None:
        return read_yaml(path)
    raw = files.read(path)
    if raw is None:
        raise BodyworkError([Diagnostic(str(path), 0, 0, "", "error", f"no such file {files.where}")])
    if len(raw) > MAX_FILE_BYTES:
        raise BodyworkError(
            [Diagnostic(str(path), 0, 0, "", "error", f"file is larger than {MAX_FILE_BYTES // 1024} KiB")]
        )
    return parse_yaml(raw, str(path))


def parse_yaml(raw: bytes, file: str) -> Document:
    """Parse YAML bytes (UTF-8) into a Document, or raise BodyworkError."""
    text = _decode(raw, file)
    data = _plain_fast(text)
    if data is not _NOT_PLAIN:
        return Document(file, data, text)
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    try:
        tree = _yaml().load(text)
    except MarkedYAMLError as exc:
        raise BodyworkError([_marked_error(file, exc, text)]) from None
    except ReaderError as exc:  # a character YAML refuses; ruamel gives its index in the text, not its line
        raise BodyworkError([_refused_character(file, exc, text)]) from None
    except (YAMLError, RecursionError) as exc:
        raise BodyworkError([Diagnostic(file, 0, 0, "", "error", f"invalid YAML: {exc}")]) from None
    document = Document(file, _plain(tree), text)
    document.__dict__["tree"] = tree  # already parsed: fill the cache
    return document


_NOT_PLAIN = object()
_CORE = "tag:yaml.org,2002:"
_NOT_PLAIN_TAG = "bodywork-render:not-plain"

# YAML 1.2 core schema, restricted to the forms ruamel.yaml reads the same way; other
# number-like or date-like plain scalars are tagged "not plain" and take the ruamel path.
_RESOLVERS = (
    (_CORE + "null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    (_CORE + "bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (_CORE + "int", r"^[-+]?[0-9]+$", "-+0123456789"),
    (
        _CORE + "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
    # Number-, date- and time-like: digits with only what numbers (hex, octal, binary, exponents, '_'), dates and
    # times are made of; a quantity such as 10Gi or a version such as 3.12-slim stays a plain string.
    (
        _NOT_PLAIN_TAG,
        r"^(?:[-+]?[.0-9][-+0-9a-fA-FxXoObB_:. tTzZ]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
)


@lru_cache(maxsize=1)
def _core_loader() -> Any:
    import yaml

    class CoreLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        """libyaml's parser with YAML 1.2 core-schema resolvers instead of PyYAML's YAML 1.1 ones."""

        yaml_implicit_resolvers: dict[str, Any] = {}

    CoreLoader.add_implicit_resolver(_CORE + "null", re.compile(_RESOLVERS[0][1]), [""])
    for tag, pattern, first in _RESOLVERS:
        CoreLoader.add_implicit_resolver(tag, re.compile(pattern), list(first))
    return CoreLoader


def _plain_fast(text: str) -> Any:
    """The plain values of the text when every node is plain (see the module docstring), else _NOT_PLAIN."""
    import yaml

    try:
        root = yaml.compose(text, Loader=_core_loader())
    except yaml.YAMLError:
        return _NOT_PLAIN
    if root is None:
        return None
    try:
        return _construct(root, 0, set())
    except _NotPlain:
        return _NOT_PLAIN


class _NotPlain(Exception):
    """A node the fast path leaves to ruamel."""


def _construct(node: Any, depth: int, seen: set[int]) -> Any:
    if depth > MAX_DEPTH or id(node) in seen:
        raise _NotPlain  # too deep, or an alias: ruamel reports it with its position
    if node.id == "scalar":
        return _scalar(node)
    seen.add(id(node))
    if node.id == "sequence" and node.tag == _CORE + "seq":
        return [_construct(item, depth + 1, seen) for item in node.value]
    if node.id == "mapping" and node.tag == _CORE + "map":
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _construct(key_node, depth + 1, seen)
            if not isinstance(key, str) or key in mapping or key == "<<":
                raise _NotPlain  # a non-string key, a duplicate, a merge key
            mapping[key] = _construct(value_node, depth + 1, seen)
        return mapping
    raise _NotPlain


def _scalar(node: Any) -> Any:
    tag, value = node.tag, node.value
    if tag == _CORE + "str":
        return value
    if tag == _CORE + "null":
        return None
    if tag == _CORE + "bool":
        return value.lower() == "true"
    if tag == _CORE + "int":
        return int(value, 10)
    if tag == _CORE + "float":
        return float(
            value.replace(".inf", "inf")
            .replace(".Inf", "inf")
            .replace(".INF", "inf")
            .replace(".nan", "nan")
            .replace(".NaN", "nan")
            .replace(".NAN", "nan")
        )
    raise _NotPlain


def _decode(raw: bytes, file: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise BodyworkError(
            [
                Diagnostic(
                    file,
                    line,
                    column,
                    "",
                    "error",
                    f"invalid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
                )
            ]
        ) from None


def _yaml() -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.composer import Composer, ComposerError
    from ruamel.yaml.constructor import RoundTripConstructor
    from ruamel.yaml.events import AliasEvent

    class NoAliasComposer(Composer):
        """Refuses aliases (a config file never needs them, and alias bombs need nothing else) and reused anchors."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.parser.check_event(AliasEvent):
                event = self.parser.peek_event()
                raise ComposerError(
                    None,
                    None,
                    f"aliases (*{event.anchor}) are not supported: write the value out in full",
                    event.start_mark,
                )
            anchor = getattr(self.parser.peek_event(), "anchor", None)
            if anchor is not None and anchor in self.anchors:  # ruamel would only warn, on stderr
                raise ComposerError(
                    None,
                    None,
                    f"the anchor &{anchor} is defined twice: give each anchor once, or write the values out",
                    self.parser.peek_event().start_mark,
                )
            return super().compose_node(parent, index)

    class YamlKeysConstructor(RoundTripConstructor):
        """Duplicate keys as YAML sees them: 1, true and 1.0 are three keys (Python's dict holds one of them)."""

        def check_mapping_key(self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any) -> bool:
            if key in mapping and not _repeats(node, key_node):
                return False  # kept out: the first key, not a string either, is reported as such
            return bool(super().check_mapping_key(node, key_node, mapping, key, value))

    yaml = YAML(typ="rt", pure=True)
    yaml.Composer = NoAliasComposer
    yaml.Constructor = YamlKeysConstructor
    yaml.max_depth = MAX_DEPTH
    yaml.allow_duplicate_keys = False
    return yaml


_PLAIN_MESSAGES = {
    "found character '\\t' that cannot start any token": "a tab where YAML expects spaces; indent with spaces",
    "maximum depth of data structure exceeded": f"nesting deeper than {MAX_DEPTH} levels is not supported",
}


def _marked_error(file: str, exc: Any, text: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    problem = str(exc.problem or exc.context or "invalid YAML").strip()
    if problem.startswith("found duplicate key"):
        key = problem.split('"')[1] if '"' in problem else problem
        first = _first_definition_line(text, exc.problem_mark)
        first_line = f" (first defined on line {first})" if first is not None else ""
        message = f"duplicate key {key!r}{first_line}; each key may appear once"
    else:
        plain = [text for needle, text in _PLAIN_MESSAGES.items() if needle in problem]
        if plain:
            message = plain[0]
        elif exc.context and exc.problem:
            message = f"{exc.context.strip()}: {problem}"
        else:
            message = problem
    return Diagnostic(file, line, column, "", "error", f"invalid YAML: {message}")


def _refused_character(file: str, exc: Any, text: str) -> Diagnostic:
    """The error for a character YAML does not allow (a control character, a surrogate): ruamel's ReaderError."""
    line = text.count("\n", 0, exc.position) + 1
    column = exc.position - text.rfind("\n", 0, exc.position)
    message = f"invalid YAML: character U+{exc.character:04X} is not allowed in YAML; remove it"
    return Diagnostic(file, line, column, "", "error", message)


def _same_key(a: Any, b: Any) -> bool:
    """Whether two composed key nodes are the same YAML key: same tag, same text."""
    return bool((a.tag, a.value) == (b.tag, b.value))


def _repeats(mapping: Any, key: Any) -> bool:
    """Whether the key node ``key`` of the composed ``mapping`` repeats a key before it."""
    for other, _ in mapping.value:
        if other is key:
            return False
        if _same_key(other, key):
            return True
    return False


def _first_definition_line(text: str, duplicate: Any) -> int | None:
    """1-based line of the first key equal to the duplicate key at mark ``duplicate``, None if not found.

    ruamel's error marks the duplicate and the start of its mapping, not the key it repeats:
    the composed nodes (duplicates are refused only later, by the constructor) still hold both.
    """
    if duplicate is None:
        return None
    from ruamel.yaml.error import YAMLError

    try:
        root = _yaml().compose(text)
    except (YAMLError, RecursionError):
        return None
    pending = [root]
    while pending:
        node = pending.pop()
        if node is None or node.id == "scalar":
            continue
        if node.id == "sequence":
            pending.extend(node.value)
            continue
        keys = [key for key, _ in node.value]
        for index, key in enumerate(keys):
            if key.start_mark.index == duplicate.index:
                same = [k for k in keys[:index] if _same_key(k, key)]
                return same[0].start_mark.line + 1 if same else None
        pending.extend(value for _, value in node.value)
        pending.extend(keys)
    return None


def _plain(node: Any) -> Any:
    """Copy ruamel's positioned nodes into plain dict, list, str, int, float, bool and None."""
    if isinstance(node, dict):
        return {_plain_key(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str) or node is None:
        return None if node is None else str(node)
    # dates, binary and custom tags: keep the text the user wrote, so a schema check reports it
    return str(getattr(node, "value", node))


def _plain_key(node: Any) -> Any:
    """A mapping key as _plain copies it: null, numbers and booleans stay, anything else becomes an exact str."""
    key = _plain(node)
    return key if key is None or isinstance(key, (int, float, bool, str)) else str(key)
