"""`bodywork render` without typer (render_command.py): the same flags, defaults and output as the typer command."""

from __future__ import annotations

import enum
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from bodywork_render.cli.app import app
from bodywork_render.cli.render import RENDER_FLAGS, fast_render_args, run_render
from tests.renderkit import COMMIT, EXAMPLE, REPO_URL

SOURCE = ["--repo-url", REPO_URL, "--ref", COMMIT]


def _typer_render_params() -> list:
    return typer.main.get_command(app).commands["render"].params  # type: ignore[attr-defined]


def test_every_typer_flag_is_parsed_to_the_same_parameter() -> None:
    parsed: dict[str, tuple[str, object]] = {}
    for param in _typer_render_params():
        for flag in param.opts:
            parsed[flag] = (
                (param.name, True if param.is_flag else "VALUE") if flag.startswith("--") else ("path", "POSITIONAL")
            )
        for flag in param.secondary_opts:
            parsed[flag] = (param.name, False)
    fast = {flag: (name, value if isinstance(value, bool) else "VALUE") for flag, (name, value) in RENDER_FLAGS.items()}
    assert {flag: spec for flag, spec in parsed.items() if flag.startswith("--")} == fast


def test_every_default_is_the_typer_default() -> None:
    defaults = {
        name: p.default for name, p in inspect.signature(run_render).parameters.items() if p.default is not p.empty
    }
    for param in _typer_render_params():
        expected = param.default.value if isinstance(param.default, enum.Enum) else param.default
        if param.required:
            assert param.name not in defaults, param.name
        else:
            assert defaults[param.name] == (Path(expected) if param.name == "path" else expected), param.name


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["render", "--out", "o"], {"out": Path("o")}),
        (["render", "p", "--out=o", "--format", "helm", "--package", "d", "--no-namespace-object"],
         {"path": Path("p"), "out": Path("o"), "output_format": "helm", "package": Path("d"), "create_namespace": False}),
        (["render", "--out", "o", "--check", "--", "-odd"], {"out": Path("o"), "check": True, "path": Path("-odd")}),
        (["render", "--out", "o", "--namespace", "a", "--namespace", "b"], {"out": Path("o"), "namespace": "b"}),
        (["render", "p"], None),  # no --out: typer says it is missing
        (["render", "--out", "o", "--help"], None),
        (["render", "--out", "o", "--no-such-flag"], None),
        (["render", "--out", "o", "--format", "xml"], None),
        (["render", "--out", "o", "--engine", "spinnaker"], None),
        (["render", "--out", "o", "--package", "d"], None),  # --package needs --format helm
        (["render", "--out", "--check"], None),  # a flag where a value belongs
        (["render", "--out"], None),
        (["render", "--out", "o", "--check=yes"], None),
        (["render", "a", "b", "--out", "o"], None),
        (["validate", "--out", "o"], None),
    ],
)  # fmt: skip
def test_fast_path_takes_only_plain_well_formed_command_lines(argv: list[str], expected: object) -> None:
    assert fast_render_args(argv) == expected


def test_render_takes_the_fast_path_without_typer(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from bodywork_render.cli.main import main\n"
        f"sys.argv = ['bodywork', 'render', {str(EXAMPLE)!r}, '--out', {str(tmp_path / 'out')!r}, *{SOURCE!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    print(exit.code, 'typer' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert (result.stdout, result.stderr) == ("0 False\n", f"rendered 6 objects into {tmp_path / 'out'}\n")


@pytest.mark.parametrize(
    "extra", [[], ["--format", "kustomize", "--engine", "flux"], ["--format", "helm", "--no-namespace-object"]]
)
def test_fast_path_and_typer_write_the_same_tree(tmp_path: Path, extra: list[str]) -> None:
    out = tmp_path / "out"
    args = ["render", str(EXAMPLE), "--out", str(out), *SOURCE, *extra]
    assert fast_render_args(args) is not None
    fast = subprocess.run([sys.executable, "-m", "bodywork_render", *args], capture_output=True, text=True, timeout=60)
    assert fast.returncode == 0, fast.stderr
    via_typer = (
        "import sys\nfrom bodywork_render.cli.app import app\n"
        f"sys.argv = ['bodywork', *{[*args, '--check']!r}]\n"
        "try:\n    app()\nexcept SystemExit as exit:\n    print(exit.code, 'bodywork_render.cli.render' in sys.modules)\n"
    )
    checked = subprocess.run([sys.executable, "-c", via_typer], capture_output=True, text=True, timeout=60)
    assert (checked.stdout, checked.stderr) == ("0 True\n", "")
