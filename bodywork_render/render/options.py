"""The options of a render and their flags, declared once: `render`, `publish` and `refresh` all read them.

Each field carries its flag (``bodywork_render.flags.Flag``): the core reads the value,
the command line the name, help and choices, and ``reproduce_command`` spells a render back.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple, get_args, get_type_hints

from bodywork_render.flags import Arg, Flag
from bodywork_render.spec.overlay import ENV_FLAG
from bodywork_render.verify.kubernetes import DEFAULT_K8S_VERSION

if TYPE_CHECKING:
    from bodywork_render.gitops.source import Source

Format = Literal["manifests", "kustomize", "helm", "argo-workflows"]
Engine = Literal["argocd", "flux", "kubectl"]
FORMATS: tuple[Format, ...] = get_args(Format)
ARGO_WORKFLOWS: Format = "argo-workflows"
FLUX_PATH_FORMATS: tuple[Format, ...] = ("kustomize", ARGO_WORKFLOWS)
"""The formats whose output holds Flux Kustomizations (its flux/ folder, which `bodywork gitops flux` applies): they
name the output's folder in the deployment repository, --deploy-path."""
ENGINES: tuple[Engine, ...] = get_args(Engine)

DEFAULT_RUNNER_IMAGE = "python:3.12-bookworm"
DEFAULT_CHART_VERSION = "0.1.0"


class RenderOptions(NamedTuple):
    """Everything besides bodywork.yaml and the source commit that decides the output (or refuses it: the
    repository URL's check reads git_secret, allow_local_repo and public_ssh_repo)."""

    format: Annotated[
        Format,
        Flag(
            "--format",
            "What to write.",
            choices=FORMATS,
            meanings={
                "manifests": "one file per object",
                "kustomize": "a folder per DAG step plus Flux Kustomizations",
                "helm": "a Helm chart",
                "argo-workflows": "the batch stages as an Argo Workflows WorkflowTemplate and its runs",
            },
        ),
    ] = "manifests"
    engine: Annotated[
        Engine,
        Flag(
            "--engine",
            "GitOps engine applying the output (default: argocd for manifests, flux for kustomize).",
            default=None,
        ),
    ] = "argocd"
    namespace: Annotated[
        str | None,
        Flag("--namespace", "Namespace of every object (default: pipeline.namespace or the pipeline name)."),
    ] = None
    runner_image: Annotated[
        str, Flag("--runner-image", "Image of the init container that fetches the code (needs python3, git, ssh).")
    ] = DEFAULT_RUNNER_IMAGE
    namespace_object: Annotated[
        bool, Flag("--namespace-object/--no-namespace-object", "Render the Namespace object.")
    ] = True
    ingress_class: Annotated[str | None, Flag("--ingress-class", "ingressClassName of the Ingresses.")] = None
    ingress_host: Annotated[str | None, Flag("--ingress-host", "Host of the Ingress rules.")] = None
    git_secret: Annotated[
        str | None,
        Flag(
            "--git-secret",
            "Secret with git credentials (key 'token', or 'ssh-privatekey') for private repositories.",
        ),
    ] = None
    allow_local_repo: Annotated[
        bool,
        Flag(
            "--allow-local-repo",
            "Accept a local path or file:// URL as the repository (the pods must be able to read it).",
        ),
    ] = False
    public_ssh_repo: Annotated[
        bool,
        Flag(
            "--public-ssh-repo",
            "Accept an ssh repository URL without --git-secret: its host lets anyone fetch over ssh without a key.",
        ),
    ] = False
    flux_source: Annotated[str, Flag("--flux-source", "Flux GitRepository holding the output (kustomize format).")] = (
        "flux-system"
    )
    flux_namespace: str = "flux-system"  # no flag: the Flux bootstrap (gitops flux --namespace) decides it
    deploy_path: Annotated[
        str,
        Flag(
            "--deploy-path",
            "Path of --out inside the deployment repo, for Flux (default: from the enclosing git checkout; outside"
            " one, --out's name, with a warning).",
            default=None,
        ),
    ] = "."
    k8s_version: Annotated[
        str, Flag("--k8s-version", "Kubernetes version whose schemas every object must satisfy.")
    ] = DEFAULT_K8S_VERSION
    scheduled_run: Annotated[
        str | None,
        Flag(
            "--scheduled-run",
            "Render the scheduled run of this time (UTC, e.g. 2026-12-04T20:00:00Z): the batch stages of a schedule"
            " the refresher runs get new Jobs, the stages after them roll.",
        ),
    ] = None

    @classmethod
    def from_flags(cls, values: Mapping[str, Any]) -> RenderOptions:
        """The options of parsed flag values: the engine the format is meant for unless one is given,
        the deploy path for the formats with Flux Kustomizations only (the others do not name their folder)."""
        fields = {name: values[name] for name in flags_of(cls) if values.get(name) is not None}
        output_format = fields.get("format", "manifests")
        fields["engine"] = fields.get("engine") or default_engine(output_format)
        if output_format not in FLUX_PATH_FORMATS:
            fields.pop("deploy_path", None)
        return cls(**fields)


class ProjectInput(NamedTuple):
    """What a render reads besides RenderOptions: the project, its environment, the source pin and templates."""

    path: Annotated[Path, Arg("Project folder (holding bodywork.yaml) or the file itself.")] = Path(".")
    env: Annotated[str | None, ENV_FLAG] = None
    repo_url: Annotated[
        str | None, Flag("--repo-url", "Git URL the stages fetch (default: the checkout's origin).")
    ] = None
    ref: Annotated[
        str | None, Flag("--ref", "Commit, branch or tag to pin (default: HEAD), resolved to a full SHA.")
    ] = None
    templates: Annotated[
        Path | None, Flag("--templates", "Folder of templates overriding the shipped ones by file name.")
    ] = None


def default_engine(output_format: str) -> Engine:
    """The engine a format is meant for: Flux reads the kustomize format, Argo CD the plain manifests."""
    return "flux" if output_format == "kustomize" else "argocd"


def flags_of(options: type) -> dict[str, Flag]:
    """The flag of each field of an options type that has one, in field order."""
    hints = get_type_hints(options, include_extras=True)
    return {
        name: flag
        for name, hint in hints.items()
        for flag in getattr(hint, "__metadata__", ())
        if isinstance(flag, Flag)
    }


def reproduce_command(source: Source, options: RenderOptions, env: str | None, *extra: str) -> str:
    """The `bodywork render` command line, run from the repository's root, that gives exactly this output again:
    the project's folder in the repository, the pin, the environment, every render flag not at its default, and
    ``extra`` flags (the chart's)."""
    import shlex

    pin = flags_of(ProjectInput)
    flags = [
        shlex.quote(source.project_path or "."),
        "--out <this folder>",
        *extra,
        f"{pin['repo_url'].name} {shlex.quote(source.repo_url)}",
        *([f"{pin['ref'].name} {source.commit}"] if source.commit else []),  # none for a --track render
    ]
    if env:
        flags.append(f"{pin['env'].name} {shlex.quote(env)}")
    for name, flag in flags_of(RenderOptions).items():
        value = getattr(options, name)
        if value == RenderOptions._field_defaults[name]:
            continue
        if isinstance(value, bool):
            flags.append(flag.name if value else flag.negative or f"--no-{flag.name[2:]}")
        else:
            flags.append(f"{flag.name} {shlex.quote(str(value))}")
    return "bodywork render " + " ".join(flags)
