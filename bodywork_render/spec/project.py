"""Project: find a bodywork.yaml, load and validate it, and build the model when it is valid."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path

from bodywork_render.diagnostics import BodyworkError, Diagnostic, errors_in
from bodywork_render.spec.load import Document, read_yaml
from bodywork_render.spec.validate import validate_document

CONFIG_NAMES = ("bodywork.yaml", "bodywork.yml")

TYPE_CHECKING = False  # without importing typing: see diagnostics.py
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    from bodywork_render.spec.model import Pipeline

    class _Project(NamedTuple):
        folder: Path | None
        document: Document
        pipeline: Pipeline
        warnings: tuple[Diagnostic, ...]
        overlay: dict[str, Any]

else:
    _Project = namedtuple("_Project", "folder document pipeline warnings overlay")


class Project(_Project):
    """A validated project: its folder (None when a lone file was given), document, model, warnings and overlay."""

    __slots__ = ()


def config_file(path: Path) -> tuple[Path, Path | None]:
    """The bodywork.yaml for PATH and the project folder (None when PATH is a file)."""
    if path.is_dir():
        for name in CONFIG_NAMES:
            if (path / name).is_file():
                return path / name, path
        raise BodyworkError(
            [_file_error(path, "no bodywork.yaml in this folder (expected a project folder or a bodywork.yaml file)")]
        )
    if path.exists():
        return path, None
    raise BodyworkError([_file_error(path, "no such file or folder")])


def _file_error(path: Path, message: str) -> Diagnostic:
    return Diagnostic(str(path), 0, 0, "", "error", message)


def validate_project(path: Path) -> tuple[Document | None, list[Diagnostic]]:
    """Every diagnostic for the project or file at PATH; the document when it could be parsed."""
    try:
        file, folder = config_file(path)
        document = read_yaml(file)
    except BodyworkError as exc:
        return None, exc.diagnostics
    exists = None if folder is None else (lambda module: (folder / module).is_file())
    return document, validate_document(document, exists)


def load_project(path: Path, env: str | None = None) -> Project:
    """The validated project at PATH, with the overlay of environment ``env`` applied; BodyworkError with every error
    found."""
    document, diagnostics = validate_project(path)
    if document is None or errors_in(diagnostics):
        raise BodyworkError(diagnostics)
    from bodywork_render.spec.model import build_pipeline

    file, folder = config_file(path)
    pipeline = build_pipeline(document.data)
    overlay: dict[str, Any] = {}
    if env:
        from bodywork_render.spec.overlay import apply_overlay, load_overlay

        overlay, overlay_warnings = load_overlay(file, env, document.data)
        pipeline = apply_overlay(pipeline, overlay)
        diagnostics += overlay_warnings
    return Project(folder, document, pipeline, tuple(diagnostics), overlay)
