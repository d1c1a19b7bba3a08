"""hydrator.metadata: the one type that render writes and refresh reads back."""

from __future__ import annotations

import json

import pytest

from bodywork_render import __version__
from bodywork_render.gitops.source import Source
from bodywork_render.render.metadata import HydratorMetadata
from bodywork_render.render.options import RenderOptions
from bodywork_render.spec.model import Schedule

SOURCE = Source("https://example.com/acme/project.git", "a" * 40, "ml/pipeline")


@pytest.mark.parametrize(
    "metadata",
    [
        HydratorMetadata.of_manifests(SOURCE, RenderOptions()),
        HydratorMetadata(SOURCE, "helm", "1.31.0", chart_version="0.1.0+aaaaaaa"),
        HydratorMetadata.of_manifests(
            SOURCE,
            RenderOptions(scheduled_run="2026-12-04T20:00:00Z"),
            schedule=Schedule("0 20 * * *", "Europe/London", suspend=True, starting_deadline_seconds=600),
        ),
    ],
)
def test_what_render_writes_reads_back_equal(metadata: HydratorMetadata) -> None:
    assert HydratorMetadata.read(metadata.text()) == metadata


def test_the_file_keeps_its_key_order() -> None:
    text = HydratorMetadata(SOURCE, "kustomize", "1.31.0", engine="argocd").text()
    assert list(json.loads(text)) == [
        "drySha", "repoURL", "projectPath", "tool", "toolVersion", "format", "engine", "kubernetesVersion",
        "environment",
    ]  # fmt: skip
    assert json.loads(text)["toolVersion"] == __version__ and text.endswith("}\n")


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "not json",
        "[1, 2]",
        json.dumps({"tool": "another-tool", "drySha": "a" * 40}),
        HydratorMetadata(SOURCE, "manifests", "1.31.0").text().replace('"kubernetesVersion"', '"k8s"'),
    ],
)
def test_anything_else_reads_as_none(text: str | None) -> None:
    assert HydratorMetadata.read(text) is None


def test_another_tool_version_or_engine_is_not_the_same_render() -> None:
    ours = HydratorMetadata(SOURCE, "manifests", "1.31.0", engine="argocd")
    assert HydratorMetadata.read(ours._replace(tool_version="0.0.1").text()) != ours
    assert HydratorMetadata.read(ours._replace(engine="flux").text()) != ours


def test_a_schedule_not_in_this_tools_shape_reads_as_none() -> None:
    scheduled = HydratorMetadata.of_manifests(SOURCE, RenderOptions(), schedule=Schedule("0 20 * * *"))
    data = json.loads(scheduled.text())
    data["schedule"]["startingDeadlineSeconds"] = "3600"
    read = HydratorMetadata.read(json.dumps(data))
    assert read is not None and read.schedule is None and read.settings() == scheduled.settings()
