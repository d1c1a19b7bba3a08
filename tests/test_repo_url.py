"""The repository URL the stages fetch is checked: one a cluster can fetch, or one clear error, exit 1, nothing written.

Real renders, publishes and refreshes through the CLI (a fresh interpreter, as a user runs
it) and through the core; real git checkouts and bare repositories on this machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.render.chart import render_chart
from bodywork_render.render.manifests import Rendered, render_project
from bodywork_render.render.options import FORMATS, RenderOptions
from bodywork_render.render.write import read_tree
from tests.renderkit import COMMIT, EXAMPLE, checkout, git, objects_in

EXPECTED = "expected https://host/path, ssh://user@host/path, user@host:path or git://host/path"
LOCAL = "is a local path to git, not a URL a cluster can fetch"
NO_KEY = "is an ssh URL and no --git-secret is given, so the pods have no key to fetch with"

# (--repo-url, other flags, what the one error line says after "error: --repo-url '<url>' ").
BAD = [
    ("not a url at all", [], f"{LOCAL} (the pods fetch inside the cluster, where this machine's folders are not):"),
    ("/srv/git/project.git", [], LOCAL),
    ("../project", [], LOCAL),
    ("file:///srv/git/project.git", [], LOCAL),
    ("ssh://git@github.com/acme/ml.git", [], NO_KEY),
    ("git@github.com:acme/ml.git", [], NO_KEY),
    ("github.com:acme/ml.git", [], "is not a URL the stages can fetch: an ssh URL names the user the host expects"),
    (
        "ssh://github.com/acme/ml.git",
        ["--git-secret", "key"],
        "is not a URL the stages can fetch: an ssh URL names the user",
    ),
    ("ftp://example.com/acme/ml.git", [], "is not a URL the stages can fetch: unknown scheme 'ftp'"),
    ("https://github.com", [], f"is not a URL the stages can fetch: {EXPECTED}"),
    ("https://git hub.com/acme/ml.git", [], f"is not a URL the stages can fetch: {EXPECTED}"),
    ("https:///acme/ml.git", [], f"is not a URL the stages can fetch: {EXPECTED}"),
    ("https://github.com:http/acme/ml.git", [], "is not a URL the stages can fetch: its port is not a number"),
    ("http://git.example.com/acme/ml.git", ["--git-secret", "token"], "is plain http and --git-secret is given"),
]

# (--repo-url, other flags, the URL the init containers fetch).
GOOD = [
    ("https://github.com/acme/ml.git", [], "https://github.com/acme/ml.git"),
    ("https://ci:tok3n@github.com/acme/ml.git", ["--git-secret", "token"], "https://github.com/acme/ml.git"),
    ("http://git.example.com/acme/ml.git", [], "http://git.example.com/acme/ml.git"),
    ("git://127.0.0.1:9418/ml.git", [], "git://127.0.0.1:9418/ml.git"),
    ("ssh://git@github.com/acme/ml.git", ["--git-secret", "key"], "ssh://git@github.com/acme/ml.git"),
    ("ssh://git@[::1]:2222/srv/ml.git", ["--git-secret", "key"], "ssh://git@[::1]:2222/srv/ml.git"),
    ("git@github.com:acme/ml.git", ["--git-secret", "key"], "git@github.com:acme/ml.git"),
    ("git@git.example.com:acme/ml.git", ["--public-ssh-repo"], "git@git.example.com:acme/ml.git"),
    ("/srv/git/project.git", ["--allow-local-repo"], "/srv/git/project.git"),
    ("file:///srv/git/project.git", ["--allow-local-repo"], "file:///srv/git/project.git"),
]


def bodywork(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "bodywork_render", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def fetched(objects: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> set[str]:
    """The --repo of every init container that fetches the code."""
    found = set()
    for obj in objects:
        pod = obj.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("initContainers", []):
            args = container.get("args", [])
            if "--repo" in args:
                found.add(args[args.index("--repo") + 1])
    return found


def core_render(output_format: str, repo_url: str, flags: list[str]) -> Rendered:
    """A render through the core with the options the flags give."""
    options = RenderOptions(
        format=output_format,  # type: ignore[arg-type]
        git_secret=flags[flags.index("--git-secret") + 1] if "--git-secret" in flags else None,
        allow_local_repo="--allow-local-repo" in flags,
        public_ssh_repo="--public-ssh-repo" in flags,
    )
    if output_format == "helm":
        return render_chart(EXAMPLE, options, repo_url=repo_url, ref=COMMIT)
    return render_project(EXAMPLE, options, repo_url=repo_url, ref=COMMIT)


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An --out folder per format holding a good render, which a refused render must leave as it is."""
    folders: dict[str, Path] = {}
    for output_format in FORMATS:
        out = tmp_path_factory.mktemp(output_format) / "out"
        flags = ["--format", output_format, "--repo-url", "https://github.com/acme/ml.git", "--ref", COMMIT]
        result = bodywork("render", str(EXAMPLE), "--out", str(out), *flags)
        assert result.returncode == 0, result.stderr
        folders[output_format] = out
    return folders


@pytest.mark.parametrize(("number", "case"), list(enumerate(BAD)), ids=[url for url, _, _ in BAD])
def test_a_url_no_cluster_can_fetch_is_one_clear_error_and_nothing_is_written(
    number: int, case: tuple[str, list[str], str], previous: dict[str, Path]
) -> None:
    url, flags, says = case
    output_format = FORMATS[number % len(FORMATS)]
    out = previous[output_format]
    before = read_tree(out)
    result = bodywork(
        "render", str(EXAMPLE), "--out", str(out), "--format", output_format, "--repo-url", url, "--ref", COMMIT, *flags
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"error: --repo-url {url!r} {says}"), result.stderr
    assert read_tree(out) == before
    for each in FORMATS:  # the one check, whatever the format
        with pytest.raises(BodyworkError) as refused:
            core_render(each, url, flags)
        assert str(refused.value) == result.stderr.rstrip("\n")


def test_each_message_says_what_to_do() -> None:
    with pytest.raises(BodyworkError) as local:
        core_render("manifests", "not a url at all", [])
    assert f"{EXPECTED}; or add --allow-local-repo when the pods can read that path" in str(local.value)
    with pytest.raises(BodyworkError) as ssh:
        core_render("manifests", "git@github.com:acme/ml.git", [])
    assert str(ssh.value).endswith(
        "give --git-secret NAME (a Secret with key 'ssh-privatekey', and 'known_hosts' for hosts other than GitHub),"
        " or the https:// URL of a public repository, or add --public-ssh-repo when the host lets anyone fetch over"
        " ssh without a key"
    )


@pytest.mark.parametrize(("url", "flags", "fetches"), GOOD, ids=[url for url, _, _ in GOOD])
@pytest.mark.parametrize("output_format", FORMATS)
def test_a_url_a_cluster_can_fetch_renders(url: str, flags: list[str], fetches: str, output_format: str) -> None:
    rendered = core_render(output_format, url, flags)
    assert fetched(rendered.objects) == {fetches}
    if "--allow-local-repo" in flags or "--public-ssh-repo" in flags:  # the reproducing command needs it too
        assert any(flag in rendered.files["README.md"] for flag in flags)


def test_the_cli_renders_a_good_url_with_its_flag(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = bodywork(
        "render", str(EXAMPLE), "--out", str(out), "--repo-url", "git@github.com:acme/ml.git", "--ref", COMMIT,
        "--public-ssh-repo",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert fetched(objects_in(read_tree(out))) == {"git@github.com:acme/ml.git"}


def test_a_local_origin_is_named_as_the_checkouts_origin_and_allowed_by_the_flag(tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    project = checkout(EXAMPLE, tmp_path / "project", origin=str(origin))
    out = tmp_path / "out"
    refused = bodywork("render", str(project), "--out", str(out))
    assert refused.returncode == 1 and not out.exists(), refused.stderr
    assert refused.stderr == (
        f"error: the checkout's origin {str(origin)!r} {LOCAL} (the pods fetch inside the cluster, where this"
        f" machine's folders are not): {EXPECTED}, given as --repo-url; or add --allow-local-repo when the pods can"
        " read that path\n"
    )
    allowed = bodywork("render", str(project), "--out", str(out), "--allow-local-repo")
    assert allowed.returncode == 0, allowed.stderr
    assert fetched(objects_in(read_tree(out))) == {str(origin)}
    assert "--allow-local-repo" in read_tree(out)["README.md"]


def test_publish_and_refresh_refuse_before_any_git_work(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.git"
    git(tmp_path, "init", "-q", "--bare", str(deploy))
    to = ["--to", f"file://{deploy}"]
    published = bodywork("publish", str(EXAMPLE), *to, "--repo-url", "not a url at all", "--ref", COMMIT)
    assert published.returncode == 1 and published.stderr.startswith(f"error: --repo-url 'not a url at all' {LOCAL}"), (
        published.stderr
    )
    refreshed = bodywork("refresh", "--source", "git@github.com:acme/ml.git", *to)
    assert refreshed.returncode == 1 and refreshed.stderr == (
        f"error: --source 'git@github.com:acme/ml.git' {NO_KEY}: give --git-secret NAME (a Secret with key"
        " 'ssh-privatekey', and 'known_hosts' for hosts other than GitHub), or the https:// URL of a public"
        " repository, or add --public-ssh-repo when the host lets anyone fetch over ssh without a key\n"
    )
    local = bodywork("refresh", "--source", str(tmp_path / "source.git"), *to)
    assert local.returncode == 1 and local.stderr.startswith(
        f"error: --source {str(tmp_path / 'source.git')!r} {LOCAL}"
    )
    assert git(tmp_path, "--git-dir", str(deploy), "for-each-ref") == ""  # nothing pushed
