"""Compile the Kubernetes and CRD schemas of the objects we render into bodywork_render/k8s_compiled.py.

`bodywork render` checks every object it writes against the strict Kubernetes schemas
(check.py). jsonschema_rs explains a rejection, but importing it and loading the schemas
costs more than the rest of a small render; so a valid object is first recognised by code
that fastjsonschema generates ahead of time, with scripts/compile_schema.py's draft 7
generator, keyword refusal and ECMA pattern translation.

The code is generated from a pruned copy of our extract of the definitions
(schemas/k8s/v<release>.json) and of schemas/crds/, one function per apiVersion and kind:

- Only the properties that our templates write are kept (found by rendering the example,
  tests/projects/ and the gitops manifests with every layout, engine and flag that adds a
  field: ``sample_objects``), besides every required one; ``additionalProperties: false``
  stays. A strict schema without some optional properties accepts less, never more: the
  compiled check says True only for objects jsonschema_rs accepts, and an object with a
  field pruned here is left to jsonschema_rs, which decides as it always did. The sample
  decides only how often jsonschema_rs is needed, never a verdict. (The definitions our
  kinds reach, compiled whole, make a module four times larger and slower to import.)
- Values jsonschema_rs cannot read (keys that are not strings, values with no JSON form)
  must not pass: maps get ``propertyNames: {type: string}``, and a subschema that does not
  name the type of its value (nothing of ours uses one) becomes false.
- ``format`` is an annotation for jsonschema_rs under draft 2020-12 (check.py does not ask
  it to assert formats), as are description and the x-kubernetes-* keywords: all dropped.

Run `.venv/bin/python scripts/compile_k8s.py` after changing a template, a CRD schema or the
extract; tests/test_check.py fails while the committed module is stale.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastjsonschema
from fastjsonschema.generator import enforce_list

from bodywork_render.verify.kubernetes import _DEFS_URI, _crd_schemas
from scripts.compile_schema import (
    DRAFT_2020_12,
    ROOT,
    Draft7,
    SchemaError,
    module_source,
    prepared,
)
from scripts.extract_k8s import EXTRACT

TARGET = ROOT / "bodywork_render" / "verify" / "_k8s_compiled.py"
PROJECTS = [ROOT / "examples" / "train-and-serve", *sorted((ROOT / "tests" / "projects").iterdir())]
REPO_URL = "https://github.com/acme/ml-pipelines.git"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
# Keywords that give jsonschema_rs no verdict here, beside the x-* extensions; compile_schema.prepared drops the others.
DROPPED = frozenset({"description", "format"})
TYPED = frozenset(
    {"type", "$ref", "enum", "const"}
)  # a schema with none of these (or a oneOf of such) lets any value in

Location = tuple[str | int, ...]  # keys from the document's root to a schema


# -- what our templates write ---------------------------------------------------


def sample_objects() -> list[dict[str, Any]]:
    """The objects of every shipped template as bodywork renders them: the example and tests/projects/ (see
    ``rendered_objects``), and the gitops manifests with the options that add fields."""
    from bodywork_render.gitops import bootstrap

    objects = [obj for project in PROJECTS for obj in rendered_objects(project)]
    source, to = "https://git.example.com/ml.git", "https://git.example.com/deploy.git"
    refreshers = [
        bootstrap.RefresherOptions(source, to),
        bootstrap.RefresherOptions(
            source,
            to,
            git_secret="git",
            git_token_username="bot",
            time_zone="Etc/UTC",
            suspend=True,
            image_pull_secrets=("registry",),
            service_account_annotations=(("a.example.com/role", "r"),),
        ),
        bootstrap.RefresherOptions(
            source, to, git_secret="git", git_auth="ssh", cpu_limit=None, service_account="existing"
        ),
    ]
    for refresher in refreshers:
        objects += bootstrap.refresher_manifests(refresher).objects
    for secret in (None, "git"):
        objects += bootstrap.flux_manifests(bootstrap.FluxOptions(to, "main", "envs/prod", secret_ref=secret)).objects
    for namespace in (None, "ml"):
        objects += bootstrap.argocd_manifests(
            bootstrap.ArgoCDOptions(to, "main", "envs/prod", dest_namespace=namespace)
        ).objects
    return objects


def rendered_objects(project: Path) -> list[dict[str, Any]]:
    """The objects of a project (a folder or a bodywork.yaml) in every layout and engine, as manifests and as a chart,
    without flags and with every flag that adds a field (--ingress-class, --ingress-host, --git-secret...)."""
    from bodywork_render.render.chart import render_chart
    from bodywork_render.render.manifests import render_project
    from bodywork_render.render.plan import RenderOptions

    flags = [{}, {"ingress_class": "nginx", "ingress_host": "ml.example.com", "git_secret": "git", "namespace": "ml"}]
    objects: list[dict[str, Any]] = []
    for layout, engine in (
        ("manifests", "argocd"),
        ("manifests", "kubectl"),
        ("kustomize", "flux"),
        ("kustomize", "kubectl"),
    ):
        for extra in flags:
            options = RenderOptions(layout=layout, engine=engine, **extra)
            for render in (render_project, render_chart):
                objects += render(project, options, repo_url=REPO_URL, ref=COMMIT).objects
    return objects


# -- the schemas: our extract and CRDs in one document ---------------------------


def definitions() -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    """The extract's definitions with our CRD schemas among them (their references made local), and the definition
    of each apiVersion and kind."""
    defs = dict(json.loads(EXTRACT.read_text(encoding="utf-8"))["definitions"]["$defs"])
    roots = {}
    for name, definition in defs.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", ()):
            roots[(f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"], gvk["kind"])] = name
    for (api_version, kind), schema in _crd_schemas().items():
        name = f"{api_version.replace('/', '.')}.{kind}"

        def local(ref: str, name: str = name) -> str:
            return (
                ref.removeprefix(_DEFS_URI)
                if ref.startswith(_DEFS_URI)
                else f"#/$defs/{name}.{ref.removeprefix('#/$defs/')}"
            )

        schema = _with_refs(schema, local)
        defs.update({f"{name}.{sub}": body for sub, body in schema.pop("$defs", {}).items()})
        defs[name] = {key: value for key, value in schema.items() if key not in ("$schema", "$id")}
        roots[(api_version, kind)] = name
    return {"$schema": DRAFT_2020_12, "$defs": defs}, roots


def _with_refs(node: Any, change: Any) -> Any:
    if isinstance(node, dict):
        return {key: change(value) if key == "$ref" else _with_refs(value, change) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_refs(item, change) for item in node]
    return node


def _ref_location(ref: str) -> Location:
    if not ref.startswith("#/$defs/"):
        raise SchemaError(f"$ref {ref!r}: expected a definition of the document")
    return ("$defs", ref.removeprefix("#/$defs/"))


def used_properties(
    document: dict[str, Any], roots: dict[tuple[str, str], str], objects: list[dict[str, Any]]
) -> set[tuple[Location, str]]:
    """(schema, property) for every property that one of ``objects`` has, the schema given by its location."""
    used: set[tuple[Location, str]] = set()

    def walk(where: Location, instance: Any) -> None:
        schema: Any = document
        for part in where:
            schema = schema[part]
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:
            walk(_ref_location(schema["$ref"]), instance)
        for keyword in ("oneOf", "anyOf", "allOf"):
            for index in range(len(schema.get(keyword, ()))):
                walk((*where, keyword, index), instance)
        properties = schema.get("properties", {})
        if isinstance(instance, dict):
            for key, value in instance.items():
                if key in properties:
                    used.add((where, key))
                    walk((*where, "properties", key), value)
                elif isinstance(schema.get("additionalProperties"), dict):
                    walk((*where, "additionalProperties"), value)
        if isinstance(instance, list) and "items" in schema:
            for item in instance:
                walk((*where, "items"), item)

    for obj in objects:
        gvk = (obj.get("apiVersion"), obj.get("kind"))
        if gvk in roots:
            walk(("$defs", roots[gvk]), obj)
    return used


def pruned(
    document: dict[str, Any], roots: dict[tuple[str, str], str], used: set[tuple[Location, str]]
) -> dict[str, Any]:
    """The document with only the used and the required properties, without annotations, closed to values that are
    not JSON, and with only the definitions the roots reach."""
    kept: dict[Location, set[str]] = {}
    for where, key in used:
        kept.setdefault(where, set()).add(key)

    def prune(node: Any, where: Location) -> Any:
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in DROPPED or key.startswith("x-"):
                continue
            if key == "properties":
                names = kept.get(where, set()) | set(node.get("required", ()))
                value = {name: prune(sub, (*where, key, name)) for name, sub in value.items() if name in names}
            elif key in ("items", "additionalProperties"):
                value = prune(value, (*where, key))
            elif key in ("oneOf", "anyOf", "allOf"):
                value = [prune(sub, (*where, key, index)) for index, sub in enumerate(value)]
            out[key] = value
        return closed(out)

    defs = {name: prune(body, ("$defs", name)) for name, body in document["$defs"].items()}
    reached: set[str] = set()
    todo = list(roots.values())
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo += [_ref_location(ref)[1] for ref in references(defs[name])]
    return {**document, "$defs": {name: body for name, body in defs.items() if name in reached}}


def closed(schema: dict[str, Any]) -> Any:
    """A schema that lets no value through unread: jsonschema_rs cannot read keys that are not strings or values
    without a JSON form, which a schema that does not name a type would let through. Stricter, never laxer."""
    if TYPED.isdisjoint(schema) and not all(
        isinstance(sub, dict) and not TYPED.isdisjoint(sub) for sub in schema.get("oneOf", [True])
    ):
        return False
    if isinstance(schema.get("additionalProperties"), dict):
        return {**schema, "propertyNames": {"type": "string"}}
    types = enforce_list(schema.get("type", []))
    if "object" in types and "additionalProperties" not in schema:
        return {**schema, "additionalProperties": False}
    if "array" in types and "items" not in schema:
        return {**schema, "items": False}
    return schema


def references(node: Any) -> Iterator[str]:
    """Every $ref in a schema."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from [value] if key == "$ref" else references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


# -- the module -------------------------------------------------------------------

HEADER = '''"""The Kubernetes and CRD schemas of the objects we render, as plain Python: accepts() is True only for objects that jsonschema_rs finds valid.

Generated by scripts/compile_k8s.py (fastjsonschema {version}) from {extract} and schemas/crds/, keeping only the
properties that our templates write (and the required ones): an object with another property gets False, "not sure",
and jsonschema_rs decides. Do not edit; after changing a template, a CRD schema or the extract, run
`.venv/bin/python scripts/compile_k8s.py`.
"""
'''

FOOTER = '''

SOURCE = {source!r}
"""The kubernetes-validate file that the extract was made from: this code stands for it only while it is installed."""

VALIDATORS = {{
{validators}
}}


def accepts(api_version: str, kind: str, data: object) -> bool:
    """True when ``data`` is a valid object of that apiVersion and kind; False when jsonschema_rs must decide."""
    validator = VALIDATORS.get((api_version, kind))
    if validator is None:
        return False
    try:
        validator(data)
    except JsonSchemaValueException:
        return False
    return True
'''


def generate(objects: list[dict[str, Any]] | None = None) -> str:
    """The source of bodywork_render/k8s_compiled.py, for the properties of ``objects`` (by default, ``sample_objects()``)."""
    document, roots = definitions()
    used = used_properties(document, roots, sample_objects() if objects is None else objects)
    schema = {**prepared(pruned(document, roots, used)), "$id": "k8s"}
    refs = {gvk: f"#/$defs/{name}" for gvk, name in sorted(roots.items())}
    generator = Draft7(schema, entries=list(refs.values()))
    validators = "\n".join(f"    {gvk!r}: {generator.function_name(ref)}," for gvk, ref in refs.items())
    extract = json.loads(EXTRACT.read_text(encoding="utf-8"))
    header = HEADER.format(version=fastjsonschema.VERSION, extract=EXTRACT.relative_to(ROOT))
    return module_source(header, [generator], FOOTER.format(source=extract["source"], validators=validators))


if __name__ == "__main__":
    TARGET.write_text(generate(), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
