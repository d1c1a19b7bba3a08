"""`bodywork refresh`: what the refresher CronJob runs; publish the scheduled run that is due or the source branch's
tip unless it is recorded already.

Its flags are publish's, less the project's path and source pin (the source repository
gives them) and --scheduled-run (the schedule and --at give it), plus the source
repository's and --at below. Exit codes as publish's.
"""

from __future__ import annotations

import sys
from typing import Annotated, NamedTuple

from bodywork_render.cli.params import Command, Values, take
from bodywork_render.cli.publish import NARROW, TargetArgs, gave_up, report
from bodywork_render.flags import Flag
from bodywork_render.render.options import ProjectInput, RenderOptions


class UpstreamArgs(NamedTuple):
    """The project's repository, followed at a branch's tip."""

    source: Annotated[str, Flag("--source", "Git URL of the project repository (holding bodywork.yaml).")]
    source_branch: Annotated[
        str | None, Flag("--source-branch", "Branch to follow (default: the repository's default branch).")
    ] = None
    project_path: Annotated[str, Flag("--project-path", "Folder of the project inside the source repository.")] = "."


class WhenArgs(NamedTuple):
    """The time a refresh stands at: which scheduled run is due."""

    at: Annotated[
        str | None,
        Flag(
            "--at",
            "Publish the scheduled run due at this time (ISO 8601 with its offset, e.g. 2026-12-04T20:03:00Z) instead"
            " of now's: to backfill a missed run.",
        ),
    ] = None


def refresh(values: Values) -> int:
    """Publish the source branch's tip unless the deployment repository records it already (then exit at once, without cloning)."""  # noqa: E501 - typer shows it as is
    from bodywork_render.gitops.git import GitError
    from bodywork_render.gitops.refresh import Upstream
    from bodywork_render.gitops.refresh import refresh as run_refresh
    from bodywork_render.gitops.runs import parse_time

    upstream: UpstreamArgs = take(UpstreamArgs, values)
    args: TargetArgs = take(TargetArgs, values)
    when: WhenArgs = take(WhenArgs, values)
    target = args.target(values["env"])
    try:
        refreshed = run_refresh(
            Upstream(upstream.source, upstream.source_branch, upstream.project_path),
            target,
            RenderOptions.from_flags(values),
            at=parse_time(when.at, "--at") if when.at is not None else None,
            templates=values["templates"],
            settings=args.settings(),
            retry=args.retry(),
        )
    except GitError as exc:
        return gave_up(exc)
    if refreshed.published is not None:
        report(refreshed.published)
    else:
        where = f"{refreshed.folder} on {target.push_branch}"
        run = f", scheduled run {refreshed.run}" if refreshed.run else ""
        sys.stderr.write(
            f"up to date: {where} records {refreshed.source.repo_url} at {refreshed.source.short_commit}{run};"
            " source not fetched\n"
        )
    return 0


COMMAND = Command(
    "refresh",
    refresh,
    (UpstreamArgs, WhenArgs, ProjectInput, TargetArgs, RenderOptions),
    exclude=frozenset({"path", "repo_url", "ref", "deploy_path", "scheduled_run"}),
    narrow=NARROW,
)
