"""The `bodywork` command as a user runs it: a real process, exit codes, output, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bodywork_render import __version__

CASES = Path(__file__).parent / "cases"


def bodywork(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh interpreter, as the console script does."""
    return subprocess.run(
        [sys.executable, "-m", "bodywork_render", *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_version() -> None:
    result = bodywork("--version")
    assert (result.returncode, result.stdout) == (0, f"bodywork-render {__version__}\n")


def test_validate_valid_file_exits_0_silently() -> None:
    result = bodywork("validate", str(CASES / "valid" / "minimal-1.1.yaml"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_validate_reports_every_file_and_exits_1() -> None:
    result = bodywork(
        "validate", "invalid/out-of-range.yaml", "invalid/alias.yaml", "valid/minimal-1.1.yaml", cwd=CASES
    )
    assert result.returncode == 1
    assert (
        result.stderr
        == (CASES / "invalid" / "out-of-range.expected").read_text()
        + (CASES / "invalid" / "alias.expected").read_text()
    )


def test_validate_json_report() -> None:
    result = bodywork("validate", "--format", "json", "invalid/run-on-failure-service.yaml", cwd=CASES)
    assert result.returncode == 1
    assert json.loads(result.stdout) == [
        {
            "file": "invalid/run-on-failure-service.yaml",
            "line": 6,
            "column": 19,
            "path": "pipeline.run_on_failure",
            "severity": "error",
            "message": "stage 'serve' must be a batch stage to run on failure",
        }
    ]


def test_validate_defaults_to_the_current_folder(tmp_path: Path) -> None:
    result = bodywork("validate", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        result.stderr
        == ".: error: no bodywork.yaml in this folder (expected a project folder or a bodywork.yaml file)\n"
    )


def test_usage_error_exits_2() -> None:
    result = bodywork("validate", "--no-such-flag")
    assert result.returncode == 2 and "No such option" in result.stderr


@pytest.mark.parametrize(
    "content", [b"\x00\xff\xfe", b"{", b"[[[[", b"- - - -", b"!!python/object:os.system ls", b"? [a]\n: b"]
)
def test_garbage_never_gives_a_traceback(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "bodywork.yaml").write_bytes(content)
    result = bodywork("validate", str(tmp_path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stderr.startswith(str(tmp_path / "bodywork.yaml"))


def test_schema_command_prints_the_shipped_schema() -> None:
    result = bodywork("schema")
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "no telemetry" in schema["$defs"]["pipeline"]["properties"]["usage_stats"]["description"]


def test_validate_takes_the_fast_path_without_typer() -> None:
    probe = (
        "import sys\n"
        "from bodywork_render.cli.main import main\n"
        f"sys.argv = ['bodywork', 'validate', {str(CASES / 'valid' / 'minimal-1.1.yaml')!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    print(exit.code, 'typer' in sys.modules, 'pydantic' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stdout == "0 False False\n"


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["validate"], ([], "text")),
        (["validate", "a", "--format", "json", "b"], ([Path("a"), Path("b")], "json")),
        (["validate", "--format=json", "--", "-odd"], ([Path("-odd")], "json")),
        (["validate", "--help"], None),
        (["validate", "--format", "xml"], None),
        (["render", "."], None),
        ([], None),
    ],
)
def test_fast_path_accepts_only_plain_validate_command_lines(argv: list[str], expected: object) -> None:
    from bodywork_render.cli.main import fast_validate_args

    assert fast_validate_args(argv) == expected


def test_validate_help_goes_through_typer() -> None:
    result = bodywork("validate", "--help")
    assert result.returncode == 0 and "--format" in result.stdout
