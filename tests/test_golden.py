"""Golden files: the rendered output of three projects, compared byte for byte.

After a deliberate change, rewrite them with BODYWORK_UPDATE_GOLDEN=1 and review the diff of tests/golden/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bodywork_render.render.options import default_engine
from bodywork_render.render.write import read_tree
from tests.renderkit import EXAMPLE, PROJECTS, render

GOLDEN = Path(__file__).parent / "golden"
CASES = {
    "train-and-serve": (EXAMPLE, {}),
    "parallel-secrets-ingress": (
        PROJECTS / "parallel-secrets-ingress",
        {"ingress_class": "nginx", "ingress_host": "ml.example.com"},
    ),
    "failure-hook": (PROJECTS / "failure-hook", {"engine": "argocd"}),
}


@pytest.mark.parametrize("layout", ["manifests", "kustomize"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_output_matches_the_golden_files(name: str, layout: str) -> None:
    project, options = CASES[name]
    options = {"engine": default_engine(layout), **options}
    files = render(project, layout=layout, deploy_path=f"./envs/test/{name}", **options).files
    expected_dir = GOLDEN / name / layout
    if os.environ.get("BODYWORK_UPDATE_GOLDEN") == "1":
        shutil.rmtree(expected_dir, ignore_errors=True)
        for relative, text in files.items():
            (expected_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / relative).write_text(text)
    assert files == read_tree(expected_dir)
