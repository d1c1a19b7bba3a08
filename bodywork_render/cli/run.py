"""The `run-stage`, `run` and `init` commands: run stages on this machine, scaffold a project.

Thin: flags go to ``localrun`` and ``scaffold``; output lines are printed here,
each stage's prefixed with its name; errors reach the entry point as
``BodyworkError`` (exit 1).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import typer

_print_lock = threading.Lock()


def _print_line(source: str, line: str) -> None:
    """A line of a local run: a stage's to stdout as ``[stage] line``, bodywork's own to stderr."""
    with _print_lock:
        if source == "bodywork":
            sys.stderr.write(f"bodywork: {line}\n")
            sys.stderr.flush()
        else:
            sys.stdout.write(f"[{source}] {line}\n")
            sys.stdout.flush()


def run_stage(
    stage: str = typer.Argument(..., help="Stage name, as in bodywork.yaml."),
    repo: str = typer.Option(
        ...,
        "--repo",
        help="Git URL or path of the project's repository; credentials from BODYWORK_GIT_TOKEN or BODYWORK_GIT_SSH_KEY_FILE, never shown.",
    ),
    ref: str = typer.Option(..., "--ref", help="Commit SHA, or a branch or tag resolved to one with git ls-remote."),
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Workspace folder, kept afterwards [default: a temporary folder, removed]."
    ),
    project_path: str = typer.Option(".", "--project-path", help="Folder of bodywork.yaml inside the repository."),
) -> None:
    """Run one stage on this machine exactly as its pod would: fetch the commit, then run the stage with the runner.

    The stage gets the pod's arguments and environment (HOME, PYTHONUNBUFFERED,
    BODYWORK_LOG_LEVEL); its secrets are the environment variables you set here.
    The exit code is the stage's. A service runs until it exits, or until Ctrl-C
    or SIGTERM, which reach it (killed 30 s later, as in a pod). Stages that share
    files (a model) need a folder outside the workspace, e.g. BODYWORK_ARTIFACT_DIR
    for the example.
    """
    from bodywork_render.local.run import Interrupts
    from bodywork_render.local.run import run_stage as run_one

    with Interrupts() as interrupts:
        code = run_one(
            stage, repo, ref, logger=_print_line, interrupts=interrupts, workdir=workdir, project_path=project_path
        )
    raise typer.Exit(code)


def run(
    path: Path = typer.Argument(Path("."), help="Project folder (holding bodywork.yaml) or the file itself."),
    serve: bool = typer.Option(False, "--serve", help="Keep the services running after the last step, until Ctrl-C."),
    workdir: Path | None = typer.Option(
        None,
        "--workdir",
        help="Workspace folder (installed requirements, HOME), kept afterwards [default: a temporary folder, removed].",
    ),
) -> None:
    """Run the whole pipeline on this machine in DAG order, from the project folder's current files.

    Batch stages run to completion (the stages of one step together, retried as
    their Job would be); services start on their port and must accept TCP
    connections within max_startup_time_seconds; at the end they are stopped
    (SIGTERM, then SIGKILL after 30 s), unless --serve. When a stage fails,
    everything stops, the run_on_failure stage runs, and the exit code is 1.
    The project folder is used in place, not copied: what stages write there stays.
    Secrets are the environment variables you set here.
    """
    from bodywork_render.local.run import Interrupts, run_pipeline

    with Interrupts() as interrupts:
        code = run_pipeline(path, logger=_print_line, interrupts=interrupts, keep_serving=serve, workdir=workdir)
    raise typer.Exit(code)


def init(
    folder: Path = typer.Argument(Path("."), help="New or empty folder for the project."),
    name: str | None = typer.Option(
        None,
        "--name",
        help="Pipeline name, made valid (lower-case, other characters as -) [default: the folder's name].",
    ),
) -> None:
    """Create a new project from the example pipeline (train a scikit-learn model, serve it over HTTP)."""
    from bodywork_render.local.scaffold import scaffold

    pipeline = scaffold(folder, name)
    shown = str(folder)
    sys.stderr.write(
        f"created the pipeline {pipeline!r} in {shown}, from the train-and-serve example\n"
        "next steps:\n"
        f"  cd {shown}\n"
        "  bodywork validate        # check bodywork.yaml\n"
        "  bodywork run             # train, then serve on port 8000 and stop (--serve keeps it up);\n"
        "                           # needs scikit-learn and joblib as pinned in bodywork.yaml, else pip installs them\n"
        "  git init && git add . && git commit -m 'a new pipeline'\n"
        "  bodywork render --out build --repo-url URL --ref HEAD\n"
    )


def register(app: typer.Typer) -> None:
    """Add `run-stage`, `run` and `init` to the root command."""
    app.command("run-stage")(run_stage)
    app.command("run")(run)
    app.command("init")(init)
