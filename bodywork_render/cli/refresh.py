"""`bodywork refresh`: what the refresher CronJob runs; publish the source branch's tip unless it is recorded already.

Its flags are publish's, less the project's path and source pin (the source repository
gives them), plus the source repository's below. Exit codes as publish's.
"""

from __future__ import annotations

import sys
from typing import Annotated, NamedTuple

from bodywork_render.cli.params import Command, Values, take
from bodywork_render.cli.publish import TargetArgs, gave_up, report
from bodywork_render.flags import Flag
from bodywork_render.render.options import ProjectInput, RenderOptions


class UpstreamArgs(NamedTuple):
    """The project's repository, followed at a branch's tip."""

    source: Annotated[str, Flag("--source", "Git URL of the project repository (holding bodywork.yaml).")]
    source_branch: Annotated[
        str | None, Flag("--source-branch", "Branch to follow (default: the repository's default branch).")
    ] = None
    project_path: Annotated[str, Flag("--project-path", "Folder of the project inside the source repository.")] = "."


def refresh(values: Values) -> int:
    """Publish the source branch's tip unless the deployment repository records it already (then exit at once, without cloning)."""  # noqa: E501 - typer shows it as is
    from bodywork_render.gitops.git import GitError
    from bodywork_render.gitops.refresh import Upstream
    from bodywork_render.gitops.refresh import refresh as run_refresh

    upstream: UpstreamArgs = take(UpstreamArgs, values)
    args: TargetArgs = take(TargetArgs, values)
    target = args.target(values["env"])
    try:
        refreshed = run_refresh(
            Upstream(upstream.source, upstream.source_branch, upstream.project_path),
            target,
            RenderOptions.from_flags(values),
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
        sys.stderr.write(
            f"up to date: {where} records {refreshed.source.repo_url} at {refreshed.source.short_commit};"
            " source not fetched\n"
        )
    return 0


COMMAND = Command(
    "refresh",
    refresh,
    (UpstreamArgs, ProjectInput, TargetArgs, RenderOptions),
    exclude=frozenset({"path", "repo_url", "ref", "deploy_path"}),
)
