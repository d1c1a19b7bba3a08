"""Compile the JSON Schemas under schemas/ into bodywork_render/spec/_schema_compiled.py: plain Python, no validator.

`bodywork validate` runs on every commit, and importing jsonschema_rs costs about 20 ms
(more than a bare interpreter's start). So a document is first checked by code that
fastjsonschema generates ahead of time, the way setuptools pre-compiles its pyproject
check; jsonschema_rs is imported only to explain a document this code rejects. The
generated code must therefore accept exactly what jsonschema_rs accepts:

- The schemas are draft 2020-12; fastjsonschema implements draft 7. Only keywords that
  mean the same in both are allowed, anything else (unevaluatedProperties, prefixItems,
  dependentRequired, $dynamicRef, format...) is refused, so that a schema change cannot
  make the compiled check silently laxer. Annotations (description, examples...) are
  dropped: they validate nothing.
- Patterns are ECMA-262 regular expressions, which jsonschema_rs implements; they are
  translated to Python's re: '$' is the end of the text (Python's '$' also matches before
  a final newline), and \\d, \\w, \\s and '.' get ECMA's character sets (Python's \\d
  matches any Unicode digit). A construct not translated here is refused.
- JSON has no NaN or infinity: jsonschema_rs does not count them as numbers.

Run `.venv/bin/python scripts/compile_schema.py` after changing a schema;
tests/test_schema_compiled.py fails while the committed module is stale.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import fastjsonschema
from fastjsonschema.draft07 import CodeGeneratorDraft07
from fastjsonschema.generator import enforce_list, serialize_regexes

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "bodywork_render" / "spec" / "_schema_compiled.py"
# Schema file under schemas/ -> suffix of its validation function's name.
SCHEMAS = {"bodywork.schema.json": "bodywork", "bodywork-env.schema.json": "bodywork_env"}
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly", "$comment"}
)
# Keywords whose value is data, with the same meaning in draft 7 (fastjsonschema) and draft 2020-12.
ASSERTIONS = frozenset(
    {
        "type", "enum", "const", "required", "minProperties", "maxProperties", "minItems", "maxItems", "minLength",
        "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern",
    }
)  # fmt: skip
SUBSCHEMA = frozenset({"additionalProperties", "propertyNames", "items", "not", "if", "then", "else"})
SUBSCHEMA_LIST = frozenset({"allOf", "anyOf", "oneOf"})
BOUNDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})

# ECMA-262's \s: WhiteSpace and LineTerminator, as Python re escapes
# (Python's \s differs on \x1c-\x1f, \x85 and \ufeff).
ECMA_SPACE = "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
CLASS_ESCAPES = {"d": "0-9", "w": "A-Za-z0-9_", "s": ECMA_SPACE}
ESCAPES = {
    **{k: f"[{v}]" for k, v in CLASS_ESCAPES.items()},
    **{k.upper(): f"[^{v}]" for k, v in CLASS_ESCAPES.items()},
}
ANY_BUT_LINE_END = "[^\\n\\r\\u2028\\u2029]"  # ECMA's '.'; Python's excludes only \n
SAME_ESCAPE = re.compile(r"[nrtfv]|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}")
# ECMA's '$' is the end of the text: Python's also matches before a final newline, its \Z does not.
SPECIAL = {"$": "\\Z", ".": ANY_BUT_LINE_END, **{char: char for char in "^()|*+?"}}
QUANTIFIER = re.compile(r"\{[0-9]+(,[0-9]*)?\}")


class SchemaError(ValueError):
    """The schema uses something the compiled check could not enforce exactly as jsonschema_rs does."""


def python_regex(pattern: str) -> str:
    """The Python re pattern that matches (with ``search``) the same strings as the ECMA-262 ``pattern``."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        quantifier = QUANTIFIER.match(pattern, index)
        if char == "\\":
            text, index = _escape(pattern, index, ESCAPES)
        elif char == "[":
            text, index = _class(pattern, index)
        elif quantifier:
            text, index = quantifier.group(), quantifier.end()
        elif pattern.startswith("(?", index) or char in "]{}":
            raise SchemaError(
                f"pattern {pattern!r}: {char!r} at {index} is not translated to Python; rewrite the pattern"
            )
        else:
            text, index = SPECIAL.get(char, re.escape(char)), index + 1
        out.append(text)
    return "".join(out)


def _escape(pattern: str, index: int, table: dict[str, str]) -> tuple[str, int]:
    """The Python form of the escape at ``index`` (a backslash) and the index after it."""
    rest = pattern[index + 1 :]
    same = SAME_ESCAPE.match(rest)
    if same:
        return "\\" + same.group(), index + 1 + same.end()
    if rest[:1] in table:
        return table[rest[0]], index + 2
    if rest[:1] and rest[0].isascii() and not rest[0].isalnum():
        return "\\" + rest[0], index + 2  # an escaped punctuation character is itself in both
    raise SchemaError(f"pattern {pattern!r}: the escape at {index} is not translated to Python; rewrite the pattern")


def _class(pattern: str, index: int) -> tuple[str, int]:
    """The Python form of the character class opening at ``index`` and the index after it."""
    start, index = index, index + 1
    negate = pattern.startswith("^", index)
    index += negate
    atoms: list[tuple[str, str]] = []  # (kind, Python text); kind: "char", "set" (\\d, \\w, \\s) or "-" (unescaped)
    while index < len(pattern) and pattern[index] != "]":
        char, escaped = pattern[index], pattern[index + 1 : index + 2]
        if char == "\\" and escaped in CLASS_ESCAPES:
            atoms.append(("set", CLASS_ESCAPES[escaped]))
            index += 2
        elif char == "\\":
            text, index = _escape(pattern, index, {})
            atoms.append(("char", text))
        elif char == "[":
            raise SchemaError(f"pattern {pattern!r}: escape the '[' inside the class at {start}")
        else:
            atoms.append(("-" if char == "-" else "char", re.escape(char)))  # escaped: Python warns of '--', '&&'...
            index += 1
    if index == len(pattern) or not atoms:
        raise SchemaError(f"pattern {pattern!r}: the class at {start} is empty or unclosed")
    body, position = "", 0
    while position < len(atoms):
        kind, text = atoms[position]
        if position + 2 < len(atoms) and atoms[position + 1][0] == "-":
            if kind != "char" or atoms[position + 2][0] != "char":
                raise SchemaError(f"pattern {pattern!r}: a range in the class at {start} ends in a class escape or '-'")
            body += f"{text}-{atoms[position + 2][1]}"
            position += 3
        else:
            body += text
            position += 1
    return f"[{'^' if negate else ''}{body}]", index + 1


def prepared(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as fastjsonschema should compile it: annotations dropped, patterns translated; SchemaError if it
    cannot be compiled exactly."""
    if schema.get("$schema") != DRAFT_2020_12:
        raise SchemaError(f"$schema: expected {DRAFT_2020_12!r}, the draft this compiler knows")
    defs = schema.get("$defs", {})
    root = _subschema(
        {key: value for key, value in schema.items() if key not in ("$schema", "$id", "$defs")}, "#", defs
    )
    return (
        {**root, "$defs": {name: _subschema(value, f"#/$defs/{name}", defs) for name, value in defs.items()}}
        if defs
        else root
    )


def _subschema(node: Any, where: str, defs: dict[str, Any]) -> Any:
    if isinstance(node, bool):
        return node
    if not isinstance(node, dict):
        raise SchemaError(f"{where}: expected a schema, got {node!r}")
    node = {key: value for key, value in node.items() if key not in ANNOTATIONS}
    if "$ref" in node:
        ref = node["$ref"]
        if (
            len(node) > 1
            or not isinstance(ref, str)
            or not re.fullmatch(r"#/\$defs/[A-Za-z0-9_.-]+", ref)
            or ref[8:] not in defs
        ):
            # draft 7 ignores the siblings of $ref; draft 2020-12 applies them
            raise SchemaError(f"{where}: a $ref must be alone and name an entry of the root $defs, got {node!r}")
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        here = f"{where}/{key}"
        if key in SUBSCHEMA:
            out[key] = _subschema(value, here, defs)
        elif key == "properties":
            out[key] = {name: _subschema(item, f"{here}/{name}", defs) for name, item in value.items()}
        elif key in SUBSCHEMA_LIST:
            out[key] = [_subschema(item, f"{here}/{index}", defs) for index, item in enumerate(value)]
        elif key == "pattern":
            out[key] = python_regex(value)
        elif key in BOUNDS and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise SchemaError(f"{here}: expected a number, got {value!r}")
        elif key in ASSERTIONS:
            out[key] = value
        else:
            raise SchemaError(
                f"{here}: {key!r} cannot be compiled (fastjsonschema implements draft 7); "
                "validate it in validate.py or extend this compiler"
            )
    return out


class Draft7(CodeGeneratorDraft07):
    """fastjsonschema's draft 7 generator, reading NaN and infinity as jsonschema_rs does: not numbers."""

    def __init__(self, definition: dict[str, Any]) -> None:
        super().__init__(definition, use_default=False, use_formats=False)

    def generate_type(self) -> None:
        super().generate_type()
        definition: dict[str, Any] = self._definition or {}  # the schema node being generated
        if "number" in enforce_list(definition["type"]):
            with self.l("if isinstance({variable}, float) and not isfinite({variable}):"):
                self.exc("{name} must be a finite number", rule="type")

    def exc(self, msg: str, *args: Any, append_to_msg: str | None = None, rule: str | None = None) -> None:
        """Raise without a message: accepts() needs only whether a rule is broken, jsonschema_rs explains which."""
        self.l("raise JsonSchemaValueException")


HEADER = '''"""The JSON Schemas of bodywork.yaml and its overlays as plain Python: accepts() answers as jsonschema_rs
would, without importing it (importing jsonschema_rs costs more than a bare interpreter's start).

Generated by scripts/compile_schema.py (fastjsonschema {version}) from {sources}: do not edit;
after changing a schema, run `.venv/bin/python scripts/compile_schema.py`.
"""
'''

PRELUDE = '''
# fmt: off
import re
from math import isfinite


class JsonSchemaValueException(ValueError):
    """A rule of the schema is broken (defined here, so that fastjsonschema is needed only to generate this code)."""


# fastjsonschema's exception for collected errors; this code stops at the first
JsonSchemaValuesException = JsonSchemaValueException
{none_type}REGEX_PATTERNS = {regexes}
'''

FOOTER = '''

VALIDATORS = {validators}


def accepts(schema: str, data: object) -> bool:
    """Whether ``data`` holds no error against ``schema``, a file name under schemas/ (as jsonschema_rs would find)."""
    try:
        VALIDATORS[schema](data)
    except JsonSchemaValueException:
        return False
    return True
'''


def module_source(header: str, generators: Sequence[Draft7], footer: str) -> str:
    """A module of the functions the generators write: ``header`` (its docstring), what they need (re, isfinite, the
    exception they raise, their regexes), the functions, then ``footer``. It imports neither fastjsonschema nor
    decimal."""
    functions: list[str] = []
    regexes: dict[str, Any] = {}
    for generator in generators:
        function = generator.func_code.removeprefix("NoneType = type(None)\n")
        functions.append(
            function.replace("int, float, Decimal", "int, float")
        )  # the loader yields no Decimal: no import of decimal
        regexes.update(generator.global_state["REGEX_PATTERNS"])
    code = "\n".join(functions)
    none_type = "NoneType = type(None)\n" if "NoneType" in code else ""  # for type "null"
    source = header + PRELUDE.format(none_type=none_type, regexes=serialize_regexes(regexes)) + code + footer
    if "Decimal" in source or "NoneType = " in code or any(key != regex.pattern for key, regex in regexes.items()):
        raise SchemaError("fastjsonschema's output changed shape: update module_source()")
    return source


def generate() -> str:
    """The source of bodywork_render/spec/_schema_compiled.py for the schemas as they are now."""
    generators = [
        Draft7({**prepared(json.loads((ROOT / "schemas" / file).read_text(encoding="utf-8"))), "$id": name})
        for file, name in SCHEMAS.items()
    ]
    header = HEADER.format(version=fastjsonschema.VERSION, sources=" and ".join(f"schemas/{file}" for file in SCHEMAS))
    validators = "{" + ", ".join(f'"{file}": validate_{name}' for file, name in SCHEMAS.items()) + "}"
    return module_source(header, generators, FOOTER.format(validators=validators))


if __name__ == "__main__":
    TARGET.write_text(generate(), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
