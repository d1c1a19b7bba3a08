"""The corpus of real bodywork.yaml files in ../shared/corpus/bodywork-yaml (CI has it; it is never copied here).

Where it is missing, its tests are skipped on a developer's machine; in CI (``CI`` set) a missing corpus is an
error, so that some 200 tests cannot collapse into a few skips while the run stays green.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ci import in_ci

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "bodywork-yaml"
INVALID = {
    "inno-steffg__bodywork__bodywork.yaml",
    "malingreats__scoringapp-ml-pipeline__bodywork.yaml",
}


class CorpusMissing(RuntimeError):
    """The corpus is not where the tests look for it, and CI is set."""


def corpus_files(valid: bool) -> list[Path]:
    """The corpus files that bodywork accepted (valid=True) or rejected; [] when the corpus is missing outside CI."""
    if not CORPUS.is_dir():
        if in_ci():
            raise CorpusMissing(f"corpus not found at {CORPUS}; CI must provide it")
        return []
    return sorted(p for p in CORPUS.glob("*.yaml") if (p.name not in INVALID) == valid)


def corpus_params(valid: bool = True) -> list[object]:
    """pytest parameters for the corpus files, or one skipped parameter saying why there are none."""
    files = corpus_files(valid)
    if files:
        return [pytest.param(p, id=p.name.removesuffix("__bodywork.yaml")) for p in files]
    return [pytest.param(None, marks=pytest.mark.skip(reason=f"corpus not found at {CORPUS}"))]
