"""`bodywork validate`: check bodywork.yaml files and their overlays, print every problem (pre-commit runs it on every
commit)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, NamedTuple

from bodywork_render.cli.params import Command, Values, take
from bodywork_render.flags import Arg, Flag
from bodywork_render.spec.overlay import ENV_FLAG

if TYPE_CHECKING:
    from bodywork_render.spec.load import Document

EXIT_INVALID = 1


class ValidateArgs(NamedTuple):
    """What to validate and how to report it."""

    paths: Annotated[tuple[Path, ...], Arg("Project folders (holding bodywork.yaml) or files; default: .")] = ()
    report: Annotated[
        Literal["text", "json"],
        Flag(
            "--format",
            "text: one line per problem, then one per valid project; json: a list of the problems.",
        ),
    ] = "text"
    quiet: Annotated[bool, Flag("--quiet", "Print problems only, no line per valid project (text format).")] = False
    env: Annotated[str | None, ENV_FLAG] = None


def validate(values: Values) -> int:
    """Check bodywork.yaml files (and bodywork.<env>.yaml overlays) against their schemas and the pipeline rules; print every problem at once."""  # noqa: E501 - typer shows it as is
    from bodywork_render.cli.report import REPORTERS
    from bodywork_render.diagnostics import errors_in
    from bodywork_render.spec.project import validate_project

    args: ValidateArgs = take(ValidateArgs, values)
    diagnostics = []
    checked = []
    for path in args.paths or (Path("."),):
        documents, found = validate_project(path, args.env)
        diagnostics += found
        if documents and not errors_in(found):
            checked.append(documents)
    # a file given twice, or a project and its overlay both given (pre-commit passes each changed file), reports once
    diagnostics = list(dict.fromkeys(diagnostics))
    (sys.stdout if args.report == "json" else sys.stderr).write(REPORTERS[args.report](diagnostics))
    if args.report == "text" and not args.quiet:
        sys.stderr.writelines(summary(documents) + "\n" for documents in checked)
    return EXIT_INVALID if errors_in(diagnostics) else 0


def summary(documents: tuple[Document, ...]) -> str:
    """One line on a valid project, or on its overlay: the file, pipeline name, stages and DAG steps, as bodywork.yaml
    names them.

    Read from the data, not the model: the model needs modules that `validate`, run on every commit, does without.
    """
    from bodywork_render.spec.dag import parse_dag

    base = documents[0]
    data = base.data
    section = data.get("pipeline") or data["project"]  # version 1.1, or 1.0
    steps = parse_dag(section["DAG"])  # valid: each stage once, so in run order
    stages = sum(len(step) for step in steps)
    in_dag = {stage for step in steps for stage in step}
    left_out = len([s for s in data["stages"] if s not in in_dag and s != section.get("run_on_failure")])  # warned
    where = f"{documents[1].file}: valid: overlay of {base.file}," if len(documents) > 1 else f"{base.file}: valid:"
    return (
        f"{where} pipeline {section['name']}, {stages} stage{'s' * (stages != 1)}"
        f" in {len(steps)} DAG step{'s' * (len(steps) != 1)} ({' >> '.join(','.join(step) for step in steps)})"
        + (f", {left_out} not in the DAG" if left_out else "")
    )


COMMAND = Command("validate", validate, (ValidateArgs,))
