"""The `render` command without the CLI framework: its flags, their defaults, and its work.

`bodywork render` runs in pre-commit (`--check`) and CI, so entry.py answers a plain
render command line here without importing typer (about 25 ms of a ~12 ms interpreter
start). cli.py declares the same command for typer, which handles --help and every
command line this parser does not take; tests/test_cli.py checks that the two agree
flag by flag and default by default.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bodywork_render.render.plan import DEFAULT_RUNNER_IMAGE
from bodywork_render.verify.kubernetes import DEFAULT_K8S_VERSION

if TYPE_CHECKING:
    from bodywork_render.render.plan import RenderOptions

FORMATS = ("manifests", "kustomize", "helm")
ENGINES = ("argocd", "flux", "kubectl")

_VALUE = object()  # the flag takes the next word (or the text after '=') as its value
RENDER_FLAGS: dict[str, tuple[str, Any]] = {
    "--out": ("out", _VALUE),
    "--env": ("env", _VALUE),
    "--format": ("output_format", _VALUE),
    "--engine": ("engine", _VALUE),
    "--repo-url": ("repo_url", _VALUE),
    "--ref": ("ref", _VALUE),
    "--namespace": ("namespace", _VALUE),
    "--runner-image": ("runner_image", _VALUE),
    "--k8s-version": ("k8s_version", _VALUE),
    "--templates": ("templates", _VALUE),
    "--namespace-object": ("create_namespace", True),
    "--no-namespace-object": ("create_namespace", False),
    "--ingress-class": ("ingress_class", _VALUE),
    "--ingress-host": ("ingress_host", _VALUE),
    "--git-secret": ("git_secret", _VALUE),
    "--flux-source": ("flux_source", _VALUE),
    "--deploy-path": ("deploy_path", _VALUE),
    "--check": ("check", True),
    "--diff": ("diff", True),
    "--chart-version": ("chart_version", _VALUE),
    "--package": ("package", _VALUE),
}
"""Every flag of `render`: the parameter of ``run_render`` it sets, and its value (or _VALUE: the word given)."""

_PATHS = ("path", "out", "templates", "package")
_CHOICES = {"output_format": FORMATS, "engine": ENGINES}


def fast_render_args(argv: list[str]) -> dict[str, Any] | None:
    """The ``run_render`` arguments of a plain, well-formed `render` command line; None for anything else.

    None sends the command line to typer: --help, unknown flags, a missing --out, a bad
    choice, --package without --format helm, or a value that looks like a flag all get
    typer's own usage message there.
    """
    if not argv or argv[0] != "render":
        return None
    values: dict[str, Any] = {}
    positional_only = False
    words = iter(argv[1:])
    for word in words:
        if word == "--" and not positional_only:
            positional_only = True
        elif word.startswith("-") and not positional_only:
            flag, has_value, text = word.partition("=")
            if flag not in RENDER_FLAGS:
                return None
            name, value = RENDER_FLAGS[flag]
            if value is _VALUE:
                text = text if has_value else next(words, None)
                if text is None or text.startswith("-"):
                    return None
                value = text
            elif has_value:
                return None
            values[name] = value
        elif "path" in values:
            return None
        else:
            values["path"] = word
    return _checked(values)


def _checked(values: dict[str, Any]) -> dict[str, Any] | None:
    if "out" not in values or any(values.get(name, choices[0]) not in choices for name, choices in _CHOICES.items()):
        return None
    if "package" in values and values.get("output_format") != "helm":
        return None
    return {name: Path(value) if name in _PATHS else value for name, value in values.items()}


def render_options(
    output_format: str,
    engine: str | None,
    namespace: str | None,
    runner_image: str,
    k8s_version: str,
    create_namespace: bool,
    ingress_class: str | None,
    ingress_host: str | None,
    git_secret: str | None,
    flux_source: str,
    deploy_path: str = ".",
) -> RenderOptions:
    """RenderOptions from the render flags; ``deploy_path`` (the output's path in its repository) matters to kustomize only."""
    from bodywork_render.render.plan import RenderOptions, default_engine

    return RenderOptions(
        layout=output_format,  # type: ignore[arg-type]
        engine=engine or default_engine(output_format),  # type: ignore[arg-type]
        namespace=namespace,
        runner_image=runner_image,
        create_namespace=create_namespace,
        ingress_class=ingress_class,
        ingress_host=ingress_host,
        git_secret=git_secret,
        flux_source=flux_source,
        deploy_path=deploy_path if output_format == "kustomize" else ".",
        k8s_version=k8s_version,
    )


def run_render(
    path: Path = Path("."),
    *,
    out: Path,
    env: str | None = None,
    output_format: str = "manifests",
    engine: str | None = None,
    repo_url: str | None = None,
    ref: str | None = None,
    namespace: str | None = None,
    runner_image: str = DEFAULT_RUNNER_IMAGE,
    k8s_version: str = DEFAULT_K8S_VERSION,
    templates: Path | None = None,
    create_namespace: bool = True,
    ingress_class: str | None = None,
    ingress_host: str | None = None,
    git_secret: str | None = None,
    flux_source: str = "flux-system",
    deploy_path: str | None = None,
    check: bool = False,
    diff: bool = False,
    chart_version: str = "0.1.0",
    package: Path | None = None,
) -> int:
    """Render, then write --out (or, with --check/--diff, compare with it); the exit code: 1 when --check finds a difference."""
    from bodywork_render.gitops.source import path_in_repository
    from bodywork_render.render.write import diff_trees, read_tree, write_tree

    options = render_options(
        output_format, engine, namespace, runner_image, k8s_version, create_namespace,
        ingress_class, ingress_host, git_secret, flux_source, deploy_path or path_in_repository(out),
    )  # fmt: skip
    if output_format == "helm":
        from bodywork_render.render.chart import render_chart

        rendered = render_chart(
            path, options, chart_version=chart_version, env=env, repo_url=repo_url, ref=ref, templates=templates
        )
    else:
        from bodywork_render.render.manifests import render_project

        rendered = render_project(path, options, env=env, repo_url=repo_url, ref=ref, templates=templates)
    sys.stderr.writelines(warning + "\n" for warning in rendered.warnings)
    if check or diff:
        changes = diff_trees(read_tree(out), rendered.files, str(out))
        sys.stdout.write(changes)
        if check and changes:
            sys.stderr.write(f"{out} is out of date: run bodywork render to update it\n")
            return 1
        return 0
    write_tree(out, rendered.files)
    sys.stderr.write(f"rendered {len(rendered.objects)} objects into {out}\n")
    if package is not None:
        from bodywork_render.render.chart import package_chart

        sys.stderr.write(f"packaged the chart as {package_chart(rendered.files, package)}\n")
    return 0
