"""Write schemas/k8s/v<release>.json: our extract of kubernetes-validate's definitions for the kinds we render.

The extract holds the definitions that our templates' built-in kinds and our CRD schemas reach,
without descriptions. Run `.venv/bin/python -m scripts.extract_k8s` after a kubernetes-validate
upgrade or a new kind in templates/;
tests/test_check.py fails while the committed extract is stale (it never rewrites it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bodywork_render.verify.crds import VENDORED, crd_schema
from bodywork_render.verify.kubernetes import _DEFS_URI as DEFS_URI
from bodywork_render.verify.kubernetes import DEFAULT_K8S_VERSION

# No fastjsonschema here (scripts/compile_schema.py imports it): tests import this module beside code that must not.
ROOT = Path(__file__).resolve().parents[1]
EXTRACT = ROOT / "schemas" / "k8s" / f"v{DEFAULT_K8S_VERSION}.json"


def package_definitions(release: str) -> Path:
    import kubernetes_validate

    folder = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{release}.0-local-strict"
    return folder / "_definitions.json"


def templated_kinds() -> set[tuple[str, str]]:
    """Every (apiVersion, kind) that a template of templates/ starts an object with."""
    header = re.compile(r"^apiVersion: (\S+)\n(?:.*\n)?kind: (\S+)$", re.MULTILINE)
    return {match for template in (ROOT / "templates").rglob("*.j2") for match in header.findall(template.read_text())}


def without_descriptions(schema: Any) -> Any:
    """A schema without its description keywords; a property called "description" stays."""
    if not isinstance(schema, dict):
        return schema
    kept = {}
    for key, value in schema.items():
        if key in ("properties", "$defs", "patternProperties"):
            value = {name: without_descriptions(sub) for name, sub in value.items()}
        elif key in ("additionalProperties", "items", "not"):
            value = without_descriptions(value)
        elif key in ("oneOf", "anyOf", "allOf", "prefixItems"):
            value = [without_descriptions(sub) for sub in value]
        if key != "description":
            kept[key] = value
    return kept


def served(document: dict[str, Any]) -> dict[tuple[str, str], str]:
    """The definition name of each (apiVersion, kind) of a definitions document."""
    return {
        (f"{g['group']}/{g['version']}" if g["group"] else g["version"], g["kind"]): name
        for name, definition in document["$defs"].items()
        for g in definition.get("x-kubernetes-group-version-kind", ())
    }


def references(node: Any) -> Iterator[str]:
    """Every $ref in a schema."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from [value] if key == "$ref" else references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def make_extract(release: str) -> dict[str, Any]:
    """What schemas/k8s/v<release>.json holds: the definitions that our templates' built-in kinds and our CRDs reach."""
    path = package_definitions(release)
    document = json.loads(path.read_text(encoding="utf-8"))
    names = served(document)
    reached: set[str] = set()
    todo = [names[gvk] for gvk in templated_kinds() if gvk in names]
    for gvk in VENDORED:
        crd_refs = references(crd_schema(gvk, DEFS_URI))
        todo += [ref.partition("#/$defs/")[2] for ref in crd_refs if ref.startswith(DEFS_URI)]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo += [ref.partition("#/$defs/")[2] for ref in references(document["$defs"][name])]
    return {
        "source": {
            "package": f"kubernetes-validate {version('kubernetes-validate')}",
            "file": f"{path.parent.name}/{path.name}",
            "size": path.stat().st_size,
        },
        "definitions": without_descriptions(
            {
                **document,
                "$defs": {name: definition for name, definition in document["$defs"].items() if name in reached},
            }
        ),
    }


if __name__ == "__main__":
    EXTRACT.parent.mkdir(exist_ok=True)
    EXTRACT.write_text(json.dumps(make_extract(DEFAULT_K8S_VERSION), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {EXTRACT.relative_to(ROOT)}")
