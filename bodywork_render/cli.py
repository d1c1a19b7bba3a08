"""The `bodywork` command line: parses flags, calls the core, prints, maps outcomes to exit codes.

Exit codes: 0 success, 1 invalid input (a known error), 2 usage error,
3 unexpected error (a crash log is written), 130 interrupted.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__

EXIT_INVALID = 1
EXIT_UNEXPECTED = 3
EXIT_INTERRUPTED = 130

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Validate a bodywork.yaml ML pipeline and render it into Kubernetes manifests, a kustomize tree or a Helm chart.",
)


class ReportFormat(str, enum.Enum):
    """How diagnostics are printed."""

    text = "text"
    json = "json"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"bodywork-render {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", callback=_print_version, is_eager=True),
) -> None:
    """bodywork: ML pipelines on Kubernetes, the GitOps way."""


@app.command()
def validate(
    paths: Optional[List[Path]] = typer.Argument(None, help="Project folders (holding bodywork.yaml) or files; default: ."),
    report: ReportFormat = typer.Option(ReportFormat.text, "--format", help="text: one line per problem; json: a list of objects."),
) -> None:
    """Check bodywork.yaml files against the schema and the pipeline rules; print every problem at once."""
    from .diagnostics import errors_in
    from .project import check_project
    from .report import REPORTERS

    diagnostics = []
    for path in paths or [Path(".")]:
        diagnostics += check_project(path)[1]
    output = REPORTERS[report.value](diagnostics)
    if report is ReportFormat.json:
        sys.stdout.write(output)
    else:
        sys.stderr.write(output)
    raise typer.Exit(EXIT_INVALID if errors_in(diagnostics) else 0)


@app.command()
def schema() -> None:
    """Print the JSON Schema of bodywork.yaml (for editors: yaml-language-server, VS Code)."""
    from .resources import schema_text

    sys.stdout.write(schema_text())


def main() -> None:
    """Console entry point: run the app, turning every failure into a message and an exit code."""
    from .diagnostics import BodyworkError

    try:
        app()
    except BodyworkError as exc:
        from .report import as_text

        sys.stderr.write(as_text(exc.diagnostics))
        sys.exit(EXIT_INVALID)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a log, not a traceback
        sys.exit(_crash(exc))


def _crash(exc: Exception) -> int:
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile("w", prefix="bodywork-crash-", suffix=".log", delete=False) as log:
        log.write(f"bodywork-render {__version__}\n{' '.join(sys.argv)}\n\n")
        log.write("".join(traceback.format_exception(exc)))
    sys.stderr.write(f"bodywork: unexpected error: {type(exc).__name__}: {exc}\nA log for a bug report is at {log.name}\n")
    return EXIT_UNEXPECTED
