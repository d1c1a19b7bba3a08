"""Argo Workflows' own JSON Schema (../shared/schemas/argo-workflows/schema.json, v4.1; see its SOURCE.md), read
strictly: an object of any definition with listed properties takes no other field, as the API server's structural
schema prunes or refuses them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema_rs

ARGO_SCHEMA = Path(__file__).resolve().parents[1].parent / "shared" / "schemas" / "argo-workflows" / "schema.json"


def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        strict = {key: _strict(value) for key, value in node.items()}
        if "properties" in strict and "additionalProperties" not in strict:
            strict["additionalProperties"] = False
        return strict
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = _strict(json.loads(ARGO_SCHEMA.read_text(encoding="utf-8")))
    return schema


@lru_cache(maxsize=8)
def _validator(kind: str | None) -> Any:
    """The validator of one kind's definition (None: of the whole schema, its top-level oneOf)."""
    schema = _schema()
    if kind is not None:
        ref = f"#/definitions/io.argoproj.workflow.v1alpha1.{kind}"
        schema = {"$schema": schema["$schema"], "definitions": schema["definitions"], "$ref": ref}
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def argo_problems(obj: dict[str, Any]) -> list[str]:
    """Every way ``obj`` breaks Argo Workflows' schema of its kind, as ``path: message``."""
    errors = _validator(obj["kind"]).iter_errors(obj)
    return [f"{'.'.join(map(str, e.instance_path))}: {e.message}" for e in errors]


def argo_schema_accepts(obj: dict[str, Any]) -> bool:
    """Whether the whole schema (its top-level oneOf, as an editor reads it) accepts ``obj``."""
    return bool(_validator(None).is_valid(obj))
