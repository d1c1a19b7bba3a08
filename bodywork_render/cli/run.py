"""The `run-stage`, `run` and `init` commands: run stages on this machine, scaffold a project.

Thin: flags go to ``local.run`` and ``local.scaffold``; output lines are printed here,
each stage's prefixed with its name; errors reach the entry point as
``BodyworkError`` (exit 1).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated, NamedTuple

from bodywork_render.cli.params import Command, Values, take
from bodywork_render.flags import Arg, Flag

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


SharedDir = Annotated[
    Path | None,
    Flag(
        "--shared-dir",
        "Folder given as BODYWORK_SHARED_DIR to stages with shared_storage, where pods mount the shared volume"
        " [default: shared/ in the workspace].",
    ),
]


Python = Annotated[
    str | None,
    Flag(
        "--python",
        "Interpreter (a path or a name on PATH, 3.8+) that runs the stages instead of bodywork's own, e.g. the"
        " one of your image, when its pinned requirements have no wheels for this one.",
    ),
]


class RunStageArgs(NamedTuple):
    """The stage to run and the commit of its repository."""

    stage: Annotated[str, Arg("Stage name, as in bodywork.yaml.")]
    repo: Annotated[
        str,
        Flag(
            "--repo",
            "Git URL or path of the project's repository; credentials from BODYWORK_GIT_TOKEN or"
            " BODYWORK_GIT_SSH_KEY_FILE, never shown.",
        ),
    ]
    ref: Annotated[str, Flag("--ref", "Commit SHA, or a branch or tag resolved to one with git ls-remote.")]
    workdir: Annotated[
        Path | None, Flag("--workdir", "Workspace folder, kept afterwards [default: a temporary folder, removed].")
    ] = None
    shared_dir: SharedDir = None
    python: Python = None
    project_path: Annotated[str, Flag("--project-path", "Folder of bodywork.yaml inside the repository.")] = "."


def run_stage(values: Values) -> int:
    """Run one stage on this machine exactly as its pod would: fetch the commit, then run the stage with the runner.

    The stage gets the pod's arguments and environment (HOME, PYTHONUNBUFFERED,
    BODYWORK_LOG_LEVEL); its secrets are the environment variables you set here.
    The exit code is the stage's. A service runs until it exits, or until Ctrl-C
    or SIGTERM, which reach it (killed 30 s later, as in a pod). Stages that share
    files (a model) through shared_storage get --shared-dir: give the same folder
    to each stage.
    """
    from bodywork_render.local.run import Interrupts, python_interpreter
    from bodywork_render.local.run import run_stage as run_one

    args: RunStageArgs = take(RunStageArgs, values)
    python = python_interpreter(args.python)
    with Interrupts() as interrupts:
        return run_one(
            args.stage,
            args.repo,
            args.ref,
            logger=_print_line,
            interrupts=interrupts,
            workdir=args.workdir,
            shared_dir=args.shared_dir,
            project_path=args.project_path,
            python=python,
        )


class RunArgs(NamedTuple):
    """The project to run and how."""

    path: Annotated[Path, Arg("Project folder (holding bodywork.yaml) or the file itself.")] = Path(".")
    serve: Annotated[bool, Flag("--serve", "Keep the services running after the last step, until Ctrl-C.")] = False
    workdir: Annotated[
        Path | None,
        Flag(
            "--workdir",
            "Workspace folder (installed requirements, HOME), kept afterwards [default: a temporary folder, removed].",
        ),
    ] = None
    shared_dir: SharedDir = None
    python: Python = None
    scheduled: Annotated[
        bool,
        Flag(
            "--scheduled",
            "Run one scheduled run (pipeline.schedule), as the cluster would at the latest scheduled time: the batch"
            " stages alone, in DAG order.",
        ),
    ] = False


def run(values: Values) -> int:
    """Run the whole pipeline on this machine in DAG order, from the project folder's current files.

    Batch stages run to completion (the stages of one step together, retried as
    their Job would be); services start on their port and must accept TCP
    connections within max_startup_time_seconds; at the end they are stopped
    (SIGTERM, then SIGKILL after 30 s), unless --serve. When a stage fails,
    everything stops, the run_on_failure stage runs, and the exit code is 1.
    With --scheduled, one scheduled run: the batch stages alone, and the scheduled
    time it stands for is printed first.
    The project folder is used in place, not copied: what stages write there stays.
    Secrets are the environment variables you set here.
    """
    from bodywork_render.diagnostics import BodyworkError
    from bodywork_render.local.run import Interrupts, python_interpreter, run_pipeline

    args: RunArgs = take(RunArgs, values)
    if args.scheduled and args.serve:
        raise BodyworkError("--scheduled and --serve: a scheduled run starts no service; give one")
    python = python_interpreter(args.python)
    with Interrupts() as interrupts:
        return run_pipeline(
            args.path,
            logger=_print_line,
            interrupts=interrupts,
            keep_serving=args.serve,
            workdir=args.workdir,
            shared_dir=args.shared_dir,
            python=python,
            scheduled=args.scheduled,
        )


class InitArgs(NamedTuple):
    """Where the new project goes and its name."""

    folder: Annotated[Path, Arg("New or empty folder for the project.")] = Path(".")
    name: Annotated[
        str | None,
        Flag(
            "--name",
            "Pipeline name, made valid (lower-case, other characters as -) [default: the folder's name].",
        ),
    ] = None


def init(values: Values) -> int:
    """Create a new project from the example pipeline (train a scikit-learn model, serve it over HTTP)."""
    import shlex

    from bodywork_render.local.scaffold import RENDER_FOLDER, scaffold

    args: InitArgs = take(InitArgs, values)
    pipeline = scaffold(args.folder, args.name)
    shown = str(args.folder)
    sys.stderr.write(
        f"created the pipeline {pipeline!r} in {shown}, from the train-and-serve example\n"
        "next steps:\n"
        f"  cd {shlex.quote(shown)}\n"
        "  bodywork validate        # check bodywork.yaml\n"
        "  bodywork run             # train, then serve on port 8000 and stop (--serve keeps it up);\n"
        "                           # needs scikit-learn and joblib as pinned in bodywork.yaml,"
        " else pip installs them\n"
        "  git init && git add . && git commit -m 'a new pipeline'\n"
        f"  bodywork render --out {RENDER_FOLDER} --repo-url URL --ref HEAD   # {RENDER_FOLDER}/ is in .gitignore\n"
    )
    return 0


COMMANDS = (
    Command("run-stage", run_stage, (RunStageArgs,)),
    Command("run", run, (RunArgs,)),
    Command("init", init, (InitArgs,)),
)
