"""`bodywork init`: a new project from the shipped example, accepted by `bodywork validate`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bodywork_render.local.scaffold import SCHEMA_URL, example_folder, pipeline_name


def bodywork(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bodywork_render", *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def _files(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def test_init_makes_a_project_that_validates_named_after_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "Churn_Model.v2"
    result = bodywork("init", str(folder))
    assert result.returncode == 0, result.stderr
    assert "created the pipeline 'churn-model-v2'" in result.stderr
    assert f"cd {folder}" in result.stderr and "bodywork run" in result.stderr
    config = (folder / "bodywork.yaml").read_text()
    example = (example_folder() / "bodywork.yaml").read_text()
    # Only the name and the schema comment differ from the example.
    changed = [(a, b) for a, b in zip(example.splitlines(), config.splitlines(), strict=False) if a != b]
    assert changed == [
        (
            "# yaml-language-server: $schema=../../schemas/bodywork.schema.json",
            f"# yaml-language-server: $schema={SCHEMA_URL}",
        ),
        ("  name: train-and-serve", '  name: "churn-model-v2"'),
    ]
    assert _files(folder) == {
        path for path in _files(example_folder()) if not path.startswith("artifacts/") and "__pycache__" not in path
    }
    validated = bodywork("validate", str(folder))
    assert (validated.returncode, validated.stderr) == (
        0,
        f"{folder}/bodywork.yaml: valid: pipeline churn-model-v2, 2 stages in 2 DAG steps (train >> serve)\n",
    )


def test_init_defaults_to_the_current_folder_and_takes_a_name(tmp_path: Path) -> None:
    result = bodywork("init", "--name", "Fraud Scores", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert '  name: "fraud-scores"' in (tmp_path / "bodywork.yaml").read_text()
    assert bodywork("validate", cwd=tmp_path).returncode == 0


def test_init_names_the_readme_ignores_its_render_folder_and_quotes_the_cd(tmp_path: Path) -> None:
    result = bodywork("init", "My Cool_Pipeline", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "\n  cd 'My Cool_Pipeline'\n" in result.stderr
    render = next(line for line in result.stderr.splitlines() if "bodywork render" in line)
    assert "--out build " in render
    folder = tmp_path / "My Cool_Pipeline"
    readme = (folder / "README.md").read_text()
    assert readme.splitlines()[0] == "# my-cool-pipeline"
    assert "bodywork validate .\n" in readme and "examples/" not in readme
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    (folder / "build").mkdir()
    (folder / "build" / "hydrator.metadata").write_text("{}\n")
    status = subprocess.run(["git", "status", "--porcelain"], cwd=folder, capture_output=True, text=True, check=True)
    assert "build" not in status.stdout and "README.md" in status.stdout


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    result = bodywork("init", str(tmp_path))
    assert result.returncode == 1
    assert f"{tmp_path} is not an empty folder" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_init_under_a_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("mine\n")
    result = bodywork("init", "f/sub", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, f"error: f/sub: {tmp_path}/f is a file, not a folder\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["___"], "cannot make a pipeline name out of '___': give one with --name"),
        (["project", "--name", "***"], "cannot make a pipeline name out of '***': give one with --name"),
        (["2024-model"], "cannot make a pipeline name out of '2024-model' ('2024-model' starts with a digit): give"),
        (["project", "--name", "42"], "cannot make a pipeline name out of '42' ('42' starts with a digit): give"),
    ],
)
def test_init_refuses_a_name_that_is_not_valid(tmp_path: Path, args: list[str], expected: str) -> None:
    result = bodywork("init", *[str(tmp_path / arg) if i == 0 else arg for i, arg in enumerate(args)])
    assert result.returncode == 1
    assert expected in result.stderr
    assert not (tmp_path / args[0]).exists() or not any((tmp_path / args[0]).iterdir())


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("my project", "my-project"),
        ("ML__Stuff--", "ml-stuff"),
        ("é-x", "x"),
        ("a" * 80, "a" * 63),
        ("Model 2024", "model-2024"),
    ],
)
def test_pipeline_names_from_folder_names(folder: str, expected: str) -> None:
    assert pipeline_name(folder) == expected
