"""Bootstrap: the objects that put a deployment repository to work in a cluster.

- ``refresher_manifests``: the in-cluster refresher (a ServiceAccount and a CronJob that
  runs ``bodywork refresh``), the same objects as the chart ``charts/bodywork-refresher``
  renders with ``refresher_chart_values`` (the tests prove it against ``helm template``);
- ``flux_manifests``: a Flux GitRepository for the deployment repository and the one
  Kustomization that applies the ``flux/`` folder of a kustomize render;
- ``argocd_manifests``: an Argo CD Application that syncs a rendered folder.

Pure: options in, YAML text and the parsed objects out. Every object is parsed back and
checked against the Kubernetes and CRD schemas, and pods against the restricted profile,
before anything is returned; bad options raise ``BodyworkError`` listing every problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from bodywork_render import __version__
from bodywork_render.diagnostics import BodyworkError, Diagnostic
from bodywork_render.flags import Flag
from bodywork_render.render.labels import MANAGED_BY
from bodywork_render.spec import names
from bodywork_render.spec.images import split_image
from bodywork_render.verify.kubernetes import DEFAULT_K8S_VERSION

REFRESHER_CHART = "bodywork-refresher"
DEFAULT_REFRESHER_IMAGE = "ghcr.io/bodywork-render/bodywork-render"
DEFAULT_SCHEDULE = "*/5 * * * *"
HOME = "/home/bodywork"
GIT_CREDENTIALS = "/etc/bodywork/git"
CRONJOB_NAME_MAX = 52  # the controller appends 11 characters to name each Job (at most 63)
_SCHEDULE = re.compile(r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|\S+( +\S+){4})$")

GitAuth = Literal["token", "ssh"]


@dataclass(frozen=True)
class Manifests:
    """YAML documents ready for ``kubectl apply -f -`` or a commit, the objects they hold, and what they assume."""

    text: str
    objects: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...] = ()


PullPolicy = Literal["Always", "IfNotPresent", "Never"]


def parse_pair(flag: str, item: str) -> tuple[str, str]:
    """``KEY=VALUE`` as (key, value); BodyworkError naming ``flag`` otherwise."""
    key, equals, value = item.partition("=")
    if not equals or not key:
        raise BodyworkError(f"{flag}: expected KEY=VALUE, got {item!r}")
    return key, value


@dataclass(frozen=True)
class RefresherOptions:
    """What the refresher runs and how; each field is one value of the chart (see ``refresher_chart_values``)."""

    source: Annotated[str, Flag("--source", "Git URL of the project repository (holding bodywork.yaml).")]
    to: Annotated[str, Flag("--to", "Git URL of the deployment repository.")]
    source_branch: Annotated[str | None, Flag("--source-branch", "Branch of the project repository to follow.")] = None
    project_path: Annotated[
        str | None, Flag("--project-path", "Folder of the project inside the source repository.")
    ] = None
    branch: Annotated[str | None, Flag("--branch", "Branch of the deployment repository.")] = None
    path: Annotated[str | None, Flag("--path", "Folder inside the deployment repository.")] = None
    env: Annotated[str | None, Flag("--env", "Environment whose overlay (bodywork.<env>.yaml) is applied.")] = None
    extra_args: Annotated[
        tuple[str, ...], Flag("--extra-arg", "A further argument of `bodywork refresh` (repeatable).")
    ] = ()
    name: Annotated[str, Flag("--name", "Name of the objects (the Helm release name).")] = REFRESHER_CHART
    namespace: Annotated[str, Flag("--namespace", "Namespace of the objects.")] = "default"
    image: Annotated[
        str,
        Flag(
            "--image",
            "REPOSITORY\\[:TAG|@DIGEST] of an image with bodywork-render installed (default tag: this version).",
        ),
    ] = DEFAULT_REFRESHER_IMAGE
    image_pull_policy: Annotated[PullPolicy, Flag("--image-pull-policy", "When the kubelet pulls the image.")] = (
        "IfNotPresent"
    )
    image_pull_secrets: Annotated[
        tuple[str, ...], Flag("--image-pull-secret", "Existing Secret to pull the image with (repeatable).")
    ] = ()
    git_secret: Annotated[
        str | None,
        Flag("--git-secret", "Existing Secret with the git credentials (default: none, public repositories)."),
    ] = None
    git_auth: Annotated[
        GitAuth,
        Flag(
            "--git-auth", "token: BODYWORK_GIT_TOKEN from the Secret; ssh: private key and known_hosts files from it."
        ),
    ] = "token"
    git_token_key: Annotated[str, Flag("--git-token-key", "Key of the Secret holding the HTTPS token.")] = "token"
    git_token_username: Annotated[
        str | None,
        Flag("--git-token-username", "User name sent with the token (default: bodywork's, x-access-token)."),
    ] = None
    git_ssh_key_key: Annotated[str, Flag("--git-ssh-key-key", "Key of the Secret holding the SSH private key.")] = (
        "ssh-privatekey"
    )
    git_known_hosts_key: Annotated[
        str, Flag("--git-known-hosts-key", "Key of the Secret holding the known_hosts lines.")
    ] = "known_hosts"
    schedule: Annotated[str, Flag("--schedule", "Cron schedule (five fields or a macro such as @hourly).")] = (
        DEFAULT_SCHEDULE
    )
    time_zone: Annotated[str | None, Flag("--time-zone", "Time zone of the schedule (tz database name).")] = None
    suspend: Annotated[bool, Flag("--suspend", "Create the CronJob suspended.")] = False
    successful_jobs_history_limit: Annotated[
        int, Flag("--successful-jobs-history-limit", "Finished successful Jobs to keep.")
    ] = 3
    failed_jobs_history_limit: Annotated[int, Flag("--failed-jobs-history-limit", "Finished failed Jobs to keep.")] = 3
    starting_deadline_seconds: Annotated[
        int,
        Flag("--starting-deadline-seconds", "Seconds after a missed start within which a run may still start."),
    ] = 120
    backoff_limit: Annotated[int, Flag("--backoff-limit", "Retries of a failed run.")] = 2
    active_deadline_seconds: Annotated[
        int, Flag("--active-deadline-seconds", "Seconds after which a run is stopped.")
    ] = 900
    cpu_request: Annotated[str, Flag("--cpu-request", "CPU request of the container.")] = "100m"
    memory_request: Annotated[str, Flag("--memory-request", "Memory request of the container.")] = "256Mi"
    cpu_limit: Annotated[str | None, Flag("--cpu-limit", "CPU limit of the container ('' for none).")] = "1"
    memory_limit: Annotated[str, Flag("--memory-limit", "Memory limit of the container.")] = "1Gi"
    run_as_user: Annotated[int, Flag("--run-as-user", "Numeric user the container runs as.")] = 65532
    run_as_group: Annotated[
        int, Flag("--run-as-group", "Numeric group the container runs as (and the pod's fsGroup).")
    ] = 65532
    service_account: Annotated[
        str | None,
        Flag("--service-account", "Existing ServiceAccount to run as (default: create one named --name)."),
    ] = None
    service_account_annotations: Annotated[
        tuple[tuple[str, str], ...],
        Flag(
            "--service-account-annotation",
            "KEY=VALUE annotation of the created ServiceAccount (repeatable).",
            parse=parse_pair,
        ),
    ] = ()


@dataclass(frozen=True)
class FluxOptions:
    """Where Flux finds the render: repository, branch and the folder `bodywork render --format kustomize` wrote."""

    repo: Annotated[str, Flag("--repo", "Git URL of the deployment repository (http, https or ssh).")]
    branch: Annotated[str, Flag("--branch", "Branch of the deployment repository.")]
    path: Annotated[
        str, Flag("--path", "Folder of a `bodywork render --format kustomize` output inside the repository.")
    ]
    name: Annotated[
        str | None,
        Flag(
            "--name",
            "Name of the GitRepository and Kustomization (default: the folders of --path, last first, e.g."
            " demo-prod for envs/prod/demo).",
        ),
    ] = None
    namespace: Annotated[
        str, Flag("--namespace", "Namespace of the Flux objects, and of the per-step Kustomizations.")
    ] = "flux-system"
    interval: Annotated[str, Flag("--interval", "How often Flux fetches the repository.")] = "1m"
    secret_ref: Annotated[str | None, Flag("--secret-ref", "Secret with the credentials of a private repository.")] = (
        None
    )


@dataclass(frozen=True)
class ArgoCDOptions:
    """Where Argo CD finds the render, and where the Application lives."""

    repo: Annotated[str, Flag("--repo", "Git URL of the deployment repository.")]
    branch: Annotated[str, Flag("--branch", "Branch of the deployment repository.")]
    path: Annotated[str, Flag("--path", "Folder of a `bodywork render` output inside the repository.")]
    name: Annotated[
        str | None,
        Flag("--name", "Name of the Application (default: the folders of --path, last first, e.g. demo-prod)."),
    ] = None
    namespace: Annotated[str, Flag("--namespace", "Namespace of the Application (where Argo CD runs).")] = "argocd"
    dest_namespace: Annotated[
        str | None,
        Flag(
            "--dest-namespace",
            "Namespace Argo CD creates (restricted pod security) and applies unnamespaced objects in.",
        ),
    ] = None
    project: Annotated[str, Flag("--project", "Argo CD project of the Application.")] = "default"


# -- the refresher ------------------------------------------------------------


def refresher_chart_values(options: RefresherOptions) -> dict[str, Any]:
    """The values of charts/bodywork-refresher that give the same objects, with ``options.name`` as the release name.

    A ``None`` value removes a chart default (Helm's rule), e.g. the CPU limit.
    """
    _check_refresher(options)
    repository, tag, digest = split_image(options.image)
    return {
        "fullnameOverride": options.name,
        "image": {"repository": repository, "tag": tag, "digest": digest, "pullPolicy": options.image_pull_policy},
        "imagePullSecrets": [{"name": secret} for secret in options.image_pull_secrets],
        "refresh": {
            "source": options.source,
            "sourceBranch": options.source_branch or "",
            "projectPath": options.project_path or "",
            "to": options.to,
            "branch": options.branch or "",
            "path": options.path or "",
            "env": options.env or "",
            "extraArgs": list(options.extra_args),
        },
        "git": {
            "existingSecret": options.git_secret or "",
            "auth": options.git_auth,
            "tokenKey": options.git_token_key,
            "tokenUsername": options.git_token_username or "",
            "sshPrivateKeyKey": options.git_ssh_key_key,
            "knownHostsKey": options.git_known_hosts_key,
        },
        "schedule": options.schedule,
        "timeZone": options.time_zone or "",
        "suspend": options.suspend,
        "successfulJobsHistoryLimit": options.successful_jobs_history_limit,
        "failedJobsHistoryLimit": options.failed_jobs_history_limit,
        "startingDeadlineSeconds": options.starting_deadline_seconds,
        "backoffLimit": options.backoff_limit,
        "activeDeadlineSeconds": options.active_deadline_seconds,
        "resources": {
            "requests": {"cpu": options.cpu_request, "memory": options.memory_request},
            "limits": {"cpu": options.cpu_limit or None, "memory": options.memory_limit},
        },
        "securityContext": {"runAsUser": options.run_as_user, "runAsGroup": options.run_as_group},
        "serviceAccount": {
            "create": options.service_account is None,
            "name": options.service_account or "",
            "annotations": dict(options.service_account_annotations),
        },
    }


def refresher_manifests(options: RefresherOptions) -> Manifests:
    """The refresher's ServiceAccount (unless an existing one is named) and CronJob, as charts/bodywork-refresher
    renders them."""
    values = refresher_chart_values(options)
    repository, tag, digest = (values["image"][key] for key in ("repository", "tag", "digest"))
    service_account = options.service_account or options.name
    context = {
        "v": values,
        "namespace": options.namespace,
        "labels": _refresher_labels(options.name),
        "cronjob_name": options.name[:CRONJOB_NAME_MAX].removesuffix("-"),
        "service_account": service_account,
        "annotations": values["serviceAccount"]["annotations"],
        # repository[:tag][@digest], as the chart's helper joins them; the tag is the version when neither is given
        "image": repository
        + (f":{tag}" if tag else "" if digest else f":{__version__}")
        + (f"@{digest}" if digest else ""),
        "args": _refresh_args(options),
        "env": _refresh_env(options),
        "resources": {
            group: {k: v for k, v in quantities.items() if v is not None}
            for group, quantities in values["resources"].items()
        },
        "volume_mounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "home", "mountPath": HOME}],
        "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "home", "emptyDir": {}}],
    }
    if options.git_secret and options.git_auth == "ssh":
        context["volume_mounts"].append({"name": "git-credentials", "mountPath": GIT_CREDENTIALS, "readOnly": True})
        context["volumes"].append(
            {
                "name": "git-credentials",
                "secret": {
                    "secretName": options.git_secret,
                    "defaultMode": 0o400,
                    "items": [
                        {"key": options.git_ssh_key_key, "path": "ssh-privatekey"},
                        {"key": options.git_known_hosts_key, "path": "known_hosts"},
                    ],
                },
            }
        )
    documents = [("gitops/refresher-cronjob.yaml.j2", context)]
    if options.service_account is None:
        documents.insert(0, ("gitops/refresher-serviceaccount.yaml.j2", context))
    return _manifests("refresher", documents)


def _refresher_labels(release: str) -> dict[str, str]:
    """The labels of the refresher's objects: the chart's own, but managed by bodywork-render instead of Helm."""
    return {
        "app.kubernetes.io/name": REFRESHER_CHART,
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/version": __version__,
        "app.kubernetes.io/component": "refresher",
        "app.kubernetes.io/part-of": "bodywork-render",
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def _refresh_args(options: RefresherOptions) -> list[str]:
    args = ["refresh", "--source", options.source]
    for flag, value in (
        ("--source-branch", options.source_branch),
        ("--project-path", options.project_path),
        ("--to", options.to),
        ("--branch", options.branch),
        ("--path", options.path),
        ("--env", options.env),
    ):
        if value:
            args += [flag, value]
    return args + list(options.extra_args)


def _refresh_env(options: RefresherOptions) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": "HOME", "value": HOME}, {"name": "GIT_TERMINAL_PROMPT", "value": "0"}]
    if options.git_secret and options.git_auth == "token":
        env.append(
            {
                "name": "BODYWORK_GIT_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": options.git_secret, "key": options.git_token_key}},
            }
        )
        if options.git_token_username:
            env.append({"name": "BODYWORK_GIT_USERNAME", "value": options.git_token_username})
    elif options.git_secret:
        env += [
            {"name": "BODYWORK_GIT_SSH_KEY_FILE", "value": f"{GIT_CREDENTIALS}/ssh-privatekey"},
            {"name": "BODYWORK_GIT_KNOWN_HOSTS_FILE", "value": f"{GIT_CREDENTIALS}/known_hosts"},
        ]
    return env


def _check_refresher(options: RefresherOptions) -> None:
    problems = [*_url_problems("--source", options.source), *_url_problems("--to", options.to)]
    problems += _name_problems(("--name", options.name), ("--namespace", options.namespace))
    problems += _name_problems(
        ("--git-secret", options.git_secret),
        ("--service-account", options.service_account),
        *(("--image-pull-secret", s) for s in options.image_pull_secrets),
        subdomain=True,
    )
    if not _SCHEDULE.match(options.schedule):
        problems.append(f"--schedule: expected five cron fields or a macro such as @hourly, got {options.schedule!r}")
    counts = (
        ("--successful-jobs-history-limit", options.successful_jobs_history_limit, 0),
        ("--failed-jobs-history-limit", options.failed_jobs_history_limit, 0),
        ("--starting-deadline-seconds", options.starting_deadline_seconds, 10),
        ("--backoff-limit", options.backoff_limit, 0),
        ("--active-deadline-seconds", options.active_deadline_seconds, 1),
        ("--run-as-user", options.run_as_user, 1),
        ("--run-as-group", options.run_as_group, 1),
    )
    problems += [f"{flag}: expected at least {low}, got {value}" for flag, value, low in counts if value < low]
    if not options.image or options.image.startswith(("@", ":")):
        problems.append(f"--image: expected REPOSITORY[:TAG|@DIGEST], got {options.image!r}")
    if problems:
        raise _invalid(problems)


# -- Flux and Argo CD -----------------------------------------------------------


def flux_manifests(options: FluxOptions) -> Manifests:
    """A GitRepository for the deployment repository, and a Kustomization that applies ``<path>/flux``.

    ``<path>/flux`` holds what ``bodywork render --format kustomize --engine flux`` writes: one
    Kustomization per DAG step, chained by ``dependsOn``, each with ``wait`` and ``prune`` (with
    ``--format argo-workflows``, one per sync wave: the WorkflowTemplate's, then the run's). The
    Kustomization made here puts them in its own namespace and points them at its GitRepository.
    Nothing here reads the repository, so a warning states what ``path`` must hold.
    """
    name = options.name or _default_name(options.path, options.repo)
    from urllib.parse import urlsplit

    problems = _url_problems("--repo", options.repo)
    if not problems and urlsplit(options.repo).scheme not in ("http", "https", "ssh"):
        problems.append(
            f"--repo: Flux takes http, https or ssh URLs (ssh://git@host/owner/repo.git, not git@host:owner/repo.git), "
            f"got {options.repo!r}"
        )
    problems += _name_problems(("--name", name), ("--namespace", options.namespace))
    problems += _name_problems(("--secret-ref", options.secret_ref), subdomain=True)
    folder, folder_problems = _repo_folder(options.path)
    problems += folder_problems + _branch_problems(options.branch)
    if problems:
        raise _invalid(problems)
    labels = _bootstrap_labels(name)
    root = "." if folder == "." else f"./{folder}"  # as Flux names paths, and render's --deploy-path
    repository = {
        "name": name,
        "namespace": options.namespace,
        "labels": labels,
        "url": options.repo,
        "branch": options.branch,
        "interval": options.interval,
        "secret_ref": options.secret_ref,
    }
    kustomization = {
        "name": name,
        "namespace": options.namespace,
        "labels": labels,
        "path": f"{root}/flux",
    }
    manifests = _manifests(
        "flux",
        [("gitops/flux-gitrepository.yaml.j2", repository), ("gitops/flux-root-kustomization.yaml.j2", kustomization)],
    )
    # Nothing here can see the repository: state what it must hold, which publish's default format does not give.
    assumed = (
        f"warning: --path {folder} must hold a kustomize or argo-workflows render for Flux (its Kustomization"
        f" applies {root}/flux): publish it with --format kustomize or argo-workflows and --engine flux (publish"
        f" writes --format manifests unless told), or render it so with --deploy-path {root}"
    )
    return Manifests(manifests.text, manifests.objects, (assumed,))


def argocd_manifests(options: ArgoCDOptions) -> Manifests:
    """An Argo CD Application that syncs ``path`` automatically (prune, self-heal), creating its namespace, retrying
    with backoff."""
    name = options.name or _default_name(options.path, options.repo)
    problems = _url_problems("--repo", options.repo)
    problems += _name_problems(
        ("--name", name), ("--namespace", options.namespace), ("--dest-namespace", options.dest_namespace)
    )
    problems += _name_problems(("--project", options.project), subdomain=True)
    folder, folder_problems = _repo_folder(options.path)
    problems += folder_problems + _branch_problems(options.branch)
    if problems:
        raise _invalid(problems)
    values = {
        "name": name,
        "namespace": options.namespace,
        "labels": _bootstrap_labels(name),
        "project": options.project,
        "repo": options.repo,
        "branch": options.branch,
        "path": folder,
        "dest_namespace": options.dest_namespace,
    }
    return _manifests("argocd", [("gitops/argocd-application.yaml.j2", values)])


def _bootstrap_labels(name: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": "gitops",
        "app.kubernetes.io/part-of": "bodywork-render",
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def _default_name(path: str, repo: str) -> str:
    """A name unique to the folder (``envs/prod/demo`` gives ``demo-prod``, see names.of_folder), else the
    repository's name (``acme/deploy.git`` gives ``deploy``)."""
    folder, _ = _repo_folder(path)
    named = names.of_folder(folder) if folder != "." else None
    if named:
        return named
    last = re.split(r"[/:]", repo.rstrip("/"))[-1].removesuffix(".git")
    return names.fit(names.normalise(last).strip("-") or "bodywork")


def _repo_folder(path: str) -> tuple[str, list[str]]:
    """A folder inside a repository as 'a/b' ('.' for the root), and what is wrong with it."""
    parts = [part for part in path.strip().split("/") if part not in ("", ".")]
    if ".." in parts:
        return ".", [f"--path: must stay inside the repository (no '..'), got {path!r}"]
    return "/".join(parts) or ".", []


def _branch_problems(branch: str) -> list[str]:
    from bodywork_render.gitops.git import is_branch_name

    if not is_branch_name(branch):
        return [f"--branch: expected a git branch name, got {branch!r}"]
    return []


def _url_problems(flag: str, url: str) -> list[str]:
    """A repository URL must be given and carry no credentials: they belong in a Secret, never in a manifest."""
    from urllib.parse import urlsplit

    if not url.strip():
        return [f"{flag}: a repository URL is required"]
    parts = urlsplit(url)
    if parts.scheme:
        userinfo = parts.netloc.rpartition("@")[0]
        if ":" in userinfo or (userinfo and parts.scheme in ("http", "https")):
            return [f"{flag}: the URL carries credentials; give a URL without them and the credentials in a Secret"]
    elif ":" in url.split("@", 1)[0] and "@" in url:  # scp-like user:password@host:path
        return [f"{flag}: the URL carries credentials; give a URL without them and the credentials in a Secret"]
    return []


def _name_problems(*flags: tuple[str, str | None], subdomain: bool = False) -> list[str]:
    """Problems of the names given (None: not given); DNS-1123 labels, or subdomains when ``subdomain``."""
    valid, kind = (names.is_subdomain, "a DNS-1123 subdomain") if subdomain else (names.is_label, "a DNS-1123 label")
    return [
        f"{flag}: expected {kind} (lower-case letters, digits and '-'), got {value!r}"
        for flag, value in flags
        if value is not None and not valid(value)
    ]


# -- rendering ------------------------------------------------------------------


def _manifests(command: str, documents: list[tuple[str, dict[str, Any]]]) -> Manifests:
    """Fill each template with its values, parse the text back and check every object."""
    import yaml

    from bodywork_render.render.templating import Templates
    from bodywork_render.verify.rendered import rendered_problems

    environment = Templates().env
    texts = [environment.get_template(template).render(**values).rstrip("\n") + "\n" for template, values in documents]
    text = f"# Generated by bodywork-render {__version__} (bodywork gitops {command}).\n" + "---\n".join(texts)
    objects = tuple(
        o for o in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if o is not None
    )
    if len(objects) != len(documents):
        raise BodyworkError(
            f"bodywork gitops {command}: expected {len(documents)} objects, the templates gave {len(objects)}"
        )
    problems = rendered_problems(list(objects), DEFAULT_K8S_VERSION)
    if problems:
        raise _invalid(problems)
    return Manifests(text, objects)


def _invalid(problems: list[str]) -> BodyworkError:
    """One error listing every problem, each as an error line of its own."""
    return BodyworkError([Diagnostic("", 0, 0, "", "error", problem) for problem in problems])
