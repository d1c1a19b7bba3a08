"""Refresh: what the in-cluster CronJob runs; publish the source branch's tip, or the scheduled run that is due,
unless the deployment repository records it.

The check costs one ``git ls-remote`` of the source and one shallow fetch of the
deployment branch: when the render's ``hydrator.metadata`` there records the source tip
(and this tool version, format, engine and Kubernetes version) and no scheduled run is
due (the schedule and the last run are recorded there too), nothing else happens and
the source is never cloned. Otherwise the source is fetched with its history, rendered
with ``--repo-url`` the source URL (redacted) and ``--ref`` a commit, and landed exactly
as ``publish`` does, in the deployment work tree already fetched:

- the tip is rendered as one commit: with the scheduled run that the tip's schedule makes due
  (Route 1: the newest scheduled time at or before now that may still start, newer than the
  run the folder holds), its trailers naming the run, or else with the run the folder holds
  carried forward (also when the tip has no schedule any more: nothing re-runs). A suspended
  or changed schedule at the tip decides; the first render of a schedule counts as the run due
  then, if any;
- only when the tip does not render, a run due by the recorded schedule is rendered at the
  commit the folder holds, with a warning.

A push that loses a race chooses again on the new tip: a run that landed meanwhile is not
published twice, and a run that did not is rendered on top of what did. Other render flags
(namespace, runner image, ...) are not recorded in the metadata: a change of them takes
effect with the next source commit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Literal

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.git import Workspace, has_commit
from bodywork_render.gitops.publish import (
    CommitSettings,
    Draft,
    Publication,
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
from bodywork_render.gitops.runs import due_run, next_run
from bodywork_render.gitops.source import FULL_SHA, Source
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
    """What a refresh did: the source commit it saw, the folder that records it (None when not known), the scheduled
    run the folder holds and, when it rendered, the publish result (None: the tip and the run due were recorded
    already and the source was not fetched)."""

    source: Source
    folder: str | None
    published: Published | None
    run: str | None = None

    @property
    def status(self) -> Literal["pushed", "up to date"]:
        """``pushed`` when a commit landed, else ``up to date``."""
        return self.published.status if self.published else "up to date"


def refresh(
    upstream: Upstream,
    target: Target,
    options: RenderOptions,
    *,
    at: datetime | None = None,
    templates: Path | None = None,
    settings: CommitSettings = CommitSettings(),
    retry: Retry = Retry(),
) -> Refreshed:
    """Publish the scheduled run due ``at`` (default: now) or the tip of ``upstream`` into ``target``, unless the
    deployment repository records them already (see the module's docstring).

    BodyworkError for invalid input (a source URL the pods cannot fetch, no such source branch, an invalid
    project), GitError when git failed or it gave up.
    """
    require_published_format(options)
    check_repo_url(upstream.url, "--source", options)  # the pods fetch it too: refused before any git work
    shown = redact_url(upstream.url)
    project_path = _project_path(upstream.project_path)
    moment = at or datetime.now(timezone.utc)
    with Workspace(upstream.url) as source, Workspace(target.url) as deploy:
        tip = source.remote_tip(upstream.ref)
        if tip is None:
            raise BodyworkError(f"{shown} has no {'branch ' + upstream.branch if upstream.branch else 'HEAD'}")
        sync(deploy, target)
        recorded = Source(shown, tip, "" if project_path == "." else project_path)
        held = _held(deploy, target, shown)
        expected = HydratorMetadata.of_manifests(recorded, options, target.env).settings()
        if held is not None and held.metadata.source.commit == tip and held.metadata.settings() == expected:
            if held.due(moment) is None:
                return Refreshed(recorded, held.folder, None, held.metadata.scheduled_run)
        chooser = _Chooser(source, upstream, target, options, templates, moment, project_path)
        published = land(chooser, target, settings=settings, retry=retry, workspace=deploy)
        publication = published.publication
        return Refreshed(publication.source, publication.folder, published, publication.run)


@dataclass(frozen=True)
class _Held:
    """A folder of the deployment tree and the metadata of the render it holds."""

    folder: str
    metadata: HydratorMetadata

    def due(self, at: datetime) -> str | None:
        """The run of the recorded schedule due ``at`` when it replaces the run the folder holds (``next_run``), else
        None."""
        held = self.metadata.scheduled_run
        run = next_run(held, due_run(self.metadata.schedule, at), at)
        return run if run != held else None


@dataclass
class _Chooser:
    """What a refresh lands on each synced tip of the deployment branch (publish.py ``Landing``): the source's tip,
    with the run its schedule makes due or the folder's run carried forward; the run due at the commit the folder
    holds only when the tip does not render. The source is fetched once, and each commit prepared once."""

    source: Workspace
    upstream: Upstream
    target: Target
    options: RenderOptions
    templates: Path | None
    moment: datetime
    project_path: str
    _tip: str | None = None
    _drafts: dict[str, Draft] = field(default_factory=dict)

    def choose(self, deploy: Workspace) -> Publication:
        """The tip, as one commit that starts the run due by the tip's schedule (a suspended or changed schedule
        there wins) or carries the folder's run forward; the run due at the commit the folder holds, with a
        warning, when the tip does not render."""
        held = _held(deploy, self.target, self.shown)
        held_run = held.metadata.scheduled_run if held is not None else None
        try:
            draft = self._draft_of_tip()
        except BodyworkError as exc:
            run = held.due(self.moment) if held is not None else None
            if held is None or run is None:
                raise
            fallback, _ = self._draft(held.metadata.source.commit)
            if fallback is None:
                raise
            # A commit that does not render stops no scheduled run of the commit deployed.
            publication = fallback.publication(run, starts=True)
            warning = (
                f"warning: scheduled run {run} is published at {held.metadata.source.short_commit}, which the"
                f" deployment repository holds, not at the source's tip: {exc}"
            )
            return dataclasses.replace(publication, warnings=(*publication.warnings, warning))
        # A schedule rendered for the first time counts the run due now as started by this commit.
        run = next_run(held_run if draft.carries_run else None, due_run(draft.schedule, self.moment), self.moment)
        return draft.publication(run, starts=run is not None and run != held_run)

    @property
    def shown(self) -> str:
        """The source's URL as renders record it."""
        return redact_url(self.upstream.url)

    def _fetch(self) -> str:
        """The source's tip, fetched with its history once: each stage is pinned to the newest commit that changed
        its inputs (gitops/pins.py)."""
        if self._tip is None:
            self._tip = self.source.fetch(self.upstream.ref, history=True)
            if self._tip is None:
                raise BodyworkError(f"{self.shown} has no {self.upstream.ref} any more")
        return self._tip

    def _draft_of_tip(self) -> Draft:
        draft, why = self._draft(self._fetch())
        if draft is None:
            raise BodyworkError(why)
        return draft

    def _draft(self, commit: str) -> tuple[Draft | None, str]:
        """The project prepared at ``commit`` of the source's branch, or None and why it cannot be (not on the
        branch any more, or no valid project there); BodyworkError when the tip does not render."""
        if commit not in self._drafts:
            if not FULL_SHA.match(commit):
                return None, f"{commit!r} is not a commit"
            self._fetch()
            if not has_commit(self.source.folder, commit):
                # Another writer may have published a commit pushed to the source after this fetch: fetch again.
                self._tip = None
                self._fetch()
            if not has_commit(self.source.folder, commit):
                return None, f"{self.shown} {self.upstream.ref} does not hold {commit} any more"
            self.source.checkout(commit)
            _refuse_links_out(self.source, self.project_path, self.target.env, self.shown)
            try:
                self._drafts[commit] = prepare(
                    self.source.folder / self.project_path,
                    self.options,
                    self.target,
                    repo_url=self.shown,
                    ref=commit,
                    templates=self.templates,
                )
            except BodyworkError as exc:
                if commit == self._tip:
                    raise
                return None, f"it does not render any more ({exc})"
        return self._drafts[commit], ""


def _held(deploy: Workspace, target: Target, repo_url: str) -> _Held | None:
    """The folder of the synced deployment tree that holds a render of the source ``repo_url``, or None.

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
    found = [_Held(f, m) for f, m in recorded.items() if m is not None and m.source.repo_url == repo_url]
    return found[0] if len(found) == 1 else None


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
