"""Golden files: expected output under tests/golden/, compared byte for byte, rewritten only on request.

Tests take the ``golden`` fixture (tests/conftest.py). ``pytest --update-golden`` rewrites the files that
differ and fails each test that rewrote some, listing them, so a rewrite never passes unnoticed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bodywork_render.render.write import read_tree, write_tree

ROOT = Path(__file__).resolve().parents[1]
# The files rewritten in this run, for the summary at its end.
REWRITTEN = pytest.StashKey[list[str]]()


class Golden:
    """Compares output with the files under tests/golden/; with --update-golden rewrites them and fails the test."""

    def __init__(self, update: bool, rewritten: list[str]) -> None:
        self._update = update
        self._rewritten = rewritten  # every file rewritten in this run, appended to

    def check_tree(self, expected_dir: Path, files: dict[str, str]) -> None:
        """``files`` (relative path -> text) equal the tree under ``expected_dir``, no file more or less."""
        expected = read_tree(expected_dir) if expected_dir.is_dir() else {}
        if self._update and files != expected:
            shutil.rmtree(expected_dir, ignore_errors=True)
            write_tree(expected_dir, files)
            changed = sorted(p for p in files.keys() | expected.keys() if files.get(p) != expected.get(p))
            self._fail_rewritten([_shown(expected_dir / p) for p in changed])
        assert files == expected, (
            f"differs from {_shown(expected_dir)}; after a deliberate change: pytest --update-golden"
        )

    def _fail_rewritten(self, paths: list[str]) -> None:
        self._rewritten.extend(paths)
        pytest.fail("rewrote golden files (review the diff, then run again):\n  " + "\n  ".join(paths), pytrace=False)


def _shown(path: Path) -> str:
    """The path relative to the checkout when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
