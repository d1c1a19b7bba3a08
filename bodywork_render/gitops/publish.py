"""Publish: commit a checked render into one folder of a deployment repository and push it.

The deployment branch is fetched shallow (depth 1) into a temporary work tree (git.py's
``Workspace``) that is removed when the call ends. Only the target folder is written (by
``write.write_tree``: stale files of its own vanish, a folder this tool did not write is
refused, everything else in the repository stays as it is). An unchanged render makes no
commit. A push rejected because another writer was first leads to fetch, reset to the
remote tip, a new choice of what to publish on it (a ``Landing``: a scheduled run the folder
holds is carried forward, see gitops/runs.py), re-write, re-commit and another push after an
exponential pause with full jitter, a bounded number of times; then ``GitError``. Every text
this module returns or raises shows URLs redacted and secrets masked. Nothing here prints.
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal, Protocol

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.git import GitError, PushRejected, Workspace, is_branch_name
from bodywork_render.gitops.redact import redact_url
from bodywork_render.gitops.source import Source
from bodywork_render.render.metadata import HydratorMetadata
from bodywork_render.render.options import ARGO_WORKFLOWS, FLUX_PATH_FORMATS, RenderOptions
from bodywork_render.render.write import MARKER, write_tree
from bodywork_render.spec.model import Schedule

if TYPE_CHECKING:
    from bodywork_render.render.manifests import Prepared

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
class ScheduledRun:
    """The scheduled run a commit starts: its run id (the scheduled time in UTC) and the schedule it is a time of."""

    run: str
    schedule: Schedule

    def trailers(self) -> str:
        """The git trailers naming the run: ``Bodywork-Run`` and ``Bodywork-Schedule`` (cron and time zone)."""
        return f"Bodywork-Run: {self.run}\nBodywork-Schedule: {self.schedule.cron.strip()} {self.schedule.time_zone}"


@dataclass(frozen=True)
class Publication:
    """A checked render ready to land: the pipeline, its folder in the repository, the files, the source it
    records, warnings, and the scheduled run its commit starts (None: it starts none, or carries one forward)."""

    pipeline: str
    folder: str
    files: dict[str, str]
    source: Source
    warnings: tuple[str, ...]
    starts: ScheduledRun | None = None

    @property
    def run(self) -> str | None:
        """The scheduled run the render is (None: none)."""
        metadata = HydratorMetadata.read(self.files[MARKER])
        return metadata.scheduled_run if metadata is not None else None

    def commit_message(self, extra: str | None = None) -> str:
        """Subject naming the pipeline, short commit and the run it starts, ``extra`` as a paragraph, then the
        trailers: the run's, and Bodywork-Source."""
        what = f"Scheduled run {self.starts.run} of {self.pipeline}" if self.starts else f"Publish {self.pipeline}"
        parts = [f"{what} at {self.source.short_commit} to {self.folder}"]
        if extra and extra.strip():
            parts.append(extra.strip())
        source = (
            f"Bodywork-Source-Commit: {self.source.commit}\nBodywork-Source-Repo: {redact_url(self.source.repo_url)}"
        )
        parts.append(f"{self.starts.trailers()}\n{source}" if self.starts else source)
        return "\n\n".join(parts) + "\n"


class Landing(Protocol):
    """What ``land`` commits, chosen anew on each synced tip of the deployment branch (another writer may have
    landed a run or a commit in between)."""

    def choose(self, workspace: Workspace) -> Publication:
        """The publication to commit on the tip the workspace holds."""
        ...


@dataclass(frozen=True)
class Draft:
    """A project prepared for its folder in the deployment repository: rendered once per scheduled run, on demand.

    ``run`` is the run asked for (``--scheduled-run``); without one, a draft landed carries forward the run that the
    folder holds, so that a code commit re-runs only the batch stages it changes.
    """

    prepared: Prepared
    folder: str
    templates: Path | None
    run: str | None = None
    _renders: dict[str | None, Publication] = field(default_factory=dict, compare=False, repr=False)

    @property
    def source(self) -> Source:
        """The source commit the draft renders."""
        return self.prepared.source

    @property
    def schedule(self) -> Schedule | None:
        """The schedule that the refresher runs (Route 1), or None: none, or a CronJob runs it."""
        from bodywork_render.render.scheduled_run import route_1_schedule

        return route_1_schedule(self.prepared.project.pipeline, self.prepared.options.format)

    @property
    def carries_run(self) -> bool:
        """Whether a render of the draft carries forward the run the folder holds: with a schedule the refresher
        runs, or with none (a schedule removed keeps the run in the batch stages' identity, so nothing re-runs)."""
        return self.schedule is not None or self.prepared.project.pipeline.schedule is None

    def publication(self, run: str | None = None, starts: bool = False) -> Publication:
        """The render of scheduled run ``run`` (None: no run); ``starts``: its commit starts that run and names it."""
        if run not in self._renders:
            from bodywork_render.render.manifests import render_prepared

            prepared = self.prepared._replace(options=self.prepared.options._replace(scheduled_run=run))
            rendered = render_prepared(prepared, self.templates)
            metadata = HydratorMetadata.read(rendered.files[MARKER])
            assert metadata is not None  # this tool's render always records it
            pipeline = self.prepared.project.pipeline.name
            self._renders[run] = Publication(pipeline, self.folder, rendered.files, metadata.source, rendered.warnings)
        schedule = self.schedule
        if not starts or run is None or schedule is None:
            return self._renders[run]
        return dataclasses.replace(self._renders[run], starts=ScheduledRun(run, schedule))

    def choose(self, workspace: Workspace) -> Publication:
        """The run asked for, or the one the folder holds carried forward; its commit names a run it starts."""
        held = held_run(workspace, self.folder) if self.carries_run else None
        run = self.run or held
        return self.publication(run, starts=run is not None and run != held)


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
) -> Draft:
    """The project at ``path`` (loaded once) prepared for its folder in ``target`` and rendered with ``options``;
    BodyworkError, before any git work, when input or output is invalid.

    The overlay of ``target.env`` applies, and the kustomize layout's Flux paths point at that folder.
    """
    from bodywork_render.render.manifests import prepare as prepare_render
    from bodywork_render.render.scheduled_run import future_run_problem

    require_published_format(options)
    problem = future_run_problem(options.scheduled_run, datetime.now(timezone.utc))
    if problem:
        raise BodyworkError(problem)
    prepared = prepare_render(path, options, env=target.env, repo_url=repo_url, ref=ref)
    folder = target.folder(prepared.project.pipeline.name)
    if options.format in FLUX_PATH_FORMATS:
        prepared = prepared._replace(options=prepared.options._replace(deploy_path=f"./{folder}"))
    draft = Draft(prepared, folder, templates, options.scheduled_run)
    draft.publication(options.scheduled_run)  # every check of the render, before any git work
    return draft


def held_run(workspace: Workspace, folder: str) -> str | None:
    """The scheduled run whose render the folder of the synced workspace holds (None: none, or no render)."""
    metadata = HydratorMetadata.read(workspace.file(f"{folder}/{MARKER}"))
    return metadata.scheduled_run if metadata is not None else None


def land(
    landing: Landing,
    target: Target,
    *,
    settings: CommitSettings = CommitSettings(),
    retry: Retry = Retry(),
    workspace: Workspace | None = None,
) -> Published:
    """Commit what ``landing`` chooses on the tip into ``target`` unless it is there already, and push, retrying
    (choosing again) when another writer was first; GitError when git failed or it gave up. A ``workspace`` given
    must be one of ``target.url`` already synced with ``sync``.
    """
    if workspace is None:
        with Workspace(target.url) as own:
            sync(own, target)
            return land(landing, target, settings=settings, retry=retry, workspace=own)
    reason = ""
    for attempt in range(1, retry.attempts + 1):
        if attempt > 1:
            time.sleep(retry.pause(attempt - 1))
            sync(workspace, target)
        publication = landing.choose(workspace)
        message = workspace.redact(publication.commit_message(settings.message))
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
    if not is_branch_name(target.push_branch):
        raise BodyworkError(f"--branch {target.push_branch!r} is not a valid git branch name")
    workspace.sync(target.push_branch, fallback=target.branch if target.branch_suffix else None)
