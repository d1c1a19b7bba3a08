"""Render: fill the Jinja templates of a plan, parse every result back, and check it.

Every user value reaches a template through the ``q`` filter (a JSON scalar or flow
collection, which YAML 1.1 and 1.2 readers both read back unchanged), and each
rendered file is parsed back with a YAML 1.1 reader, as kubectl, kustomize and Flux
read it: a value can never add a key, an object or a document.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, NamedTuple

from bodywork_render import __version__
from bodywork_render.diagnostics import BodyworkError, Diagnostic
from bodywork_render.gitops.source import Source
from bodywork_render.package_data import resource_dir
from bodywork_render.render.options import RenderOptions, reproduce_flags
from bodywork_render.render.plan import Plan, PlannedObject, plan_pipeline
from bodywork_render.spec import names
from bodywork_render.spec.model import Pipeline

JOB_TEMPLATES = ("job.yaml.j2", "_pod.yaml.j2")


class Rendered(NamedTuple):
    """The files of a render (relative path -> text), the Kubernetes objects in them, and warnings."""

    files: dict[str, str]
    objects: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]


def quote(value: Any) -> str:
    """A value as a JSON-like double-quoted YAML scalar: strings always quoted, so `no`, `0644` or `1e3` stay strings
    in YAML 1.1, and every character outside printable ASCII escaped. A character beyond U+FFFF is escaped as
    ``\\UXXXXXXXX``, not as JSON's surrogate pair, which YAML readers (libyaml, go-yaml) refuse."""
    text = json.dumps(value, ensure_ascii=False)
    if text.isascii() and text.isprintable():
        return text
    return "".join(
        c if " " <= c <= "~" else f"\\U{ord(c):08x}" if ord(c) > 0xFFFF else f"\\u{ord(c):04x}" for c in text
    )


def block(value: Any, indent: int) -> str:
    """A value as block YAML at ``indent`` spaces, every key and scalar JSON-quoted; starts with ' ' or a newline.

    Used as ``key:{{ value | block(2) }}`` so collections diff line by line in review.
    """
    pad = " " * indent
    if isinstance(value, dict) and value:
        return "".join(f"\n{pad}{quote(k)}:{block(v, indent + 2)}" for k, v in value.items())
    if isinstance(value, list) and value:
        items = []
        for item in value:
            text = block(item, indent + 2)
            items.append(f"\n{pad}- {text.lstrip()}" if isinstance(item, (dict, list)) and item else f"\n{pad}-{text}")
        return "".join(items)
    return f" {quote(value)}"


def jinja_environment(folders: list[Path], **syntax: Any) -> Any:
    """A Jinja environment with the options every template of the project needs, in one place.

    The first folder holding a template name wins (a user's override before the shipped
    ones); compiled templates are cached on disk (template_cache.py); a missing variable is
    an error, nothing is HTML-escaped, trailing newlines stay, and the ``q`` filter
    JSON-quotes values. ``syntax`` sets delimiters and whitespace control.
    """
    import jinja2

    from bodywork_render.render.template_cache import bytecode_cache

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(folder) for folder in folders]),
        bytecode_cache=bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        **syntax,
    )
    env.filters["q"] = quote
    return env


class Templates:
    """The Jinja environment: shipped templates, overridden file by file by a user's folder."""

    def __init__(self, override: Path | None = None) -> None:
        if override is not None and not override.is_dir():
            raise BodyworkError(f"--templates {str(override)!r}: no such folder")
        folders = [override] if override is not None else []
        self.env = jinja_environment([*folders, resource_dir("templates")])
        self.env.filters["block"] = block

    def digest(self, names: tuple[str, ...]) -> str:
        """A digest of the templates' source text, so a changed template changes what it names."""
        h = hashlib.sha256()
        for name in names:
            source, _, _ = self.env.loader.get_source(self.env, name)  # type: ignore[union-attr]
            h.update(source.encode())
        return h.hexdigest()[:16]

    def render(self, planned: PlannedObject) -> str:
        """One planned object as YAML text."""
        import jinja2

        try:
            return self.env.get_template(planned.template).render(**planned.values)
        except jinja2.TemplateError as exc:
            raise BodyworkError(f"template {planned.template}: {exc}") from None


def render_project(
    path: Path,
    options: RenderOptions,
    *,
    env: str | None = None,
    repo_url: str | None = None,
    ref: str | None = None,
    templates: Path | None = None,
) -> Rendered:
    """The whole chain for a project folder or file: load, validate, model, overlay, source, plan, render, check.

    The source defaults to the project's git checkout; warnings of the project come first.
    """
    from bodywork_render.gitops.source import resolve_source
    from bodywork_render.spec.overlay import overlay_options
    from bodywork_render.spec.project import load_project

    project = load_project(path, env)
    options = overlay_options(options, project.overlay)
    source = resolve_source(project.folder or path.absolute().parent, repo_url, ref)
    rendered = render_pipeline(project.pipeline, source, options, Templates(templates))
    return Rendered(rendered.files, rendered.objects, tuple(str(w) for w in project.warnings) + rendered.warnings)


def render_pipeline(pipeline: Pipeline, source: Source, options: RenderOptions, templates: Templates) -> Rendered:
    """Plan, render, parse back and check a pipeline; BodyworkError when an option or any object is wrong."""
    problems = option_problems(options)
    if problems:
        raise BodyworkError([Diagnostic("", 0, 0, "", "error", problem) for problem in problems])
    plan = plan_pipeline(pipeline, source, options, templates.digest(JOB_TEMPLATES))
    header = _header(source)
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
        raise BodyworkError(problems)
    problems = check_rendered(objects, options.k8s_version)
    if problems:
        raise BodyworkError(problems)
    files["hydrator.metadata"] = hydrator_metadata(source, options.layout, options.k8s_version, engine=options.engine)
    files["README.md"] = _readme(pipeline, plan, source, options)
    return Rendered(files, tuple(objects), tuple(f"warning: {w}" for w in plan.warnings))


def option_problems(options: RenderOptions) -> list[str]:
    """What is wrong with the values of the render flags (or an overlay's ingress settings) that name Kubernetes things.

    The Kubernetes schemas do not check names, so an invalid namespace, host or Secret name
    would otherwise be rendered, quoted and harmless, but refused by the API server at apply time.
    """
    from bodywork_render.verify.kubernetes import check_objects

    problems = []
    if options.namespace and not names.is_label(names.normalise(options.namespace)):
        problems.append(
            f"--namespace {options.namespace!r} becomes {names.normalise(options.namespace)!r}, not a valid Kubernetes name (expected a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters)"
        )
    host = options.ingress_host
    if host and not names.is_subdomain(host[2:] if host.startswith("*.") else host):
        problems.append(
            f"--ingress-host {host!r} is not a valid host name (expected a DNS name such as ml.example.com, optionally starting with '*.')"
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
            f"--deploy-path {options.deploy_path!r} must be a path inside the deployment repository (relative, printable, without '..'), as Flux reads it"
        )
    image = options.runner_image
    if not image or not image.isascii() or not image.isprintable() or " " in image:
        problems.append(
            f"--runner-image {image!r} is not an image reference (expected printable ASCII, no spaces, e.g. {RenderOptions().runner_image})"
        )
    try:
        check_objects([], options.k8s_version)
    except ValueError as exc:
        problems.append(f"--k8s-version: {exc}")
    return problems


def _parse_back(planned: PlannedObject, text: str) -> tuple[dict[str, Any], str | None]:
    import yaml

    where = f"{planned.file} (template {planned.template})"
    try:
        documents = [
            d for d in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d is not None
        ]
    except yaml.YAMLError as exc:
        return {}, f"{where}: rendered text is not valid YAML: {exc}"
    if len(documents) != 1 or not isinstance(documents[0], dict):
        return {}, f"{where}: expected exactly one object, got {len(documents)} documents"
    obj = documents[0]
    if obj.get("kind") != planned.kind or (planned.name and (obj.get("metadata") or {}).get("name") != planned.name):
        return (
            {},
            f"{where}: expected {planned.kind}/{planned.name}, got {obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}",
        )
    return obj, None


def check_rendered(objects: list[dict[str, Any]], k8s_version: str) -> list[str]:
    """Every problem of rendered objects: Kubernetes schemas (strict), the restricted pod profile, our hardening."""
    from bodywork_render.verify.kubernetes import check_objects
    from bodywork_render.verify.podsecurity import hardening_violations, restricted_violations

    problems = [str(p) for p in check_objects(objects, k8s_version)]
    for obj in objects:
        problems += [str(p) for p in restricted_violations(obj) + hardening_violations(obj)]
    return problems


def _header(source: Source) -> str:
    return f"# Rendered by bodywork-render {__version__} from {quote(source.repo_url)} at {source.commit}. Do not edit: render again.\n"


def hydrator_metadata(source: Source, output_format: str, k8s_version: str, **extra: str) -> str:
    """The hydrator.metadata file of every output: the source it was rendered from, by what, and how."""
    metadata = {
        "drySha": source.commit,
        "repoURL": source.repo_url,
        "projectPath": source.project_path,
        "tool": "bodywork-render",
        "toolVersion": __version__,
        "format": output_format,
        **extra,
        "kubernetesVersion": k8s_version,
    }
    return json.dumps(metadata, indent=2) + "\n"


def _readme(pipeline: Pipeline, plan: Plan, source: Source, options: RenderOptions) -> str:
    flags = reproduce_flags(source, options)
    lines = [
        f"# {pipeline.name}: rendered Kubernetes objects",
        "",
        "Generated by bodywork-render; do not edit. To reproduce this folder exactly, from the project's checkout:",
        "",
        "```sh",
        f"bodywork render . --out <this folder> {' '.join(flags)}",
        "```",
        "",
        "Objects, in DAG order (Argo CD sync waves):",
        "",
    ]
    lines += [
        f"- step {o.step}: {o.kind} `{o.name}` in `{o.file}`"
        for o in plan.objects
        if o.name and o.template != "flux-kustomization.yaml.j2"
    ]
    if plan.warnings:
        lines += ["", "Warnings:", ""] + [f"- {w}" for w in plan.warnings]
    return "\n".join(lines) + "\n"
