"""Refresh: what the in-cluster CronJob runs; publish the source branch's tip unless the deployment repository
records it.

The check costs one ``git ls-remote`` of the source and one shallow fetch of the
deployment branch: when the render's ``hydrator.metadata`` there records the source tip
(and this tool version, format, engine and Kubernetes version), nothing else happens and
the source is never cloned. Otherwise the source is fetched at its tip (one commit,
depth 1), rendered with ``--repo-url`` the source URL (redacted) and ``--ref`` that
commit, and landed exactly as ``publish`` does, in the deployment work tree already
fetched. Other render flags (namespace, runner image, ...) are not recorded in the
metadata: a change of them takes effect with the next source commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.git import Workspace
from bodywork_render.gitops.publish import (
    CommitSettings,
    Published,
    Retry,
    Target,
    land,
    prepare,
    repository_folder,
    require_published_format,
    sync,
)
from bodywork_render.gitops.redact import redact_url
from bodywork_render.gitops.repo_url import check_repo_url
from bodywork_render.gitops.source import Source
from bodywork_render.render.metadata import HydratorMetadata
from bodywork_render.render.options import RenderOptions
from bodywork_render.render.write import MARKER


@dataclass(frozen=True)
class Upstream:
    """The project's repository: its URL (it may carry credentials), branch (None: its default branch) and the
    project's folder in it."""

    url: str
    branch: str | None = None
    project_path: str = "."

    @property
    def ref(self) -> str:
        """The remote ref followed: ``refs/heads/<branch>``, or ``HEAD``."""
        return f"refs/heads/{self.branch}" if self.branch else "HEAD"


@dataclass(frozen=True)
class Refreshed:
    """What a refresh did: the source commit it saw, the folder that records it (None when not known) and,
    when it rendered, the publish result (None: the tip was recorded already and the source was not fetched)."""

    source: Source
    folder: str | None
    published: Published | None

    @property
    def status(self) -> Literal["pushed", "up to date"]:
        """``pushed`` when a commit landed, else ``up to date``."""
        return self.published.status if self.published else "up to date"


def refresh(
    upstream: Upstream,
    target: Target,
    options: RenderOptions,
    *,
    templates: Path | None = None,
    settings: CommitSettings = CommitSettings(),
    retry: Retry = Retry(),
) -> Refreshed:
    """Publish the tip of ``upstream`` into ``target`` unless it is recorded there already.

    BodyworkError for invalid input (a source URL the pods cannot fetch, no such source branch, an invalid
    project), GitError when git failed or it gave up.
    """
    require_published_format(options)
    check_repo_url(upstream.url, "--source", options)  # the pods fetch it too: refused before any git work
    shown = redact_url(upstream.url)
    project_path = _project_path(upstream.project_path)
    with Workspace(upstream.url) as source, Workspace(target.url) as deploy:
        tip = source.remote_tip(upstream.ref)
        if tip is None:
            raise BodyworkError(f"{shown} has no {'branch ' + upstream.branch if upstream.branch else 'HEAD'}")
        sync(deploy, target)
        recorded = Source(shown, tip, "" if project_path == "." else project_path)
        folder = _recorded_in(deploy, target, HydratorMetadata.of_manifests(recorded, options, target.env))
        if folder is not None:
            return Refreshed(recorded, folder, None)
        # With its history: each stage is pinned to the newest commit that changed its inputs (gitops/pins.py).
        commit = source.fetch(upstream.ref, history=True)
        if commit is None:
            raise BodyworkError(f"{shown} has no {upstream.ref} any more")
        source.checkout(commit)
        _refuse_links_out(source, project_path, target.env, shown)
        publication = prepare(
            source.folder / project_path, options, target, repo_url=shown, ref=commit, templates=templates
        )
        published = land(publication, target, settings=settings, retry=retry, workspace=deploy)
        return Refreshed(publication.source, publication.folder, published)


def _recorded_in(deploy: Workspace, target: Target, expected: HydratorMetadata) -> str | None:
    """The folder of the synced deployment tree whose metadata is ``expected``, or None.

    Without ``--path`` the folder's name (the pipeline's) is known only from the source, so
    the folders ``envs/<env>/*`` rendered from this source repository are looked at: exactly
    one must be. A source repository with several pipelines needs ``--path`` for the fast check.
    """
    if deploy.tip is None:
        return None
    if target.path is not None:
        folders = [repository_folder(target.path, "--path")]
    else:
        folders = sorted(
            f"{target.env_folder}/{p.parent.name}" for p in (deploy.folder / target.env_folder).glob(f"*/{MARKER}")
        )
    recorded = {folder: HydratorMetadata.read(deploy.file(f"{folder}/{MARKER}")) for folder in folders}
    if target.path is None:
        recorded = {
            f: m for f, m in recorded.items() if m is not None and m.source.repo_url == expected.source.repo_url
        }
    if len(recorded) != 1:
        return None
    [(folder, metadata)] = recorded.items()
    return folder if metadata == expected else None


def _refuse_links_out(source: Workspace, project_path: str, env: str | None, shown: str) -> None:
    """BodyworkError when the project folder or a file read as its configuration is a symbolic link out of the checkout.

    The source repository is not trusted: a bodywork.yaml linked to a file of the machine (a mounted SSH key, a
    token) would be read, and error messages quote what they read.
    """
    from bodywork_render.spec.project import CONFIG_NAMES

    names = [*CONFIG_NAMES, *([f"bodywork.{env}.yaml"] if env else [])]
    for relative in (project_path, *(f"{project_path}/{name}" for name in names)):
        if source.inside(relative) is None:
            raise BodyworkError(
                f"{shown}: {relative} is a symbolic link that leads out of the repository; refusing to read it"
            )


def _project_path(path: str) -> str:
    """The project's folder inside the source repository ('.' allowed); BodyworkError when it would leave it."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts:
        raise BodyworkError(
            f"--project-path {path!r}: expected a folder inside the source repository (relative, without '..')"
        )
    return pure.as_posix()
