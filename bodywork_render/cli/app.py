"""The `bodywork` command line as users see it (typer): help and usage errors (exit 2), built from the declarations.

A command (cli/params.py ``Command``) names the option types whose fields declare its
flags; ``add`` turns each parameter into a typer option or argument, and the values typer
parsed back into the same values the start-up fast path gives. Exit codes: 0 success,
1 invalid input (a known error), 2 usage error, 3 unexpected error (a crash log is written,
see main.py), 130 interrupted.
"""

from __future__ import annotations

import enum
import inspect
from typing import Any, Optional

import typer

from bodywork_render import __version__
from bodywork_render.cli import gitops, publish, refresh, render, run, schema, validate
from bodywork_render.cli.params import Command, Param
from bodywork_render.flags import UNSET

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Validate a bodywork.yaml ML pipeline and render it into Kubernetes manifests, a kustomize tree"
    " or a Helm chart.",
)


def add(group: typer.Typer, command: Command) -> None:
    """Register ``command`` with ``group``: typer parses its flags, then ``command.invoke`` runs it."""
    params = command.params()
    # typer takes choices as an Enum; its help then shows them as <a|b|c>
    choices: dict[str, Any] = {
        p.name: enum.Enum(p.name, {c: c for c in p.choices}, type=str) for p in params if p.choices
    }
    signature = [
        inspect.Parameter(
            p.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=_declared(p, choices.get(p.name)),
            annotation=_annotation(p, choices.get(p.name)),
        )
        for p in params
    ]

    def callback(**given: Any) -> None:
        values = {p.name: _value(p, given[p.name]) for p in params}
        problem = command.check(values) if command.check else None
        if problem is not None:
            raise typer.BadParameter(problem[1], param_hint=problem[0])
        raise typer.Exit(command.invoke(values))

    callback.__name__ = command.run.__name__
    callback.__doc__ = command.run.__doc__
    callback.__signature__ = inspect.Signature(signature, return_annotation=None)  # type: ignore[attr-defined]
    callback.__annotations__ = {p.name: p.annotation for p in signature}
    group.command(command.name)(callback)


def _annotation(param: Param, choice: type | None) -> Any:
    kind: Any = choice or param.kind
    if param.many:
        return Optional[list[kind]]  # noqa: UP045 - typer reads typing.Optional
    return Optional[kind] if param.optional else kind  # noqa: UP045


def _declared(param: Param, choice: type | None) -> Any:
    default = None if param.many else ... if param.default is UNSET else param.default
    if choice is not None and default is not None and default is not ...:
        default = choice(default)
    if param.flag is None:
        return typer.Argument(default, help=param.help)
    return typer.Option(default, param.flag.spelling, help=param.help, min=param.flag.min)


def _value(param: Param, given: Any) -> Any:
    if param.many:
        return tuple(given) if given else param.default
    return given.value if isinstance(given, enum.Enum) else given


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"bodywork-render {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
    ),
) -> None:
    """bodywork: ML pipelines on Kubernetes, the GitOps way."""


for _command in (validate.COMMAND, render.COMMAND, schema.COMMAND):
    add(app, _command)
_gitops = typer.Typer(no_args_is_help=True, help=gitops.HELP)
for _command in gitops.COMMANDS:
    add(_gitops, _command)
app.add_typer(_gitops, name="gitops")
for _command in (publish.COMMAND, refresh.COMMAND):
    add(app, _command)
for _command in run.COMMANDS:
    add(app, _command)
