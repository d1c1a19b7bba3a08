"""`bodywork render`: render the pipeline into --out, or compare with it (--check, --diff).

Its flags are those of RenderOptions and ProjectInput (render/options.py) and its own
below; pre-commit runs it with --check, so main.py answers it without importing typer.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NamedTuple

from bodywork_render.cli.params import Command, Values, take
from bodywork_render.diagnostics import BodyworkError
from bodywork_render.flags import Flag
from bodywork_render.render.options import DEFAULT_CHART_VERSION, ProjectInput, RenderOptions


class RenderArgs(NamedTuple):
    """Where `render` writes, or what it compares with."""

    out: Annotated[Path, Flag("--out", "Output folder; replaced atomically, stale files removed.")]
    check: Annotated[
        bool, Flag("--check", "Render in memory; exit 1 when --out is missing, or with a diff when it differs.")
    ] = False
    diff: Annotated[
        bool, Flag("--diff", "Print the diff against --out and write nothing; exit 1 when there is a difference.")
    ] = False
    chart_version: Annotated[str, Flag("--chart-version", "Version of the Helm chart (helm format).")] = (
        DEFAULT_CHART_VERSION
    )
    package: Annotated[
        Path | None,
        Flag(
            "--package",
            "Also write the chart archive <name>-<version>.tgz into this folder, as `helm package -d` would"
            " (helm format).",
        ),
    ] = None
    track: Annotated[
        str | None,
        Flag(
            "--track",
            "For a render committed beside the code (pre-commit): pin each stage by the content of its inputs as"
            " the index holds them; its pods check out the newest commit of this branch that holds it.",
        ),
    ] = None


def package_needs_helm(values: Values) -> tuple[str, str] | None:
    """The usage error of --package without --format helm."""
    return ("--package", "needs --format helm") if values["package"] and values["format"] != "helm" else None


def render(values: Values) -> int:
    """Render the pipeline into Kubernetes objects, validated against the Kubernetes schemas, in DAG order."""
    from bodywork_render.gitops.git import GitError

    try:
        return _render(values)
    except GitError as exc:  # git is missing, or failed on the project's checkout: a message for the user
        raise BodyworkError(str(exc)) from None


def _render(values: Values) -> int:
    from datetime import datetime, timezone

    from bodywork_render.render.scheduled_run import future_run_problem
    from bodywork_render.render.write import diff_trees, read_tree, refuse_foreign, writable_folder, write_tree

    args: RenderArgs = take(RenderArgs, values)
    project: ProjectInput = take(ProjectInput, values)
    options = RenderOptions.from_flags(values)
    problem = future_run_problem(options.scheduled_run, datetime.now(timezone.utc))
    if problem:
        raise BodyworkError(problem)
    guessed: tuple[str, ...] = ()
    if values["deploy_path"] is None:
        from bodywork_render.gitops.source import with_deploy_path

        options, guessed = with_deploy_path(options, args.out)
    if values["format"] == "helm":
        from bodywork_render.render.chart import render_chart

        if args.track is not None:
            raise BodyworkError("--track: a chart is installed from its package, not from the repository's branch")

        rendered = render_chart(
            project.path,
            options,
            chart_version=args.chart_version,
            env=project.env,
            repo_url=project.repo_url,
            ref=project.ref,
            templates=project.templates,
        )
    else:
        from bodywork_render.render.manifests import render_project

        rendered = render_project(
            project.path,
            options,
            env=project.env,
            repo_url=project.repo_url,
            ref=project.ref,
            templates=project.templates,
            track=args.track,
            out=args.out,
        )
    sys.stderr.writelines(warning + "\n" for warning in (*guessed, *rendered.warnings))
    if args.check and not args.out.exists():
        sys.stderr.write(f"{args.out} does not exist: run bodywork render without --check to write it\n")
        return 1
    if args.check or args.diff:
        refuse_foreign(args.out, str(args.out), "--out")  # what render would say
        changes = diff_trees(read_tree(args.out), rendered.files, str(args.out))
        sys.stdout.write(changes)
        if args.check and changes:
            sys.stderr.write(f"{args.out} is out of date: run bodywork render to update it\n")
        return 1 if changes else 0  # as `git diff --exit-code`
    if args.package is not None:
        writable_folder(args.package, f"--package {args.package}")
    write_tree(args.out, rendered.files)
    sys.stderr.write(f"rendered {len(rendered.objects)} objects into {args.out}\n")
    if args.package is not None:
        from bodywork_render.render.chart import package_chart

        sys.stderr.write(f"packaged the chart as {package_chart(rendered.files, args.package)}\n")
    return 0


COMMAND = Command("render", render, (RenderArgs, ProjectInput, RenderOptions), check=package_needs_helm)
