"""Every valid bodywork.yaml of the corpus validates; the two invalid ones fail with line-numbered errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bodywork_render.diagnostics import errors_in
from bodywork_render.spec.project import load_project, validate_project
from tests.corpus import CORPUS, corpus_files, corpus_params


@pytest.mark.parametrize("path", corpus_params(valid=True))
def test_valid_corpus_file_validates_and_loads(path: Path) -> None:
    _, diagnostics = validate_project(path)
    assert errors_in(diagnostics) == []
    pipeline = load_project(path).pipeline
    assert pipeline.dag.steps and all(s in pipeline.stages for step in pipeline.dag.steps for s in step)


def test_corpus_holds_39_valid_files() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    assert len(corpus_files(valid=True)) == 39


def test_invalid_corpus_files_fail_with_line_numbered_errors() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    found = {
        p.name: [(d.line, d.column, d.path, d.message) for d in validate_project(p)[1] if d.severity == "error"]
        for p in corpus_files(valid=False)
    }
    assert found == {
        "inno-steffg__bodywork__bodywork.yaml": [
            (7, 3, "stages.score_data", "missing required field 'executable_module_path'")
        ],
        "malingreats__scoringapp-ml-pipeline__bodywork.yaml": [
            (
                3,
                9,
                "project.name",
                "'app_scoring_service-ml-pipeline-project' is not allowed (expected letters, digits, '-' and '.' only)",
            )
        ],
    }
