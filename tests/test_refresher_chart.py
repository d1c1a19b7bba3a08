"""charts/bodywork-refresher through Helm's own SDK: lint, schema, what it renders, and `bodywork gitops refresher`
equal to it."""

from __future__ import annotations

import getpass
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from bodywork_render import __version__
from bodywork_render.gitops.bootstrap import (
    FluxOptions,
    RefresherOptions,
    flux_manifests,
    refresher_chart_values,
    refresher_manifests,
)
from bodywork_render.verify.kubernetes import schema_problems
from bodywork_render.verify.podsecurity import hardening_violations, restricted_violations
from tests.gitdaemon import GitDaemon
from tests.helmsdk import lint, template_objects

CHART = Path(__file__).resolve().parent.parent / "charts" / "bodywork-refresher"
REQUIRED = {"refresh": {"source": "https://example.com/project.git", "to": "https://example.com/deploy.git"}}
TOKEN = {**REQUIRED, "git": {"existingSecret": "git-credentials", "auth": "token"}}
SSH = {
    "refresh": {"source": "ssh://git@example.com/project.git", "to": "git@example.com:org/deploy.git"},
    "git": {"existingSecret": "git-ssh", "auth": "ssh", "sshPrivateKeyKey": "identity", "knownHostsKey": "hosts"},
}
HELM_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by")

OPTIONS = {
    "defaults": RefresherOptions(source="https://example.com/project.git", to="https://example.com/deploy.git"),
    "token, every argument": RefresherOptions(
        source="https://example.com/project.git",
        to="https://example.com/deploy.git",
        source_branch="release/1.x",
        project_path="ml/churn",
        branch="main",
        path="envs/prod/churn",
        env="prod",
        extra_args=("--runner-image", "registry.example.com/runner:1.2", "--message", 'say "hi": #1 — ok'),
        name="churn-refresher",
        namespace="ops",
        image="registry.example.com:5000/tools/bodywork:2.0",
        image_pull_policy="Always",
        image_pull_secrets=("regcred", "other-cred"),
        git_secret="git-credentials",
        git_token_key="pat",
        git_token_username="oauth2",
        schedule="@hourly",
        time_zone="Europe/London",
        suspend=True,
        successful_jobs_history_limit=0,
        failed_jobs_history_limit=10,
        starting_deadline_seconds=1000000,
        backoff_limit=0,
        active_deadline_seconds=7200,
        cpu_request="250m",
        memory_request="512Mi",
        cpu_limit=None,
        memory_limit="2Gi",
        run_as_user=1000,
        run_as_group=3000,
    ),
    "ssh, existing service account, digest": RefresherOptions(
        source="ssh://git@example.com/project.git",
        to="git@example.com:org/deploy.git",
        git_secret="git-ssh",
        git_auth="ssh",
        git_ssh_key_key="identity",
        git_known_hosts_key="hosts",
        image="ghcr.io/bodywork-render/bodywork-render@sha256:" + "ab" * 32,
        service_account="robot",
    ),
    "tag and digest, registry port": RefresherOptions(
        source="https://example.com/p.git",
        to="https://example.com/d.git",
        image="localhost:5000/tools/bodywork:2.0@sha256:" + "cd" * 32,
    ),
    "long name, annotated service account": RefresherOptions(
        source="https://example.com/p.git",
        to="https://example.com/d.git",
        name="a" * 51 + "-" + "b" * 11,
        service_account_annotations=(("example.com/owner", "ml-team"), ("example.com/enabled", "true")),
    ),
}


def render_chart(
    values: dict[str, Any], name: str = "bodywork-refresher", namespace: str = "default"
) -> list[dict[str, Any]]:
    """The objects `helm template` gives, in file order."""
    return template_objects(CHART, values, release=name, namespace=namespace)


def without_helm_labels(node: Any) -> Any:
    """A copy without the labels only Helm sets (its chart label and managed-by: Helm)."""
    if isinstance(node, dict):
        return {
            k: (without_helm_labels(v) if k != "labels" else {lk: lv for lk, lv in v.items() if lk not in HELM_LABELS})
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [without_helm_labels(item) for item in node]
    return node


def by_kind(objects: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    return {obj["kind"]: without_helm_labels(obj) for obj in objects}


# -- the chart -------------------------------------------------------------------


@pytest.mark.parametrize("values", [None, REQUIRED, TOKEN, SSH], ids=["defaults", "required", "token", "ssh"])
def test_helm_lint_is_clean(values: dict[str, Any] | None) -> None:
    assert lint(CHART, values) == []


@pytest.mark.parametrize("values", [REQUIRED, TOKEN, SSH], ids=["required", "token", "ssh"])
def test_rendered_objects_pass_the_kubernetes_schemas_and_pod_security(values: dict[str, Any]) -> None:
    objects = render_chart(values, namespace="ops")
    assert [o["kind"] for o in objects] == ["CronJob", "ServiceAccount"]
    assert schema_problems(objects) == []
    for obj in objects:
        assert restricted_violations(obj) + hardening_violations(obj) == []


def test_cronjob_defaults() -> None:
    cronjob, account = render_chart(REQUIRED, namespace="ops")
    spec = cronjob["spec"]
    assert (spec["schedule"], spec["concurrencyPolicy"], spec["startingDeadlineSeconds"]) == (
        "*/5 * * * *",
        "Forbid",
        120,
    )
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)
    job = spec["jobTemplate"]["spec"]
    assert (job["backoffLimit"], job["activeDeadlineSeconds"]) == (2, 900)
    pod = job["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["bodywork"]
    assert container["args"] == [
        "refresh",
        "--source",
        "https://example.com/project.git",
        "--to",
        "https://example.com/deploy.git",
    ]
    assert container["image"] == f"ghcr.io/bodywork-render/bodywork-render:{__version__}"
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp", "/home/bodywork"}
    assert {"name": "HOME", "value": "/home/bodywork"} in container["env"]
    assert pod["securityContext"]["runAsUser"] == 65532 and pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == account["metadata"]["name"] == "bodywork-refresher"
    assert account["automountServiceAccountToken"] is False
    assert cronjob["metadata"]["namespace"] == account["metadata"]["namespace"] == "ops"


def test_token_comes_from_the_existing_secret() -> None:
    cronjob = render_chart(TOKEN)[0]
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert {
        "name": "BODYWORK_GIT_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "git-credentials", "key": "token"}},
    } in container["env"]
    assert "BODYWORK_GIT_USERNAME" not in {e["name"] for e in container["env"]}
    named = render_chart({**TOKEN, "git": {**TOKEN["git"], "tokenUsername": "oauth2"}})[0]
    assert {"name": "BODYWORK_GIT_USERNAME", "value": "oauth2"} in named["spec"]["jobTemplate"]["spec"]["template"][
        "spec"
    ]["containers"][0]["env"]
    assert "git-credentials" not in {m["name"] for m in container["volumeMounts"]}


def test_ssh_key_and_known_hosts_are_mounted_read_only_with_mode_0400() -> None:
    pod = render_chart(SSH)[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert {"name": "git-credentials", "mountPath": "/etc/bodywork/git", "readOnly": True} in container["volumeMounts"]
    assert {
        "name": "git-credentials",
        "secret": {
            "secretName": "git-ssh",
            "defaultMode": 0o400,
            "items": [{"key": "identity", "path": "ssh-privatekey"}, {"key": "hosts", "path": "known_hosts"}],
        },
    } in pod["volumes"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["BODYWORK_GIT_SSH_KEY_FILE"] == "/etc/bodywork/git/ssh-privatekey"
    assert env["BODYWORK_GIT_KNOWN_HOSTS_FILE"] == "/etc/bodywork/git/known_hosts"
    assert "BODYWORK_GIT_TOKEN" not in env


def test_missing_source_or_destination_is_a_clear_render_error() -> None:
    with pytest.raises(helm.HelmRenderError, match="refresh.source is required"):
        render_chart({})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"schedule": 5}, "at '/schedule': got number, want string"),
        ({"schedule": "every minute"}, "at '/schedule'"),
        ({"failedJobsHistoryLimit": -1}, "at '/failedJobsHistoryLimit': minimum: got -1, want 0"),
        ({"backoffLimit": "2"}, "at '/backoffLimit': got string, want integer"),
        ({"replicas": 2}, "additional properties 'replicas' not allowed"),
        ({"git": {"existingSecret": "s", "auth": "password"}}, "at '/git/auth'"),
        ({"git": {"password": "hunter2"}}, "additional properties 'password' not allowed"),
        (
            {"refresh": {"source": "https://user:token@example.com/p.git", "to": "https://example.com/d.git"}},
            "at '/refresh/source'",
        ),
        (
            {"refresh": {"source": "https://example.com/p.git", "to": "https://token@example.com/d.git"}},
            "at '/refresh/to'",
        ),
        ({"securityContext": {"runAsUser": 0}}, "at '/securityContext/runAsUser': minimum: got 0, want 1"),
        ({"resources": {"limits": {"memory": None}}}, "at '/resources/limits': missing property 'memory'"),
        ({"image": {"pullPolicy": "Sometimes"}}, "at '/image/pullPolicy'"),
    ],
)
def test_values_schema_rejects_bad_values(values: dict[str, Any], message: str) -> None:
    merged = {**REQUIRED, **values}
    with helm.Chart.load(CHART) as chart:
        with pytest.raises(helm.HelmValuesError) as raised:
            chart.validate_schema(merged)
    assert message in str(raised.value)


def test_every_value_is_documented_with_a_param_line() -> None:
    text = (CHART / "values.yaml").read_text()
    documented = set(re.findall(r"^\s*## @param (\S+) ", text, re.MULTILINE))
    with helm.Chart.load(CHART) as chart:
        defaults = chart.values

    def leaves(node: Any, prefix: str) -> set[str]:
        if isinstance(node, dict) and node and prefix != "serviceAccount.annotations.":
            return set().union(*(leaves(v, f"{prefix}{k}.") for k, v in node.items()))
        return {prefix.rstrip(".")}

    assert documented == leaves(defaults, "")
    readme = (CHART / "README.md").read_text()
    assert [name for name in sorted(documented) if f"`{name}`" not in readme] == []


def test_chart_app_version_is_the_package_version() -> None:
    with helm.Chart.load(CHART) as chart:
        assert chart.metadata["appVersion"] == __version__


# -- `bodywork gitops refresher` equals the chart ----------------------------------


def test_option_defaults_are_the_chart_defaults() -> None:
    values = refresher_chart_values(OPTIONS["defaults"])
    with helm.Chart.load(CHART) as chart:
        assert chart.merge_values(values) == chart.merge_values({**REQUIRED, "fullnameOverride": "bodywork-refresher"})


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
def test_plain_manifests_equal_helm_template_object_by_object(options: RefresherOptions) -> None:
    values = refresher_chart_values(options)
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(values)
    expected = by_kind(render_chart(values, name=options.name, namespace=options.namespace))
    assert by_kind(refresher_manifests(options).objects) == expected
    assert len(expected) == (1 if options.service_account else 2)


@pytest.mark.parametrize(
    "image",
    [
        "localhost:5000/tools/bodywork:2.0@sha256:" + "cd" * 32,
        "localhost:5000/tools/bodywork@sha256:" + "cd" * 32,
        "localhost:5000/tools/bodywork:2.0",
    ],
)
def test_the_image_is_written_as_given_in_manifests_and_chart(image: str) -> None:
    options = RefresherOptions(source="https://example.com/p.git", to="https://example.com/d.git", image=image)
    for objects in (refresher_manifests(options).objects, render_chart(refresher_chart_values(options))):
        (cron_job,) = [o for o in objects if o["kind"] == "CronJob"]
        assert cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] == image


def test_long_names_fit_the_job_name_limit() -> None:
    options = OPTIONS["long name, annotated service account"]
    cronjob = by_kind(refresher_manifests(options).objects)["CronJob"]
    assert len(cronjob["metadata"]["name"]) <= 52 and not cronjob["metadata"]["name"].endswith("-")


def test_cli_prints_the_manifests_and_the_equivalent_helm_values() -> None:
    flags = [
        "--source",
        "https://example.com/p.git",
        "--to",
        "ssh://git@example.com/d.git",
        "--git-secret",
        "git-ssh",
        "--git-auth",
        "ssh",
        "--namespace",
        "ops",
        "--schedule",
        "0 * * * *",
        "--extra-arg",
        "--env",
        "--extra-arg",
        "prod",
    ]
    manifests = bodywork("gitops", "refresher", *flags)
    values = bodywork("gitops", "refresher", *flags, "--helm-values")
    assert (manifests.returncode, manifests.stderr, values.returncode, values.stderr) == (0, "", 0, "")
    expected = render_chart(json.loads(values.stdout), name="bodywork-refresher", namespace="ops")
    assert by_kind(list(yaml.safe_load_all(manifests.stdout))) == by_kind(expected)


def test_cli_defaults_are_the_option_defaults() -> None:
    result = bodywork(
        "gitops", "refresher", "--source", "https://example.com/project.git", "--to", "https://example.com/deploy.git"
    )
    assert (result.returncode, result.stderr) == (0, "")
    # The chart's defaults are written independently of the Python defaults (charts/bodywork-refresher/values.yaml).
    printed = by_kind(list(yaml.safe_load_all(result.stdout)))
    assert printed == by_kind(render_chart({**REQUIRED, "fullnameOverride": "bodywork-refresher"}))
    cronjob = printed["CronJob"]
    assert (cronjob["metadata"]["name"], cronjob["metadata"]["namespace"]) == ("bodywork-refresher", "default")
    assert (cronjob["spec"]["schedule"], cronjob["spec"]["suspend"]) == ("*/5 * * * *", False)
    assert printed["ServiceAccount"]["automountServiceAccountToken"] is False


def bodywork(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bodywork_render", *args], capture_output=True, text=True, timeout=60)


# -- the CronJob's command, run for real ------------------------------------------------


def push_project(daemon: GitDaemon, folder: Path) -> None:
    """A valid three-stage project, committed in ``folder`` and pushed to the daemon's bare repository 'source'."""
    daemon.create_bare("source")
    (folder / "c").mkdir(parents=True)
    (folder / "bodywork.yaml").write_text(
        (Path(__file__).parent / "cases" / "valid" / "version-1.0-parallel.yaml").read_text()
    )
    for module in ("a.py", "b.ipynb", "c/d.py"):
        (folder / module).touch()
    for args in (
        ["init", "-q", "--initial-branch=main"],
        ["add", "-A"],
        ["commit", "-qm", "project"],
        ["push", "-q", daemon.url("source"), "HEAD:main"],
    ):
        subprocess.run(["git", *args], cwd=folder, check=True, env=daemon.env)


def run_container(container: dict[str, Any], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The container's command (`bodywork`, this package's console script) with its args, in ``env``."""
    assert container["command"] == ["bodywork"]
    return subprocess.run(
        [sys.executable, "-m", "bodywork_render", *container["args"]],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def plain_env(container: dict[str, Any], home: Path) -> dict[str, str]:
    """The container's env that holds values (secret references are the test's to provide), HOME at ``home``."""
    home.mkdir()
    return {**{e["name"]: e["value"] for e in container["env"] if "value" in e}, "HOME": str(home)}


def test_the_cronjobs_command_publishes_once_then_is_a_no_op(git_daemon: GitDaemon, tmp_path: Path) -> None:
    """The container's command line and env, as the chart renders them, against real repositories on a git daemon."""
    push_project(git_daemon, tmp_path / "project")
    git_daemon.create_bare("deploy")
    values = {
        "refresh": {
            "source": git_daemon.url("source"),
            "sourceBranch": "main",
            "to": git_daemon.url("deploy"),
            "branch": "main",
            "path": "envs/prod/demo",
            "extraArgs": ["--format", "kustomize"],
        }
    }
    container = render_chart(values)[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = {**git_daemon.env, **plain_env(container, tmp_path / "home")}
    deploy = ["git", "--git-dir", str(git_daemon.path("deploy"))]
    first = run_container(container, env)
    assert first.returncode == 0, first.stderr
    tip = subprocess.run([*deploy, "rev-parse", "main"], capture_output=True, text=True, check=True).stdout
    files = subprocess.run(
        [*deploy, "ls-tree", "-r", "--name-only", "main"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "envs/prod/demo/flux/demo-prod-step-02.yaml" in files and "envs/prod/demo/hydrator.metadata" in files
    step = yaml.safe_load(
        subprocess.run(
            [*deploy, "show", "main:envs/prod/demo/flux/demo-prod-step-02.yaml"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    root = flux_manifests(
        FluxOptions(repo="https://git.example.com/deploy.git", branch="main", path="envs/prod/demo")
    ).objects[1]
    assert root["spec"]["path"] == "./envs/prod/demo/flux" and step["spec"]["path"] == "./envs/prod/demo/steps/02"
    second = run_container(container, env)
    assert second.returncode == 0, second.stderr
    assert subprocess.run([*deploy, "rev-parse", "main"], capture_output=True, text=True, check=True).stdout == tip


def test_the_cronjobs_ssh_credentials_push_over_a_real_sshd(
    git_daemon: GitDaemon, sshd: tuple[int, Path, Path], tmp_path: Path
) -> None:
    """The Secret volume laid out as the kubelet mounts it (items, mode 0400 plus the fsGroup's read), the env
    pointing into it."""
    port, key, known_hosts = sshd
    push_project(git_daemon, tmp_path / "project")
    git_daemon.create_bare("deploy")
    to = f"ssh://{getpass.getuser()}@127.0.0.1:{port}{git_daemon.path('deploy')}"
    values = {
        "refresh": {"source": git_daemon.url("source"), "to": to},
        "git": {"existingSecret": "git-ssh", "auth": "ssh"},
    }
    pod = render_chart(values)[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "git-credentials"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "git-credentials"]
    secret = {"ssh-privatekey": key.read_bytes(), "known_hosts": known_hosts.read_bytes()}  # the chart's default keys
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    for item in volume["secret"]["items"]:
        (mounted / item["path"]).write_bytes(secret[item["key"]])
        (mounted / item["path"]).chmod(volume["secret"]["defaultMode"] | 0o040)
    env = {
        name: value.replace(mount["mountPath"], str(mounted))
        for name, value in plain_env(container, tmp_path / "home").items()
    }
    result = run_container(container, {**git_daemon.env, **env})
    assert result.returncode == 0, result.stderr
    log = subprocess.run(
        ["git", "--git-dir", str(git_daemon.path("deploy")), "log", "--format=%s", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert len(log.splitlines()) == 1
