"""A command as data: its parameters, read from the options declarations, and the parser that takes them without typer.

``Command.params`` reads each ``Annotated[type, Flag(...)]`` field of the command's option
types (``bodywork_render.flags``); cli/app.py builds the typer command from the same
``Param`` list. ``parse`` answers a plain, well-formed command line at start-up (importing
typer costs several times a bare interpreter's start, and pre-commit runs `validate` and
`render --check` on every commit); for anything else (--help, an unknown flag, a bad
choice or number, a missing required flag, a value that looks like a flag, a usage rule
broken) it returns None and typer answers, with its own messages and exit code 2.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple, Union, get_args, get_origin, get_type_hints

from bodywork_render.flags import UNSET, Arg, Flag

Values = dict[str, Any]
"""Parsed values of a command line by field name; every parameter present (its default when not given)."""


class Param(NamedTuple):
    """One parameter of a command: ``flag`` None for a positional argument; ``default`` UNSET when required."""

    name: str
    kind: type
    default: Any
    choices: tuple[str, ...]
    many: bool
    optional: bool
    help: str
    flag: Flag | None


class Command(NamedTuple):
    """A command: its name, the option types whose flagged fields it takes (less ``exclude``), and its work.

    ``run`` gets the values and returns the exit code; ``check`` names a usage error that
    the types cannot express as (flag, message), or None.
    """

    name: str
    run: Callable[[Values], int]
    groups: tuple[type, ...]
    exclude: frozenset[str] = frozenset()
    check: Callable[[Values], tuple[str, str] | None] | None = None

    def params(self) -> list[Param]:
        """Every parameter, in declaration order."""
        return [p for group in self.groups for p in params_of(group) if p.name not in self.exclude]

    def invoke(self, values: Values) -> int:
        """Run with parsed values, each item of a flag that has ``parse`` parsed first (BodyworkError when bad)."""
        for param in self.params():
            if param.flag is not None and param.flag.parse is not None:
                values[param.name] = tuple(param.flag.parse(param.flag.name, item) for item in values[param.name])
        return self.run(values)


def params_of(options: type) -> list[Param]:
    """The parameters that the fields of ``options`` (a NamedTuple or a dataclass) declare with Flag or Arg."""
    defaults = _defaults(options)
    found = []
    for name, hint in get_type_hints(options, include_extras=True).items():
        for meta in getattr(hint, "__metadata__", ()):
            if isinstance(meta, (Flag, Arg)):
                found.append(_param(name, get_args(hint)[0], meta, defaults.get(name, UNSET)))
    return found


def take(options: type, values: Mapping[str, Any]) -> Any:
    """An ``options`` value of the parsed values of its fields (the others keep their defaults)."""
    names = getattr(options, "_fields", None) or getattr(options, "__dataclass_fields__", {})
    return options(**{name: values[name] for name in names if name in values})


def parse(argv: list[str], command: Command) -> Values | None:
    """The values of a plain, well-formed command line of ``command`` (its arguments after the name); else None."""
    params = command.params()
    options: dict[str, tuple[Param, bool | None]] = {}  # flag -> (its parameter, the switch's value or None: takes one)
    for param in params:
        if param.flag is not None:
            options[param.flag.name] = (param, True if param.kind is bool else None)
            if param.flag.negative:
                options[param.flag.negative] = (param, False)
    positional = [p for p in params if p.flag is None]
    given: dict[str, Any] = {}
    words = iter(argv)
    only_positional = False
    for word in words:
        if word == "--" and not only_positional:
            only_positional = True
            continue
        if word.startswith("-") and not only_positional:
            flag, has_text, text = word.partition("=")
            if flag not in options:
                return None
            param, switch = options[flag]
            if switch is not None:
                if has_text:
                    return None
                given[param.name] = switch
                continue
            value = text if has_text else next(words, None)
            if value is None or value.startswith("-"):
                return None
            converted = _converted(param, value)
            if converted is None:
                return None
            given[param.name] = (*given.get(param.name, ()), converted) if param.many else converted
            continue
        target = next((p for p in positional if p.many or p.name not in given), None)
        if target is None:
            return None
        converted = _converted(target, word)
        if converted is None:
            return None
        given[target.name] = (*given.get(target.name, ()), converted) if target.many else converted
    for param in params:
        if param.name not in given:
            if param.default is UNSET:
                return None
            given[param.name] = param.default
    if command.check is not None and command.check(given) is not None:
        return None
    return given


def _converted(param: Param, text: str) -> Any:
    """The value of one word for ``param``; None when typer would refuse it."""
    if param.choices:
        return text if text in param.choices else None
    if param.kind is int:
        try:
            number = int(text)
        except ValueError:
            return None
        return None if param.flag and param.flag.min is not None and number < param.flag.min else number
    return Path(text) if param.kind is Path else text


def _param(name: str, hint: Any, meta: Flag | Arg, field_default: Any) -> Param:
    optional = get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)
    if optional:
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
    many = get_origin(hint) in (tuple, list)
    if many:
        hint = get_args(hint)[0]
    choices: tuple[str, ...] = ()
    if isinstance(meta, Flag) and meta.choices:
        choices = meta.choices
    elif get_origin(hint) is Literal:
        choices = get_args(hint)
    if choices or (isinstance(meta, Flag) and meta.parse is not None):
        hint = str
    flag = meta if isinstance(meta, Flag) else None
    default = flag.default if flag is not None and flag.default is not UNSET else field_default
    return Param(name, hint, default, choices, many, optional or default is None, meta.help, flag)


def _defaults(options: type) -> dict[str, Any]:
    if hasattr(options, "_field_defaults"):
        return dict(options._field_defaults)
    import dataclasses

    return {f.name: f.default for f in dataclasses.fields(options) if f.default is not dataclasses.MISSING}
