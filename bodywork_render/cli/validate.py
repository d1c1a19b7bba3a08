"""`bodywork validate`: check bodywork.yaml files and print every problem (pre-commit runs it on every commit)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

from bodywork_render.cli.params import Command, Values, take
from bodywork_render.flags import Arg, Flag

EXIT_INVALID = 1


class ValidateArgs(NamedTuple):
    """What to validate and how to report it."""

    paths: Annotated[tuple[Path, ...], Arg("Project folders (holding bodywork.yaml) or files; default: .")] = ()
    report: Annotated[
        Literal["text", "json"], Flag("--format", "text: one line per problem; json: a list of objects.")
    ] = "text"


def validate(values: Values) -> int:
    """Check bodywork.yaml files against the schema and the pipeline rules; print every problem at once."""
    from bodywork_render.cli.report import REPORTERS
    from bodywork_render.diagnostics import errors_in
    from bodywork_render.spec.project import validate_project

    args: ValidateArgs = take(ValidateArgs, values)
    diagnostics = []
    for path in args.paths or (Path("."),):
        diagnostics += validate_project(path)[1]
    (sys.stdout if args.report == "json" else sys.stderr).write(REPORTERS[args.report](diagnostics))
    return EXIT_INVALID if errors_in(diagnostics) else 0


COMMAND = Command("validate", validate, (ValidateArgs,))
