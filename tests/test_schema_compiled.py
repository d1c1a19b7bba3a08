"""The compiled schema check (bodywork_render/spec/_schema_compiled.py) against jsonschema_rs, which it stands in for.

`bodywork validate` trusts the compiled check alone when it accepts a document, so it must accept
exactly what jsonschema_rs accepts: on every case and corpus file, on generated mutations of them
(booleans for integers, 1.0, huge numbers, NaN, strings at the edge of every pattern, the version
switch...) and, for every pattern, on every character of the Basic Multilingual Plane.
"""

from __future__ import annotations

import copy
import math
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.package_data import load_json
from bodywork_render.spec._schema_compiled import accepts
from bodywork_render.spec.load import Document, parse_yaml
from bodywork_render.spec.validate import validate_document
from scripts.compile_schema import DRAFT_2020_12, SCHEMAS, TARGET, SchemaError, generate, prepared, python_regex
from tests.ci import examples
from tests.corpus import corpus_files

ROOT = Path(__file__).resolve().parents[1]
CASES = Path(__file__).parent / "cases"
RUST = {schema: jsonschema_rs.Draft202012Validator(load_json(schema)) for schema in SCHEMAS}
PROPERTY = settings(max_examples=examples(2000), deadline=None)


def test_the_committed_module_is_generated_from_the_current_schemas() -> None:
    assert TARGET.read_text(encoding="utf-8") == generate(), "stale: run .venv/bin/python scripts/compile_schema.py"


def test_a_valid_run_imports_no_validator_and_nothing_it_can_do_without() -> None:
    # each costs every commit's pre-commit run milliseconds (jsonschema_rs brings email and decimal); typing is
    # allowed: the command line reads its flags from Annotated declarations (measured: no change in wall time)
    avoided = {
        "jsonschema_rs",
        "fastjsonschema",
        "decimal",
        "email",
        "json",
        "dataclasses",
        "difflib",
        "graphlib",
    }
    code = (
        "import sys\nfrom bodywork_render.cli.main import main\n"
        "sys.argv = ['bodywork', 'validate', 'examples/train-and-serve']\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code\n"
        f"print(sorted({avoided!r} & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"


# -- verdicts: the compiled check and jsonschema_rs ---------------------------------------------------------------


def readable_by_jsonschema_rs(node: Any) -> bool:
    """JSON data: jsonschema_rs raises ValueError on keys that are not strings and on half UTF-16 pairs."""
    if isinstance(node, str):
        return not any(0xD800 <= ord(char) < 0xE000 for char in node)
    if isinstance(node, dict):
        return all(
            isinstance(key, str) and readable_by_jsonschema_rs(key) and readable_by_jsonschema_rs(value)
            for key, value in node.items()
        )
    if isinstance(node, list):
        return all(readable_by_jsonschema_rs(item) for item in node)
    return True


def assert_same_verdicts(doc: Document) -> None:
    """Both give the same verdict on the document for every schema; what jsonschema_rs cannot read never reaches
    either."""
    if not readable_by_jsonschema_rs(doc.data):
        assert any(d.message.startswith(("expected a string key", "an escape such as")) for d in validate_document(doc))
        return
    for schema, rust in RUST.items():
        assert accepts(schema, doc.data) == rust.is_valid(doc.data), (doc.file, schema)


def loaded(files: list[Path]) -> dict[str, Document]:
    """The files the loader reads (the others never reach a schema check), by name."""
    found = {}
    for file in files:
        try:
            found[f"{file.parent.name}/{file.name}"] = parse_yaml(file.read_bytes(), file.name)
        except BodyworkError:
            continue
    return found


DOCUMENTS = loaded(sorted(CASES.glob("*/*.yaml")) + [ROOT / "examples" / "train-and-serve" / "bodywork.yaml"])
CORPUS = loaded(corpus_files(True) + corpus_files(False))


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_case_gets_the_same_verdict(name: str) -> None:
    assert_same_verdicts(DOCUMENTS[name])


def test_every_corpus_file_gets_the_same_verdict() -> None:
    if not CORPUS:
        pytest.skip("corpus not found (see tests/corpus.py)")
    for doc in CORPUS.values():
        assert_same_verdicts(doc)


# Values at the edges of the schemas: JSON Schema counts 1.0 and 1e300 as integers but not True; Python's re
# reads $, \d and \s otherwise than ECMA-262; jsonschema_rs does not count NaN and infinity as numbers.
EDGE_NUMBERS: list[float] = [
    0,
    1,
    -1,
    4,
    63,
    64,
    100,
    101,
    1000,
    1001,
    65535,
    65536,
    86400,
    86401,
    2**53 + 1,
    2**63,
    2**64,
    10**30,
    -(10**30),
]
EDGE_NUMBERS += [
    0.0,
    -0.0,
    5e-324,
    0.25,
    1.0,
    1.5,
    100.0,
    65535.0,
    65535.5,
    1e300,
    -1e300,
    math.inf,
    -math.inf,
    math.nan,
]
EDGE_VALUES: list[Any] = [None, True, False, "1", [], {}, *EDGE_NUMBERS]
CHARS = [
    *"aZz09_.-/*: é",
    "\n",
    "\t",
    "\r",
    "\x0b",
    "\x1c",
    "\x1f",
    "\x85",
    "\xa0",
    "\u1680",
    "\u2028",
    "\u202f",
    "\ufeff",
    "\u0663",
    "\u06f1",
    "\uff10",
    "\U0001d7ce",
]
ENV_OVERLAY = {
    "pipeline": {
        "docker_image": "python:3.12",
        "namespace": "ml-prod",
        "secrets_group": "prod",
        "ingress_host": "ml.example.com",
        "ingress_class": "nginx",
    },
    "stages": {
        "train": {"cpu_request": 0.5, "memory_request_mb": 100, "cpu_limit": 2, "memory_limit_mb": 200, "replicas": 2}
    },
}
BASES = {
    name: doc.data
    for name, doc in {**DOCUMENTS, **CORPUS}.items()
    if isinstance(doc.data, dict) and readable_by_jsonschema_rs(doc.data)
}
BASES["bodywork.prod.yaml"] = ENV_OVERLAY


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    for key, child in node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ():
        yield from _leaves(child, (*path, key)) if isinstance(child, (dict, list)) and child else [(*path, key)]


def neighbours(value: Any) -> list[Any]:
    """Every value one edit from ``value``: a string with a character of CHARS put first or last, or its last one
    dropped; anything else replaced by each edge value."""
    if isinstance(value, str):
        return [text for char in CHARS for text in (char + value, value + char)] + [value[:-1]]
    return EDGE_VALUES


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", sorted(name for name, data in BASES.items() if any(accepts(schema, data) for schema in SCHEMAS))
)
def test_every_value_and_key_one_edit_from_a_valid_document_gets_the_same_verdict(name: str) -> None:
    data = copy.deepcopy(BASES[name])
    for path in list(_leaves(data)):
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        value = parent[path[-1]]
        for other in neighbours(value):
            parent[path[-1]] = other
            assert_same_verdicts(Document("bodywork.yaml", data, ""))
        parent[path[-1]] = value
        if isinstance(parent, dict):
            items = list(parent.items())
            for other in neighbours(path[-1]):
                parent.clear()
                parent.update((other if key == path[-1] else key, item) for key, item in items)
                assert_same_verdicts(Document("bodywork.yaml", data, ""))
            parent.clear()
            parent.update(items)


def _schema_keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        yield from node.get("properties", {})
        for value in node.values():
            yield from _schema_keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _schema_keys(item)


TEXT = st.text(st.sampled_from(CHARS), max_size=6)
STRINGS = st.one_of(
    st.sampled_from(
        [
            "",
            "1.0",
            "1.1",
            "1",
            "a.py",
            "a.ipynb",
            "a.PY",
            ".py",
            "a.py\n",
            "train",
            "INFO",
            "info",
            "x" * 63,
            "x" * 64,
            "A_1",
            "1A",
            "_a",
            "ml.example.com",
            "*.example.com",
        ]
    ),
    TEXT,
    st.tuples(TEXT, st.sampled_from(["", ".py", ".ipynb", "\n", ".py\n"])).map("".join),
)
SCALARS = st.one_of(st.sampled_from([None, True, False, *EDGE_NUMBERS]), st.integers(), st.floats(), STRINGS)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(STRINGS, inner, max_size=3)),
    max_leaves=6,
)
FIELDS = sorted({key for schema in SCHEMAS for key in _schema_keys(load_json(schema))})
KEYS = st.one_of(st.sampled_from(FIELDS), STRINGS, st.sampled_from([1, True, None, 1.5]))


def near(value: Any) -> st.SearchStrategy[Any]:
    """Values that keep most of a valid document's value: a string with a character inserted or one dropped, a number
    of the same size as the bounds, or anything."""
    if isinstance(value, str):
        inserted = st.tuples(st.integers(0, len(value)), st.sampled_from(CHARS)).map(
            lambda at: value[: at[0]] + at[1] + value[at[0] :]
        )
        return st.one_of(inserted, st.just(value[:-1]), STRINGS)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return st.one_of(st.sampled_from(EDGE_NUMBERS), st.booleans(), st.just(float(value)), st.just(value + 0.5))
    return VALUES


def _nodes(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    for key, child in node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ():
        yield from _nodes(child, (*path, key))


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A case or corpus document (a fifth of the time the overlay) with one to three values replaced by near or other
    values, keys added (strings or not), removed or renamed, or its version switched."""
    overlay = draw(st.integers(0, 4)) == 0
    data = copy.deepcopy(ENV_OVERLAY if overlay else draw(st.sampled_from(list(BASES.values()))))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_nodes(data))))
        parent: Any = data
        for key in path[:-1]:
            parent = parent[key]
        node: Any = parent[path[-1]] if path else data
        operation = draw(st.sampled_from(["near", "near", "near", "replace", "delete", "add", "rename", "switch"]))
        if operation in ("near", "replace") and path:
            parent[path[-1]] = draw(near(node) if operation == "near" else VALUES)
        elif operation == "delete" and path:
            del parent[path[-1]]
        elif operation == "add" and isinstance(node, dict):
            node[draw(KEYS)] = draw(VALUES)
        elif operation == "rename" and isinstance(node, dict) and node:
            key = draw(st.sampled_from(list(node)))
            # a key is a string or a scalar added before (near() of which may be any value, a list too)
            node[draw(st.one_of(near(key), KEYS) if isinstance(key, str) else KEYS)] = node.pop(key)
        elif operation == "switch":
            data["version"] = draw(st.sampled_from(["1.0", "1.1", 1.0, 1.1, None]))
            for old, new in (("pipeline", "project"), ("project", "pipeline")):
                if old in data and draw(st.booleans()):
                    data[new] = data.pop(old)
                    break
    return data


@pytest.mark.slow
@PROPERTY
@given(mutated())
def test_mutated_documents_get_the_same_verdict(data: Any) -> None:
    if readable_by_jsonschema_rs(data):
        assert_same_verdicts(Document("bodywork.yaml", data, ""))
        return
    try:  # a key that is not a string: as a user would write it, for the loader
        doc = parse_yaml(yaml.safe_dump(data, sort_keys=False).encode(), "bodywork.yaml")
    except BodyworkError:
        return
    assert_same_verdicts(doc)


# -- patterns: ECMA-262 (jsonschema_rs) translated to Python's re ----------------------------------------------------


def _schema_patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        for value in node.values():
            yield from _schema_patterns(value)


PATTERNS = sorted({pattern for schema in SCHEMAS for pattern in _schema_patterns(load_json(schema))})
OTHER_PATTERNS = [
    r"^\d+$",
    r"^\D$",
    r"^\w+$",
    r"^\W$",
    r"^\s*$",
    r"^\S+$",
    r"^.$",
    r"^[\d.-]+$",
    r"^[\w-]+$",
    r"^a{2,3}$",
    r"^(ab|c)?$",
    r"^[\x41-\u00e9]$",
    r"[-a]",
    r"\\$",
    r"^[\].]$",
]
BMP = [chr(code) for code in range(0x10000) if not 0xD800 <= code < 0xE000] + ["\U0001d7ce", "\U0010ffff"]


@pytest.mark.parametrize("pattern", PATTERNS + OTHER_PATTERNS)
def test_a_translated_pattern_matches_what_the_ecma_pattern_matches(pattern: str) -> None:
    ours, theirs = re.compile(python_regex(pattern)), jsonschema_rs.Draft202012Validator({"pattern": pattern})
    for text in BMP + [f"a.py{char}" for char in BMP]:
        assert (ours.search(text) is not None) == theirs.is_valid(text), (pattern, text)


@pytest.mark.parametrize(
    "pattern", [r"(?=a)", r"\bfoo", r"\p{L}", r"[\S]", r"a]", r"a{", r"[]", r"[a-\d]", r"\1", r"[a", "\\"]
)
def test_a_pattern_it_cannot_translate_is_refused(pattern: str) -> None:
    with pytest.raises(SchemaError):
        python_regex(pattern)


# -- the compiler refuses what fastjsonschema would ignore or read as draft 7 -------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        {"unevaluatedProperties": False},
        {"prefixItems": [{"type": "string"}]},
        {"dependentRequired": {"a": ["b"]}},
        {"$dynamicRef": "#meta"},
        {"format": "email"},
        {"patternProperties": {"^a": {}}},
        {"items": [{"type": "string"}]},
        {"exclusiveMinimum": True},
        {"properties": {"a": {"$ref": "#/$defs/a", "type": "string"}}, "$defs": {"a": {}}},
        {"properties": {"a": {"$ref": "#/$defs/missing"}}},
        {"properties": {"a": {"$ref": "other.json"}}},
        {"oneOf": [{"contains": {"type": "string"}}]},
        {"properties": {"a": {"$defs": {}}}},
    ],
)
def test_a_keyword_it_cannot_compile_exactly_is_refused(schema: dict[str, Any]) -> None:
    with pytest.raises(SchemaError):
        prepared({"$schema": DRAFT_2020_12, **schema})


def test_only_a_2020_12_schema_is_compiled() -> None:
    with pytest.raises(SchemaError):
        prepared({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"})


def test_annotations_are_dropped_but_not_properties_named_like_them() -> None:
    schema = {
        "$schema": DRAFT_2020_12,
        "$id": "urn:x",
        "title": "t",
        "properties": {"description": {"type": "string", "description": "d", "default": "", "examples": ["e"]}},
    }
    assert prepared(schema) == {"properties": {"description": {"type": "string"}}}
