"""The on-disk cache of compiled templates: same output warm or cold, fresh after an edit, never a failed render."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bodywork_render.cache import cache_folder
from bodywork_render.package_data import resource_dir
from bodywork_render.render.manifests import Rendered
from bodywork_render.render.templating import RENDERED_CACHE, RenderedTexts
from tests.renderkit import EXAMPLE, render


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("BODYWORK_NO_CACHE", raising=False)
    return tmp_path / "cache" / "bodywork-render" / "jinja"


def _files(rendered: Rendered) -> dict[str, str]:
    return dict(rendered.files)


def test_warm_cache_renders_the_same_bytes_as_no_cache(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cold = _files(render(EXAMPLE))
    entries = sorted(cache_home.iterdir())
    assert entries and all(p.name.startswith("__jinja2_") for p in entries)
    assert oct(cache_home.stat().st_mode & 0o777) == "0o700"
    assert _files(render(EXAMPLE)) == cold
    assert sorted(cache_home.iterdir()) == entries
    monkeypatch.setenv("BODYWORK_NO_CACHE", "1")
    assert cache_folder("jinja") is None
    assert _files(render(EXAMPLE)) == cold


def test_an_edited_template_is_compiled_afresh(cache_home: Path, tmp_path: Path) -> None:
    from bodywork_render.render.manifests import render_project
    from bodywork_render.render.options import RenderOptions
    from tests.renderkit import COMMIT, REPO_URL

    templates = tmp_path / "templates"
    templates.mkdir()
    service = resource_dir("templates") / "service.yaml.j2"
    shutil.copy(service, templates / "service.yaml.j2")

    def rendered_service() -> str:
        files = render_project(EXAMPLE, RenderOptions(), repo_url=REPO_URL, ref=COMMIT, templates=templates).files
        return files["02-serve-service.yaml"]

    assert 'edited: "two"' not in rendered_service()
    text = service.read_text().replace("metadata:\n", 'metadata:\n  annotations:\n    edited: "two"\n', 1)
    (templates / "service.yaml.j2").write_text(text)
    assert 'edited: "two"' in rendered_service()


def test_a_corrupt_cache_entry_is_compiled_again(cache_home: Path) -> None:
    cold = _files(render(EXAMPLE))
    for entry in cache_home.iterdir():
        entry.write_bytes(b"not bytecode")
    shutil.rmtree(cache_home.parent / RENDERED_CACHE)  # else no template is rendered again
    assert _files(render(EXAMPLE)) == cold


def test_a_warm_render_reads_its_texts_without_jinja2(cache_home: Path, tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from tests.renderkit import EXAMPLE, render\n"
        "files = render(EXAMPLE).files\n"
        "print(json.dumps({'jinja2': 'jinja2' in sys.modules, 'files': files}))\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home.parents[1])}
    env.pop("BODYWORK_NO_CACHE", None)
    runs = [
        json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True).stdout)
        for _ in range(2)
    ]
    assert runs[0]["jinja2"] and not runs[1]["jinja2"]
    assert runs[0]["files"] == runs[1]["files"]
    assert sorted((cache_home.parent / RENDERED_CACHE).iterdir())


def test_an_edited_included_template_renders_afresh(cache_home: Path, tmp_path: Path) -> None:
    from bodywork_render.render.manifests import render_project
    from bodywork_render.render.options import RenderOptions
    from tests.renderkit import COMMIT, REPO_URL

    templates = tmp_path / "templates"
    templates.mkdir()
    pod = resource_dir("templates") / "_pod.yaml.j2"
    shutil.copy(pod, templates / "_pod.yaml.j2")

    def rendered_deployment() -> str:
        # a Deployment's values do not change with its templates (a Job's name would: a digest of them)
        files = render_project(EXAMPLE, RenderOptions(), repo_url=REPO_URL, ref=COMMIT, templates=templates).files
        return next(text for name, text in files.items() if name.endswith("-deployment.yaml"))

    before = rendered_deployment()
    assert rendered_deployment() == before
    text = pod.read_text().replace("automountServiceAccountToken:", "# edited\nautomountServiceAccountToken:", 1)
    assert text != pod.read_text()
    (templates / "_pod.yaml.j2").write_text(text)
    assert "# edited" in rendered_deployment()


def test_only_plain_json_values_have_a_cache_entry(cache_home: Path) -> None:
    texts = RenderedTexts.of([resource_dir("templates")])
    assert texts is not None
    assert texts.key("t.j2", {"a": [1, "b", None, True, 1.5]}) is not None
    for value in ((1, 2), {1: "a"}, float("nan"), Path("x"), b"x"):
        assert texts.key("t.j2", {"a": value}) is None
    assert texts.key("t.j2", {"a": 1}) != texts.key("t.j2", {"a": True}) != texts.key("t.j2", {"a": 1.0})
    assert texts.key("t.j2", {"a": 1, "b": 2}) != texts.key("t.j2", {"b": 2, "a": 1})  # order is what Jinja iterates


def test_no_cache_has_no_rendered_texts(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BODYWORK_NO_CACHE", "1")
    assert RenderedTexts.of([resource_dir("templates")]) is None
    render(EXAMPLE)
    assert not (cache_home.parent / RENDERED_CACHE).exists()


def test_a_cache_write_that_fails_never_fails_a_render(cache_home: Path) -> None:
    from bodywork_render.render.templating import Templates

    env = Templates().env
    shutil.rmtree(cache_home)  # cleared by someone else between start-up and the first template
    assert env.get_template("job.yaml.j2")
    assert not cache_home.exists()


def test_an_unusable_cache_location_never_fails_a_render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert cache_folder("jinja") is None
    assert render(EXAMPLE).objects


def test_a_cache_folder_open_to_others_is_not_used(cache_home: Path) -> None:
    cache_home.mkdir(parents=True)
    cache_home.chmod(0o777)
    assert cache_folder("jinja") is None
    cache_home.chmod(0o700)
    assert cache_folder("jinja") == cache_home
