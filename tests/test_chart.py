"""`bodywork render --format helm`: the chart, checked with the real Helm SDK (lint, template, schema) and the
Kubernetes schemas.

Golden files of two charts (the example, a scheduled pipeline) live in tests/golden/helm/; after a deliberate
change rewrite them with `pytest --update-golden` and review the diff.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from bodywork_render import package_data
from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.source import Source
from bodywork_render.render import chart as chart_module
from bodywork_render.render import plan
from bodywork_render.render.chart import (
    DEFAULT_CHART_VERSION,
    POST_HOOK,
    PRE_HOOK,
    RUNNER_FOLDER,
    archive_bytes,
    chart_files,
    code_span,
    helm_order,
    render_chart,
    step_ranges,
)
from bodywork_render.render.manifests import Rendered, render_project
from bodywork_render.render.options import RenderOptions
from bodywork_render.render.plan import (
    EXIT_PERMANENT,
    RUNNER_MOUNT,
    SHARED_MOUNT,
    WORKSPACE_STORAGE_REQUEST,
    created_claim_name,
    job_deadline_seconds,
    runner_config_map_name,
)
from bodywork_render.render.write import read_tree, write_tree
from bodywork_render.spec.images import split_image
from bodywork_render.spec.model import BatchStage, build_pipeline
from bodywork_render.spec.project import load_project
from bodywork_render.verify.kubernetes import DEFAULT_K8S_VERSION, schema_problems
from bodywork_render.verify.podsecurity import hardening_violations, restricted_violations
from tests import helmsdk
from tests.corpus import corpus_params
from tests.goldenfiles import Golden
from tests.renderkit import (
    COMMIT,
    EXAMPLE,
    PROJECTS,
    REPO_URL,
    ROOT,
    of_kind,
    own_stderr,
    own_warnings,
    render,
    service_project,
    target_port,
)

GOLDEN = Path(__file__).parent / "golden" / "helm"
PARALLEL = PROJECTS / "parallel-secrets-ingress"
FAILURE_HOOK = PROJECTS / "failure-hook"
SCHEDULED = PROJECTS / "scheduled"
SERVING = PROJECTS / "serving"
HELM_OWN_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by")
HOOK_ANNOTATIONS = ("hook", "hook-weight", "hook-delete-policy")
INJECTIONS = ["{{ .Release.Name }}", "x\n---\nkind: Secret", '"}} {{ fail "x" }}', "[[ chart ]]", "no", "0644"]


def chart(
    project: Path, into: Path, chart_version: str = DEFAULT_CHART_VERSION, **options: Any
) -> tuple[Path, Rendered]:
    """Render a project's chart with the fixed source of the golden files and write it into a folder."""
    rendered = render_chart(
        project,
        RenderOptions(format="helm", **options),
        chart_version=chart_version,
        repo_url=REPO_URL,
        ref=COMMIT,
    )
    folder = into / "chart"
    write_tree(folder, rendered.files)
    return folder, rendered


def pipeline_name(folder: Path) -> str:
    """The chart's (and pipeline's) name."""
    return str(yaml.safe_load((folder / "Chart.yaml").read_text())["name"])


def helm_objects(
    folder: Path, values: dict[str, Any] | None = None, namespace: str | None = None
) -> list[dict[str, Any]]:
    """`helm template` of a chart, as release <pipeline name> (the name that matches --format manifests)."""
    name = pipeline_name(folder)
    return helmsdk.template_objects(folder, values, release=name, namespace=namespace or name)


def comparable(obj: dict[str, Any], from_helm: bool = False) -> dict[str, Any]:
    """An object without the labels that say who manages it (Helm's own, or bodywork-render); ``from_helm``: an object
    of `helm template`, whose Helm annotations are checked and then taken off, so that what remains compares with
    --format manifests, annotations included.

    The mapping: a Job is a Helm hook weighted by its sync wave (its DAG step), deleted before it is created again;
    the ServiceAccount and the runner ConfigMap are hooks of weight 0 (their wave) when a Job runs before the
    services; the shared claim is always a hook of weight 0, below its first user's (Helm runs
    hooks of one weight in name order), and kept on uninstall; nothing else is a hook.
    """
    obj = copy.deepcopy(obj)
    annotations = obj["metadata"].get("annotations", {})
    name = obj["metadata"]["name"]
    claim = obj["kind"] == "PersistentVolumeClaim"
    if from_helm and claim:
        assert annotations.pop("helm.sh/resource-policy", None) == "keep", f"{name} is not kept on uninstall"
        assert annotations.get("helm.sh/hook") == PRE_HOOK, f"{name} is not a {PRE_HOOK} hook"
    if from_helm and (obj["kind"] == "Job" or "helm.sh/hook" in annotations):
        assert obj["kind"] in ("Job", "ServiceAccount", "ConfigMap", "PersistentVolumeClaim"), (
            f"{obj['kind']} must not be a Helm hook"
        )
        hook, weight, policy = (annotations.pop(f"helm.sh/{key}", None) for key in HOOK_ANNOTATIONS)
        assert hook in (PRE_HOOK, POST_HOOK), f"{name}: helm.sh/hook {hook!r}"
        wave = annotations.get("argocd.argoproj.io/sync-wave")
        assert weight == ("0" if claim else wave), f"{name}: hook weight {weight!r}"
        assert policy == "before-hook-creation", f"{name}: hook delete policy {policy!r}"
    spec = obj.get("spec", {})
    job = spec.get("jobTemplate", {})  # a CronJob's Job and its pod carry the labels too
    templates = (spec.get("template", {}), job, job.get("spec", {}).get("template", {}))
    for found in (obj["metadata"].get("labels"), *(t.get("metadata", {}).get("labels") for t in templates)):
        for label in HELM_OWN_LABELS:
            (found or {}).pop(label, None)
    return obj


def by_identity(objects: list[dict[str, Any]], from_helm: bool = False) -> dict[tuple[str, str], dict[str, Any]]:
    if from_helm:
        objects = without_hook_policy(objects)
    keyed = {(o["kind"], o["metadata"]["name"]): comparable(o, from_helm) for o in objects}
    assert len(keyed) == len(objects), "two objects of one kind share a name"
    return keyed


def without_hook_policy(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A chart's objects without the hook copy of the pipeline's NetworkPolicy, once checked: a pre-install hook of
    weight 0, deleted when the hooks succeed, with the pipeline policy's rules for its batch pods. It guards the
    pre-install Jobs, which --format manifests does not have."""
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    copies = [o for o in policies if "helm.sh/hook" in o["metadata"]["annotations"]]
    for found in copies:
        hook, name = copy.deepcopy(found), found["metadata"]["name"]
        annotations = hook["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == PRE_HOOK and annotations["helm.sh/hook-weight"] == "0", name
        assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded", name
        assert hook["spec"]["podSelector"]["matchLabels"].pop("app.kubernetes.io/component") == "batch", name
        (own,) = [
            o
            for o in policies
            if o["metadata"]["labels"]["app.kubernetes.io/component"] == "pipeline" and o not in copies
        ]
        assert hook["spec"] == own["spec"], name
    return [o for o in objects if o not in copies]


def manifests_for_helm(project: Path, **options: Any) -> list[dict[str, Any]]:
    """The objects of --format manifests that a chart also renders: all but the Namespace and the Argo CD SyncFail
    hook."""
    objects = render(project, **options).objects
    return [
        o
        for o in objects
        if o["kind"] != "Namespace" and "argocd.argoproj.io/hook" not in o["metadata"].get("annotations", {})
    ]


def problems_of(objects: list[dict[str, Any]]) -> list[str]:
    """Strict Kubernetes schema problems and pod security violations of objects."""
    problems = [str(p) for p in schema_problems(objects, DEFAULT_K8S_VERSION)]
    for obj in objects:
        problems += [str(p) for p in restricted_violations(obj) + hardening_violations(obj)]
    return problems


def write_project(folder: Path, text: str) -> Path:
    """A project folder: its bodywork.yaml and (empty) the modules it names, which validation checks."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bodywork.yaml").write_text(text)
    for stage in yaml.safe_load(text)["stages"].values():
        (folder / stage["executable_module_path"]).touch()
    return folder / "bodywork.yaml"


def dag_project(folder: Path, dag: str, services: set[str]) -> Path:
    """A bodywork.yaml file with the given DAG, where the named stages are services and the others batch stages."""
    stages = [s.strip() for step in dag.split(">>") for s in step.split(",")]
    lines = [
        'version: "1.1"',
        "pipeline:",
        "  name: ordered",
        "  docker_image: python:3.12-slim",
        f"  DAG: {dag}",
        "stages:",
    ]
    for stage in stages:
        lines += [f"  {stage}:", f"    executable_module_path: {stage}.py"]
        if stage in services:
            lines += ["    service: {max_startup_time_seconds: 30, replicas: 1, port: 8000, ingress: false}"]
        else:
            lines += ["    batch: {max_completion_time_seconds: 60, retries: 0}"]
    return write_project(folder, "\n".join(lines) + "\n")


@pytest.fixture()
def injection_project(tmp_path: Path) -> Path:
    """A project whose args and env names try to inject Helm actions, Jinja leftovers and YAML documents."""
    args = ", ".join(yaml.safe_dump(a, default_style='"').strip() for a in INJECTIONS)
    return write_project(
        tmp_path / "injection",
        f"""version: "1.1"
pipeline:
  name: injection
  docker_image: python:3.12-slim
  DAG: prepare >> serve
stages:
  prepare:
    executable_module_path: prepare.py
    args: [{args}]
    batch: {{max_completion_time_seconds: 60, retries: 0}}
  serve:
    executable_module_path: serve.py
    args: [{args}]
    service: {{max_startup_time_seconds: 30, replicas: 1, port: 8000, ingress: true}}
""",
    )


# --- the chart as Helm sees it ---------------------------------------------------------------


@pytest.mark.parametrize(
    "project, options",
    [
        (EXAMPLE, {}),
        (PARALLEL, {}),
        (PARALLEL, {"ingress_class": "nginx", "ingress_host": "ml.example.com", "git_secret": "git-credentials"}),
        (FAILURE_HOOK, {}),
        (SCHEDULED, {}),
        (SERVING, {}),
    ],
    ids=["example", "parallel-secrets-ingress", "parallel-with-flags", "failure-hook", "scheduled", "serving"],
)
def test_helm_lint_is_clean(project: Path, options: dict[str, Any], tmp_path: Path) -> None:
    folder, _ = chart(project, tmp_path, **options)
    assert helmsdk.lint(folder) == []


@pytest.mark.slow  # a sweep of the whole corpus
@pytest.mark.parametrize("path", corpus_params())
def test_helm_lint_is_clean_for_the_corpus(path: Path, tmp_path: Path) -> None:
    folder, _ = chart(path, tmp_path)
    assert helmsdk.lint(folder) == []


@pytest.mark.slow  # a sweep of the whole corpus
@pytest.mark.parametrize("path", corpus_params())
def test_corpus_chart_renders_the_manifests_objects(path: Path, tmp_path: Path) -> None:
    folder, rendered = chart(path, tmp_path)
    objects = helm_objects(folder)
    assert (
        by_identity(objects, from_helm=True)
        == by_identity(manifests_for_helm(path))
        == by_identity(list(rendered.objects))
    )


@pytest.mark.parametrize(
    "project, options",
    [
        (EXAMPLE, {}),
        (PARALLEL, {"ingress_class": "nginx", "ingress_host": "ml.example.com", "git_secret": "git-credentials"}),
        (FAILURE_HOOK, {"runner_image": "registry.example.com:5000/runner@sha256:" + "a" * 64}),
        (SCHEDULED, {"k8s_version": "1.29"}),
        (SERVING, {}),
    ],
    ids=["example", "parallel-secrets-ingress", "failure-hook", "scheduled", "serving"],
)
def test_default_values_render_the_manifests_objects(project: Path, options: dict[str, Any], tmp_path: Path) -> None:
    folder, rendered = chart(project, tmp_path, **options)
    namespace = render(project, **options).objects[0]["metadata"]["name"]
    objects = helm_objects(folder, namespace=namespace)
    expected = by_identity(manifests_for_helm(project, **options))
    assert sorted(by_identity(objects, from_helm=True)) == sorted(expected)
    for identity, obj in by_identity(objects, from_helm=True).items():
        assert obj == expected[identity], identity
    assert problems_of(objects) == []
    assert len(rendered.objects) == len(without_hook_policy(objects))


def test_example_hooks_follow_the_dag(tmp_path: Path) -> None:
    folder, rendered = chart(EXAMPLE, tmp_path)
    annotations = {
        (o["kind"], o["metadata"]["name"].removeprefix("train-and-serve-").split("-")[0]): o["metadata"]["annotations"]
        for o in helm_objects(folder)
    }
    hook = {"helm.sh/hook": PRE_HOOK, "helm.sh/hook-delete-policy": "before-hook-creation"}
    assert annotations[("Job", "train")] == {**hook, "helm.sh/hook-weight": "1", "argocd.argoproj.io/sync-wave": "1"}
    assert annotations[("ServiceAccount", "train")] == {
        **hook,
        "helm.sh/hook-weight": "0",
        "argocd.argoproj.io/sync-wave": "0",
    }
    assert "helm.sh/hook" not in annotations[("Deployment", "serve")]
    assert own_warnings(rendered.warnings) == ()


def test_parallel_project_orders_batch_before_services_and_warns_nothing(tmp_path: Path) -> None:
    folder, rendered = chart(PARALLEL, tmp_path)
    jobs = {
        o["metadata"]["labels"]["bodywork-render/stage"]: o["metadata"]["annotations"]
        for o in helm_objects(folder, namespace="ml-prod")
        if o["kind"] == "Job"
    }
    assert {stage: (a["helm.sh/hook"], a["helm.sh/hook-weight"]) for stage, a in jobs.items()} == {
        "prepare": (PRE_HOOK, "1"),
        "train-a": (PRE_HOOK, "2"),
        "train-b": (PRE_HOOK, "2"),
    }
    assert own_warnings(rendered.warnings) == ()


@pytest.mark.parametrize(
    "dag, services, hooks, warned",
    [
        ("a >> s", {"s"}, {"a": PRE_HOOK}, []),
        ("s >> b", {"s"}, {"b": POST_HOOK}, []),
        ("a >> s, b >> c", {"s"}, {"a": PRE_HOOK, "b": POST_HOOK, "c": POST_HOOK}, []),
        ("a >> b", set(), {"a": PRE_HOOK, "b": PRE_HOOK}, []),
        (
            "a >> s1 >> b >> s2",
            {"s1", "s2"},
            {"a": PRE_HOOK, "b": POST_HOOK},
            [
                "batch stage 'b' (step 3) runs after the service stages of step(s) 4 instead",
                "steps 2, 4 start together",
            ],
        ),
        ("s1 >> s2 >> s3", {"s1", "s2", "s3"}, {}, ["steps 1-3 start together"]),
    ],
)
def test_helm_order(dag: str, services: set[str], hooks: dict[str, str], warned: list[str], tmp_path: Path) -> None:
    file = dag_project(tmp_path, dag, services)
    order, warnings = helm_order(build_pipeline(yaml.safe_load(file.read_text())))
    assert order == hooks
    assert len(warnings) == len(warned)
    for warning, expected in zip(warnings, warned, strict=False):
        assert expected in warning
    folder, rendered = chart(file, tmp_path)
    (config_map,) = of_kind(helm_objects(folder), "ConfigMap")
    assert ("helm.sh/hook" in config_map["metadata"]["annotations"]) == (PRE_HOOK in hooks.values())
    readme = (folder / "README.md").read_text()
    assert [w.removeprefix("warning: ") for w in rendered.warnings] == warnings
    assert all(f"- {w}" in readme for w in warnings)
    assert helmsdk.lint(folder) == []


def test_run_on_failure_is_left_out_with_a_warning(tmp_path: Path) -> None:
    folder, rendered = chart(FAILURE_HOOK, tmp_path)
    assert own_warnings(rendered.warnings) == (
        "warning: run_on_failure stage 'alert' is left out: Helm cannot run a Job only when a release fails "
        "(a hook runs on every install or upgrade)",
    )
    assert "alert" not in yaml.safe_load((folder / "values.yaml").read_text())["stages"]
    assert [o["metadata"]["labels"]["bodywork-render/stage"] for o in helm_objects(folder) if o["kind"] == "Job"] == [
        "score"
    ]
    assert "run_on_failure stage 'alert' is left out" in (folder / "README.md").read_text()


# --- values ------------------------------------------------------------------------------------


def test_overrides_change_the_objects(tmp_path: Path) -> None:
    folder, _ = chart(EXAMPLE, tmp_path)
    resources = {"requests": {"cpu": "2", "memory": "4G"}, "limits": {"cpu": "4", "memory": "8G"}}
    values: dict[str, Any] = {
        "image": {"tag": "3.13-slim"},
        "ingress": {
            "host": "ml.example.com",
            "className": "nginx",
            "tls": [{"hosts": ["ml.example.com"], "secretName": "ml-tls"}],
        },
        "stages": {
            "serve": {
                "replicas": 5,
                "resources": resources,
                "nodeSelector": {"pool": "cpu"},
                "env": [{"name": "WORKERS", "value": "4"}],
            }
        },
    }
    objects = {(o["kind"], o["metadata"]["name"]): o for o in helm_objects(folder, values)}
    deployment = objects[("Deployment", "train-and-serve-serve")]
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 5
    # Helm merges maps: the default ephemeral-storage request stays.
    merged = {**resources, "requests": {**resources["requests"], "ephemeral-storage": WORKSPACE_STORAGE_REQUEST}}
    assert pod["containers"][0]["resources"] == merged
    assert pod["containers"][0]["env"][-1] == {"name": "WORKERS", "value": "4"}
    assert pod["nodeSelector"] == {"pool": "cpu"}
    assert {
        o["spec"]["template"]["spec"]["containers"][0]["image"]
        for k, o in objects.items()
        if k[0] in ("Job", "Deployment")
    } == {"python:3.13-slim"}
    ingress = objects[("Ingress", "train-and-serve-serve")]["spec"]
    assert ingress["rules"][0]["host"] == "ml.example.com"
    assert (ingress["ingressClassName"], ingress["tls"]) == ("nginx", values["ingress"]["tls"])
    assert problems_of(list(objects.values())) == []


@pytest.mark.parametrize(
    "stage, gone", [("train", {"Job"}), ("serve", {"Deployment", "Service", "Ingress", "PodDisruptionBudget"})]
)
def test_disabling_a_stage_leaves_its_objects_out(stage: str, gone: set[str], tmp_path: Path) -> None:
    folder, _ = chart(EXAMPLE, tmp_path)
    objects = helm_objects(folder, {"stages": {stage: {"enabled": False}}})
    kinds = {o["kind"] for o in objects}
    # The other stage still mounts the shared storage; the pipeline's NetworkPolicy stays, the stage's goes.
    kinds_of_both = {
        *("ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "Job"),
        *("Deployment", "Service", "Ingress", "PodDisruptionBudget"),
    }
    assert kinds == (kinds_of_both | {"NetworkPolicy"}) - gone
    policies = {o["metadata"]["name"] for o in objects if o["kind"] == "NetworkPolicy"}
    own = {"train-and-serve", "train-and-serve--hooks"}
    assert policies == own | ({"train-and-serve-serve"} if stage == "train" else set())
    assert helmsdk.lint(folder, {"stages": {stage: {"enabled": False}}}) == []


def test_ingress_can_be_enabled_per_stage(tmp_path: Path) -> None:
    folder, _ = chart(PARALLEL, tmp_path)
    values = {"stages": {"report": {"ingress": {"enabled": True, "path": "/report"}}}}
    ingresses = {
        o["metadata"]["name"]: o for o in helm_objects(folder, values, namespace="ml-prod") if o["kind"] == "Ingress"
    }
    assert sorted(ingresses) == ["churn-model-report", "churn-model-serve"]
    assert ingresses["churn-model-report"]["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/report"


@pytest.mark.parametrize(
    "values, message",
    [
        ({"stages": {"serve": {"replicas": -1}}}, "/stages/serve/replicas': minimum: got -1, want 0"),
        ({"stages": {"serve": {"port": "8000"}}}, "/stages/serve/port': got string, want integer"),
        ({"stages": {"serve": {"port": 70000}}}, "/stages/serve/port': maximum"),
        ({"stages": {"train": {"retries": 1.5}}}, "/stages/train/retries': got number, want integer"),
        ({"stages": {"nope": {"enabled": True}}}, "additional properties 'nope' not allowed"),
        ({"replicas": 3}, "additional properties 'replicas' not allowed"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy'"),
        ({"source": {"commit": "main"}}, "/source/commit'"),
        ({"sharedStorage": {"accessMode": "ReadOnlyMany"}}, "/sharedStorage/accessMode'"),
        ({"sharedStorage": {"size": "lots"}}, "/sharedStorage/size'"),
        ({"sharedStorage": {"existingClaim": "Models"}}, "/sharedStorage/existingClaim'"),
        ({"sharedStorage": {"storageClass": "fast_ssd"}}, "/sharedStorage/storageClass'"),
        ({"stages": {"train": {"sharedStorage": "yes"}}}, "/stages/train/sharedStorage': got string, want boolean"),
        ({"stages": {"train": {"installResources": {"limits": []}}}}, "/stages/train/installResources/limits'"),
        ({"networkPolicy": {"ingressNamespace": "Ingress_Nginx"}}, "/networkPolicy/ingressNamespace'"),
        ({"networkPolicy": {"enabled": "no"}}, "/networkPolicy/enabled': got string, want boolean"),
        ({"networkPolicy": {"egress": {"to": []}}}, "/networkPolicy/egress'"),
    ],
)
def test_invalid_values_are_rejected_by_the_schema(values: dict[str, Any], message: str, tmp_path: Path) -> None:
    folder, _ = chart(EXAMPLE, tmp_path)
    with pytest.raises(helm_python.HelmValuesError, match=re.escape(message)):
        helmsdk.validate_values(folder, values)
    with pytest.raises(helm_python.HelmValuesError, match=re.escape(message)):
        helmsdk.template(folder, values, release="train-and-serve", namespace="ml")
    assert any(message in finding for finding in helmsdk.lint(folder, values))


def test_values_yaml_documents_every_value_in_the_readme(tmp_path: Path) -> None:
    folder, _ = chart(PARALLEL, tmp_path)
    text = (folder / "values.yaml").read_text()
    lines = text.splitlines()
    section = ""
    for number, line in enumerate(lines):
        section = line if re.match(r"^\w", line) else section
        if re.match(r"^\s*[A-Za-z]\w*:", line) or (section == "stages:" and re.match(r'^  "[^"]+":$', line)):
            assert lines[number - 1].strip().startswith("#"), f"value without a comment: {line!r}"
    readme = (folder / "README.md").read_text()

    def leaves(values: Any, prefix: str = "") -> list[str]:
        if (
            isinstance(values, dict)
            and values
            and not prefix.endswith(("resources.", "Resources.", "SecurityContext.", "securityContext."))
        ):
            return [leaf for key, value in values.items() for leaf in leaves(value, f"{prefix}{key}.")]
        return [prefix.rstrip(".")]

    documented = re.findall(r"^\| `([^`]+)` \|", readme, flags=re.MULTILINE)
    assert documented == leaves(yaml.safe_load(text))


def test_user_strings_stay_literal(injection_project: Path, tmp_path: Path) -> None:
    folder, rendered = chart(injection_project, tmp_path, ingress_host="ml.example.com")
    objects = helm_objects(folder)
    assert [o["kind"] for o in objects] == [
        "ConfigMap",
        "Deployment",
        "Ingress",
        "Job",
        "NetworkPolicy",
        "NetworkPolicy",
        "NetworkPolicy",  # the hook copy that guards the pre-install Job
        "Service",
        "ServiceAccount",
    ]
    for obj in objects:
        if obj["kind"] in ("Job", "Deployment"):
            assert obj["spec"]["template"]["spec"]["containers"][0]["args"][-len(INJECTIONS) :] == INJECTIONS
    with helm_python.Chart.load(folder) as loaded:
        assert loaded.values["stages"]["prepare"]["args"] == INJECTIONS
    assert by_identity(objects, from_helm=True) == by_identity(list(rendered.objects))
    assert helmsdk.lint(folder) == []


@pytest.mark.parametrize("project", [EXAMPLE, PARALLEL, FAILURE_HOOK, SCHEDULED], ids=lambda p: p.name)
def test_no_jinja_leftover(project: Path, tmp_path: Path) -> None:
    _, rendered = chart(project, tmp_path)
    for path, text in rendered.files.items():
        if path.startswith(f"{RUNNER_FOLDER}/"):  # the runner's own files, not templates
            continue
        for marker in ("[[", "]]", "[%", "%]", "[#", "#]"):
            assert marker not in text, (path, marker)


# --- Chart.yaml, names, labels ----------------------------------------------------------------------


def test_chart_yaml(tmp_path: Path) -> None:
    folder, _ = chart(EXAMPLE, tmp_path, chart_version="1.2.3-rc.1+build.5")
    with helm_python.Chart.load(folder) as loaded:
        metadata = loaded.metadata
    assert (metadata["apiVersion"], metadata["name"], metadata["version"], metadata["appVersion"]) == (
        "v2",
        "train-and-serve",
        "1.2.3-rc.1+build.5",
        COMMIT[:7],
    )
    labels = helm_objects(folder)[0]["metadata"]["labels"]
    assert labels["helm.sh/chart"] == "train-and-serve-1.2.3-rc.1_build.5"
    assert labels["app.kubernetes.io/version"] == COMMIT[:7]


def test_chart_version_must_be_semver(tmp_path: Path) -> None:
    with pytest.raises(BodyworkError, match="is not a semantic version"):
        chart(EXAMPLE, tmp_path, chart_version="1.2")


def test_names_follow_the_release_and_stay_within_63_characters(tmp_path: Path) -> None:
    long_name = "p" * 60
    file = write_project(
        tmp_path / "long",
        f"""version: "1.1"
pipeline: {{name: {long_name}, docker_image: python:3.12-slim, DAG: train}}
stages:
  train: {{executable_module_path: train.py, batch: {{max_completion_time_seconds: 60, retries: 0}}}}
""",
    )
    folder, _ = chart(file, tmp_path)
    release = "r" * 53
    objects = helmsdk.template_objects(folder, release=release, namespace="ml")
    assert {o["kind"]: o["metadata"]["name"] for o in objects}["ServiceAccount"] == f"{release}-{long_name}"[:63]
    for obj in objects:
        assert all(len(value) <= 63 for value in obj["metadata"]["labels"].values())
    assert problems_of(objects) == []
    overridden = helmsdk.template_objects(folder, {"nameOverride": "n" * 70}, release="prod", namespace="ml")
    assert overridden[0]["metadata"]["labels"]["app.kubernetes.io/part-of"] == "n" * 63
    account = helmsdk.template_objects(folder, {"fullnameOverride": "runner"}, release="prod", namespace="ml")
    assert {o["kind"]: o["metadata"]["name"] for o in account}["ServiceAccount"] == "runner"


def test_service_account_is_named_after_the_release(tmp_path: Path) -> None:
    folder, _ = chart(EXAMPLE, tmp_path)
    objects = helmsdk.template_objects(folder, release="prod", namespace="ml")
    assert {o["metadata"]["name"] for o in objects if o["kind"] == "ServiceAccount"} == {"prod-train-and-serve"}
    assert {
        o["spec"]["template"]["spec"]["serviceAccountName"] for o in objects if o["kind"] in ("Job", "Deployment")
    } == {"prod-train-and-serve"}
    assert {o["metadata"]["namespace"] for o in objects} == {"ml"}


@pytest.mark.parametrize(
    "reference, parts",
    [
        ("python:3.12-slim", ("python", "3.12-slim", "")),
        ("bodyworkml/bodywork-core", ("bodyworkml/bodywork-core", "", "")),
        ("localhost:5000/ml/image", ("localhost:5000/ml/image", "", "")),
        ("localhost:5000/ml/image:1.0@sha256:abc", ("localhost:5000/ml/image", "1.0", "sha256:abc")),
        ("python:3.12@sha256:abc", ("python", "3.12", "sha256:abc")),
        ("localhost:5000/ml/image@sha256:abc", ("localhost:5000/ml/image", "", "sha256:abc")),
        ("localhost:5000/ml/image:1.0", ("localhost:5000/ml/image", "1.0", "")),
    ],
)
def test_split_image(reference: str, parts: tuple[str, str, str]) -> None:
    assert split_image(reference) == parts


# --- output: golden files, determinism, package, CLI ------------------------------------------------------


@pytest.mark.parametrize("project", [EXAMPLE, SCHEDULED], ids=lambda p: p.name)
def test_golden_chart(project: Path, tmp_path: Path, golden: Golden) -> None:
    _, rendered = chart(project, tmp_path)
    golden.check_tree(GOLDEN / project.name, rendered.files)


def test_chart_is_deterministic(tmp_path: Path) -> None:
    pipeline = build_pipeline(yaml.safe_load((PARALLEL / "bodywork.yaml").read_text()))
    source = Source(REPO_URL, COMMIT)
    first = chart_files(pipeline, source, RenderOptions())
    second = chart_files(pipeline, source, RenderOptions())
    assert first.files == second.files
    assert archive_bytes(first.files, "churn-model") == archive_bytes(second.files, "churn-model")


def test_package_matches_helm_package(tmp_path: Path) -> None:
    folder, rendered = chart(EXAMPLE, tmp_path, chart_version="2.0.0")
    source = ["--repo-url", REPO_URL, "--ref", COMMIT]
    package = ["render", str(EXAMPLE), "--format", "helm", "--out", str(tmp_path / "out"), *source, "--chart-version"]
    ours = run_cli(*package, "2.0.0", "--package", str(tmp_path / "dist"))
    assert ours.returncode == 0, ours.stderr
    archive = tmp_path / "dist" / "train-and-serve-2.0.0.tgz"
    helms = Path(helm_python.package(folder, destination=tmp_path / "helm"))
    assert helms.name == archive.name
    with tarfile.open(archive) as ours_tar, tarfile.open(helms) as helms_tar:
        members = ours_tar.getmembers()
        assert [m.name for m in members] == [m.name for m in helms_tar.getmembers()]
        assert {(m.mode, m.uid, m.gid, m.mtime, m.type) for m in members} == {(0o644, 0, 0, 0, tarfile.REGTYPE)}
        for member in members:
            assert ours_tar.extractfile(member).read().decode() == rendered.files[member.name.split("/", 1)[1]]  # type: ignore[union-attr]
    with helm_python.Chart.load(archive) as packaged, helm_python.Chart.load(folder) as unpacked:
        assert (packaged.metadata, packaged.values, packaged.templates, packaged.schema) == (
            unpacked.metadata,
            unpacked.values,
            unpacked.templates,
            unpacked.schema,
        )
    again = run_cli(*package, "2.0.0", "--package", str(tmp_path / "dist2"))
    assert again.returncode == 0
    assert (tmp_path / "dist2" / archive.name).read_bytes() == archive.read_bytes()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bodywork_render", *args], capture_output=True, text=True, timeout=120)


def test_cli_writes_checks_and_diffs_the_chart(tmp_path: Path) -> None:
    out = tmp_path / "out"
    flags = ["--format", "helm", "--out", str(out), "--repo-url", REPO_URL, "--ref", COMMIT]
    written = run_cli("render", str(PARALLEL), *flags, "--ingress-host", "ml.example.com")
    assert (written.returncode, own_stderr(written.stderr)) == (0, f"rendered 14 objects into {out}\n")
    assert helmsdk.lint(out) == []
    assert run_cli("render", str(PARALLEL), *flags, "--ingress-host", "ml.example.com", "--check").returncode == 0
    changed = run_cli("render", str(PARALLEL), *flags, "--ingress-host", "other.example.com", "--check")
    assert changed.returncode == 1
    assert '-  host: "ml.example.com"\n+  host: "other.example.com"' in changed.stdout
    assert read_tree(out)["values.yaml"].count('host: "ml.example.com"') == 1
    readme = read_tree(out)["README.md"]
    assert f"--format helm --repo-url {REPO_URL} --ref {COMMIT} --ingress-host ml.example.com" in readme


def test_cli_rejects_a_bad_chart_version(tmp_path: Path) -> None:
    result = run_cli(
        "render",
        str(EXAMPLE),
        "--format",
        "helm",
        "--out",
        str(tmp_path / "out"),
        "--repo-url",
        REPO_URL,
        "--ref",
        COMMIT,
        "--chart-version",
        "v1",
    )
    assert result.returncode == 1
    assert "--chart-version 'v1' is not a semantic version" in result.stderr
    assert not (tmp_path / "out").exists()


def test_chart_templates_are_overridden_file_by_file(tmp_path: Path) -> None:
    override = tmp_path / "templates" / "chart"
    override.mkdir(parents=True)
    (override / "README.md.j2").write_text("# [[ chart ]], our way\n")
    rendered = render_chart(EXAMPLE, RenderOptions(), repo_url=REPO_URL, ref=COMMIT, templates=tmp_path / "templates")
    assert rendered.files["README.md"] == "# train-and-serve, our way\n"
    assert rendered.files["Chart.yaml"] == (GOLDEN / "train-and-serve" / "Chart.yaml").read_text()


@pytest.mark.parametrize("numbers, text", [([1], "1"), ([1, 2, 3, 5], "1-3, 5"), ([2, 4, 5], "2, 4-5")])
def test_step_ranges(numbers: list[int], text: str) -> None:
    assert step_ranges(numbers) == text


@pytest.mark.parametrize(
    "text, span", [('"x"', '`"x"`'), ('["a`b"]', '``["a`b"]``'), ("`x", "`` `x ``"), ('"a|b"', '`"a\\|b"`')]
)
def test_code_span(text: str, span: str) -> None:
    assert code_span(text) == span


def test_an_environment_overlay_sets_the_chart_defaults(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PARALLEL, project)
    (project / "bodywork.prod.yaml").write_text(
        "pipeline:\n  docker_image: python:3.13-slim\n  ingress_host: ml.example.com\n"
        "stages:\n  serve:\n    replicas: 6\n"
    )
    rendered = render_chart(project, RenderOptions(), env="prod", repo_url=REPO_URL, ref=COMMIT)
    values = yaml.safe_load(rendered.files["values.yaml"])
    assert (values["image"]["tag"], values["ingress"]["host"], values["stages"]["serve"]["replicas"]) == (
        "3.13-slim",
        "ml.example.com",
        6,
    )
    assert f"--format helm --repo-url {REPO_URL} --ref {COMMIT} --env prod" in rendered.files["README.md"]
    assert json.loads(rendered.files["hydrator.metadata"])["environment"] == "prod"
    folder = tmp_path / "chart"
    write_tree(folder, rendered.files)
    manifests = render_project(project, RenderOptions(), env="prod", repo_url=REPO_URL, ref=COMMIT).objects
    expected = [o for o in manifests if o["kind"] != "Namespace"]
    assert by_identity(helm_objects(folder, namespace="ml-prod"), from_helm=True) == by_identity(expected)


def test_package_needs_the_helm_format(tmp_path: Path) -> None:
    result = run_cli(
        "render",
        str(EXAMPLE),
        "--out",
        str(tmp_path / "out"),
        "--repo-url",
        REPO_URL,
        "--ref",
        COMMIT,
        "--package",
        str(tmp_path / "dist"),
    )
    assert result.returncode == 2
    assert "needs --format helm" in result.stderr
    assert not (tmp_path / "out").exists()


def test_the_chart_service_sends_traffic_to_the_stage_port_and_the_startup_budget_rounds_up(tmp_path: Path) -> None:
    folder, _ = chart(service_project(tmp_path / "p"), tmp_path)
    objects = helm_objects(folder)
    (service,) = of_kind(objects, "Service")
    assert service["spec"]["ports"][0]["port"] == 8123
    assert target_port(service, objects) == 8123
    (deployment,) = of_kind(objects, "Deployment")
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    assert (probe["periodSeconds"], probe["failureThreshold"]) == (5, 3)  # 12 s: 3 probes of 5 s, not 2


# --- the pods' contract: runner ConfigMap, images, install, deadlines, shared storage --------------------------------


def pod_specs(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The pod spec of every Job, CronJob and Deployment, by stage."""
    return {
        o["metadata"]["labels"]["bodywork-render/stage"]: (o["spec"].get("jobTemplate") or o)["spec"]["template"][
            "spec"
        ]
        for o in objects
        if o["kind"] in ("Job", "CronJob", "Deployment")
    }


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


@pytest.mark.parametrize("project", [EXAMPLE, PARALLEL, FAILURE_HOOK, SCHEDULED], ids=lambda p: p.name)
def test_the_runner_configmap_holds_the_runner_and_every_container_runs_it(project: Path, tmp_path: Path) -> None:
    folder, _ = chart(project, tmp_path)
    objects = helm_objects(folder)
    (config_map,) = of_kind(objects, "ConfigMap")
    runner = ROOT / "runner"
    assert config_map["data"] == {
        f.name: f.read_text() for f in (runner / "bodywork_runner.py", runner / "known_hosts")
    }
    assert config_map["immutable"] is True
    for stage, pod in pod_specs(objects).items():
        (volume,) = [v for v in pod["volumes"] if v["name"] == "runner"]
        assert volume["configMap"] == {"name": config_map["metadata"]["name"], "defaultMode": 0o444}, stage
        for container in containers(pod):
            assert container["command"][:2] == ["python3", f"{RUNNER_MOUNT}/bodywork_runner.py"], stage
            assert {"name": "runner", "mountPath": RUNNER_MOUNT, "readOnly": True} in container["volumeMounts"]


def test_a_new_runner_is_a_new_configmap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, before = chart(EXAMPLE, tmp_path / "before")
    (old,) = of_kind(list(before.objects), "ConfigMap")
    changed = {name: text + "# changed\n" for name, text in package_data.runner_files().items()}
    monkeypatch.setattr(package_data, "runner_files", lambda: changed)
    for module in (plan, chart_module):
        monkeypatch.setattr(module, "runner_files", lambda: changed)
    folder, after = chart(EXAMPLE, tmp_path / "after")
    objects = helm_objects(folder)
    (new,) = of_kind(objects, "ConfigMap")
    assert new["metadata"]["name"] != old["metadata"]["name"]
    assert new["data"] == changed
    assert {v["configMap"]["name"] for p in pod_specs(objects).values() for v in p["volumes"] if "configMap" in v} == {
        new["metadata"]["name"]
    }
    assert by_identity(objects, from_helm=True) == by_identity(list(after.objects))


@pytest.mark.parametrize("project", [EXAMPLE, PARALLEL, FAILURE_HOOK, SCHEDULED], ids=lambda p: p.name)
def test_pods_pull_only_the_project_image_and_python(project: Path, tmp_path: Path) -> None:
    folder, _ = chart(project, tmp_path)
    image = load_project(project, None).pipeline.docker_image
    for stage, pod in pod_specs(helm_objects(folder)).items():
        assert [(c["name"], c["image"]) for c in containers(pod)] == [
            ("fetch", "python:3.12-bookworm"),
            ("install", image),
            ("stage", image),
        ], stage
        assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["fsGroup"] == 65534


def test_install_runs_the_requirements_and_run_does_not(tmp_path: Path) -> None:
    folder, _ = chart(EXAMPLE, tmp_path)
    values = {"stages": {"train": {"requirements": ["numpy==2.3.0"], "installResources": {"limits": {"memory": "3G"}}}}}
    pod = pod_specs(helm_objects(folder, values))["train"]
    install, stage = pod["initContainers"][1], pod["containers"][0]
    assert install["args"][-2:] == ["--requirement", "numpy==2.3.0"]
    assert install["resources"]["limits"] == {"memory": "3G"}
    assert "--requirement" not in stage["args"]


@pytest.mark.parametrize("retries, seconds", [(0, 60), (3, 100), (1, 0)])
def test_the_job_deadline_follows_the_values(retries: int, seconds: int, tmp_path: Path) -> None:
    folder, _ = chart(EXAMPLE, tmp_path)
    values = {"stages": {"train": {"retries": retries, "maxCompletionTimeSeconds": seconds}}}
    (job,) = of_kind(helm_objects(folder, values), "Job")
    train = load_project(EXAMPLE, None).pipeline.stages["train"]
    assert isinstance(train, BatchStage)
    expected = job_deadline_seconds(train._replace(retries=retries, max_completion_time_seconds=seconds))
    assert job["spec"].get("activeDeadlineSeconds", 0) == expected
    assert job["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [EXIT_PERMANENT]


@pytest.mark.parametrize("project", [EXAMPLE, PARALLEL, SCHEDULED], ids=["example", "parallel", "scheduled"])
def test_two_releases_of_one_chart_share_a_namespace_without_sharing_a_name(project: Path, tmp_path: Path) -> None:
    folder, _ = chart(project, tmp_path)
    ingress_on = {"stages": {"report": {"ingress": {"enabled": True}}}} if project == PARALLEL else None
    releases = [helmsdk.template_objects(folder, ingress_on, release=r, namespace="ml") for r in ("blue", "green")]
    named = [{(o["kind"], o["metadata"]["name"]) for o in objects} for objects in releases]
    assert len(named[0]) == len(releases[0]) and len(named[1]) == len(releases[1])
    assert named[0] & named[1] == set(), "a name in both releases"
    assert all(name.startswith(("blue-", "green-")) for objects in named for _, name in objects)
    # Each release's Services select its own pods, and its Ingresses route their own paths.
    for release, objects in zip(("blue", "green"), releases, strict=True):
        assert all(o["spec"]["selector"]["app.kubernetes.io/instance"] == release for o in of_kind(objects, "Service"))
        paths = [o["spec"]["rules"][0]["http"]["paths"][0] for o in of_kind(objects, "Ingress")]
        assert all(p["path"].startswith(f"/{release}-") for p in paths)
        assert bool(paths) == (project != SCHEDULED)
        services = {o["metadata"]["name"] for o in of_kind(objects, "Service")}
        assert {p["backend"]["service"]["name"] for p in paths} <= services


def test_long_names_are_shortened_in_the_chart_as_in_the_manifests(tmp_path: Path) -> None:
    from tests.test_hostile import long_names_project

    # 63 characters and more once joined to the pipeline's name: Helm's template shortens them as Python does.
    project = long_names_project(tmp_path / "p", "b" * 40, "s" * 40, "p" * 40)
    folder, _ = chart(project, tmp_path / "chart", ingress_host="ml.example.com")
    ours = {(o["kind"], o["metadata"]["name"]) for o in without_hook_policy(helm_objects(folder))}
    theirs = {(o["kind"], o["metadata"]["name"]) for o in manifests_for_helm(project, ingress_host="ml.example.com")}
    assert ours == theirs
    assert {len(name) for kind, name in ours if kind in ("Job", "Deployment")} == {63}


def test_pod_specs_match_the_manifests_for_any_release(tmp_path: Path) -> None:
    options = {"git_secret": "git-credentials", "runner_image": "python:3.13-bookworm"}
    folder, _ = chart(EXAMPLE, tmp_path, **options)
    objects = helmsdk.template_objects(folder, release="prod", namespace="ml")
    ours = pod_specs(objects)
    theirs = pod_specs(manifests_for_helm(EXAMPLE, **options))
    # Named after the release: the ServiceAccount, the runner ConfigMap and the shared claim (the stages' objects too).
    assert {p["serviceAccountName"] for p in ours.values()} == {"prod-train-and-serve"}
    assert {v["configMap"]["name"] for p in ours.values() for v in p["volumes"] if "configMap" in v} == {
        runner_config_map_name("prod-train-and-serve")
    }
    assert {shared_mounts(p)[0] for p in ours.values()} == {created_claim_name("prod-train-and-serve")}
    prefix = {"name": "BODYWORK_ROUTE_PREFIX", "value": "/prod-train-and-serve/serve"}
    ours["serve"]["containers"][0]["env"].remove(prefix)
    theirs["serve"]["containers"][0]["env"].remove({**prefix, "value": "/train-and-serve/serve"})
    for pod in (*ours.values(), *theirs.values()):
        del pod["serviceAccountName"]
        for volume in pod["volumes"]:
            volume.get("configMap", {}).pop("name", None)
            volume.get("persistentVolumeClaim", {}).pop("claimName", None)
    assert ours == theirs


def shared_mounts(pod: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """The claim a pod mounts as its shared storage, where, and its BODYWORK_SHARED_DIR (None for what it lacks)."""
    claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if v["name"] == "shared"]
    stage = pod["containers"][0]
    paths = [m["mountPath"] for m in stage["volumeMounts"] if m["name"] == "shared"]
    env = [e["value"] for e in stage["env"] if e["name"] == "BODYWORK_SHARED_DIR"]
    assert not any(m["name"] == "shared" for c in pod["initContainers"] for m in c["volumeMounts"])
    return (claims or [None])[0], (paths or [None])[0], (env or [None])[0]


def test_the_shared_claim_is_a_kept_hook_before_its_first_user(tmp_path: Path) -> None:
    folder, _ = chart(EXAMPLE, tmp_path)
    objects = helm_objects(folder)
    (claim,) = of_kind(objects, "PersistentVolumeClaim")
    annotations = claim["metadata"]["annotations"]
    assert annotations["helm.sh/resource-policy"] == "keep"
    assert (annotations["helm.sh/hook"], annotations["helm.sh/hook-weight"]) == (PRE_HOOK, "0")
    (job,) = of_kind(objects, "Job")
    assert int(job["metadata"]["annotations"]["helm.sh/hook-weight"]) > 0
    assert annotations["argocd.argoproj.io/sync-wave"] == job["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    name = claim["metadata"]["name"]
    assert {stage: shared_mounts(pod) for stage, pod in pod_specs(objects).items()} == {
        "train": (name, SHARED_MOUNT, SHARED_MOUNT),
        "serve": (name, SHARED_MOUNT, SHARED_MOUNT),
    }
    template = (folder / "templates" / "persistentvolumeclaim.yaml").read_text()
    assert 'lookup "v1" "PersistentVolumeClaim" .Release.Namespace $name' in template


@pytest.mark.parametrize(
    "values, claim, mounts",
    [
        ({"sharedStorage": {"existingClaim": "models"}}, None, {"train": "models", "serve": "models"}),
        ({"sharedStorage": {"enabled": False}}, None, {"train": None, "serve": None}),
        ({"stages": {"train": {"sharedStorage": False}}}, "2", {"train": None, "serve": "train-and-serve-shared"}),
        ({"stages": {"train": {"enabled": False}}}, "2", {"serve": "train-and-serve-shared"}),
        ({"stages": {"train": {"sharedStorage": False}, "serve": {"sharedStorage": False}}}, None, {}),
    ],
    ids=["existing-claim", "disabled", "first-user-serve", "train-disabled", "no-user"],
)
def test_shared_storage_values(
    values: dict[str, Any], claim: str | None, mounts: dict[str, str | None], tmp_path: Path
) -> None:
    folder, _ = chart(EXAMPLE, tmp_path)
    objects = helm_objects(folder, values)
    claims = of_kind(objects, "PersistentVolumeClaim")
    assert [c["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] for c in claims] == ([claim] if claim else [])
    found = {stage: shared_mounts(pod)[0] for stage, pod in pod_specs(objects).items()}
    assert {stage: name for stage, name in found.items() if name or stage in mounts} == mounts
    assert problems_of(objects) == []


def test_shared_storage_can_be_enabled_by_values(tmp_path: Path) -> None:
    folder, _ = chart(PARALLEL, tmp_path)
    assert of_kind(helm_objects(folder, namespace="ml-prod"), "PersistentVolumeClaim") == []
    values = {
        "sharedStorage": {"enabled": True, "size": "5Gi", "storageClass": "fast", "accessMode": "ReadWriteMany"},
        "stages": {"train-b": {"sharedStorage": True}, "report": {"sharedStorage": True}},
    }
    objects = helm_objects(folder, values, namespace="ml-prod")
    (claim,) = of_kind(objects, "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "churn-model-shared"
    assert claim["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "2"
    assert claim["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "storageClassName": "fast",
        "resources": {"requests": {"storage": "5Gi"}},
    }
    mounted = {stage for stage, pod in pod_specs(objects).items() if shared_mounts(pod)[0]}
    assert mounted == {"train-b", "report"}
    assert problems_of(objects) == []
    assert helmsdk.lint(folder, values) == []


def test_stages_of_one_kind_share_one_schema_so_a_large_chart_stays_loadable(tmp_path: Path) -> None:
    """Helm refuses a chart file over 5 MiB: a thousand stages' schemas written out each passed it."""
    folder, _ = chart(PARALLEL, tmp_path)
    schema = json.loads((folder / "values.schema.json").read_text())
    stages = schema["properties"]["stages"]["properties"]
    assert sorted(schema["definitions"]) == ["stage1", "stage2"], "one schema for the batch stages, one for services"
    assert {tuple(sorted(s)) for s in stages.values()} == {("$ref", "description")}
    assert stages["serve"]["description"] != stages["report"]["description"]
    with pytest.raises(helm_python.HelmValuesError, match="replicas"):
        helmsdk.validate_values(folder, {"stages": {"serve": {"replicas": "three"}}})


# --- serving: autoscaling, disruption budgets, health paths, GPUs, scheduling, pull secrets -----


def test_serving_values_change_the_objects(tmp_path: Path) -> None:
    folder, _ = chart(SERVING, tmp_path)
    values: dict[str, Any] = {
        "imagePullSecrets": [{"name": "other"}],
        "podDisruptionBudget": {"unhealthyPodEvictionPolicy": ""},
        "stages": {
            "serve": {"autoscaling": {"enabled": False}, "replicas": 1, "healthPath": ""},
            "score": {
                "autoscaling": {
                    "enabled": True,
                    "minReplicas": 3,
                    "maxReplicas": 6,
                    "targetMemoryUtilizationPercentage": 75,
                },
                "healthPath": "/live",
                "gpus": 3,
                "nodeSelector": {"pool": "gpu"},
            },
            "report": {"replicas": 2},
            "train": {"gpus": 0, "tolerations": [{"key": "batch", "operator": "Exists", "effect": "NoSchedule"}]},
        },
    }
    objects = by_identity(helm_objects(folder, values))
    pods = {name: o["spec"]["template"]["spec"] for (kind, name), o in objects.items() if kind in ("Job", "Deployment")}
    kinds = {(kind, name) for kind, name in objects if kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget")}
    assert kinds == {
        ("HorizontalPodAutoscaler", "serving-score"),
        ("PodDisruptionBudget", "serving-score"),
        ("PodDisruptionBudget", "serving-report"),
    }
    assert objects[("Deployment", "serving-serve")]["spec"]["replicas"] == 1
    assert "replicas" not in objects[("Deployment", "serving-score")]["spec"]
    assert objects[("HorizontalPodAutoscaler", "serving-score")]["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 75}},
        }
    ]
    assert "unhealthyPodEvictionPolicy" not in objects[("PodDisruptionBudget", "serving-report")]["spec"]
    score = pods["serving-score"]["containers"][0]
    assert score["readinessProbe"]["httpGet"] == {"path": "/live", "port": "http"}
    assert score["resources"]["requests"]["nvidia.com/gpu"] == score["resources"]["limits"]["nvidia.com/gpu"] == "3"
    assert pods["serving-score"]["nodeSelector"] == {"pool": "gpu"}
    assert "tcpSocket" in pods["serving-serve"]["containers"][0]["livenessProbe"]
    (train,) = [pod for name, pod in pods.items() if name.startswith("serving-train-")]
    assert "nvidia.com/gpu" not in train["containers"][0]["resources"]["limits"]
    assert train["tolerations"] == values["stages"]["train"]["tolerations"]
    assert {str(pod["imagePullSecrets"]) for pod in pods.values()} == {"[{'name': 'other'}]"}
    assert problems_of(helm_objects(folder, values)) == []


@pytest.mark.parametrize(
    "values, message",
    [
        ({"stages": {"serve": {"autoscaling": {"targetCPUUtilizationPercentage": 101}}}}, "maximum"),
        ({"stages": {"serve": {"autoscaling": {"minReplicas": 0}}}}, "minimum"),
        (
            {"stages": {"score": {"autoscaling": {"enabled": True, "maxReplicas": 3}}}},
            "/stages/score/autoscaling'",
        ),
        ({"stages": {"train": {"gpus": -1}}}, "/stages/train/gpus'"),
        ({"stages": {"train": {"gpuResource": "gpu"}}}, "/stages/train/gpuResource'"),
        ({"stages": {"serve": {"healthPath": "healthz"}}}, "/stages/serve/healthPath'"),
        ({"podDisruptionBudget": {"unhealthyPodEvictionPolicy": "Never"}}, "/podDisruptionBudget"),
    ],
)
def test_invalid_serving_values_are_rejected_by_the_schema(
    values: dict[str, Any], message: str, tmp_path: Path
) -> None:
    folder, _ = chart(SERVING, tmp_path)
    with pytest.raises(helm_python.HelmValuesError, match=re.escape(message)):
        helmsdk.validate_values(folder, values)


def test_an_autoscaler_range_upside_down_fails_the_install(tmp_path: Path) -> None:
    folder, _ = chart(SERVING, tmp_path)
    values = {"stages": {"serve": {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}}}
    with pytest.raises(Exception, match="stages.serve.autoscaling: minReplicas is above maxReplicas"):
        helm_objects(folder, values)
