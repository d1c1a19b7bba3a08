"""The `publish` and `refresh` commands, which share `render`'s flags and their mapping to RenderOptions.

Both commands take `render`'s own flag declarations, read from its signature, so each
render flag is declared once and means the same everywhere. They print what happened
to stderr and exit 0 (pushed, or up to date), 1 (invalid input: raised as BodyworkError
for the entry point to report), 3 (gave up: git failed, or every push was rejected).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Optional

import typer

if TYPE_CHECKING:
    from bodywork_render.gitops.publish import CommitSettings, Published, Retry, Target
    from bodywork_render.render.plan import RenderOptions

EXIT_GAVE_UP = 3

# render's flags that make RenderOptions, in render_options' order; publish also takes the source flags.
OPTION_FLAGS = (
    "output_format",
    "engine",
    "namespace",
    "runner_image",
    "k8s_version",
    "create_namespace",
    "ingress_class",
    "ingress_host",
    "git_secret",
    "flux_source",
)
SOURCE_FLAGS = ("repo_url", "ref")

_TARGET_FLAGS: list[tuple[str, Any, Any]] = [
    (
        "to",
        str,
        typer.Option(
            ...,
            "--to",
            help="Git URL of the deployment repository; credentials from BODYWORK_GIT_TOKEN or BODYWORK_GIT_SSH_KEY_FILE, never shown.",
        ),
    ),
    ("branch", str, typer.Option("main", "--branch", help="Branch of the deployment repository.")),
    (
        "folder",
        Optional[str],
        typer.Option(
            None,
            "--path",
            help="Folder in the deployment repository (default: envs/<env>/<pipeline>); nothing else is written.",
        ),
    ),
    (
        "env",
        Optional[str],
        typer.Option(
            None,
            "--env",
            help="Environment: applies bodywork.<env>.yaml and publishes to envs/<env>/<pipeline> (default: no overlay, envs/default/<pipeline>).",
        ),
    ),
    (
        "branch_suffix",
        str,
        typer.Option(
            "",
            "--branch-suffix",
            help="Push to <branch><suffix> (e.g. -next, for promotion by pull request); a new one starts from <branch>.",
        ),
    ),
    ("message", Optional[str], typer.Option(None, "--message", help="A paragraph added to the commit message.")),
    (
        "author_name",
        Optional[str],
        typer.Option(None, "--author-name", help="Author and committer name (default: git's)."),
    ),
    (
        "author_email",
        Optional[str],
        typer.Option(None, "--author-email", help="Author and committer e-mail (default: git's)."),
    ),
    (
        "max_attempts",
        int,
        typer.Option(
            8, "--max-attempts", min=1, help="Pushes tried before giving up (exit 3) when other writers keep winning."
        ),
    ),
]


class Flags:
    """The values of the flags a command shares with `render` and with the other publishing command."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def options(self) -> RenderOptions:
        """The RenderOptions of the render flags."""
        from bodywork_render.cli.render import render_options

        values = {name: self.values[name] for name in OPTION_FLAGS}
        values["output_format"] = values["output_format"].value
        values["engine"] = values["engine"] and values["engine"].value
        return render_options(**values)

    def target(self) -> Target:
        """The deployment repository, branch and folder."""
        from bodywork_render.gitops.publish import Target

        v = self.values
        return Target(url=v["to"], branch=v["branch"], path=v["folder"], env=v["env"], branch_suffix=v["branch_suffix"])

    def settings(self) -> CommitSettings:
        """Message paragraph and identity of the commit."""
        from bodywork_render.gitops.publish import CommitSettings

        return CommitSettings(self.values["message"], self.values["author_name"], self.values["author_email"])

    def retry(self) -> Retry:
        """How many pushes to try."""
        from bodywork_render.gitops.publish import Retry

        return Retry(attempts=self.values["max_attempts"])


def publish(
    path: Path = typer.Argument(Path("."), help="Project folder (holding bodywork.yaml) or the file itself."),
    *,
    flags: Flags,
) -> None:
    """Render the pipeline and commit it to a folder of a deployment repository, then push (retrying when others push first)."""
    from bodywork_render.gitops.git import GitError
    from bodywork_render.gitops.publish import land, prepare

    target = flags.target()
    publication = prepare(
        path,
        flags.options(),
        target,
        repo_url=flags.values["repo_url"],
        ref=flags.values["ref"],
        templates=flags.values["templates"],
    )
    try:
        published = land(publication, target, settings=flags.settings(), retry=flags.retry())
    except GitError as exc:
        _gave_up(exc)
    _report(published)


def refresh(
    source: str = typer.Option(..., "--source", help="Git URL of the project repository (holding bodywork.yaml)."),
    source_branch: str | None = typer.Option(
        None, "--source-branch", help="Branch to follow (default: the repository's default branch)."
    ),
    project_path: str = typer.Option(".", "--project-path", help="Folder of the project inside the source repository."),
    *,
    flags: Flags,
) -> None:
    """Publish the source branch's tip unless the deployment repository records it already (then exit at once, without cloning)."""
    from bodywork_render.gitops.git import GitError
    from bodywork_render.gitops.refresh import Upstream
    from bodywork_render.gitops.refresh import refresh as run_refresh

    try:
        refreshed = run_refresh(
            Upstream(source, source_branch, project_path),
            flags.target(),
            flags.options(),
            templates=flags.values["templates"],
            settings=flags.settings(),
            retry=flags.retry(),
        )
    except GitError as exc:
        _gave_up(exc)
    if refreshed.published is not None:
        _report(refreshed.published)
    else:
        where = f"{refreshed.folder} on {flags.target().push_branch}"
        sys.stderr.write(
            f"up to date: {where} records {refreshed.source.repo_url} at {refreshed.source.short_commit}; source not fetched\n"
        )


def _gave_up(exc: Exception) -> NoReturn:
    sys.stderr.write(f"bodywork: {exc}\n")
    raise typer.Exit(EXIT_GAVE_UP)


def _report(published: Published) -> None:
    publication = published.publication
    for warning in publication.warnings:
        sys.stderr.write(warning + "\n")
    what = f"{publication.pipeline} at {publication.source.short_commit}"
    where = f"{published.url} {published.branch}:{publication.folder}"
    if published.status == "pushed":
        sys.stderr.write(f"pushed {what} to {where} as {published.commit[:7]} (attempt {published.attempts})\n")
    else:
        sys.stderr.write(f"up to date: {where} holds {what} ({published.commit[:7]}); no commit\n")


def _with_flags(command: Callable[..., None], shared: list[inspect.Parameter]) -> Callable[..., None]:
    """``command`` as typer sees it: its own parameters, then ``shared``, whose values it receives as one ``flags``."""
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "flags"]
    parameters = own + shared
    names = {p.name for p in shared}

    def wrapper(**values: Any) -> None:
        command(**{k: v for k, v in values.items() if k not in names}, flags=Flags({k: values[k] for k in names}))

    wrapper.__name__ = command.__name__
    wrapper.__doc__ = command.__doc__
    wrapper.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper


def register(app: typer.Typer) -> None:
    """Add `publish` and `refresh` to the app; `render` must be registered already (its flags are shared)."""
    render = next(
        c.callback for c in app.registered_commands if c.callback is not None and c.callback.__name__ == "render"
    )
    render_flags = inspect.signature(render, eval_str=True).parameters
    target = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
        for name, kind, option in _TARGET_FLAGS
    ]

    def shared(names: tuple[str, ...]) -> list[inspect.Parameter]:
        return [render_flags[name].replace(kind=inspect.Parameter.KEYWORD_ONLY) for name in names] + target

    app.command("publish")(_with_flags(publish, shared((*SOURCE_FLAGS, *OPTION_FLAGS, "templates"))))
    app.command("refresh")(_with_flags(refresh, shared((*OPTION_FLAGS, "templates"))))
