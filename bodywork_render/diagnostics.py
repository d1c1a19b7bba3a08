"""Diagnostics: what is wrong with an input, where, and the one error type the core raises."""

from __future__ import annotations

from collections import namedtuple

# typing.TYPE_CHECKING without importing typing: `bodywork validate` runs on every commit, and importing
# typing (with contextlib) costs it several milliseconds, so the modules on its path import typing only for
# type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Literal, NamedTuple

    Severity = Literal["error", "warning"]

    class _Diagnostic(NamedTuple):
        file: str
        line: int
        column: int
        path: str
        severity: Severity
        message: str

else:
    _Diagnostic = namedtuple("_Diagnostic", "file line column path severity message")


class Diagnostic(_Diagnostic):
    """One finding in one file; line and column are 1-based (0 when the whole file is meant).

    A named tuple, not a dataclass: importing dataclasses (with inspect) would cost every commit's
    `bodywork validate` several milliseconds.
    """

    __slots__ = ()

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        field = f"{self.path}: " if self.path else ""
        prefix = f"{where}: " if where else ""
        return f"{prefix}{self.severity}: {field}{self.message}"

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: file, line, column, path, severity, message."""
        return self._asdict()


class BodyworkError(Exception):
    """A known problem the user can fix; carries every diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic] | str) -> None:
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic("", 0, 0, "", "error", diagnostics)]
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def errors_in(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """The diagnostics that are errors, not warnings."""
    return [d for d in diagnostics if d.severity == "error"]
