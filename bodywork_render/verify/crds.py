"""The custom resources bodywork-render writes, as the API server checks them: the upstream CRDs' own schemas.

``schemas/crds/`` vendors the ``openAPIV3Schema`` of each upstream CRD unchanged (see
``scripts/vendor_crds.py``); ``strict_schema`` turns one into JSON Schema (draft 2020-12) that
rejects what the API server would not keep:

- an unknown field is an error wherever the structural schema prunes it (every object with
  ``properties`` or with neither ``properties`` nor ``additionalProperties``), and allowed only
  under ``x-kubernetes-preserve-unknown-fields``;
- ``x-kubernetes-int-or-string`` takes an integer or a string; ``nullable`` allows null;
- a required field with a ``default`` is not missing (defaulting runs before validation);
- ``x-kubernetes-list-type: set`` items are unique;
- the root ``metadata`` is the API's ``ObjectMeta``, as for every kind.

A null where the CRD does not say ``nullable`` is an error, although the API server drops it:
a rendered null is never what we mean. ``format`` stays an annotation, and CEL rules
(``x-kubernetes-validations``) and the key uniqueness of ``x-kubernetes-list-type: map`` are
not evaluated.
"""

from __future__ import annotations

from functools import cache
from typing import Any

VENDORED = {
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"): "kustomize.toolkit.fluxcd.io_kustomizations.v1.json",
    ("source.toolkit.fluxcd.io/v1", "GitRepository"): "source.toolkit.fluxcd.io_gitrepositories.v1.json",
    ("argoproj.io/v1alpha1", "Application"): "argoproj.io_applications.v1alpha1.json",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "gateway.networking.k8s.io_httproutes.v1.json",
}
"""The custom resources we write, by (apiVersion, kind): the file of schemas/crds/ that holds each one's schema.

Each file is ``<the upstream CRD file's name less .yaml>.<version>.json``. Only the schema of a kind
that is checked is read (the Argo CD Application's is 200 KB), so a render without custom
resources reads none."""

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_COPIED = (
    "type",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
    "uniqueItems",
    "format",
)


def strict_schema(open_api: dict[str, Any], defs_uri: str) -> dict[str, Any]:
    """The strict JSON Schema of a CRD version's ``openAPIV3Schema``; ``defs_uri`` names the document of ObjectMeta."""
    schema = _strict(open_api)
    schema["properties"]["metadata"] = {"$ref": f"{defs_uri}#/$defs/{OBJECT_META}"}
    return schema


def _strict(node: dict[str, Any]) -> dict[str, Any]:
    schema = {key: node[key] for key in _COPIED if key in node}
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if node.get("x-kubernetes-int-or-string") is True:
        schema["type"] = ["integer", "string"]
    if "properties" in node:
        schema["properties"] = {name: _strict(sub) for name, sub in node["properties"].items()}
    if isinstance(node.get("additionalProperties"), dict):
        schema["additionalProperties"] = _strict(node["additionalProperties"])
    elif schema.get("type") == "object" and not preserve:
        schema["additionalProperties"] = False
    if "items" in node:
        schema["items"] = _strict(node["items"])
    if node.get("x-kubernetes-list-type") == "set":
        schema["uniqueItems"] = True
    defaulted = {name for name, sub in node.get("properties", {}).items() if "default" in sub}
    required = [name for name in node.get("required", ()) if name not in defaulted]
    if required:
        schema["required"] = required
    for keyword in ("anyOf", "oneOf", "allOf"):
        # Value validations only (a structural schema keeps types out of them); int-or-string's
        # anyOf of integer and string is the type above.
        if keyword in node and not node.get("x-kubernetes-int-or-string"):
            schema[keyword] = [_strict(sub) for sub in node[keyword]]
    if node.get("nullable") is True and "type" in schema:
        schema["type"] = [*([schema["type"]] if isinstance(schema["type"], str) else schema["type"]), "null"]
    return schema


def schema_id(gvk: tuple[str, str]) -> str:
    """The ``$id`` of the strict schema of one custom resource (apiVersion, kind)."""
    return f"https://bodywork-render.invalid/crds/{gvk[0]}/{gvk[1]}"


def vendored(gvk: tuple[str, str]) -> dict[str, Any]:
    """The vendored file of one custom resource: its group, version, kind and upstream openAPIV3Schema."""
    import json

    from bodywork_render.package_data import resource_dir

    path = resource_dir("schemas") / "crds" / VENDORED[gvk]
    return dict(json.loads(path.read_text(encoding="utf-8")))


@cache
def crd_schema(gvk: tuple[str, str], defs_uri: str) -> dict[str, Any]:
    """The strict JSON Schema of one custom resource we write (a key of ``VENDORED``), with its ``$id``."""
    schema = strict_schema(vendored(gvk)["openAPIV3Schema"], defs_uri)
    schema["$id"] = schema_id(gvk)
    return schema
