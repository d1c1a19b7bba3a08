"""Project: find a bodywork.yaml, load and validate it, and build the model when it is valid."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path

from bodywork_render.diagnostics import BodyworkError, Diagnostic, errors_in
from bodywork_render.spec.load import Document, read_document
from bodywork_render.spec.overlay import apply_overlay, overlay_env, read_overlay
from bodywork_render.spec.validate import validate_document, validate_overlay

CONFIG_NAMES = ("bodywork.yaml", "bodywork.yml")

TYPE_CHECKING = False  # without importing typing: see diagnostics.py
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    from bodywork_render.spec.load import Files
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
    """A validated project: its folder (None for a file not named bodywork.yaml), document, model, warnings, overlay."""

    __slots__ = ()


def config_file(path: Path) -> tuple[Path, Path | None]:
    """The bodywork.yaml for PATH and the project folder.

    A project's own file (named bodywork.yaml or bodywork.yml) has its folder, so that it gets
    the folder's verdict (pre-commit passes file names); any other file is checked alone (None).
    """
    if path.is_dir():
        for name in CONFIG_NAMES:
            if (path / name).is_file():
                return path / name, path
        raise BodyworkError(
            [_file_error(path, "no bodywork.yaml in this folder (expected a project folder or a bodywork.yaml file)")]
        )
    if path.exists():
        return path, path.parent if path.name in CONFIG_NAMES else None
    raise BodyworkError([_file_error(path, "no such file or folder")])


def _file_error(path: Path, message: str) -> Diagnostic:
    return Diagnostic(str(path), 0, 0, "", "error", message)


def validate_project(
    path: Path, env: str | None = None, files: Files | None = None
) -> tuple[tuple[Document, ...], list[Diagnostic]]:
    """Every diagnostic for the project or file at PATH with the overlay of ``env`` (None: no overlay), and the
    documents read: the project's, then the overlay's once the project is valid (before, only the overlay's own
    problems are looked for). The files are read from disk, or from ``files`` (one commit) when given.

    An overlay given by name (``bodywork.<env>.yaml``) is checked as `render --env <env>` loads it: first
    the bodywork.yaml beside it as a project, then the overlay against bodywork-env.schema.json and that project.
    """
    named_env = overlay_env(path)
    if named_env is not None:
        if not any((path.parent / name).is_file() for name in CONFIG_NAMES):
            return (), [_file_error(path, f"no bodywork.yaml beside this overlay of environment {named_env!r}")]
        path, env = path.parent, named_env
    try:
        file, folder = config_file(path)
    except BodyworkError as exc:
        return (), exc.diagnostics
    is_file = files.is_file if files is not None else Path.is_file
    exists = None if folder is None else (lambda module: is_file(folder / module))
    try:
        document = read_document(file, files)
    except BodyworkError as exc:  # unreadable: the overlay is still checked on its own
        documents: tuple[Document, ...] = ()
        diagnostics = exc.diagnostics
    else:
        documents = (document,)
        diagnostics = validate_document(document, exists)
    if env is None:
        return documents, diagnostics
    try:
        overlay = read_overlay(file, env, files)
    except BodyworkError as exc:
        return documents, diagnostics + exc.diagnostics
    if errors_in(diagnostics):
        return documents, diagnostics + validate_overlay(overlay, None)
    return (document, overlay), diagnostics + validate_overlay(overlay, document.data)


def load_project(path: Path, env: str | None = None, files: Files | None = None) -> Project:
    """The validated project at PATH, with the overlay of environment ``env`` applied, read from disk or from
    ``files`` (one commit); BodyworkError with every error found."""
    named_env = overlay_env(path)
    if named_env is not None:
        raise BodyworkError(
            [_file_error(path, f"an overlay, not a project: give its project folder with --env {named_env}")]
        )
    documents, diagnostics = validate_project(path, env, files)
    if not documents or errors_in(diagnostics):
        raise BodyworkError(diagnostics)
    from bodywork_render.spec.model import build_pipeline

    pipeline = build_pipeline(documents[0].data)
    overlay: dict[str, Any] = {}
    if len(documents) > 1:
        overlay = documents[1].data or {}
        pipeline = apply_overlay(pipeline, overlay)
    return Project(config_file(path)[1], documents[0], pipeline, tuple(diagnostics), overlay)
