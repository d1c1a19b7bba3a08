"""Golden files: the rendered output of four projects in each folder format, compared byte for byte.

After a deliberate change, rewrite them with `pytest --update-golden` and review the diff of tests/golden/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest

from bodywork_render.render.options import default_engine
from tests.goldenfiles import Golden
from tests.renderkit import EXAMPLE, PROJECTS, ROOT, render

GOLDEN = Path(__file__).parent / "golden"
Layout = Literal["manifests", "kustomize", "argo-workflows"]
CASES = {
    "train-and-serve": (EXAMPLE, {}),
    "parallel-secrets-ingress": (
        PROJECTS / "parallel-secrets-ingress",
        {"ingress_class": "nginx", "ingress_host": "ml.example.com"},
    ),
    "failure-hook": (PROJECTS / "failure-hook", {"engine": "argocd"}),
    "scheduled": (PROJECTS / "scheduled", {}),
}


@pytest.mark.parametrize("layout", ["manifests", "kustomize", "argo-workflows"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_output_matches_the_golden_files(name: str, layout: Layout, golden: Golden) -> None:
    project, options = CASES[name]
    options = {"engine": default_engine(layout), **options}
    files = render(project, format=layout, deploy_path=f"./envs/test/{name}", **options).files
    golden.check_tree(GOLDEN / name / layout, files)


def test_a_golden_update_rewrites_what_differs_and_fails_listing_it(tmp_path: Path) -> None:
    expected = tmp_path / "expected"
    (expected / "sub").mkdir(parents=True)
    (expected / "same.yaml").write_text("a: 1\n")
    (expected / "sub" / "gone.yaml").write_text("b: 2\n")
    (expected / "changed.yaml").write_text("c: 3\n")
    files = {"same.yaml": "a: 1\n", "changed.yaml": "c: 4\n", "new.yaml": "d: 5\n"}
    rewritten: list[str] = []

    with pytest.raises(pytest.fail.Exception) as failed:
        Golden(update=True, rewritten=rewritten).check_tree(expected, files)

    listed = [str(expected / name) for name in ("changed.yaml", "new.yaml", "sub/gone.yaml")]
    assert rewritten == listed
    assert str(failed.value) == "rewrote golden files (review the diff, then run again):\n  " + "\n  ".join(listed)
    assert {p.relative_to(expected).as_posix() for p in expected.rglob("*.yaml")} == set(files)
    Golden(update=True, rewritten=rewritten).check_tree(
        expected, files
    )  # nothing differs now: passes, rewrites nothing
    assert len(rewritten) == 3


def test_without_the_option_a_difference_fails_and_rewrites_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: 1\n")
    with pytest.raises(AssertionError, match="after a deliberate change: pytest --update-golden"):
        Golden(update=False, rewritten=[]).check_tree(tmp_path, {"a.yaml": "a: 2\n"})
    assert (tmp_path / "a.yaml").read_text() == "a: 1\n"


def test_the_golden_update_is_refused_in_ci(tmp_path: Path) -> None:
    env = {**os.environ, "CI": "true"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--update-golden", "--collect-only", "-q", __file__],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 4, result.stdout + result.stderr
    assert "--update-golden rewrites expected files; it is refused when CI is set" in result.stderr


# Renders every golden case in every format, printing the files and the chart archive's digest as JSON.
RENDER_ALL = """
import hashlib, json, sys
from bodywork_render.render.chart import archive_bytes, render_chart
from bodywork_render.render.options import RenderOptions, default_engine
from tests.renderkit import COMMIT, REPO_URL, render
from tests.test_golden import CASES

out = {}
for name, (project, options) in sorted(CASES.items()):
    for layout in ("manifests", "kustomize", "argo-workflows"):
        rendered = render(project, format=layout, **{"engine": default_engine(layout), **options})
        out[f"{name}/{layout}"] = rendered.files
    chart = render_chart(project, RenderOptions(), repo_url=REPO_URL, ref=COMMIT)
    out[f"{name}/helm"] = chart.files
    out[f"{name}/helm.tgz"] = hashlib.sha256(archive_bytes(chart.files, name)).hexdigest()
sys.stdout.write(json.dumps(out, sort_keys=True, indent=1))
"""


@pytest.mark.slow
def test_output_is_byte_identical_across_processes_with_different_hash_seeds() -> None:
    """Set and dict orders that follow string hashes would change between runs; one process never sees that."""
    outputs = []
    for seed in ("0", "3141592653"):
        result = subprocess.run(
            [sys.executable, "-c", RENDER_ALL],
            capture_output=True, env={**os.environ, "PYTHONHASHSEED": seed}, cwd=ROOT, timeout=300, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr.decode()
        outputs.append(result.stdout)
    assert len(outputs[0]) > 10_000
    assert outputs[0] == outputs[1]
