"""The cache of objects found valid: an unchanged render skips the schema check, a changed object never does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.renderkit import COMMIT, EXAMPLE, REPO_URL, ROOT

# One render in a fresh process; prints whether the schema validator (jsonschema_rs) had to be imported.
RENDER = f"""
import sys
from pathlib import Path
from bodywork_render.render.manifests import render_project
from bodywork_render.render.options import RenderOptions
rendered = render_project(Path(sys.argv[1]), RenderOptions(), repo_url={REPO_URL!r}, ref={COMMIT!r})
sys.stdout.write(repr(sorted(rendered.files.items())) + "\\n" + str("jsonschema_rs" in sys.modules))
"""


def render_in_a_process(project: Path, cache: Path, **env: str) -> tuple[str, bool]:
    variables = {**os.environ, "XDG_CACHE_HOME": str(cache), **env}
    if "BODYWORK_NO_CACHE" not in env:
        variables.pop("BODYWORK_NO_CACHE", None)
    result = subprocess.run(
        [sys.executable, "-c", RENDER, str(project)],
        capture_output=True,
        text=True,
        env=variables,
        cwd=ROOT,
        check=True,
    )
    files, imported = result.stdout.rsplit("\n", 1)
    return files, imported == "True"


def test_an_unchanged_render_skips_the_schema_check_and_gives_the_same_bytes(tmp_path: Path) -> None:
    first, first_checked = render_in_a_process(EXAMPLE, tmp_path / "cache")
    again, again_checked = render_in_a_process(EXAMPLE, tmp_path / "cache")
    assert (first_checked, again_checked) == (True, False)
    assert again == first
    folder = tmp_path / "cache" / "bodywork-render" / "verified"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert len([entry for key in folder.iterdir() for entry in key.iterdir()]) == 11  # the example's eleven objects


def test_a_changed_object_is_checked_again(tmp_path: Path) -> None:
    project = tmp_path / "project"
    subprocess.run(["cp", "-r", str(EXAMPLE), str(project)], check=True)
    render_in_a_process(project, tmp_path / "cache")
    config = project / "bodywork.yaml"
    config.write_text(config.read_text().replace("replicas: 2", "replicas: 3"))
    assert "replicas: 3" in config.read_text()
    _, checked = render_in_a_process(project, tmp_path / "cache")
    assert checked


def test_no_cache_means_every_render_is_checked(tmp_path: Path) -> None:
    render_in_a_process(EXAMPLE, tmp_path / "cache")
    _, checked = render_in_a_process(EXAMPLE, tmp_path / "cache", BODYWORK_NO_CACHE="1")
    assert checked


def test_only_valid_objects_are_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bodywork_render.verify.kubernetes import schema_problems

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("BODYWORK_NO_CACHE", raising=False)
    bad = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x"}, "automountToken": False}
    for _ in range(2):  # a second check of the same invalid object still finds its problem
        problems = schema_problems([bad])
        assert [(p.kind, p.name, p.path, p.message) for p in problems] == [
            ("ServiceAccount", "x", "automountToken", "unknown field")
        ]
    assert [
        entry for key in (tmp_path / "cache" / "bodywork-render" / "verified").iterdir() for entry in key.iterdir()
    ] == []


def test_a_cache_folder_open_to_others_is_not_trusted(tmp_path: Path) -> None:
    render_in_a_process(EXAMPLE, tmp_path / "cache")
    (tmp_path / "cache" / "bodywork-render" / "verified").chmod(0o777)
    _, checked = render_in_a_process(EXAMPLE, tmp_path / "cache")
    assert checked
