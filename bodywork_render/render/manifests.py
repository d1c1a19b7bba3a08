"""Manifests: the render chain of a project, and a plan's objects rendered, parsed back and verified.

Each rendered file is parsed back with a YAML 1.1 reader, as kubectl, kustomize and Flux
read it: since every user value is JSON-quoted (templating.py), a value can never add a
key, an object or a document. Nothing is written unless every object passes the strict
Kubernetes schemas and the restricted pod profile (verify/).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from bodywork_render import __version__
from bodywork_render.diagnostics import BodyworkError, Diagnostic
from bodywork_render.gitops.pins import Pins
from bodywork_render.gitops.source import Source
from bodywork_render.render.metadata import HydratorMetadata
from bodywork_render.render.options import ARGO_WORKFLOWS, RenderOptions, reproduce_command
from bodywork_render.render.plan import SYNC_FAIL_HOOK, Plan, PlannedObject, plan_pipeline
from bodywork_render.render.scheduled import readme_lines, schedule_problems
from bodywork_render.render.scheduled_run import readme_lines as run_readme_lines
from bodywork_render.render.scheduled_run import route_1_schedule, run_problems
from bodywork_render.render.templating import JOB_TEMPLATES, Templates, quote
from bodywork_render.spec import names
from bodywork_render.spec.model import Pipeline

if TYPE_CHECKING:
    from bodywork_render.gitops.git import CommitFiles
    from bodywork_render.spec.project import Project


class Rendered(NamedTuple):
    """The files of a render (relative path -> text), the Kubernetes objects in them, and warnings."""

    files: dict[str, str]
    objects: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]


class Prepared(NamedTuple):
    """What a render of a project needs besides templates: the project, its options (overlay applied), the source
    pin, the stage pins, the warnings so far, and the environment whose overlay applied."""

    project: Project
    options: RenderOptions
    source: Source
    pins: Pins
    warnings: tuple[str, ...]
    env: str | None = None
    track: str | None = None


def prepare(
    path: Path,
    options: RenderOptions,
    *,
    env: str | None = None,
    repo_url: str | None = None,
    ref: str | None = None,
    track: str | None = None,
    out: Path | None = None,
) -> Prepared:
    """Resolve the source, load and validate the project as the pinned commit holds it, apply the overlay and pin
    each stage.

    The source defaults to the project's git checkout. bodywork.yaml, the overlay and the module paths are read
    from the commit's git objects when the checkout has it (a working tree that differs is warned about, never
    rendered), else from the folder. With ``track`` (a branch) they are read from the index instead, and each stage
    is pinned by content (gitops/pins.py ``tracked_pins``; ``out`` is the render's folder).
    """
    from bodywork_render.gitops import git
    from bodywork_render.gitops.pins import commit_pins, resolve_pins, tracked_pins
    from bodywork_render.gitops.source import FULL_SHA, resolve_source
    from bodywork_render.spec.overlay import overlay_options, overlay_path
    from bodywork_render.spec.project import config_file, load_project

    config, project_folder = config_file(path)
    folder = project_folder or config.absolute().parent
    warnings: list[str] = []
    root = git.work_tree(folder)
    files: CommitFiles | None = None
    pinned = False  # whether the checkout holds the pinned commit (its history gives the stages' pins)
    differences: list[str] = []
    if track is not None:
        source, files = _tracked_source(folder, root, track, repo_url, ref, options)
        differences = files.differences(exclude=out)
        pinned = True
    else:
        head = None
        if ref is None and root is not None:
            try:
                head = git.head_status(folder)  # HEAD's commit and the working tree's changes: one git call
            except git.GitError:
                pass  # resolve_source says what is missing
        source = resolve_source(folder, repo_url, ref, options, head.checkout if head is not None else None)
        try:
            # resolve_source found HEAD or the ref in the checkout; a SHA given as --ref may be one it lacks.
            pinned = root is not None and (not FULL_SHA.match(ref or "") or git.has_commit(root, source.commit))
            if root is not None and not pinned:
                warnings.append(
                    f"warning: commit {source.short_commit} is not in this checkout"
                    f"{' (a shallow clone)' if git.is_shallow(root) else ''}: rendered the folder's files as that"
                    " commit's, every stage pinned to it; fetch the commit to render what it holds"
                )
            if pinned and root is not None:
                commit_files = git.CommitFiles(root, source.commit, folder)
                # Uncommitted changes matter when the render pins HEAD: another --ref differs from the tree by design.
                if ref is None:
                    differences = commit_files.differences(exclude=out, status=head)
                # A clean tree at HEAD holds the commit's files: read from disk, which is faster; else git's objects.
                files = commit_files if differences or ref is not None else None
        except git.GitError as exc:
            warnings.append(f"warning: {exc}: read the project from its folder, every stage pinned to the commit")
    shown = ", ".join(differences[:10]) + (f" and {len(differences) - 10} more" if len(differences) > 10 else "")
    try:
        project = load_project(path, env, files)
    except BodyworkError as exc:
        if not _caused_by_any(exc.diagnostics, differences, folder):
            raise
        read = f"commit {source.short_commit}" if source.commit else "the index"
        why = f"the render reads {read}, and the working tree differs from it in {shown}: " + (
            "commit them, or give --ref" if source.commit else "git add them"
        )
        raise BodyworkError([*exc.diagnostics, Diagnostic(str(folder), 0, 0, "", "error", why)]) from None
    if differences:
        read = f"commit {source.short_commit} as git holds it" if source.commit else "what the index holds"
        warnings.append(
            f"warning: rendered {read}; the working tree differs in {shown}"
            f" (not rendered: {'commit' if source.commit else 'git add'} them to render them)"
        )
    options = overlay_options(options, project.overlay)
    pins = commit_pins(source)
    if pinned and root is not None:
        configs = [config, *([overlay_path(config, env)] if env else [])]
        relative = [c.absolute().relative_to(root).as_posix() for c in configs]
        if track is not None:
            inside = out is not None and out.absolute().is_relative_to(root)
            out_path = out.absolute().relative_to(root).as_posix() if out is not None and inside else None
            pins = tracked_pins(root, track, source.project_path, project.pipeline, relative, out_path)
        else:
            pins, pin_warnings = resolve_pins(root, source, project.pipeline, relative)
            warnings += [f"warning: {w}" for w in pin_warnings]
    return Prepared(project, options, source, pins, (*(str(w) for w in project.warnings), *warnings), env, track)


def _caused_by_any(diagnostics: list[Diagnostic], differences: list[str], folder: Path) -> bool:
    """Whether load errors may come from the working tree differing from what the render reads: one is in a
    differing file, or names one (a module the commit lacks). ``differences`` are relative to ``folder``."""
    differing = {(folder / name).absolute() for name in differences}
    named = [re.compile(rf"(?<![\w./-]){re.escape(name)}(?![\w./-])") for name in differences]
    return any(
        Path(d.file).absolute() in differing or any(pattern.search(d.message) for pattern in named) for d in diagnostics
    )


def render_project(
    path: Path,
    options: RenderOptions,
    *,
    env: str | None = None,
    repo_url: str | None = None,
    ref: str | None = None,
    templates: Path | None = None,
    track: str | None = None,
    out: Path | None = None,
) -> Rendered:
    """The whole chain for a project folder or file: source, load, validate, model, overlay, pins, plan, render,
    verify (see ``prepare``). Warnings of the project come first."""
    with cycle_collection_paused():
        prepared = prepare(path, options, env=env, repo_url=repo_url, ref=ref, track=track, out=out)
        return render_prepared(prepared, templates)


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Python's cycle collector off for a render, as it was before afterwards.

    A render builds hundreds of thousands of long-lived, acyclic objects (the loaded document, the plan, every
    object parsed back), and each full collection walks them all again: with 1,000 stages, 10 full collections
    took 0.46 s of CPU, a fifth of the render. What cycles a render leaves (Jinja's, PyYAML's) are few and are
    collected once it is over.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _tracked_source(
    folder: Path, root: Path | None, track: str, repo_url: str | None, ref: str | None, options: RenderOptions
) -> tuple[Source, CommitFiles]:
    """The source of a ``--track`` render (no commit: the pods find it by content) and the index's files."""
    from bodywork_render.gitops import git
    from bodywork_render.gitops.redact import redact_url
    from bodywork_render.gitops.repo_url import check_repo_url

    if ref is not None:
        raise BodyworkError("--track and --ref: give one (a tracked render pins the content, not a commit)")
    if root is None:
        raise BodyworkError("--track needs a git checkout of the project: it reads the index")
    if not git.is_branch_name(track):
        raise BodyworkError(f"--track: expected a git branch name, got {track!r}")
    url = repo_url or git.origin_url(root)
    if not url:
        raise BodyworkError("cannot tell which repository the stages fetch: give --repo-url URL (or add an origin)")
    check_repo_url(url, "--repo-url" if repo_url else "the checkout's origin", options)
    return Source(redact_url(url), "", git.path_in_work_tree(folder)), git.CommitFiles(root, "", folder)


def render_prepared(prepared: Prepared, templates: Path | None = None) -> Rendered:
    """Render, parse back and verify a prepared project."""
    rendered = render_pipeline(
        prepared.project.pipeline,
        prepared.source,
        prepared.options,
        Templates(templates),
        prepared.pins,
        Provenance(prepared.env, templates, prepared.track),
    )
    warnings = (*prepared.warnings, *format_warnings(prepared.options), *rendered.warnings)
    return Rendered(rendered.files, rendered.objects, warnings)


def format_warnings(options: RenderOptions) -> tuple[str, ...]:
    """What the format cannot give the engine: Flux keeps the DAG order only through the kustomize format's
    per-step Kustomizations, which `bodywork gitops flux` applies."""
    if options.format == "manifests" and options.engine == "flux":
        return (
            "warning: --format manifests with --engine flux: Flux applies the folder at once, without the DAG order,"
            " and `bodywork gitops flux` applies <folder>/flux, which only --format kustomize writes;"
            " give --format kustomize",
        )
    return ()


class Provenance(NamedTuple):
    """What the output's README and hydrator.metadata record besides the source and options: the environment whose
    overlay applied, the folder of templates that overrode the shipped ones, and the branch a --track render
    tracks."""

    env: str | None = None
    templates: Path | None = None
    track: str | None = None

    def extra_flags(self) -> list[str]:
        """The flags besides the render options' that gave this output: --templates, --track."""
        import shlex

        flags = [f"--templates {shlex.quote(str(self.templates))}"] if self.templates else []
        return flags + ([f"--track {shlex.quote(self.track)}"] if self.track else [])


def render_pipeline(
    pipeline: Pipeline,
    source: Source,
    options: RenderOptions,
    templates: Templates,
    pins: Pins | None = None,
    provenance: Provenance = Provenance(),
) -> Rendered:
    """Plan, render, parse back and verify a pipeline; BodyworkError when an option or any object is wrong."""
    plan = plan_for_render(pipeline, source, options, templates, pins)
    return render_plan(pipeline, plan, source, options, templates, provenance)


def plan_for_render(
    pipeline: Pipeline, source: Source, options: RenderOptions, templates: Templates, pins: Pins | None = None
) -> Plan:
    """The plan of a pipeline, once its options are known to be right (BodyworkError otherwise)."""
    problems = option_problems(options) + schedule_problems(pipeline, options) + run_problems(pipeline, options)
    if problems:
        raise _error(problems)
    plan = plan_pipeline(pipeline, source, options, templates.digest(JOB_TEMPLATES), pins)
    if options.format == ARGO_WORKFLOWS:
        from bodywork_render.render.argo_workflows import WORKFLOW_TEMPLATES, argo_workflows_plan

        return argo_workflows_plan(pipeline, plan, options, templates.digest(WORKFLOW_TEMPLATES))
    return plan


def render_plan(
    pipeline: Pipeline,
    plan: Plan,
    source: Source,
    options: RenderOptions,
    templates: Templates,
    provenance: Provenance = Provenance(),
) -> Rendered:
    """Render, parse back and verify the objects of a plan; BodyworkError when any object is wrong."""
    with cycle_collection_paused():
        return _render_plan(pipeline, plan, source, options, templates, provenance)


def _render_plan(
    pipeline: Pipeline, plan: Plan, source: Source, options: RenderOptions, templates: Templates, provenance: Provenance
) -> Rendered:
    from bodywork_render.verify.rendered import rendered_problems

    header = file_header(source) + "\n"
    files: dict[str, str] = {}
    objects: list[dict[str, Any]] = []
    problems: list[str] = []
    for planned in plan.objects:
        text = templates.render(planned)
        parsed, problem = _parse_back(planned, text)
        if problem:
            problems.append(problem)
            continue
        if planned.template != "kustomization.yaml.j2":
            objects.append(parsed)
        files[planned.file] = header + text.rstrip("\n") + "\n"
    if problems:
        raise _error(problems)
    problems = rendered_problems(_kubernetes_objects(objects, options), options.k8s_version)
    if problems:
        raise _error(problems)
    files["hydrator.metadata"] = HydratorMetadata.of_manifests(
        source, options, provenance.env, provenance.track, route_1_schedule(pipeline, options.format)
    ).text()
    files["README.md"] = _readme(pipeline, plan, source, options, provenance)
    return Rendered(files, tuple(objects), tuple(f"warning: {w}" for w in plan.warnings))


def _kubernetes_objects(objects: list[dict[str, Any]], options: RenderOptions) -> list[dict[str, Any]]:
    """What the Kubernetes schemas and pod security checks read: the objects, or Argo Workflows' objects' pods."""
    if options.format != ARGO_WORKFLOWS:
        return objects
    from bodywork_render.render.argo_workflows import kubernetes_objects

    return kubernetes_objects(objects)


def option_problems(options: RenderOptions) -> list[str]:
    """What is wrong with the values of the render flags (or an overlay's ingress settings) that name Kubernetes things.

    The Kubernetes schemas do not check names, so an invalid namespace, host or Secret name
    would otherwise be rendered, quoted and harmless, but refused by the API server at apply time.
    """
    from bodywork_render.verify.kubernetes import schema_problems

    problems = []
    if options.namespace and not names.is_label(names.normalise(options.namespace)):
        problems.append(
            f"--namespace {options.namespace!r} becomes {names.normalise(options.namespace)!r}, not a valid Kubernetes "
            "name (expected a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters)"
        )
    host = options.ingress_host
    if host and not names.is_subdomain(host[2:] if host.startswith("*.") else host):
        problems.append(
            f"--ingress-host {host!r} is not a valid host name "
            "(expected a DNS name such as ml.example.com, optionally starting with '*.')"
        )
    optional = (("--ingress-class", options.ingress_class), ("--git-secret", options.git_secret))  # '' means none
    for flag, value in (*optional, ("--flux-source", options.flux_source), ("flux_namespace", options.flux_namespace)):
        if (value or (flag, value) not in optional) and not names.is_subdomain(value or ""):
            problems.append(
                f"{flag} {value!r} is not a valid Kubernetes name (expected lower-case letters, digits, '-' and '.')"
            )
    deploy = options.deploy_path.replace("\\", "/")
    if deploy.startswith("/") or ".." in deploy.split("/") or not deploy.isprintable():
        problems.append(
            f"--deploy-path {options.deploy_path!r} must be a path inside the deployment repository "
            "(relative, printable, without '..'), as Flux reads it"
        )
    image = options.runner_image
    if not image or not image.isascii() or not image.isprintable() or " " in image:
        problems.append(
            f"--runner-image {image!r} is not an image reference "
            f"(expected printable ASCII, no spaces, e.g. {RenderOptions().runner_image})"
        )
    try:
        schema_problems([], options.k8s_version)
    except ValueError as exc:
        problems.append(f"--k8s-version: {exc}")
    return problems


def _error(problems: list[str]) -> BodyworkError:
    return BodyworkError([Diagnostic("", 0, 0, "", "error", problem) for problem in problems])


def _parse_back(planned: PlannedObject, text: str) -> tuple[dict[str, Any], str | None]:
    import yaml

    where = f"{planned.file} (template {planned.template})"
    try:
        documents = [d for d in yaml.load_all(text, Loader=parse_back_loader()) if d is not None]
    except yaml.YAMLError as exc:
        return {}, f"{where}: rendered text is not valid YAML: {exc}"
    if len(documents) != 1 or not isinstance(documents[0], dict):
        return {}, f"{where}: expected exactly one object, got {len(documents)} documents"
    obj = documents[0]
    name = (obj.get("metadata") or {}).get("name")
    if obj.get("kind") != planned.kind or (planned.name and name != planned.name):
        return {}, f"{where}: expected {planned.kind}/{planned.name}, got {obj.get('kind')}/{name}"
    return obj, None


@cache
def parse_back_loader() -> type:
    """PyYAML's safe loader (libyaml's when there), building plain documents without its generic machinery.

    Parsing back is most of a large render, and most of that was PyYAML's constructor calling itself node by node.
    Here a string scalar, a plain mapping and a plain sequence are built directly, and every other scalar (int,
    bool, null, float, timestamp...) by the safe constructor itself, so the objects are exactly the safe loader's.
    A document with what the direct path does not handle (a merge key ``<<``, the value key ``=``, another
    collection tag, an unhashable key, a recursive alias) is built by the safe constructor from the start.
    """
    import yaml
    from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

    string, mapping, sequence = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
    by_constructor = frozenset(("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"))

    class NotPlain(Exception):
        pass

    class ParseBackLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        def construct_document(self, node: Node) -> Any:
            try:
                data = self._plain(node, {}, set())
            except NotPlain:
                return super().construct_document(node)
            self.constructed_objects: dict[Node, Any] = {}
            self.recursive_objects: dict[Node, None] = {}
            return data

        def _plain(self, node: Node, built: dict[int, Any], building: set[int]) -> Any:
            kind, tag = type(node), node.tag
            if kind is ScalarNode:
                if tag == string:
                    return node.value
                if tag in by_constructor:
                    raise NotPlain
                return self.construct_object(node)
            key = id(node)
            if key in built:  # an alias: the very object, as the safe constructor gives
                return built[key]
            if key in building:
                raise NotPlain
            building.add(key)
            data: Any
            if kind is MappingNode and tag == mapping:
                data = {}
                for key_node, value_node in node.value:
                    if key_node.tag in by_constructor:
                        raise NotPlain
                    name = self._plain(key_node, built, building)
                    if isinstance(name, (dict, list)):
                        raise NotPlain
                    data[name] = self._plain(value_node, built, building)
            elif kind is SequenceNode and tag == sequence:
                data = [self._plain(item, built, building) for item in node.value]
            else:
                raise NotPlain
            building.discard(key)
            built[key] = data
            return data

    return ParseBackLoader


def file_header(source: Source) -> str:
    """The comment line that opens every rendered file: what rendered it, from which repository; do not edit.

    Not the commit (hydrator.metadata records it): a commit that changes nothing a stage runs leaves every file of
    its objects byte-identical.
    """
    return f"# Rendered by bodywork-render {__version__} from {quote(source.repo_url)}. Do not edit: render again."


def _readme(pipeline: Pipeline, plan: Plan, source: Source, options: RenderOptions, provenance: Provenance) -> str:
    lines = [
        f"# {pipeline.name}: rendered Kubernetes objects",
        "",
        "Generated by bodywork-render; do not edit. To reproduce this folder exactly, from the root of a checkout of",
        "the project's repository:",
        "",
        "```sh",
        reproduce_command(source, options, provenance.env, *provenance.extra_flags()),
        "```",
        "",
        "Objects, in DAG order (Argo CD sync waves):",
        "",
    ]
    hooks = [o for o in plan.objects if o.values.get("annotations", {}).get(SYNC_FAIL_HOOK)]
    lines += [
        f"- step {o.step}: {o.kind} `{o.name}` in `{o.file}`"
        for o in plan.objects
        if o.name and o.template != "flux-kustomization.yaml.j2" and o not in hooks
    ]
    lines += [
        f"- only when a sync fails: {o.kind} `{o.name}` in `{o.file}`, the run_on_failure stage, an Argo CD"
        " SyncFail hook. Argo CD alone runs it; a plain `kubectl apply` of this folder would start it at once:"
        " render with `--engine kubectl` to leave it out"
        for o in hooks
    ]
    cron_job = next((o for o in plan.objects if o.kind == "CronJob"), None)
    namespace = names.normalise(options.namespace) if options.namespace else pipeline.namespace
    if options.format == ARGO_WORKFLOWS:
        from bodywork_render.render.argo_workflows import argo_readme_lines

        lines += argo_readme_lines(pipeline, plan, namespace)
    else:
        lines += readme_lines(pipeline, namespace, cron_job.name if cron_job else None)
    lines += run_readme_lines(options, namespace)
    if plan.warnings:
        lines += ["", "Warnings:", ""] + [f"- {w}" for w in plan.warnings]
    return "\n".join(lines) + "\n"
