"""Write schemas/crds/*.json: the openAPIV3Schema of each upstream CRD in ../shared/schemas/crds, unchanged.

The render checks the Flux, Argo CD and Gateway API objects it writes against these schemas on
the user's machine, so they ship in the wheel; bodywork_render/verify/crds.py (whose VENDORED names
the files) makes each one strict JSON Schema when it is loaded. Run `.venv/bin/python -m
scripts.vendor_crds` after the CRDs in ../shared change; tests/test_crds.py fails while a vendored
copy differs from its CRD.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from bodywork_render.verify.crds import VENDORED

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = ROOT.parent / "shared" / "schemas" / "crds"
FOLDER = ROOT / "schemas" / "crds"


def upstream_file(gvk: tuple[str, str]) -> str:
    """The upstream CRD file of a vendored kind: its vendored name less ``.<version>.json``, as YAML."""
    version = gvk[0].rsplit("/", 1)[1]
    return VENDORED[gvk].removesuffix(f".{version}.json") + ".yaml"


def vendored_document(gvk: tuple[str, str]) -> dict[str, Any]:
    """What schemas/crds/ holds for one kind: its group, version, kind, and that version's openAPIV3Schema."""
    crd = yaml.safe_load((UPSTREAM / upstream_file(gvk)).read_text(encoding="utf-8"))
    group, version = gvk[0].rsplit("/", 1)
    assert (crd["spec"]["group"], crd["spec"]["names"]["kind"]) == (group, gvk[1]), upstream_file(gvk)
    served = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    return {"group": group, "version": version, "kind": gvk[1], "openAPIV3Schema": served["schema"]["openAPIV3Schema"]}


def text(document: dict[str, Any]) -> str:
    """A vendored file's text: compact JSON, keys in the CRD's order."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False) + "\n"


if __name__ == "__main__":
    FOLDER.mkdir(exist_ok=True)
    for gvk, name in VENDORED.items():
        (FOLDER / name).write_text(text(vendored_document(gvk)), encoding="utf-8")
        print(f"wrote schemas/crds/{name}")
