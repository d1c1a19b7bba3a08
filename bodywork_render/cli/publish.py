"""`bodywork publish`: render as `render` does and commit the result to a deployment repository, then push.

Its flags are render's (RenderOptions and ProjectInput, less --deploy-path: the folder
in the deployment repository decides it; --format offers the formats that are a folder of plain files)
and the target's below, which `refresh` shares.
Exit codes: 0 pushed or up to date, 1 invalid input (BodyworkError, reported by main.py),
3 gave up (git failed, or every push was rejected).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, NamedTuple

from bodywork_render.cli.params import Command, Values, take
from bodywork_render.flags import Flag
from bodywork_render.gitops.publish import PUBLISHED_FORMATS
from bodywork_render.render.options import ProjectInput, RenderOptions

if TYPE_CHECKING:
    from bodywork_render.gitops.publish import CommitSettings, Published, Retry, Target

EXIT_GAVE_UP = 3


class TargetArgs(NamedTuple):
    """Where `publish` and `refresh` commit, as whom, and how often they try."""

    to: Annotated[
        str,
        Flag(
            "--to",
            "Git URL of the deployment repository; credentials from BODYWORK_GIT_TOKEN or BODYWORK_GIT_SSH_KEY_FILE,"
            " never shown.",
        ),
    ]
    branch: Annotated[str, Flag("--branch", "Branch of the deployment repository.")] = "main"
    folder: Annotated[
        str | None,
        Flag(
            "--path",
            "Folder in the deployment repository (default: envs/<env>/<pipeline>); nothing else is written.",
        ),
    ] = None
    branch_suffix: Annotated[
        str,
        Flag(
            "--branch-suffix",
            "Push to <branch><suffix> (e.g. -next, for promotion by pull request); a new one starts from <branch>.",
        ),
    ] = ""
    message: Annotated[str | None, Flag("--message", "A paragraph added to the commit message.")] = None
    author_name: Annotated[str | None, Flag("--author-name", "Author and committer name (default: git's).")] = None
    author_email: Annotated[str | None, Flag("--author-email", "Author and committer e-mail (default: git's).")] = None
    max_attempts: Annotated[
        int,
        Flag("--max-attempts", "Pushes tried before giving up (exit 3) when other writers keep winning.", min=1),
    ] = 8

    def target(self, env: str | None) -> Target:
        """The deployment repository, branch and folder."""
        from bodywork_render.gitops.publish import Target

        return Target(url=self.to, branch=self.branch, path=self.folder, env=env, branch_suffix=self.branch_suffix)

    def settings(self) -> CommitSettings:
        """Message paragraph and identity of the commit."""
        from bodywork_render.gitops.publish import CommitSettings

        return CommitSettings(self.message, self.author_name, self.author_email)

    def retry(self) -> Retry:
        """How many pushes to try."""
        from bodywork_render.gitops.publish import Retry

        return Retry(attempts=self.max_attempts)


def publish(values: Values) -> int:
    """Render the pipeline and commit it to a folder of a deployment repository, then push (retrying when others push first)."""  # noqa: E501 - typer shows it as is
    from bodywork_render.gitops.git import GitError
    from bodywork_render.gitops.publish import land, prepare

    project: ProjectInput = take(ProjectInput, values)
    args: TargetArgs = take(TargetArgs, values)
    target = args.target(project.env)
    draft = prepare(
        project.path,
        RenderOptions.from_flags(values),
        target,
        repo_url=project.repo_url,
        ref=project.ref,
        templates=project.templates,
    )
    try:
        published = land(draft, target, settings=args.settings(), retry=args.retry())
    except GitError as exc:
        return gave_up(exc)
    report(published)
    return 0


def gave_up(exc: Exception) -> int:
    """Say why git gave up; the exit code."""
    sys.stderr.write(f"bodywork: {exc}\n")
    return EXIT_GAVE_UP


def report(published: Published) -> None:
    """Print the warnings of the render and what landed where."""
    publication = published.publication
    for warning in publication.warnings:
        sys.stderr.write(warning + "\n")
    what = f"{publication.pipeline} at {publication.source.short_commit}"
    what += f", scheduled run {publication.run}" if publication.run else ""
    where = f"{published.url} {published.branch}:{publication.folder}"
    if published.status == "pushed":
        started = " (starts it)" if publication.starts else ""
        sys.stderr.write(
            f"pushed {what}{started} to {where} as {published.commit[:7]} (attempt {published.attempts})\n"
        )
    else:
        sys.stderr.write(f"up to date: {where} holds {what} ({published.commit[:7]}); no commit\n")


NARROW = {"format": PUBLISHED_FORMATS}
"""What publish and refresh offer of render's choices: a deployment folder holds plain files (no chart)."""

COMMAND = Command(
    "publish", publish, (ProjectInput, TargetArgs, RenderOptions), exclude=frozenset({"deploy_path"}), narrow=NARROW
)
