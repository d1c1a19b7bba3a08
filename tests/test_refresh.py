"""`bodywork refresh` against real bare repositories served by `git daemon` on 127.0.0.1."""

from __future__ import annotations

import subprocess

import pytest

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.publish import Target
from bodywork_render.gitops.refresh import Refreshed, Upstream, refresh
from bodywork_render.render.options import RenderOptions
from tests.repos import FAST, MINIMAL, Repos, bodywork, git

STAGING = "stages:\n  serve:\n    replicas: 3\n"


def run(repos: Repos, **target: str) -> Refreshed:
    """refresh of the source repository's default branch into the deployment repository."""
    return refresh(
        Upstream(repos.daemon.url("source")), Target(repos.deploy_url, **target), RenderOptions(), retry=FAST
    )


def hide_source_blob(repos: Repos, name: str) -> None:
    """Delete a file's blob from the bare source repository: fetching the tip fails from now on, ls-remote works."""
    blob = git("hash-object", str(repos.project / name))
    loose = repos.daemon.path("source") / "objects" / blob[:2] / blob[2:]
    assert loose.is_file(), "a small push is stored as loose objects"
    loose.unlink()
    clone = subprocess.run(
        ["git", "clone", "-q", repos.daemon.url("source"), str(repos.project.parent / "probe")],
        capture_output=True,
        text=True,
    )
    assert clone.returncode != 0


def test_an_unchanged_source_is_a_no_op_that_does_not_fetch_it(repos: Repos) -> None:
    tip = git("rev-parse", "HEAD", cwd=repos.project)
    first = run(repos)
    hide_source_blob(repos, "train.py")
    second = run(repos)
    explicit = run(repos, path="envs/default/demo")

    assert first.status == "pushed" and first.published is not None and first.source.commit == tip
    assert (second.status, second.published, second.folder, second.source.commit) == (
        "up to date",
        None,
        "envs/default/demo",
        tip,
    )
    assert (explicit.status, explicit.published) == ("up to date", None)
    assert len(repos.commits()) == 1


def test_a_new_source_commit_is_published_once(repos: Repos) -> None:
    run(repos)
    tip = repos.commit_source({"train.py": "print('train v2')\n"}, "v2")
    again = run(repos)
    unchanged = run(repos)

    assert (again.status, again.source.commit, unchanged.status, unchanged.published) == (
        "pushed",
        tip,
        "up to date",
        None,
    )
    messages = repos.commits()
    assert len(messages) == 2 and f"Bodywork-Source-Commit: {tip}" in messages[0]
    assert f'"drySha": "{tip}"' in repos.show("envs/default/demo/hydrator.metadata")


def test_a_commit_that_touches_no_stage_changes_no_object(repos: Repos) -> None:
    # Modules in folders of their own: a module at the repository's root would make the whole commit its input.
    foldered = MINIMAL.replace("train.py", "train/train.py").replace("serve.py", "serve/serve.py")
    repos.commit_source({"bodywork.yaml": foldered, "train/train.py": "", "serve/serve.py": ""}, "stage folders")
    run(repos)
    before = {path: repos.show(path) for path in repos.tree() if path.endswith(".yaml")}
    docs = repos.commit_source({"docs/index.md": "# the project\n"}, "docs")
    published = run(repos)
    after = {path: repos.show(path) for path in repos.tree() if path.endswith(".yaml")}
    assert published.status == "pushed" and published.source.commit == docs, "the new commit is recorded"
    assert after == before, "but no Job is new and no Deployment rolls: nothing a stage runs changed"
    train = repos.commit_source({"train/train.py": "print('train v2')\n"}, "v2")
    run(repos)
    job = "envs/default/demo/01-train-job.yaml"
    assert repos.show(job) != before[job] and train in repos.show(job), "train.py changed: a new Job at its commit"


def test_a_project_in_a_folder_of_a_branch_with_other_options_renders_again(repos: Repos) -> None:
    git("checkout", "-q", "-b", "release", cwd=repos.project)
    tip = repos.commit_source(
        {"ml/bodywork.yaml": MINIMAL, "ml/bodywork.staging.yaml": STAGING, "ml/train.py": "", "ml/serve.py": ""},
        "project in a folder",
    )
    git("push", "-q", "origin", "HEAD:release", cwd=repos.project)
    upstream = Upstream(repos.daemon.url("source"), "release", "ml")
    target = Target(repos.deploy_url, env="staging")
    manifests = refresh(upstream, target, RenderOptions(), retry=FAST)
    kustomize = refresh(upstream, target, RenderOptions(format="kustomize", engine="flux"), retry=FAST)
    recorded = refresh(upstream, target, RenderOptions(format="kustomize", engine="flux"), retry=FAST)

    assert (manifests.folder, manifests.source.commit) == ("envs/staging/demo", tip)
    assert (manifests.status, kustomize.status, recorded.status, recorded.published) == (
        "pushed",
        "pushed",
        "up to date",
        None,
    )
    assert '"format": "kustomize"' in repos.show("envs/staging/demo/hydrator.metadata")
    assert "replicas: 3" in "".join(repos.show(p) for p in repos.tree() if p.endswith(".yaml"))
    with pytest.raises(BodyworkError, match="has no branch nope"):
        refresh(Upstream(repos.daemon.url("source"), "nope"), target, RenderOptions())
    with pytest.raises(BodyworkError, match="--format helm"):
        refresh(upstream, target, RenderOptions(format="helm"))
    with pytest.raises(BodyworkError, match="--project-path"):
        refresh(Upstream(repos.daemon.url("source"), "release", "../up"), target, RenderOptions())


def test_cli(repos: Repos) -> None:
    short = git("rev-parse", "--short=7", "HEAD", cwd=repos.project)
    args = ("refresh", "--source", repos.daemon.url("source"), "--to", repos.deploy_url)
    pushed = bodywork(*args)
    recorded = bodywork(*args)
    missing = bodywork(*args, "--source-branch", "nope")

    assert (pushed.returncode, recorded.returncode, missing.returncode) == (0, 0, 1)
    assert f"pushed demo at {short} to {repos.deploy_url} main:envs/default/demo" in pushed.stderr
    assert (
        f"up to date: envs/default/demo on main records {repos.daemon.url('source')} at {short}; source not fetched"
        in recorded.stderr
    )
    assert "has no branch nope" in missing.stderr
