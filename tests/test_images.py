"""No image to build: every render names only the pipeline's own image and official Docker Hub library images.

Bodywork's promise was that nobody builds or pushes an image: the stages run in the image that
bodywork.yaml names (``docker_image``, or an overlay's), and everything else the pods need comes
from Docker Hub's official ``python`` image (the fetch init container) and from a ConfigMap (the
runner). The allowed set is written out here, not computed by the code under test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bodywork_render.render.chart import render_chart
from bodywork_render.render.options import RenderOptions
from bodywork_render.render.write import write_tree
from tests import helmsdk
from tests.corpus import corpus_params
from tests.renderkit import COMMIT, EXAMPLE, PROJECTS, REPO_URL, objects_in, render

# The fetch init container's image: an official image (git and openssh-client included), pinned by tag.
OFFICIAL_PYTHON = "python:3.12-bookworm"


def own_images(project: Path) -> set[str]:
    """The images bodywork.yaml and its overlays name: ``docker_image`` of the pipeline (or project) section."""
    found = set()
    for config in [project / "bodywork.yaml", *project.glob("bodywork.*.yaml")] if project.is_dir() else [project]:
        data = yaml.safe_load(config.read_text()) or {}
        section = data.get("pipeline") or data.get("project") or {}
        if section.get("docker_image"):
            found.add(section["docker_image"])
    return found


def images(objects: list[dict[str, Any]]) -> set[str]:
    """Every image a pod of these objects would pull."""
    found = set()
    for obj in objects:
        spec = obj.get("spec", {})
        spec = spec.get("jobTemplate", {}).get("spec", spec)  # a CronJob's pods are its Job's
        pod = spec.get("template", {}).get("spec")
        if pod is not None:
            found |= {c["image"] for c in pod.get("initContainers", []) + pod["containers"]}
    return found


PROJECT_FOLDERS = [EXAMPLE, *sorted(p for p in PROJECTS.iterdir() if (p / "bodywork.yaml").is_file())]


@pytest.mark.parametrize("project", PROJECT_FOLDERS, ids=lambda p: p.name)
@pytest.mark.parametrize("layout", ["manifests", "kustomize"])
def test_a_project_render_names_no_image_but_its_own_and_the_official_python(project: Path, layout: str) -> None:
    used = images(objects_in(render(project, format=layout).files))
    assert OFFICIAL_PYTHON in used, "the fetch init container"
    assert used <= own_images(project) | {OFFICIAL_PYTHON}


@pytest.mark.slow  # a render of every corpus file
@pytest.mark.parametrize("path", corpus_params(valid=True))
def test_a_corpus_render_names_no_image_but_its_own_and_the_official_python(path: Path) -> None:
    used = images(objects_in(render(path).files))
    assert used <= own_images(path) | {OFFICIAL_PYTHON}


@pytest.mark.slow  # the Helm SDK
def test_the_chart_names_no_image_but_the_pipelines_and_the_official_python(tmp_path: Path) -> None:
    rendered = render_chart(EXAMPLE, RenderOptions(format="helm"), repo_url=REPO_URL, ref=COMMIT)
    write_tree(tmp_path / "chart", rendered.files)
    objects = helmsdk.template_objects(tmp_path / "chart", release="ml", namespace="ml")
    assert images(objects) == own_images(EXAMPLE) | {OFFICIAL_PYTHON}
