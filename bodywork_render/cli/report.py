"""Reporters: diagnostics as text lines or as JSON."""

from __future__ import annotations

from bodywork_render.diagnostics import Diagnostic


def as_text(diagnostics: list[Diagnostic]) -> str:
    """One line per diagnostic: FILE:LINE:COL: severity: field.path: message."""
    return "".join(f"{d}\n" for d in diagnostics)


def as_json(diagnostics: list[Diagnostic]) -> str:
    """A JSON list of {file, line, column, path, severity, message}."""
    import json  # not for the text report of every pre-commit run

    return json.dumps([d.as_dict() for d in diagnostics], indent=2) + "\n"


REPORTERS = {"text": as_text, "json": as_json}
