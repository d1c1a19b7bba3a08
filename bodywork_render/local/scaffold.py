"""Scaffold: a new project, copied from the shipped example (train a model, serve it).

The example ships in the wheel (``resource_dir("examples")``). The copy gets
the pipeline name of its folder (in bodywork.yaml and as its README's title;
the README's commands name the project `.`), its schema comment points at the
published JSON Schema instead of the example's place in this repository, and
its .gitignore leaves out ``build/``, where the next steps that `bodywork init`
prints render.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.package_data import resource_dir
from bodywork_render.render.write import writable_folder
from bodywork_render.spec import names

EXAMPLE = "train-and-serve"
SCHEMA_URL = "https://raw.githubusercontent.com/bodywork-render/bodywork-render/main/schemas/bodywork.schema.json"
# What a run of the example leaves behind, which a new project must not start with.
_LEFTOVERS = ("artifacts", "__pycache__", "*.pyc")
_NAME_LINE = re.compile(rf"^(  name: ){re.escape(EXAMPLE)}$", re.MULTILINE)
_SCHEMA_LINE = re.compile(r"^(# yaml-language-server: \$schema=)\S+$", re.MULTILINE)
_TITLE_LINE = re.compile(rf"^# {re.escape(EXAMPLE)}$", re.MULTILINE)
RENDER_FOLDER = "build"
"""Where the printed next steps render; the new project's .gitignore leaves it out."""


def example_folder() -> Path:
    """The example project shipped with this package."""
    return resource_dir("examples") / EXAMPLE


def pipeline_name(text: str) -> str:
    """A valid pipeline name made from ``text`` (a folder name): normalised, other characters as '-', at most 63.

    BodyworkError when nothing valid is left, or it starts with a digit: the example's Service is named
    after the pipeline, and a Service name must start with a letter.
    """
    name = re.sub(r"[^a-z0-9-]+", "-", names.normalise(text.strip()))
    name = re.sub(r"-{2,}", "-", name).strip("-")[: names.LABEL_MAX].rstrip("-")
    if not names.is_dns1035_label(name):
        starts = f" ({name!r} starts with a digit)" if names.is_label(name) else ""
        raise BodyworkError(
            f"cannot make a pipeline name out of {text!r}{starts}: give one with --name"
            " (a letter, then letters, digits and '-')"
        )
    return name


def scaffold(folder: Path, name: str | None = None) -> str:
    """Copy the example project into ``folder`` (missing or empty) as the pipeline ``name``; the name used.

    The name is made valid by ``pipeline_name``, from the folder's name when
    ``name`` is None. BodyworkError when ``folder`` holds anything, or no valid
    name can be made.
    """
    folder = writable_folder(folder, str(folder))
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BodyworkError(f"{folder} is not an empty folder: bodywork init writes into a new or empty one only")
    name = pipeline_name(folder.resolve().name if name is None else name)
    config = (example_folder() / "bodywork.yaml").read_text(encoding="utf-8")
    config, named = _NAME_LINE.subn(lambda match: f'{match[1]}"{name}"', config)
    config, pointed = _SCHEMA_LINE.subn(lambda match: f"{match[1]}{SCHEMA_URL}", config)
    readme, titled = _TITLE_LINE.subn(f"# {name}", (example_folder() / "README.md").read_text(encoding="utf-8"))
    readme = readme.replace(f"examples/{EXAMPLE}", ".")  # its commands run from the new project's folder
    if (named, pointed, titled) != (1, 1, 1):
        raise RuntimeError(
            f"the example lacks the pipeline name, schema line or README title ({named}, {pointed}, {titled})"
        )
    ignored = (example_folder() / ".gitignore").read_text(encoding="utf-8")
    existed = folder.exists()
    try:
        shutil.copytree(example_folder(), folder, ignore=shutil.ignore_patterns(*_LEFTOVERS), dirs_exist_ok=True)
        (folder / "bodywork.yaml").write_text(config, encoding="utf-8")
        (folder / "README.md").write_text(readme, encoding="utf-8")
        (folder / ".gitignore").write_text(f"{ignored}{RENDER_FOLDER}/\n", encoding="utf-8")
    except OSError as exc:
        if not existed:
            shutil.rmtree(folder, ignore_errors=True)
        raise BodyworkError(f"{folder}: cannot write the project: {exc.strerror or exc}") from None
    return name
