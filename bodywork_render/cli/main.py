"""The console entry point: dispatch, and every failure as a message and an exit code, never a traceback.

pre-commit runs `bodywork validate FILES...` and `bodywork render --check ...` on every
commit, and importing typer costs several times a bare interpreter's start, so a plain
command line of those two is parsed here from the commands' declarations (cli/params.py)
and run without typer. Anything else, including --help, a flag they do not know or a bad
value, goes to the typer app (cli/app.py), built from the same declarations.
"""

from __future__ import annotations

import os
import sys

EXIT_INVALID = 1
EXIT_UNEXPECTED = 3
EXIT_INTERRUPTED = 130


def fast_path(argv: list[str]) -> int | None:
    """The exit code of a plain `validate` or `render` command line, run without typer; None for anything else."""
    if argv[:1] == ["validate"]:
        from bodywork_render.cli.validate import COMMAND
    elif argv[:1] == ["render"]:
        from bodywork_render.cli.render import COMMAND
    else:
        return None
    from bodywork_render.cli.params import parse

    values = parse(argv[1:], COMMAND)
    return None if values is None else COMMAND.invoke(values)


def main() -> None:
    """Run the CLI; BodyworkError exits 1, an interrupt 130, any other crash 3 with a log file."""
    from bodywork_render.diagnostics import BodyworkError

    try:
        code = fast_path(sys.argv[1:])
        if code is not None:
            sys.exit(code)
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
    finally:
        # The process ends here. Python's last cycle collection would walk every object still alive (each module,
        # class and function imported: about 7 ms of a pre-commit run) only to find that the OS frees them anyway;
        # frozen objects are left out of it. Exit handlers still run, and modules are still torn down.
        import gc

        gc.freeze()


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
