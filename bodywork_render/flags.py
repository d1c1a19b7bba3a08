"""How an options field is spelled on the command line: the metadata of ``Annotated[type, Flag(...)]``.

An options value (a NamedTuple or a frozen dataclass that the core reads) declares each
field once: its name, type and default in Python, its flag, help and choices here. The
command line (bodywork_render/cli) builds both the typer commands and its start-up fast
path from these declarations, so nothing else lists flags, defaults or choices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple


class _Unset:
    """The marker of "no default of its own": the field's default applies, or the flag is required."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


class Flag(NamedTuple):
    """An option: ``--name VALUE``, a switch ``--name``, or a switch with both forms ``--name/--no-name``.

    ``choices`` default to the values of the field's Literal type; ``default`` is the flag's
    default when it differs from the field's (e.g. None: worked out from other flags);
    ``parse`` turns each given text into the field's item (``parse(flag, text)``), raising
    BodyworkError for a bad one; ``min`` is the least integer accepted.
    """

    spelling: str
    help: str
    choices: tuple[str, ...] = ()
    default: Any = UNSET
    parse: Callable[[str, str], Any] | None = None
    min: int | None = None

    @property
    def name(self) -> str:
        """The flag itself, e.g. ``--namespace-object``."""
        return self.spelling.partition("/")[0]

    @property
    def negative(self) -> str | None:
        """The ``--no-...`` form of a switch that has one."""
        return self.spelling.partition("/")[2] or None


class Arg(NamedTuple):
    """A positional argument (several when the field is a tuple)."""

    help: str
