"""bodywork render: valid, secure, ordered objects; kustomize equivalence; determinism; injection; atomic output."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bodywork_render.render.manifests import Rendered
from bodywork_render.render.plan import runner_config_map_name
from bodywork_render.render.write import read_tree
from bodywork_render.verify.kubernetes import schema_problems
from bodywork_render.verify.podsecurity import hardening_violations, restricted_violations
from tests.ci import unavailable
from tests.corpus import corpus_params
from tests.renderkit import (
    COMMIT,
    EXAMPLE,
    PROJECTS,
    REPO_URL,
    SERVICE_PROJECT,
    checkout,
    git,
    identity,
    objects_in,
    of_kind,
    own_stderr,
    own_warnings,
    render,
    service_project,
    target_port,
)

PARALLEL = PROJECTS / "parallel-secrets-ingress"
FAILURE_HOOK = PROJECTS / "failure-hook"


def bodywork(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "bodywork_render", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def kustomize_build(folder: Path) -> list[dict[str, Any]]:
    """What `kubectl kustomize` (kustomize v5) builds from a folder."""
    if shutil.which("kubectl") is None:
        unavailable("needs kubectl on PATH: its built-in kustomize builds the kustomize layout")
    result = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def pods_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod spec an object carries, if any."""
    template = obj.get("spec", {}).get("template")
    return [template["spec"]] if template else []


def assert_restricted(obj: dict[str, Any]) -> None:
    """The Pod Security Standards restricted profile and our hardening, field by field."""
    for pod in pods_of(obj):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        assert not {"hostNetwork", "hostPID", "hostIPC"} & pod.keys()
        assert all(
            set(v) <= {"name", "emptyDir", "secret", "configMap", "persistentVolumeClaim"} for v in pod["volumes"]
        )
        for container in pod["initContainers"] + pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert "privileged" not in context
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
            assert "memory" in container["resources"]["limits"]
    assert restricted_violations(obj) == [] and hardening_violations(obj) == []


@pytest.mark.slow  # a sweep of the whole corpus
@pytest.mark.parametrize("path", corpus_params(valid=True))
def test_every_valid_corpus_file_renders_valid_restricted_objects_in_both_formats(path: Path, tmp_path: Path) -> None:
    plain = render(path)
    objects = objects_in(plain.files)
    assert schema_problems(objects) == []
    for obj in objects:
        assert_restricted(obj)
    kustomized = render(path, format="kustomize", engine="flux")
    (tmp_path / "k").mkdir()
    for relative, text in kustomized.files.items():
        (tmp_path / "k" / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "k" / relative).write_text(text)
    same_engine = objects_in(render(path, engine="flux").files)
    assert sorted(map(identity, kustomize_build(tmp_path / "k"))) == sorted(map(identity, same_engine))


@pytest.mark.parametrize("project", [EXAMPLE, PARALLEL], ids=["example", "parallel"])
def test_kustomize_build_yields_the_same_objects_as_manifests(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "k"
    result = bodywork(
        "render", str(project), "--out", str(out), "--format", "kustomize", "--repo-url", REPO_URL, "--ref", COMMIT
    )
    assert result.returncode == 0, result.stderr
    built = {identity(o): o for o in kustomize_build(out)}
    plain = {identity(o): o for o in objects_in(render(project).files)}
    assert built == plain


def test_parallel_project_objects(tmp_path: Path) -> None:
    rendered = render(PARALLEL, ingress_class="nginx", ingress_host="ml.example.com")
    objects = {identity(o)[0::2]: o for o in objects_in(rendered.files)}
    waves = {
        key: o["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave") for key, o in objects.items()
    }
    jobs = {name.removeprefix("churn-model-").rsplit("-", 1)[0]: name for kind, name in objects if kind == "Job"}
    assert waves == {
        ("Namespace", "ml-prod"): "-1",
        ("ServiceAccount", "churn-model"): "0",
        ("ConfigMap", runner_config_map_name("churn-model")): "0",
        ("NetworkPolicy", "churn-model"): "0",
        ("Job", jobs["prepare"]): "1",
        ("Job", jobs["train-a"]): "2",
        ("Job", jobs["train-b"]): "2",
        ("Deployment", "churn-model-serve"): "3",
        ("Service", "churn-model-serve"): "3",
        ("Ingress", "churn-model-serve"): "3",
        ("PodDisruptionBudget", "churn-model-serve"): "3",
        ("NetworkPolicy", "churn-model-serve"): "3",
        ("Deployment", "churn-model-report"): "3",
        ("Service", "churn-model-report"): "3",
        ("NetworkPolicy", "churn-model-report"): "3",
    }
    prepare = objects[("Job", jobs["prepare"])]
    assert prepare["spec"]["backoffLimit"] == 3 and "activeDeadlineSeconds" not in prepare["spec"]
    assert "ttlSecondsAfterFinished" not in prepare["spec"]
    pod = prepare["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    stage = pod["containers"][0]
    assert stage["image"] == "bodyworkml/bodywork-core:3.0"
    assert stage["args"][-7:] == ["--", "--rows", "1000", "no", "0644", "1e3", "on"]
    assert [e for e in stage["env"] if "valueFrom" in e] == [
        {
            "name": "AWS_ACCESS_KEY_ID",
            "valueFrom": {"secretKeyRef": {"name": "prod-aws-credentials", "key": "AWS_ACCESS_KEY_ID"}},
        },
        {
            "name": "AWS_SECRET_ACCESS_KEY",
            "valueFrom": {"secretKeyRef": {"name": "prod-aws-credentials", "key": "AWS_SECRET_ACCESS_KEY"}},
        },
    ]
    # No memory_limit_mb: twice the request (at least 512 MB) for the imports and peaks the request does not cover.
    assert stage["resources"] == {
        "requests": {"cpu": "1000m", "memory": "1000M", "ephemeral-storage": "1Gi"},
        "limits": {"memory": "2000M"},
    }
    assert prepare["spec"]["podFailurePolicy"]["rules"] == [
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [78]}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
    ]
    train_a = objects[("Job", jobs["train-a"])]["spec"]
    # Two tries (retries: 1) of 3600 s each, plus 600 s per try to schedule, pull, fetch and install.
    assert train_a["activeDeadlineSeconds"] == 2 * (3600 + 600)
    assert train_a["template"]["spec"]["containers"][0]["resources"]["limits"] == {"memory": "3000M", "cpu": "4000m"}
    fetch, install = train_a["template"]["spec"]["initContainers"]
    assert fetch["args"] == ["--repo", REPO_URL, "--commit", COMMIT, "--workspace", "/workspace"]
    assert fetch["image"] == "python:3.12-bookworm"
    assert install["image"] == "bodyworkml/bodywork-core:3.0"
    assert install["args"][-2:] == ["--requirement", "scikit-learn==1.5.2"]
    assert install["resources"]["limits"] == {"memory": "3000M"}, "the stage's own limit, when above pip's 2000M"

    serve = objects[("Deployment", "churn-model-serve")]["spec"]
    assert serve["replicas"] == 3
    assert serve["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    container = serve["template"]["spec"]["containers"][0]
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == 90
    assert {"readinessProbe", "livenessProbe"} <= container.keys()
    assert {"name": "BODYWORK_ROUTE_PREFIX", "value": "/churn-model/serve"} in container["env"]
    report_env = objects[("Deployment", "churn-model-report")]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert "BODYWORK_ROUTE_PREFIX" not in {e["name"] for e in report_env}, "no Ingress, no prefix"
    assert serve["progressDeadlineSeconds"] >= 90
    annotations = serve["template"]["metadata"]["annotations"]
    assert annotations["bodywork-render/source-commit"] == COMMIT, "no checkout of the commit: pinned to it"
    assert annotations.keys() == {"bodywork-render/source-commit", "bodywork-render/inputs"}
    assert serve["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "serve",
        "app.kubernetes.io/instance": "churn-model",
    }
    ingress = objects[("Ingress", "churn-model-serve")]["spec"]
    assert ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "churn-model-serve"
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["rules"][0]["host"] == "ml.example.com"
    assert ingress["rules"][0]["http"]["paths"][0]["path"] == "/churn-model/serve"
    service = objects[("Service", "churn-model-serve")]["spec"]
    assert service["type"] == "ClusterIP" and service["ports"][0]["port"] == 5000
    assert objects[("ServiceAccount", "churn-model")]["automountServiceAccountToken"] is False
    labels = objects[("Deployment", "churn-model-report")]["metadata"]["labels"]
    assert labels == {
        "app.kubernetes.io/name": "report",
        "app.kubernetes.io/instance": "churn-model",
        "app.kubernetes.io/component": "service",
        "app.kubernetes.io/part-of": "churn-model",
        "app.kubernetes.io/managed-by": "bodywork-render",
        "app.kubernetes.io/version": "0123456",
        "bodywork-render/stage": "report",
    }


def test_job_names_change_with_the_commit_and_deployment_names_do_not() -> None:
    first = {identity(o) for o in objects_in(render(PARALLEL).files)}
    other = render_project_at(PARALLEL, "f" * 40)
    second = {identity(o) for o in objects_in(other.files)}
    assert {i for i in first if i[0] == "Deployment"} == {i for i in second if i[0] == "Deployment"}
    assert not {i for i in first if i[0] == "Job"} & {i for i in second if i[0] == "Job"}


def render_project_at(path: Path, commit: str) -> Rendered:
    from bodywork_render.render.manifests import render_project
    from bodywork_render.render.options import RenderOptions

    return render_project(path, RenderOptions(), repo_url=REPO_URL, ref=commit)


def test_flux_kustomizations_chain_the_steps_in_order() -> None:
    files = render(PARALLEL, format="kustomize", engine="flux", deploy_path="./envs/prod/churn").files
    flux = [yaml.safe_load(files[p]) for p in sorted(files) if p.startswith("flux/")]
    assert [
        (k["metadata"]["name"], k["spec"]["path"], k["spec"].get("dependsOn"), k["spec"].get("force", False))
        for k in flux
    ] == [
        ("churn-model-churn-prod-step-00", "./envs/prod/churn/steps/00", None, False),
        (
            "churn-model-churn-prod-step-01",
            "./envs/prod/churn/steps/01",
            [{"name": "churn-model-churn-prod-step-00"}],
            True,
        ),
        (
            "churn-model-churn-prod-step-02",
            "./envs/prod/churn/steps/02",
            [{"name": "churn-model-churn-prod-step-01"}],
            True,
        ),
        (
            "churn-model-churn-prod-step-03",
            "./envs/prod/churn/steps/03",
            [{"name": "churn-model-churn-prod-step-02"}],
            False,
        ),
    ]
    assert all(k["spec"]["wait"] is True and k["spec"]["prune"] is True for k in flux)
    assert schema_problems(flux) == []


def test_run_on_failure_is_an_argocd_syncfail_hook_and_left_out_elsewhere() -> None:
    argo = render(FAILURE_HOOK, engine="argocd")
    hooks = [o for o in objects_in(argo.files) if o["metadata"].get("annotations", {}).get("argocd.argoproj.io/hook")]
    assert [(h["metadata"]["name"].rsplit("-", 1)[0], h["metadata"]["annotations"]) for h in hooks] == [
        (
            "nightly-scoring-alert",
            {"argocd.argoproj.io/hook": "SyncFail", "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation"},
        )
    ]
    assert own_warnings(argo.warnings) == ()
    for engine, layout in (("flux", "kustomize"), ("kubectl", "manifests")):
        rendered = render(FAILURE_HOOK, engine=engine, format=layout)
        assert [o["metadata"]["name"].rsplit("-", 1)[0] for o in objects_in(rendered.files) if o["kind"] == "Job"] == [
            "nightly-scoring-score"
        ]
        assert (
            len(own_warnings(rendered.warnings)) == 1
            and "run_on_failure stage 'alert' is left out" in own_warnings(rendered.warnings)[0]
        )


def test_render_is_deterministic(tmp_path: Path) -> None:
    for layout in ("manifests", "kustomize"):
        args = ["render", str(PARALLEL), "--format", layout, "--repo-url", REPO_URL, "--ref", COMMIT]
        first, second = (tmp_path / "first" / layout), (tmp_path / "second" / layout)
        assert bodywork(*args, "--out", str(first)).returncode == 0
        assert bodywork(*args, "--out", str(second)).returncode == 0
        files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
        for relative in files:
            data = (first / relative).read_bytes()
            assert data == (second / relative).read_bytes()
            assert data.endswith(b"\n") and b"\r" not in data


HOSTILE = [
    "x\n---\nkind: Secret\nmetadata: {name: pwned}",
    "{{ 7*7 }}",
    "{% raw %}",
    "no",
    "on",
    "y",
    "0644",
    "1e3",
    "~",
    "null",
    "- a",
    "a: b",
    "'",
    '"',
    "#c",
    "&a",
    "*a",
    "!!str",
    "\\u0000",
    "é",
    "\u2028",
]


def test_user_strings_cannot_inject_and_read_back_unchanged_in_yaml_1_1(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "m.py").write_text("")
    args = "".join(f"\n      - {yaml.safe_dump(a, default_style=chr(34)).strip()}" for a in HOSTILE)
    (project / "bodywork.yaml").write_text(
        'version: "1.1"\npipeline:\n  name: p\n  docker_image: "python:3.12-slim"\n  DAG: s\n'
        f"stages:\n  s:\n    executable_module_path: m.py\n    args:{args}\n"
        "    requirements: [\"a==1 ; python_version < '4'\"]\n"
        "    batch: {max_completion_time_seconds: 0, retries: 0}\n"
    )
    rendered = render(project)
    objects = objects_in(rendered.files)
    assert sorted(o["kind"] for o in objects) == ["ConfigMap", "Job", "Namespace", "NetworkPolicy", "ServiceAccount"]
    job = next(o for o in objects if o["kind"] == "Job")
    args_out = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args_out[args_out.index("--") + 1 :] == HOSTILE
    assert "a==1 ; python_version < '4'" in job["spec"]["template"]["spec"]["initContainers"][1]["args"]
    assert "49" not in rendered.files["01-s-job.yaml"].replace(job["metadata"]["name"], ""), "{{ 7*7 }} stays text"


def test_stale_files_are_removed_and_foreign_folders_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    common = ["--out", str(out), "--repo-url", REPO_URL, "--ref", COMMIT]
    assert bodywork("render", str(PARALLEL), *common).returncode == 0
    assert "03-report-service.yaml" in read_tree(out)
    assert bodywork("render", str(FAILURE_HOOK), *common).returncode == 0
    assert sorted(read_tree(out)) == [
        "00-namespace.yaml",
        "00-networkpolicy.yaml",
        "00-runner-configmap.yaml",
        "00-serviceaccount.yaml",
        "01-score-job.yaml",
        "02-alert-on-failure-job.yaml",
        "README.md",
        "hydrator.metadata",
    ]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "out"]
    assert leftovers == []

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    result = bodywork("render", str(PARALLEL), "--out", "mine", "--repo-url", REPO_URL, "--ref", COMMIT, cwd=tmp_path)
    assert (result.returncode, own_stderr(result.stderr)) == (
        1,
        "error: mine: holds files but no hydrator.metadata, so bodywork-render did not write it;"
        " refusing to replace it (choose an empty or new --out folder)\n",
    )
    assert read_tree(foreign) == {"notes.txt": "keep me"}


@pytest.mark.parametrize(
    ("out", "expected"),
    [
        ("afile/sub", "error: --out afile/sub: {tmp}/afile is a file, not a folder\n"),
        ("dangling", "error: --out dangling: a symbolic link to {tmp}/nowhere, which does not exist\n"),
        ("/proc/bodywork-out", "error: --out /proc/bodywork-out: cannot write into /proc: No such file or directory\n"),
    ],
)
def test_an_out_folder_that_cannot_be_written_is_one_clear_error_and_nothing_is_written(
    out: str, expected: str, tmp_path: Path
) -> None:
    (tmp_path / "afile").write_text("mine\n")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    result = bodywork("render", str(PARALLEL), "--out", out, "--repo-url", REPO_URL, "--ref", COMMIT, cwd=tmp_path)
    assert (result.returncode, own_stderr(result.stderr)) == (1, expected.format(tmp=tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "dangling"]


def test_an_out_folder_that_is_a_symbolic_link_is_written_through(tmp_path: Path) -> None:
    target = tmp_path / "deploy-repo" / "envs" / "prod"
    target.mkdir(parents=True)
    link = tmp_path / "deploy"
    link.symlink_to(Path("deploy-repo/envs/prod"))
    for _ in range(2):  # the first render fills the empty target, the second replaces it
        result = bodywork(
            "render", str(PARALLEL), "--out", "deploy", "--repo-url", REPO_URL, "--ref", COMMIT, cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == "deploy-repo/envs/prod"
    assert "hydrator.metadata" in read_tree(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deploy", "deploy-repo"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["prod"]


def test_a_package_folder_that_cannot_be_written_is_refused_before_the_chart_is_written(tmp_path: Path) -> None:
    (tmp_path / "dist").write_text("a file\n")
    result = bodywork(
        "render", str(PARALLEL), "--format", "helm", "--out", "chart", "--package", "dist",
        "--repo-url", REPO_URL, "--ref", COMMIT, cwd=tmp_path,
    )  # fmt: skip
    assert (result.returncode, own_stderr(result.stderr)) == (
        1,
        f"error: --package dist: {tmp_path}/dist is a file, not a folder\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]


@pytest.mark.parametrize("flag", ["--check", "--diff"])
def test_check_and_diff_refuse_an_out_folder_that_render_would_refuse(flag: str, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("mine\n")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me\n")
    for out, expected in [
        ("afile", "error: afile: exists and is not a folder (choose an empty or new --out folder)\n"),
        ("mine", "error: mine: holds files but no hydrator.metadata, so bodywork-render did not write it;"
         " refusing to replace it (choose an empty or new --out folder)\n"),
    ]:  # fmt: skip
        result = bodywork(
            "render", str(PARALLEL), "--out", out, flag, "--repo-url", REPO_URL, "--ref", COMMIT, cwd=tmp_path
        )
        assert (result.returncode, result.stdout, own_stderr(result.stderr)) == (1, "", expected)


def test_a_failed_render_leaves_the_previous_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    common = ["--out", str(out), "--repo-url", REPO_URL, "--ref", COMMIT]
    assert bodywork("render", str(PARALLEL), *common).returncode == 0
    before = read_tree(out)
    broken = tmp_path / "templates"
    broken.mkdir()
    (broken / "service.yaml.j2").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ name | q }}\nspec:\n  bogusField: 1\n"
    )
    result = bodywork("render", str(PARALLEL), *common, "--templates", str(broken))
    assert result.returncode == 1
    assert "spec.bogusField" in result.stderr and "Traceback" not in result.stderr
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text((PARALLEL / "bodywork.yaml").read_text().replace("replicas: 3", "replicas: -3"))
    assert bodywork("render", str(invalid), *common).returncode == 1
    assert read_tree(out) == before


def test_templates_override_by_file_name(tmp_path: Path) -> None:
    custom = tmp_path / "templates"
    custom.mkdir()
    shipped = (Path(__file__).resolve().parents[1] / "templates" / "service.yaml.j2").read_text()
    (custom / "service.yaml.j2").write_text(shipped.replace("type: ClusterIP", "type: NodePort"))
    from bodywork_render.render.manifests import render_project
    from bodywork_render.render.options import RenderOptions

    rendered = render_project(PARALLEL, RenderOptions(), repo_url=REPO_URL, ref=COMMIT, templates=custom)
    assert {o["spec"]["type"] for o in objects_in(rendered.files) if o["kind"] == "Service"} == {"NodePort"}


def test_check_and_diff(tmp_path: Path) -> None:
    out = tmp_path / "out"
    common = [str(PARALLEL), "--out", str(out), "--repo-url", REPO_URL, "--ref", COMMIT]
    missing = bodywork("render", *common, "--check")
    assert (missing.returncode, missing.stdout, own_stderr(missing.stderr)) == (
        1,
        "",
        f"{out} does not exist: run bodywork render without --check to write it\n",
    )
    assert not out.exists()
    assert bodywork("render", *common).returncode == 0
    fresh = bodywork("render", *common, "--check")
    assert (fresh.returncode, fresh.stdout) == (0, "")
    same = bodywork("render", *common, "--diff")
    assert (same.returncode, same.stdout) == (0, "")
    (out / "03-serve-service.yaml").write_text("edited\n")
    (out / "extra.yaml").write_text("x: 1\n")
    diff = bodywork("render", *common, "--diff")
    assert diff.returncode == 1  # as git diff --exit-code: 1 when there are differences
    shown = str(out).lstrip("/")  # as git shows an absolute path: a/tmp/..., not a//tmp/...
    assert f"--- a/{shown}/03-serve-service.yaml" in diff.stdout and f"--- a/{shown}/extra.yaml" in diff.stdout
    assert (out / "extra.yaml").exists()
    stale = bodywork("render", *common, "--check")
    assert (stale.returncode, stale.stdout) == (1, diff.stdout)
    assert own_stderr(stale.stderr) == f"{out} is out of date: run bodywork render to update it\n"


def test_source_defaults_to_the_checkout_and_resolves_refs(tmp_path: Path) -> None:
    project = checkout(
        FAILURE_HOOK, tmp_path / "project", origin="https://user:s3cret@git.example.com/acme/scoring.git"
    )
    head = git(project, "rev-parse", "HEAD")
    git(project, "tag", "v1")
    out = tmp_path / "out"
    result = bodywork("render", str(project), "--out", str(out), "--ref", "v1")
    assert result.returncode == 0, result.stderr
    files = read_tree(out)
    assert f'"drySha": "{head}"' in files["hydrator.metadata"]
    assert "s3cret" not in "".join(files.values()) + result.stderr + result.stdout
    assert '"repoURL": "https://git.example.com/acme/scoring.git"' in files["hydrator.metadata"]
    bad = bodywork("render", str(project), "--out", str(out), "--ref", "no-such-branch")
    assert bad.returncode == 1 and "'no-such-branch' does not name a commit" in bad.stderr


def test_without_a_source_the_error_names_the_flags(tmp_path: Path) -> None:
    import shutil

    project = tmp_path / "project"
    shutil.copytree(FAILURE_HOOK, project)
    result = bodywork("render", str(project), "--out", str(tmp_path / "o"))
    assert result.returncode == 1
    assert result.stderr == (
        "error: cannot tell which repository and commit the stages run: give --repo-url URL and --ref SHA"
        " (or render from a git checkout with an 'origin' remote)\n"
    )
    assert not (tmp_path / "o").exists()


def test_without_git_on_path_the_source_error_is_clear(tmp_path: Path) -> None:
    import shutil

    project = tmp_path / "project"
    shutil.copytree(FAILURE_HOOK, project)
    empty = tmp_path / "bin"
    empty.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "bodywork_render", "render", str(project), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": str(empty)},
    )
    assert (result.returncode, result.stderr) == (
        1,
        "error: git is not installed or not on PATH: "
        "install it, or give --repo-url URL and a full commit SHA as --ref\n",
    )


@pytest.mark.parametrize("deploy_path", ["../../x", "/abs/path", "./envs/../../out"])
def test_a_deploy_path_outside_the_repository_is_refused(deploy_path: str, tmp_path: Path) -> None:
    result = bodywork(
        "render",
        str(PARALLEL),
        "--out",
        str(tmp_path / "o"),
        "--format",
        "kustomize",
        "--repo-url",
        REPO_URL,
        "--ref",
        COMMIT,
        "--deploy-path",
        deploy_path,
    )
    assert result.returncode == 1
    assert f"--deploy-path {deploy_path!r} must be a path inside the deployment repository" in result.stderr
    assert not (tmp_path / "o").exists()


def test_a_guessed_flux_path_is_stated_with_the_flag_that_sets_it(tmp_path: Path) -> None:
    args = ["render", str(PARALLEL), "--format", "kustomize", "--repo-url", REPO_URL, "--ref", COMMIT]
    guessed = bodywork(*args, "--out", "kustomize", cwd=tmp_path)  # in no git checkout: its name is a guess
    assert (guessed.returncode, own_stderr(guessed.stderr)) == (
        0,
        "warning: --deploy-path ./kustomize is a guess: --out kustomize is in no git checkout, so the Flux"
        " Kustomizations take ./kustomize for its folder in the deployment repository; give --deploy-path with its"
        " path there\nrendered 19 objects into kustomize\n",
    )
    assert (
        yaml.safe_load((tmp_path / "kustomize" / "flux" / "churn-model-kustomize-step-00.yaml").read_text())["spec"][
            "path"
        ]
        == "./kustomize/steps/00"
    )
    given = bodywork(*args, "--out", "k2", "--deploy-path", "./envs/prod/churn", cwd=tmp_path)
    argocd = bodywork(*args, "--out", "k3", "--engine", "argocd", cwd=tmp_path)  # no Flux paths: nothing guessed
    repo = checkout(PARALLEL, tmp_path / "repo")
    derived = bodywork(*args, "--out", "deploy/k", cwd=repo)  # its path in the checkout
    assert [own_stderr(r.stderr).split("\n")[0].startswith("rendered ") for r in (given, argocd, derived)] == [True] * 3
    assert (
        yaml.safe_load((repo / "deploy" / "k" / "flux" / "churn-model-k-deploy-step-00.yaml").read_text())["spec"][
            "path"
        ]
        == "./deploy/k/steps/00"
    )


def test_manifests_for_flux_are_warned_about(tmp_path: Path) -> None:
    result = bodywork(
        "render", str(PARALLEL), "--out", "m", "--engine", "flux", "--repo-url", REPO_URL, "--ref", COMMIT, cwd=tmp_path
    )
    assert (result.returncode, own_stderr(result.stderr).splitlines()[0]) == (
        0,
        "warning: --format manifests with --engine flux: Flux applies the folder at once, without the DAG order, and"
        " `bodywork gitops flux` applies <folder>/flux, which only --format kustomize writes; give --format kustomize",
    )


# --- properties that must hold by meaning (issue 19): each test fails if its property is broken ---------------


def test_a_template_override_breaking_the_restricted_profile_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    shipped = (Path(__file__).resolve().parents[1] / "templates" / "_pod.yaml.j2").read_text()
    privileged = shipped.replace(
        '{"allowPrivilegeEscalation": false,', '{"privileged": true, "allowPrivilegeEscalation": false,'
    )
    assert privileged != shipped
    (templates / "_pod.yaml.j2").write_text(privileged)
    out = tmp_path / "out"
    result = bodywork(
        "render",
        str(EXAMPLE),
        "--out",
        str(out),
        "--templates",
        str(templates),
        "--repo-url",
        REPO_URL,
        "--ref",
        COMMIT,
    )
    assert result.returncode == 1
    assert "containers[0].securityContext.privileged: must not be true (privileged container)" in result.stderr
    assert "Deployment/train-and-serve-serve" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{{ 1/0 }}", "ZeroDivisionError: division by zero"),
        ("{{ nope.x }}", "'nope' is undefined"),
        ("{% if %}", "Expected an expression, got 'end of statement block'"),
    ],
)
def test_a_template_override_failing_at_render_time_names_its_file_and_line(
    line: str, expected: str, tmp_path: Path
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "service.yaml.j2").write_text(f"apiVersion: v1\nkind: Service\n\n# {line}\n")
    result = bodywork(
        "render", str(PARALLEL), "--out", "out", "--templates", "templates", "--repo-url", REPO_URL, "--ref", COMMIT,
        cwd=tmp_path,
    )  # fmt: skip
    assert (result.returncode, own_stderr(result.stderr)) == (
        1,
        f"error: template templates/service.yaml.j2, line 4: {expected}\n",
    )
    assert not (tmp_path / "out").exists()


def test_the_startup_probe_budget_rounds_up(tmp_path: Path) -> None:
    # 12 s at one probe every 5 s: 3 probes (15 s), never 2 (10 s, which restarts a pod that keeps its promise).
    rendered = render(service_project(tmp_path / "p"))
    (deployment,) = of_kind(rendered.objects, "Deployment")
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    assert (probe["periodSeconds"], probe["failureThreshold"]) == (5, 3)


def test_the_namespace_enforces_the_restricted_profile() -> None:
    (namespace,) = of_kind(render(EXAMPLE).objects, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_job_names_change_with_the_job_templates_the_image_and_the_args(tmp_path: Path) -> None:
    from bodywork_render.render.manifests import render_project
    from bodywork_render.render.options import RenderOptions

    def job_name(project: Path, templates: Path | None = None) -> str:
        rendered = render_project(project, RenderOptions(), repo_url=REPO_URL, ref=COMMIT, templates=templates)
        (job,) = of_kind(rendered.objects, "Job")
        return str(job["metadata"]["name"])

    base = job_name(service_project(tmp_path / "base"))
    assert re.fullmatch(r"probe-train-[0-9a-f]{8}", base)
    assert job_name(service_project(tmp_path / "same")) == base
    shipped = Path(__file__).resolve().parents[1] / "templates"
    names = {}
    for template in ("job.yaml.j2", "_pod.yaml.j2", "service.yaml.j2"):
        folder = tmp_path / f"override-{template}"
        folder.mkdir()
        (folder / template).write_text((shipped / template).read_text() + "{#- edited #}\n")
        names[template] = job_name(tmp_path / "base", folder)
    assert names["job.yaml.j2"] != base and names["_pod.yaml.j2"] != base
    assert names["service.yaml.j2"] == base, "a template the Job is not made from does not rename it"
    image = service_project(tmp_path / "image", SERVICE_PROJECT.replace("python:3.12-slim", "python:3.13-slim"))
    args = service_project(tmp_path / "args", SERVICE_PROJECT.replace('"3"]', '"4"]'))
    assert len({base, job_name(image), job_name(args), names["job.yaml.j2"], names["_pod.yaml.j2"]}) == 5


def test_the_service_sends_traffic_to_the_stage_port(tmp_path: Path) -> None:
    rendered = render(service_project(tmp_path / "p"))
    (service,) = of_kind(rendered.objects, "Service")
    assert service["spec"]["ports"][0]["port"] == 8123
    assert target_port(service, rendered.objects) == 8123


def test_the_example_pods_budget_memory_time_and_storage_as_the_readme_says() -> None:
    objects = {o["kind"]: o for o in objects_in(render(EXAMPLE).files)}
    job, deployment = objects["Job"], objects["Deployment"]
    # train: 300 s per try, retries 1 -> two tries, each with 600 s for scheduling, pulls, fetch and install.
    assert job["spec"]["activeDeadlineSeconds"] == 2 * (300 + 600)
    pods = {"train": job["spec"]["template"]["spec"], "serve": deployment["spec"]["template"]["spec"]}
    requests = {"train": ("500m", "500M"), "serve": ("250m", "300M")}
    limits = {"train": "1000M", "serve": "600M"}  # twice the request (both above the 512 MB floor)
    for name, pod in pods.items():
        assert [c["name"] for c in pod["initContainers"]] == ["fetch", "install"], "pip runs before the stage starts"
        install, stage = pod["initContainers"][1], pod["containers"][0]
        assert install["command"][-1] == "install" and stage["command"][-1] == "run"
        assert "--requirement" in install["args"] and "--requirement" not in stage["args"]
        cpu, memory = requests[name]
        assert stage["resources"] == {
            "requests": {"cpu": cpu, "memory": memory, "ephemeral-storage": "1Gi"},
            "limits": {"memory": limits[name]},
        }
        assert install["resources"]["limits"] == {"memory": "2000M"}
        assert {"name": "BODYWORK_SHARED_DIR", "value": "/bodywork/shared"} in stage["env"]
        claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v]
        assert claims == ["train-and-serve-shared"]
    # The module's own limit: the runner's --timeout, after the install.
    train_args = pods["train"]["containers"][0]["args"]
    assert train_args[train_args.index("--timeout") + 1] == "300"
    startup = deployment["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == 120, "max_startup_time_seconds times serve alone"
    claim = objects["PersistentVolumeClaim"]
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}


@pytest.mark.slow  # several CLI runs
def test_the_output_readme_command_reproduces_the_output_exactly(tmp_path: Path) -> None:
    repo = tmp_path / "monorepo"
    project = repo / "ml" / "churn"
    shutil.copytree(PARALLEL, project)
    (project / "bodywork.prod.yaml").write_text(
        "pipeline:\n  namespace: churn-prod\nstages:\n  serve:\n    replicas: 6\n"
    )
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a pipeline in a folder, with a prod overlay")
    git(repo, "remote", "add", "origin", REPO_URL)
    out = tmp_path / "out"
    flags = ["--env", "prod", "--format", "kustomize", "--ingress-host", "ml.example.com", "--deploy-path", "./x"]
    rendered = bodywork("render", str(project), "--out", str(out), *flags, cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    readme = (out / "README.md").read_text()
    (command,) = [line for line in readme.splitlines() if line.startswith("bodywork render ")]
    assert command.startswith("bodywork render ml/churn --out <this folder> ")
    assert "--env prod" in command and "--format kustomize" in command
    words = shlex.split(command.replace("<this folder>", shlex.quote(str(out))))
    checked = bodywork(*words[1:], "--check", cwd=repo)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    metadata = json.loads((out / "hydrator.metadata").read_text())
    assert (metadata["environment"], metadata["projectPath"]) == ("prod", "ml/churn")


def test_the_readme_says_the_run_on_failure_job_runs_only_when_a_sync_fails() -> None:
    readme = render(FAILURE_HOOK).files["README.md"]
    (line,) = [line for line in readme.splitlines() if "alert-on-failure" in line or "alert-" in line]
    assert line.startswith("- only when a sync fails: Job `nightly-scoring-alert-"), line
    assert "a plain `kubectl apply` of this folder would start it at once" in line
    assert "--engine kubectl" in line
    kubectl = render(FAILURE_HOOK, engine="kubectl")
    assert "alert-" not in kubectl.files["README.md"].split("Warnings:")[0]
    assert any("run_on_failure stage 'alert' is left out" in w for w in kubectl.warnings)


@pytest.mark.parametrize(
    ("image", "policy", "warned"),
    [
        ("bodyworkml/bodywork-core:latest", "Always", True),
        ("bodyworkml/bodywork-core", "Always", True),
        ("localhost:5000/ml", "Always", True),
        ("bodyworkml/bodywork-core:3.0", "IfNotPresent", False),
        ("bodyworkml/bodywork-core@sha256:" + "a" * 64, "IfNotPresent", False),
    ],
)
def test_a_floating_image_is_warned_about_with_its_position_and_always_pulled(
    image: str, policy: str, warned: bool, tmp_path: Path
) -> None:
    project = tmp_path / "p"
    shutil.copytree(PROJECTS / "failure-hook", project)
    config = project / "bodywork.yaml"
    config.write_text(config.read_text().replace("docker_image: python:3.12-slim", f"docker_image: {image}"))
    rendered = render(project)
    pods = [o["spec"]["template"]["spec"] for o in objects_in(rendered.files) if o["kind"] == "Job"]
    assert {c["imagePullPolicy"] for pod in pods for c in [*pod["initContainers"][1:], *pod["containers"]]} == {policy}
    assert {pod["initContainers"][0]["imagePullPolicy"] for pod in pods} == {"IfNotPresent"}, "python:3.12-bookworm"
    warnings = [w for w in rendered.warnings if "names no fixed image" in w]
    if warned:
        (warning,) = warnings
        assert warning.startswith(f"{config}:4:17: warning: project.docker_image: '{image}' names no fixed image")
        assert "pin a version tag or a digest" in warning
    else:
        assert warnings == []


@pytest.mark.parametrize(
    ("k8s_version", "required"), [("1.26", True), ("1.28", True), ("1.29", False), ("1.31", False)]
)
def test_jobs_render_for_each_kubernetes_release_its_pod_failure_policy_schema_accepts(
    k8s_version: str, required: bool
) -> None:
    # Before 1.29 every podFailurePolicy rule needs onPodConditions: the render gives the exit-code rule an empty one.
    rendered = render(EXAMPLE, k8s_version=k8s_version)
    (job,) = of_kind(rendered.objects, "Job")
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert ("onPodConditions" in rules[0]) is required and rules[0].get("onPodConditions", []) == []
    assert rules[1]["onPodConditions"] == [{"type": "DisruptionTarget", "status": "True"}]
    assert schema_problems(list(rendered.objects), k8s_version) == []
