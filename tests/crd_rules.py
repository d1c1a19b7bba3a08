"""The CEL rules (``x-kubernetes-validations``) of the upstream CRDs, evaluated on an object as the API server does.

The render's own check (bodywork_render/verify/crds.py) is the CRDs' structural schemas; the API
server also evaluates these rules, after defaulting, on every create. The tests run them on every
custom resource we render, with the CEL of `common-expression-language` (Python 3.11+).
"""

from __future__ import annotations

import copy
from typing import Any

from bodywork_render.verify.crds import vendored
from bodywork_render.verify.kubernetes import dotted_path


def open_api_schema(gvk: tuple[str, str]) -> dict[str, Any]:
    """The vendored openAPIV3Schema of a custom resource we write (apiVersion, kind)."""
    return dict(vendored(gvk)["openAPIV3Schema"])


def defaulted(value: Any, schema: dict[str, Any]) -> Any:
    """A copy of ``value`` with the schema's defaults filled in where a field is missing, as the API server does."""
    if isinstance(value, dict):
        value = dict(value)
        for name, sub in schema.get("properties", {}).items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
        for name, item in value.items():
            sub = schema.get("properties", {}).get(name)
            if sub is None and isinstance(schema.get("additionalProperties"), dict):
                sub = schema["additionalProperties"]
            if sub is not None:
                value[name] = defaulted(item, sub)
        return value
    if isinstance(value, list) and "items" in schema:
        return [defaulted(item, schema["items"]) for item in value]
    return value


def rule_problems(obj: dict[str, Any]) -> list[str]:
    """Every CEL rule of the object's CRD that the (defaulted) object breaks, as ``path: message``."""
    import cel

    schema = open_api_schema((obj["apiVersion"], obj["kind"]))
    problems: list[str] = []

    def walk(value: Any, node: dict[str, Any], path: tuple[str | int, ...]) -> None:
        for rule in node.get("x-kubernetes-validations", ()):
            context = cel.Context()
            context.add_variable("self", value)
            if cel.evaluate(rule["rule"], context) is not True:
                problems.append(f"{dotted_path(path) or '<root>'}: {rule.get('message', rule['rule'])}")
        if isinstance(value, dict):
            for name, item in value.items():
                sub = node.get("properties", {}).get(name)
                if sub is None and isinstance(node.get("additionalProperties"), dict):
                    sub = node["additionalProperties"]
                if sub is not None:
                    walk(item, sub, (*path, name))
        elif isinstance(value, list) and "items" in node:
            for index, item in enumerate(value):
                walk(item, node["items"], (*path, index))

    walk(defaulted(obj, schema), schema, ())
    return problems
