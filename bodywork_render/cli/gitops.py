"""`bodywork gitops`: print the objects that run bodywork-render's output in a cluster (refresher, Flux, Argo CD).

Thin: flags become the options of ``bootstrap``, whose YAML goes to stdout; errors reach
the root command as ``BodyworkError`` (exit 1).
"""

from __future__ import annotations

import enum
import json
import sys

import typer

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.bootstrap import DEFAULT_REFRESHER_IMAGE, DEFAULT_SCHEDULE, REFRESHER_CHART

gitops = typer.Typer(
    no_args_is_help=True,
    help="Print the objects that put a deployment repository to work: the in-cluster refresher, a Flux or an Argo CD bootstrap.",
)


class GitAuth(str, enum.Enum):
    """The kind of git credentials in --git-secret."""

    token = "token"
    ssh = "ssh"


class PullPolicy(str, enum.Enum):
    """When the kubelet pulls the refresher's image."""

    Always = "Always"
    IfNotPresent = "IfNotPresent"
    Never = "Never"


@gitops.command()
def refresher(
    source: str = typer.Option(..., "--source", help="Git URL of the project repository (holding bodywork.yaml)."),
    to: str = typer.Option(..., "--to", help="Git URL of the deployment repository."),
    source_branch: str | None = typer.Option(
        None, "--source-branch", help="Branch of the project repository to follow."
    ),
    project_path: str | None = typer.Option(
        None, "--project-path", help="Folder of the project inside the source repository."
    ),
    branch: str | None = typer.Option(None, "--branch", help="Branch of the deployment repository."),
    path: str | None = typer.Option(None, "--path", help="Folder inside the deployment repository."),
    env: str | None = typer.Option(
        None, "--env", help="Environment whose overlay (bodywork.<env>.yaml) is applied."
    ),
    extra_args: list[str] | None = typer.Option(
        None, "--extra-arg", help="A further argument of `bodywork refresh` (repeatable)."
    ),
    name: str = typer.Option(REFRESHER_CHART, "--name", help="Name of the objects (the Helm release name)."),
    namespace: str = typer.Option("default", "--namespace", help="Namespace of the objects."),
    image: str = typer.Option(
        DEFAULT_REFRESHER_IMAGE,
        "--image",
        help="REPOSITORY\\[:TAG|@DIGEST] of an image with bodywork-render installed (default tag: this version).",
    ),
    image_pull_policy: PullPolicy = typer.Option(
        PullPolicy.IfNotPresent, "--image-pull-policy", help="When the kubelet pulls the image."
    ),
    image_pull_secrets: list[str] | None = typer.Option(
        None, "--image-pull-secret", help="Existing Secret to pull the image with (repeatable)."
    ),
    git_secret: str | None = typer.Option(
        None, "--git-secret", help="Existing Secret with the git credentials (default: none, public repositories)."
    ),
    git_auth: GitAuth = typer.Option(
        GitAuth.token,
        "--git-auth",
        help="token: BODYWORK_GIT_TOKEN from the Secret; ssh: private key and known_hosts files from it.",
    ),
    git_token_key: str = typer.Option("token", "--git-token-key", help="Key of the Secret holding the HTTPS token."),
    git_token_username: str | None = typer.Option(
        None, "--git-token-username", help="User name sent with the token (default: bodywork's, x-access-token)."
    ),
    git_ssh_key_key: str = typer.Option(
        "ssh-privatekey", "--git-ssh-key-key", help="Key of the Secret holding the SSH private key."
    ),
    git_known_hosts_key: str = typer.Option(
        "known_hosts", "--git-known-hosts-key", help="Key of the Secret holding the known_hosts lines."
    ),
    schedule: str = typer.Option(
        DEFAULT_SCHEDULE, "--schedule", help="Cron schedule (five fields or a macro such as @hourly)."
    ),
    time_zone: str | None = typer.Option(None, "--time-zone", help="Time zone of the schedule (tz database name)."),
    suspend: bool = typer.Option(False, "--suspend", help="Create the CronJob suspended."),
    successful_jobs_history_limit: int = typer.Option(
        3, "--successful-jobs-history-limit", help="Finished successful Jobs to keep."
    ),
    failed_jobs_history_limit: int = typer.Option(
        3, "--failed-jobs-history-limit", help="Finished failed Jobs to keep."
    ),
    starting_deadline_seconds: int = typer.Option(
        120, "--starting-deadline-seconds", help="Seconds after a missed start within which a run may still start."
    ),
    backoff_limit: int = typer.Option(2, "--backoff-limit", help="Retries of a failed run."),
    active_deadline_seconds: int = typer.Option(
        900, "--active-deadline-seconds", help="Seconds after which a run is stopped."
    ),
    cpu_request: str = typer.Option("100m", "--cpu-request", help="CPU request of the container."),
    memory_request: str = typer.Option("256Mi", "--memory-request", help="Memory request of the container."),
    cpu_limit: str = typer.Option("1", "--cpu-limit", help="CPU limit of the container ('' for none)."),
    memory_limit: str = typer.Option("1Gi", "--memory-limit", help="Memory limit of the container."),
    run_as_user: int = typer.Option(65532, "--run-as-user", help="Numeric user the container runs as."),
    run_as_group: int = typer.Option(
        65532, "--run-as-group", help="Numeric group the container runs as (and the pod's fsGroup)."
    ),
    service_account: str | None = typer.Option(
        None, "--service-account", help="Existing ServiceAccount to run as (default: create one named --name)."
    ),
    service_account_annotations: list[str] | None = typer.Option(
        None, "--service-account-annotation", help="KEY=VALUE annotation of the created ServiceAccount (repeatable)."
    ),
    helm_values: bool = typer.Option(
        False,
        "--helm-values",
        help="Print the values of charts/bodywork-refresher that give the same objects, instead of the objects.",
    ),
) -> None:
    """The in-cluster refresher as plain manifests: a ServiceAccount and a CronJob running `bodywork refresh`, as the chart renders them."""
    from bodywork_render.gitops.bootstrap import RefresherOptions, refresher_chart_values, refresher_manifests

    options = RefresherOptions(
        source=source,
        to=to,
        source_branch=source_branch,
        project_path=project_path,
        branch=branch,
        path=path,
        env=env,
        extra_args=tuple(extra_args or ()),
        name=name,
        namespace=namespace,
        image=image,
        image_pull_policy=image_pull_policy.value,
        image_pull_secrets=tuple(image_pull_secrets or ()),
        git_secret=git_secret,
        git_auth=git_auth.value,
        git_token_key=git_token_key,
        git_token_username=git_token_username,
        git_ssh_key_key=git_ssh_key_key,
        git_known_hosts_key=git_known_hosts_key,
        schedule=schedule,
        time_zone=time_zone,
        suspend=suspend,
        successful_jobs_history_limit=successful_jobs_history_limit,
        failed_jobs_history_limit=failed_jobs_history_limit,
        starting_deadline_seconds=starting_deadline_seconds,
        backoff_limit=backoff_limit,
        active_deadline_seconds=active_deadline_seconds,
        cpu_request=cpu_request,
        memory_request=memory_request,
        cpu_limit=cpu_limit or None,
        memory_limit=memory_limit,
        run_as_user=run_as_user,
        run_as_group=run_as_group,
        service_account=service_account,
        service_account_annotations=_pairs("--service-account-annotation", service_account_annotations),
    )
    if helm_values:
        sys.stdout.write(json.dumps(refresher_chart_values(options), indent=2) + "\n")
    else:
        sys.stdout.write(refresher_manifests(options).text)


@gitops.command()
def flux(
    repo: str = typer.Option(..., "--repo", help="Git URL of the deployment repository (http, https or ssh)."),
    branch: str = typer.Option(..., "--branch", help="Branch of the deployment repository."),
    path: str = typer.Option(
        ..., "--path", help="Folder of a `bodywork render --format kustomize` output inside the repository."
    ),
    name: str | None = typer.Option(
        None, "--name", help="Name of the GitRepository and Kustomization (default: the last folder of --path)."
    ),
    namespace: str = typer.Option(
        "flux-system", "--namespace", help="Namespace of the Flux objects, and of the per-step Kustomizations."
    ),
    interval: str = typer.Option("1m", "--interval", help="How often Flux fetches the repository."),
    secret_ref: str | None = typer.Option(
        None, "--secret-ref", help="Secret with the credentials of a private repository."
    ),
) -> None:
    """A Flux GitRepository and the Kustomization that applies the per-step Kustomizations of <path>/flux.

    <path> is a folder that `bodywork render --format kustomize --engine flux` (or `bodywork publish`) wrote: its flux/ folder holds one Kustomization per DAG step, chained by dependsOn, each with wait and prune. The Kustomization printed here applies that folder with prune (a step removed from the pipeline is deleted with its objects) and without wait (the steps wait, in order). It puts the steps in --namespace and points them at the GitRepository printed here, whatever --flux-source the render used; their paths are relative to the repository root, so render with --deploy-path <path>.
    """
    from bodywork_render.gitops.bootstrap import FluxOptions, flux_manifests

    options = FluxOptions(
        repo=repo, branch=branch, path=path, name=name, namespace=namespace, interval=interval, secret_ref=secret_ref
    )
    sys.stdout.write(flux_manifests(options).text)


@gitops.command()
def argocd(
    repo: str = typer.Option(..., "--repo", help="Git URL of the deployment repository."),
    branch: str = typer.Option(..., "--branch", help="Branch of the deployment repository."),
    path: str = typer.Option(..., "--path", help="Folder of a `bodywork render` output inside the repository."),
    name: str | None = typer.Option(
        None, "--name", help="Name of the Application (default: the last folder of --path)."
    ),
    namespace: str = typer.Option("argocd", "--namespace", help="Namespace of the Application (where Argo CD runs)."),
    dest_namespace: str | None = typer.Option(
        None,
        "--dest-namespace",
        help="Namespace Argo CD creates (restricted pod security) and applies unnamespaced objects in.",
    ),
    project: str = typer.Option("default", "--project", help="Argo CD project of the Application."),
) -> None:
    """An Argo CD Application with automated sync (prune, self-heal), CreateNamespace=true and retries with backoff.

    <path> is a folder that `bodywork render` (manifests, or kustomize with --engine argocd) or `bodywork publish` wrote; Argo CD runs its DAG steps in order by their sync waves.
    """
    from bodywork_render.gitops.bootstrap import ArgoCDOptions, argocd_manifests

    options = ArgoCDOptions(
        repo=repo,
        branch=branch,
        path=path,
        name=name,
        namespace=namespace,
        dest_namespace=dest_namespace,
        project=project,
    )
    sys.stdout.write(argocd_manifests(options).text)


def _pairs(flag: str, items: list[str] | None) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in items or ():
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise BodyworkError(f"{flag}: expected KEY=VALUE, got {item!r}")
        pairs.append((key, value))
    return tuple(pairs)


def register(app: typer.Typer) -> None:
    """Add the `gitops` command group to the root command."""
    app.add_typer(gitops, name="gitops")
