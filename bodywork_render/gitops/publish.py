"""Publish: commit a checked render into one folder of a deployment repository and push it.

The deployment branch is fetched shallow (depth 1) into a temporary work tree (git.py's
``Workspace``) that is removed when the call ends. Only the target folder is written (by
``write.write_tree``: stale files of its own vanish, a folder this tool did not write is
refused, everything else in the repository stays as it is). An unchanged render makes no
commit. A push rejected because another writer was first leads to fetch, reset to the
remote tip, re-write, re-commit and another push after an exponential pause with full
jitter, a bounded number of times; then ``GitError``. Every text this module returns or
raises shows URLs redacted and secrets masked. Nothing here prints.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.git import GitError, PushRejected, Workspace
from bodywork_render.gitops.redact import redact_url
from bodywork_render.gitops.source import Source
from bodywork_render.render.metadata import HydratorMetadata
from bodywork_render.render.options import ARGO_WORKFLOWS, FLUX_PATH_FORMATS, RenderOptions
from bodywork_render.render.write import MARKER, write_tree

DEFAULT_ENV = "default"
PUBLISHED_FORMATS = ("manifests", "kustomize", ARGO_WORKFLOWS)


@dataclass(frozen=True)
class Target:
    """Where a render goes: the deployment repository URL (it may carry credentials; it is shown redacted),
    the branch, the folder (None: ``envs/<env>/<pipeline>``), the environment (None: no overlay, folders of
    ``default``) and an optional branch suffix."""

    url: str
    branch: str = "main"
    path: str | None = None
    env: str | None = None
    branch_suffix: str = ""

    @property
    def env_folder(self) -> str:
        """The folder of this environment's renders: ``envs/<env>``."""
        return f"envs/{self.env or DEFAULT_ENV}"

    @property
    def push_branch(self) -> str:
        """The branch that receives the commits: ``branch`` plus ``branch_suffix``."""
        return self.branch + self.branch_suffix

    def folder(self, pipeline: str) -> str:
        """The folder of the pipeline's render inside the repository; BodyworkError when it would leave it."""
        if self.path is not None:
            return repository_folder(self.path, "--path")
        if self.env is not None and (not self.env or "/" in self.env):
            raise BodyworkError(f"--env {self.env!r}: expected a name without '/'")
        return repository_folder(f"{self.env_folder}/{pipeline}", "--env")


@dataclass(frozen=True)
class CommitSettings:
    """What a publish commit says besides the render: an extra paragraph, and the author and committer
    (None: git's own)."""

    message: str | None = None
    author_name: str | None = None
    author_email: str | None = None


@dataclass(frozen=True)
class Retry:
    """How often a rejected push is tried: ``attempts`` in all, pausing a random time up to an exponential ceiling."""

    attempts: int = 8
    base_seconds: float = 0.25
    cap_seconds: float = 8.0

    def pause(self, failed: int) -> float:
        """Seconds to wait after the ``failed``-th rejected attempt (full jitter: uniform below the ceiling)."""
        return random.uniform(0.0, min(self.cap_seconds, self.base_seconds * 2 ** (failed - 1)))


@dataclass(frozen=True)
class Publication:
    """A checked render ready to land: the pipeline, its folder in the repository, the files, the source it
    records, warnings."""

    pipeline: str
    folder: str
    files: dict[str, str]
    source: Source
    warnings: tuple[str, ...]

    def commit_message(self, extra: str | None = None) -> str:
        """Subject naming the pipeline and short commit, ``extra`` as a paragraph, then the Bodywork-Source trailers."""
        parts = [f"Publish {self.pipeline} at {self.source.short_commit} to {self.folder}"]
        if extra and extra.strip():
            parts.append(extra.strip())
        parts.append(
            f"Bodywork-Source-Commit: {self.source.commit}\nBodywork-Source-Repo: {redact_url(self.source.repo_url)}"
        )
        return "\n\n".join(parts) + "\n"


@dataclass(frozen=True)
class Published:
    """What a publish did: ``pushed`` a new commit, or found the branch ``up to date``; ``commit`` holds the render."""

    status: Literal["pushed", "up to date"]
    url: str
    branch: str
    commit: str
    attempts: int
    publication: Publication


def repository_folder(path: str, flag: str) -> str:
    """``path`` as a normalised folder in a repository ('a/b'); BodyworkError for '', '.', absolute, '..', '.git'."""
    parts = PurePosixPath(path).parts
    if not parts or PurePosixPath(path).is_absolute() or ".." in parts or any(p.lower() == ".git" for p in parts):
        raise BodyworkError(
            f"{flag} {path!r}: expected a folder inside the repository (relative, not '.', without '..' or '.git')"
        )
    return "/".join(parts)


def require_published_format(options: RenderOptions) -> None:
    """BodyworkError unless the options render a format that publish and refresh write (a folder of plain files)."""
    if options.format not in PUBLISHED_FORMATS:
        raise BodyworkError(f"--format {options.format}: publish and refresh write {', '.join(PUBLISHED_FORMATS)}")


def prepare(
    path: Path,
    options: RenderOptions,
    target: Target,
    *,
    repo_url: str | None = None,
    ref: str | None = None,
    templates: Path | None = None,
) -> Publication:
    """Render the project at ``path`` (loaded once) for its folder in ``target``; BodyworkError, before any git
    work, when input or output is invalid.

    The overlay of ``target.env`` applies, and the kustomize layout's Flux paths point at that folder.
    """
    from bodywork_render.render.manifests import prepare as prepare_render
    from bodywork_render.render.manifests import render_prepared

    require_published_format(options)
    prepared = prepare_render(path, options, env=target.env, repo_url=repo_url, ref=ref)
    folder = target.folder(prepared.project.pipeline.name)
    if options.format in FLUX_PATH_FORMATS:
        prepared = prepared._replace(options=prepared.options._replace(deploy_path=f"./{folder}"))
    rendered = render_prepared(prepared, templates)
    metadata = HydratorMetadata.read(rendered.files[MARKER])
    assert metadata is not None  # this tool's render always records it
    return Publication(prepared.project.pipeline.name, folder, rendered.files, metadata.source, rendered.warnings)


def land(
    publication: Publication,
    target: Target,
    *,
    settings: CommitSettings = CommitSettings(),
    retry: Retry = Retry(),
    workspace: Workspace | None = None,
) -> Published:
    """Commit the publication into ``target`` unless it is there already, and push, retrying when another writer
    was first; GitError when git failed or it gave up. A ``workspace`` given must be one of ``target.url`` already
    synced with ``sync``.
    """
    if workspace is None:
        with Workspace(target.url) as own:
            sync(own, target)
            return land(publication, target, settings=settings, retry=retry, workspace=own)
    message = workspace.redact(publication.commit_message(settings.message))
    reason = ""
    for attempt in range(1, retry.attempts + 1):
        if attempt > 1:
            time.sleep(retry.pause(attempt - 1))
            sync(workspace, target)
        folder = workspace.inside(publication.folder)
        if folder is None:
            raise BodyworkError(
                f"--path {publication.folder!r} leads outside the deployment repository (through a symbolic link)"
            )
        shown = f"{workspace.shown_url} branch {target.push_branch}, folder {publication.folder}"
        write_tree(folder, publication.files, shown=shown, flag="--path")
        if not workspace.stage(publication.folder):
            assert workspace.start is not None  # an empty tree always differs from a render
            return Published(
                "up to date", workspace.shown_url, target.push_branch, workspace.start, attempt, publication
            )
        commit = workspace.commit(message, settings.author_name, settings.author_email)
        try:
            # "up to date": an identical commit (same tree, parent, message, second) landed already.
            status = workspace.push(target.push_branch)
        except PushRejected as exc:
            reason = str(exc)
            continue
        return Published(status, workspace.shown_url, target.push_branch, commit, attempt, publication)
    raise GitError(
        f"gave up publishing to {workspace.shown_url} branch {target.push_branch} after {retry.attempts} attempts:"
        f" another writer was first each time (last: {reason})"
    )


def sync(workspace: Workspace, target: Target) -> None:
    """Reset the workspace to the tip of ``target``'s push branch; a new branch with a suffix starts from
    ``target.branch``, else from an empty tree. BodyworkError for an invalid branch name."""
    if not workspace.valid_branch(target.push_branch):
        raise BodyworkError(f"--branch {target.push_branch!r} is not a valid git branch name")
    workspace.sync(target.push_branch, fallback=target.branch if target.branch_suffix else None)
