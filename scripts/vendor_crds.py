"""Write schemas/crds/*.json: the openAPIV3Schema of each upstream CRD in ../shared/schemas/crds, unchanged.

The render checks the Flux, Argo CD and Gateway API objects it writes against these schemas on
the user's machine, so they ship in the wheel; bodywork_render/verify/crds.py makes each one strict
JSON Schema when it is loaded. Run `.venv/bin/python -m scripts.vendor_crds` after the CRDs in
../shared change; tests/test_crds.py fails while a vendored copy differs from its CRD.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = ROOT.parent / "shared" / "schemas" / "crds"
VENDORED = ROOT / "schemas" / "crds"
SERVED = {
    "kustomize.toolkit.fluxcd.io_kustomizations.yaml": "v1",
    "source.toolkit.fluxcd.io_gitrepositories.yaml": "v1",
    "argoproj.io_applications.yaml": "v1alpha1",
    "gateway.networking.k8s.io_httproutes.yaml": "v1",
}
"""The upstream CRD files and the version of each that bodywork-render writes."""


def vendored_name(crd_file: str) -> str:
    """The vendored file of an upstream CRD file: its name with the version, as JSON."""
    return f"{crd_file.removesuffix('.yaml')}.{SERVED[crd_file]}.json"


def vendored(crd_file: str) -> dict[str, Any]:
    """What schemas/crds/ holds for one upstream CRD: its group, version, kind, and that version's openAPIV3Schema."""
    crd = yaml.safe_load((UPSTREAM / crd_file).read_text(encoding="utf-8"))
    version = next(v for v in crd["spec"]["versions"] if v["name"] == SERVED[crd_file])
    return {
        "group": crd["spec"]["group"],
        "version": version["name"],
        "kind": crd["spec"]["names"]["kind"],
        "openAPIV3Schema": version["schema"]["openAPIV3Schema"],
    }


def text(document: dict[str, Any]) -> str:
    """A vendored file's text: compact JSON, keys in the CRD's order."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False) + "\n"


if __name__ == "__main__":
    VENDORED.mkdir(exist_ok=True)
    for name in SERVED:
        (VENDORED / vendored_name(name)).write_text(text(vendored(name)), encoding="utf-8")
        print(f"wrote schemas/crds/{vendored_name(name)}")
