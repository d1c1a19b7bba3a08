"""The `bodywork` command line (typer): parses flags, calls the core, prints, maps outcomes to exit codes.

Exit codes: 0 success, 1 invalid input (a known error), 2 usage error,
3 unexpected error (a crash log is written, see entry.py), 130 interrupted.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path

import typer

from bodywork_render import __version__
from bodywork_render.render.plan import DEFAULT_RUNNER_IMAGE
from bodywork_render.verify.kubernetes import DEFAULT_K8S_VERSION

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Validate a bodywork.yaml ML pipeline and render it into Kubernetes manifests, a kustomize tree or a Helm chart.",
)


class OutputFormat(str, enum.Enum):
    """What `render` writes."""

    manifests = "manifests"
    kustomize = "kustomize"
    helm = "helm"


class Engine(str, enum.Enum):
    """The GitOps engine that applies the output; it decides how DAG order and run_on_failure are expressed."""

    argocd = "argocd"
    flux = "flux"
    kubectl = "kubectl"


class ReportFormat(str, enum.Enum):
    """How diagnostics are printed."""

    text = "text"
    json = "json"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"bodywork-render {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
    ),
) -> None:
    """bodywork: ML pipelines on Kubernetes, the GitOps way."""


@app.command()
def validate(
    paths: list[Path] | None = typer.Argument(
        None, help="Project folders (holding bodywork.yaml) or files; default: ."
    ),
    report: ReportFormat = typer.Option(
        ReportFormat.text, "--format", help="text: one line per problem; json: a list of objects."
    ),
) -> None:
    """Check bodywork.yaml files against the schema and the pipeline rules; print every problem at once."""
    from bodywork_render.cli.main import run_validate

    raise typer.Exit(run_validate(paths or [], report.value))


@app.command()
def render(
    path: Path = typer.Argument(Path("."), help="Project folder (holding bodywork.yaml) or the file itself."),
    out: Path = typer.Option(..., "--out", help="Output folder; replaced atomically, stale files removed."),
    env: str | None = typer.Option(
        None, "--env", help="Environment whose overlay bodywork.<env>.yaml (beside bodywork.yaml) applies."
    ),
    output_format: OutputFormat = typer.Option(
        OutputFormat.manifests,
        "--format",
        help="manifests: one file per object; kustomize: a folder per DAG step plus Flux Kustomizations; helm: a Helm chart.",
    ),
    engine: Engine | None = typer.Option(
        None, "--engine", help="GitOps engine applying the output (default: argocd for manifests, flux for kustomize)."
    ),
    repo_url: str | None = typer.Option(
        None, "--repo-url", help="Git URL the stages fetch (default: the checkout's origin)."
    ),
    ref: str | None = typer.Option(
        None, "--ref", help="Commit, branch or tag to pin (default: HEAD), resolved to a full SHA."
    ),
    namespace: str | None = typer.Option(
        None, "--namespace", help="Namespace of every object (default: pipeline.namespace or the pipeline name)."
    ),
    runner_image: str = typer.Option(
        DEFAULT_RUNNER_IMAGE, "--runner-image", help="Image of the init container that fetches the code."
    ),
    k8s_version: str = typer.Option(
        DEFAULT_K8S_VERSION, "--k8s-version", help="Kubernetes version whose schemas every object must satisfy."
    ),
    templates: Path | None = typer.Option(
        None, "--templates", help="Folder of templates overriding the shipped ones by file name."
    ),
    create_namespace: bool = typer.Option(
        True, "--namespace-object/--no-namespace-object", help="Render the Namespace object."
    ),
    ingress_class: str | None = typer.Option(None, "--ingress-class", help="ingressClassName of the Ingresses."),
    ingress_host: str | None = typer.Option(None, "--ingress-host", help="Host of the Ingress rules."),
    git_secret: str | None = typer.Option(
        None,
        "--git-secret",
        help="Secret with git credentials (key 'token', or 'ssh-privatekey') for private repositories.",
    ),
    flux_source: str = typer.Option(
        "flux-system", "--flux-source", help="Flux GitRepository holding the output (kustomize format)."
    ),
    deploy_path: str | None = typer.Option(
        None,
        "--deploy-path",
        help="Path of --out inside the deployment repo, for Flux (default: from the enclosing git checkout).",
    ),
    check: bool = typer.Option(False, "--check", help="Render in memory; exit 1 with a diff when --out differs."),
    diff: bool = typer.Option(False, "--diff", help="Print the diff against --out and write nothing."),
    chart_version: str = typer.Option("0.1.0", "--chart-version", help="Version of the Helm chart (helm format)."),
    package: Path | None = typer.Option(
        None,
        "--package",
        help="Also write the chart archive <name>-<version>.tgz into this folder, as `helm package -d` would (helm format).",
    ),
) -> None:
    """Render the pipeline into Kubernetes objects, validated against the Kubernetes schemas, in DAG order."""
    from bodywork_render.cli.render import run_render

    if package is not None and output_format is not OutputFormat.helm:
        raise typer.BadParameter("needs --format helm", param_hint="--package")
    raise typer.Exit(
        run_render(
            path, out=out, env=env, output_format=output_format.value, engine=engine.value if engine else None,
            repo_url=repo_url, ref=ref, namespace=namespace, runner_image=runner_image, k8s_version=k8s_version,
            templates=templates, create_namespace=create_namespace, ingress_class=ingress_class, ingress_host=ingress_host,
            git_secret=git_secret, flux_source=flux_source, deploy_path=deploy_path, check=check, diff=diff,
            chart_version=chart_version, package=package,
        )
    )  # fmt: skip


@app.command()
def schema() -> None:
    """Print the JSON Schema of bodywork.yaml (for editors: yaml-language-server, VS Code)."""
    from bodywork_render.package_data import schema_text

    sys.stdout.write(schema_text())


# Commands that live in modules of their own register below, one line each.
from bodywork_render.cli.gitops import register as register_gitops

register_gitops(app)  # noqa: E402
from bodywork_render.cli.publish import register as register_publish

register_publish(app)  # noqa: E402
from bodywork_render.cli.run import register as register_run

register_run(app)  # noqa: E402
