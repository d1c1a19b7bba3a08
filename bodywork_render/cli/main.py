"""The console entry point: every failure becomes a message and an exit code, never a traceback.

`bodywork validate` runs in pre-commit on every commit, so a plain
`bodywork validate [--format text|json] [PATH ...]` is answered here without importing
typer (~25 ms, twice a bare interpreter's start), and so is a plain `bodywork render`
(render_command.py). Anything else, including --help and any flag these fast paths do
not know, goes to the typer app in cli.py, which declares the same commands.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

EXIT_INVALID = 1
EXIT_UNEXPECTED = 3
EXIT_INTERRUPTED = 130
REPORT_FORMATS = ("text", "json")


def run_validate(paths: list[Path], report: str) -> int:
    """Validate each path, print every diagnostic (text to stderr, json to stdout); 1 when any is an error."""
    from bodywork_render.cli.report import REPORTERS
    from bodywork_render.diagnostics import errors_in
    from bodywork_render.spec.project import validate_project

    diagnostics = []
    for path in paths or [Path(".")]:
        diagnostics += validate_project(path)[1]
    (sys.stdout if report == "json" else sys.stderr).write(REPORTERS[report](diagnostics))
    return EXIT_INVALID if errors_in(diagnostics) else 0


def fast_validate_args(argv: list[str]) -> tuple[list[Path], str] | None:
    """Paths and report format of a plain `validate` command line; None for anything else."""
    if not argv or argv[0] != "validate":
        return None
    paths: list[Path] = []
    report = "text"
    rest = iter(argv[1:])
    for token in rest:
        if token == "--format":
            report = next(rest, "")
        elif token.startswith("--format="):
            report = token.split("=", 1)[1]
        elif token == "--":
            paths.extend(Path(t) for t in rest)
        elif token.startswith("-"):
            return None
        else:
            paths.append(Path(token))
    return (paths, report) if report in REPORT_FORMATS else None


def main() -> None:
    """Run the CLI; BodyworkError exits 1, an interrupt 130, any other crash 3 with a log file."""
    from bodywork_render.diagnostics import BodyworkError

    try:
        fast = fast_validate_args(sys.argv[1:])
        if fast is not None:
            sys.exit(run_validate(*fast))
        if sys.argv[1:2] == ["render"]:
            from bodywork_render.cli.render import fast_render_args, run_render

            render_args = fast_render_args(sys.argv[1:])
            if render_args is not None:
                sys.exit(run_render(**render_args))
        from bodywork_render.cli.app import app

        app()
    except BodyworkError as exc:
        from bodywork_render.cli.report import as_text

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

    from bodywork_render import __version__
    from bodywork_render.gitops.redact import redact_text, url_secrets

    # A URL on the command line (--to, --repo-url) or in an error may carry a password or token: never in the log.
    secrets = url_secrets(sys.argv, os.environ)
    with tempfile.NamedTemporaryFile("w", prefix="bodywork-crash-", suffix=".log", delete=False) as log:
        log.write(redact_text(f"bodywork-render {__version__}\n{' '.join(sys.argv)}\n\n", secrets))
        log.write(redact_text("".join(traceback.format_exception(exc)), secrets))
    sys.stderr.write(
        redact_text(f"bodywork: unexpected error: {type(exc).__name__}: {exc}\n", secrets)
        + f"A log for a bug report is at {log.name}\n"
    )
    return EXIT_UNEXPECTED
