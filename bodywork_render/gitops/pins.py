"""Stage pins: for each stage, the commit its pods fetch and the identity of what it runs.

A stage's inputs are the folder of its module (holding a requirements.txt beside it) and the
paths its ``inputs`` add, as the render's commit has them. Its pin is the newest commit on the
first-parent line that changed one of them: from that commit on, the stage runs the very same
files. So a commit that touches nothing a stage runs leaves the stage's objects as they were, and
a stage whose module sits at the repository's root depends on the whole commit. The identity is a
digest of the inputs' git object ids; the plan folds in the stage's spec and the identities of the
stages upstream of it (render/plan.py). Without a git checkout of the commit, every stage is
pinned to the commit itself.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import NamedTuple

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.source import Source
from bodywork_render.spec import names
from bodywork_render.spec.model import Pipeline, Stage


class Pin(NamedTuple):
    """The commit a stage's pods fetch ('' when they look it up by content), a digest of its inputs, and, for a
    tracked render, the git object id of each input path (what the pods look for on the tracked branch)."""

    commit: str
    inputs: str
    matches: tuple[tuple[str, str], ...] = ()


class Pins(NamedTuple):
    """The pin of each stage (by Kubernetes name) and of the pipeline as a whole (its objects that are no stage's);
    ``branch`` is the branch a tracked render's pods look on (None: they fetch the pinned commits)."""

    pipeline: Pin
    stages: dict[str, Pin]
    branch: str | None = None

    def of(self, stage: str) -> Pin:
        """The pin of ``stage``; the pipeline's for a stage without one of its own."""
        return self.stages.get(stage, self.pipeline)


def commit_pins(source: Source) -> Pins:
    """Every stage pinned to the source commit: what a render without the repository's history can tell."""
    return Pins(Pin(source.commit, source.commit), {})


def stage_inputs(stage: Stage, project_path: str) -> list[str]:
    """The paths (relative to the repository's root, '' for all of it) whose content a stage runs."""
    module_folder = posixpath.normpath(posixpath.dirname(posixpath.join(project_path, stage.module)))
    extra = [posixpath.normpath(posixpath.join(project_path, path)) for path in stage.inputs]
    return sorted({"" if path == "." else path for path in (module_folder, *extra)})


def _inputs(pipeline: Pipeline, project_path: str) -> dict[str, list[str]]:
    """The inputs of every stage, by Kubernetes name; BodyworkError for one that leaves the repository."""
    groups = {stage.name: stage_inputs(stage, project_path) for stage in pipeline.stages.values()}
    escaping = [
        f"stage {pipeline.stages[name].source_name!r}: input {path!r} leaves the repository"
        for name, paths in groups.items()
        for path in paths
        if path == ".." or path.startswith("../")
    ]
    if escaping:
        raise BodyworkError("; ".join(escaping))
    return groups


def resolve_pins(root: Path, source: Source, pipeline: Pipeline, config_files: list[str]) -> tuple[Pins, list[str]]:
    """The pins of every stage of ``pipeline`` at ``source.commit`` in the checkout at ``root``, and warnings.

    ``config_files`` (relative to ``root``) are bodywork.yaml and the overlay used: they make the pin of the
    pipeline's own objects (ServiceAccount, runner ConfigMap...). BodyworkError when an input is missing at the
    commit.
    """
    from bodywork_render.gitops import git

    groups = _inputs(pipeline, source.project_path)
    # The modules and bodywork.yaml too: a render from a clean work tree reads them from disk, where an ignored file
    # exists that the commit lacks.
    modules = {
        stage.name: posixpath.normpath(posixpath.join(source.project_path, stage.module))
        for stage in pipeline.stages.values()
    }
    wanted = {*config_files, *modules.values(), *(path for paths in groups.values() for path in paths if path)}
    objects = git.path_objects(root, source.commit, wanted)
    missing = [
        f"stage {pipeline.stages[name].source_name!r}: {path or '.'}/ is not in commit {source.short_commit}"
        for name, paths in groups.items()
        for path in paths
        if path and path not in objects
    ]
    missing += [
        f"stage {pipeline.stages[name].source_name!r}: {module} is not in commit {source.short_commit}"
        for name, module in modules.items()
        if module not in objects
    ]
    missing += [f"{path} is not in commit {source.short_commit}" for path in config_files if path not in objects]
    if missing:
        raise BodyworkError("; ".join(missing) + " (commit it, or render another --ref)")
    commits = git.last_changes(root, source.commit, {**groups, "": config_files})
    warnings = []
    if git.is_shallow(root):
        warnings.append(
            f"the checkout at {root} is a shallow clone: stages whose inputs did not change within its history are "
            "pinned to its oldest commit, so a deeper history may give other names (fetch it all: fetch-depth 0)"
        )

    def pin(key: str, paths: list[str]) -> Pin:
        identity = [f"{path}={objects.get(path, source.commit)}" for path in paths]
        return Pin(commits.get(key, source.commit), names.digest(*identity))

    stages = {name: pin(name, paths) for name, paths in groups.items()}
    return Pins(pin("", config_files), stages), warnings


def tracked_pins(
    root: Path, branch: str, project_path: str, pipeline: Pipeline, config_files: list[str], out: str | None
) -> Pins:
    """The pins of a render committed beside the code (``--track``): each stage by the git objects of its inputs
    as the index holds them (what the commit being made will hold), found by the pods on ``branch``.

    ``out`` (relative to ``root``) is the render's own folder, inside the repository: no stage input may hold it,
    or each render would change the inputs it pins. BodyworkError when one does, or when an input is not staged.
    """
    from bodywork_render.gitops import git

    groups = _inputs(pipeline, project_path)
    holding = [
        f"stage {pipeline.stages[name].source_name!r}: its input {path or '.'}/ holds the output folder {out}/"
        for name, paths in groups.items()
        for path in paths
        if out is not None and (path == "" or out == path or out.startswith(path + "/"))
    ]
    if holding:
        raise BodyworkError(
            "; ".join(holding) + " (with --track a stage's inputs must not hold the render: move its module into a "
            "folder of its own, or the output elsewhere)"
        )
    tree = git.index_tree(root)
    wanted = {*config_files, *(path for paths in groups.values() for path in paths)}
    objects = git.path_objects(root, tree, wanted)
    missing = sorted(path for path in wanted - objects.keys() if path not in config_files)
    if missing:
        raise BodyworkError(f"not in the index (git add them, or they are no stage's): {', '.join(missing)}")

    def pin(paths: list[str]) -> Pin:
        matches = tuple((path, objects[path]) for path in paths if path in objects)
        return Pin("", names.digest(*(f"{path}={oid}" for path, oid in matches)), matches)

    return Pins(pin(config_files), {name: pin(paths) for name, paths in groups.items()}, branch)
