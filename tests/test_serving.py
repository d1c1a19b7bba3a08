"""Production serving: autoscaling, disruption budgets, health paths, GPUs, node selectors, tolerations and image pull
secrets, from bodywork.yaml and its overlays to the rendered objects (tests/projects/serving uses every setting; the
chart's side is in test_chart.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.render.manifests import render_project
from bodywork_render.render.options import RenderOptions
from bodywork_render.render.serving import UNHEALTHY_POD_EVICTION_POLICY
from bodywork_render.verify.kubernetes import DEFAULT_K8S_VERSION, schema_problems
from bodywork_render.verify.podsecurity import hardening_violations, restricted_violations
from tests.renderkit import COMMIT, PROJECTS, REPO_URL, objects_in, render, service_project

SERVING = PROJECTS / "serving"


def by_kind_and_stage(objects: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> dict[tuple[str, str], Any]:
    """Objects keyed by kind and stage (the pipeline's own objects by their name)."""
    return {
        (o["kind"], o["metadata"].get("labels", {}).get("bodywork-render/stage", o["metadata"]["name"])): o
        for o in objects
    }


def pods(objects: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    """The pod spec of every Job and Deployment, by stage."""
    return {
        stage: o["spec"]["template"]["spec"]
        for (kind, stage), o in by_kind_and_stage(objects).items()
        if kind in ("Job", "Deployment")
    }


def rendered_env(project: Path, env: str | None) -> dict[tuple[str, str], Any]:
    return by_kind_and_stage(
        objects_in(render_project(project, RenderOptions(), env=env, repo_url=REPO_URL, ref=COMMIT).files)
    )


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A copy of tests/projects/serving, for overlays written by the test."""
    folder = tmp_path / "serving"
    shutil.copytree(SERVING, folder)
    return folder


def test_an_autoscaled_deployment_leaves_its_replicas_to_an_hpa_with_its_targets() -> None:
    objects = by_kind_and_stage(render(SERVING).objects)
    deployment = objects[("Deployment", "serve")]
    assert "replicas" not in deployment["spec"]
    hpa = objects[("HorizontalPodAutoscaler", "serve")]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["metadata"]["name"] == deployment["metadata"]["name"] == "serving-serve"
    assert hpa["metadata"]["annotations"] == deployment["metadata"]["annotations"], "same sync wave"
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "serving-serve"},
        "minReplicas": 1,
        "maxReplicas": 4,
        "metrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
            }
        ],
    }
    # Utilisation is a share of the requests: every container of the pod has them.
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert objects[("Deployment", "score")]["spec"]["replicas"] == 2
    assert ("HorizontalPodAutoscaler", "score") not in objects


SCALING = {
    "replicas: 0": False,
    "replicas: 1": False,
    "replicas: 2": True,
    "replicas: 1, autoscaling: {min_replicas: 1, max_replicas: 1, target_cpu_utilization: 50}": False,
    "replicas: 1, autoscaling: {min_replicas: 1, max_replicas: 2, target_memory_utilization: 50}": True,
    "replicas: 5, autoscaling: {min_replicas: 1, max_replicas: 1, target_cpu_utilization: 50}": False,
}


@pytest.mark.parametrize("scaling, budget", SCALING.items(), ids=list(SCALING))
def test_a_disruption_budget_exists_exactly_when_two_or_more_pods_are_possible(
    scaling: str, budget: bool, tmp_path: Path
) -> None:
    folder = service_project(
        tmp_path / "project",
        f"""\
version: "1.1"
pipeline: {{name: scaled, docker_image: python:3.12-slim, DAG: serve}}
stages:
  serve:
    executable_module_path: serve.py
    service: {{max_startup_time_seconds: 30, port: 8000, ingress: false, {scaling}}}
""",
    )
    objects = by_kind_and_stage(render(folder).objects)
    assert (("PodDisruptionBudget", "serve") in objects) == budget
    if budget:
        deployment, pdb = objects[("Deployment", "serve")], objects[("PodDisruptionBudget", "serve")]
        assert pdb["metadata"]["name"] == deployment["metadata"]["name"]
        assert pdb["spec"] == {
            "maxUnavailable": 1,
            "selector": deployment["spec"]["selector"],
            "unhealthyPodEvictionPolicy": UNHEALTHY_POD_EVICTION_POLICY,
        }


@pytest.mark.parametrize("release, policy", [("1.25", False), ("1.26", False), ("1.27", True), ("1.31", True)])
def test_unhealthy_pods_may_be_evicted_where_the_release_applies_the_policy(
    release: str, policy: bool, tmp_path: Path
) -> None:
    """unhealthyPodEvictionPolicy: unknown to 1.25, alpha and dropped by 1.26, beta and on from 1.27; every object
    checked against that release's schemas (a services-only project: Jobs need 1.27 for other reasons)."""
    folder = service_project(
        tmp_path / "project",
        """\
version: "1.1"
pipeline: {name: scaled, docker_image: python:3.12-slim, DAG: serve}
stages:
  serve:
    executable_module_path: serve.py
    service: {max_startup_time_seconds: 30, replicas: 3, port: 8000, ingress: false}
""",
    )
    (pdb,) = [o for o in render(folder, k8s_version=release).objects if o["kind"] == "PodDisruptionBudget"]
    assert ("unhealthyPodEvictionPolicy" in pdb["spec"]) == policy


def test_gpus_are_a_request_equal_to_the_limit_of_the_stage_container_only() -> None:
    found = pods(render(SERVING).objects)
    train, serve = found["train"], found["serve"]
    (container,) = train["containers"]
    assert container["resources"]["requests"]["nvidia.com/gpu"] == container["resources"]["limits"]["nvidia.com/gpu"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert serve["containers"][0]["resources"]["limits"]["amd.com/gpu"] == "1"
    for pod in found.values():
        for init in pod["initContainers"]:
            assert not any("gpu" in name for part in init["resources"].values() for name in part), init["name"]
    assert "gpu" not in str(found["score"]["containers"][0]["resources"])


@pytest.mark.parametrize("format", ["manifests", "kustomize"])
def test_node_selector_tolerations_and_pull_secrets_reach_the_pods(format: str) -> None:
    found = pods(objects_in(render(SERVING, format=format).files))
    assert {stage: pod.get("imagePullSecrets") for stage, pod in found.items()} == dict.fromkeys(
        ("train", "serve", "score", "report"), [{"name": "regcred"}]
    )
    assert found["train"]["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert found["train"]["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "spot", "operator": "Equal", "value": "true", "effect": "NoExecute", "tolerationSeconds": 300},
    ]
    assert found["serve"]["tolerations"] == [{"operator": "Exists"}]
    assert found["score"]["nodeSelector"] == {"pool": "scoring"}
    assert "nodeSelector" not in found["report"] and "tolerations" not in found["report"]


def test_a_health_path_makes_readiness_and_liveness_http_probes_and_tcp_stays_the_default() -> None:
    found = pods(render(SERVING).objects)
    serve = found["serve"]["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        assert serve[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert "tcpSocket" not in serve[probe]
        assert found["score"]["containers"][0][probe]["tcpSocket"] == {"port": "http"}
    # The startup probe keeps timing max_startup_time_seconds over TCP.
    assert serve["startupProbe"] == {"tcpSocket": {"port": "http"}, "periodSeconds": 5, "failureThreshold": 12}


@pytest.mark.parametrize("format", ["manifests", "kustomize"])
def test_every_object_is_valid_and_every_pod_restricted(format: str) -> None:
    objects = render(SERVING, format=format).objects
    assert {o["kind"] for o in objects} >= {"HorizontalPodAutoscaler", "PodDisruptionBudget"}
    assert schema_problems(objects, DEFAULT_K8S_VERSION) == []
    assert [v for o in objects for v in restricted_violations(o) + hardening_violations(o)] == []


def test_overlays_autoscale_production_and_run_one_replica_in_staging(project: Path) -> None:
    base, prod, staging = (rendered_env(project, env) for env in (None, "prod", "staging"))
    assert prod[("HorizontalPodAutoscaler", "serve")]["spec"]["minReplicas"] == 2
    assert prod[("HorizontalPodAutoscaler", "serve")]["spec"]["maxReplicas"] == 10
    assert [m["resource"] for m in prod[("HorizontalPodAutoscaler", "serve")]["spec"]["metrics"]] == [
        {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
        {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}},
    ]
    # An overlay's autoscaling turns a fixed count into a range, with its budget.
    assert "replicas" not in prod[("Deployment", "report")]["spec"]
    assert ("PodDisruptionBudget", "report") in prod and ("PodDisruptionBudget", "report") not in base
    prod_pods = pods(list(prod.values()))
    assert prod_pods["serve"]["containers"][0]["livenessProbe"]["httpGet"]["path"] == "/ready"
    assert prod_pods["train"]["containers"][0]["resources"]["limits"] == {"memory": "512M", "amd.com/gpu": "4"}
    assert prod_pods["train"]["nodeSelector"] == {"pool": "gpu-large"}
    assert prod_pods["score"]["imagePullSecrets"] == [{"name": "prod-registry"}]
    # Staging: a fixed replicas turns the base file's autoscaling off; one pod needs no budget.
    assert staging[("Deployment", "serve")]["spec"]["replicas"] == 1
    assert staging[("Deployment", "score")]["spec"]["replicas"] == 1
    assert not {k for k in staging if k[0] in ("HorizontalPodAutoscaler", "PodDisruptionBudget")}
    staging_train = pods(list(staging.values()))["train"]
    assert "tolerations" not in staging_train
    assert staging_train["containers"][0]["resources"]["limits"] == {"memory": "512M"}


def test_invalid_overlay_settings_are_reported_at_once_with_positions(project: Path) -> None:
    (project / "bodywork.dev.yaml").write_text(
        """\
pipeline:
  image_pull_secrets: [Bad_Name]
stages:
  train:
    gpus: -2
    autoscaling: {min_replicas: 1, max_replicas: 2, target_cpu_utilization: 50}
    health_path: /healthz
    tolerations:
      - {key: spot, operator: Among}
      - {operator: Exists, value: "x"}
  serve:
    replicas: 2
    autoscaling: {min_replicas: 8, max_replicas: 3, target_cpu_utilization: 101}
    health_path: healthz
"""
    )
    with pytest.raises(BodyworkError) as caught:
        render_project(project, RenderOptions(), env="dev", repo_url=REPO_URL, ref=COMMIT)
    file = str(project / "bodywork.dev.yaml")
    assert [str(d).replace(file, "F") for d in caught.value.diagnostics] == [
        "F:2:24: error: pipeline.image_pull_secrets[0]: 'Bad_Name' is not allowed (expected a Kubernetes name: "
        "lower-case letters, digits, '-' and '.', letters or digits at both ends)",
        "F:5:11: error: stages.train.gpus: -2 is out of range (expected at least 0)",
        "F:6:18: error: stages.train.autoscaling: stage 'train' is a batch stage; autoscaling applies to service "
        "stages only",
        "F:7:18: error: stages.train.health_path: stage 'train' is a batch stage; health_path applies to service "
        "stages only",
        "F:9:31: error: stages.train.tolerations[0].operator: expected one of 'Equal', 'Exists', got the string "
        "'Among'",
        "F:10:35: error: stages.train.tolerations[1].value: a toleration with operator Exists takes no value "
        "(it matches any)",
        "F:13:5: error: stages.serve.autoscaling: give replicas (a fixed count) or autoscaling (a range), not both",
        "F:13:50: error: stages.serve.autoscaling.max_replicas: max_replicas 3 is below min_replicas 8",
        "F:13:77: error: stages.serve.autoscaling.target_cpu_utilization: 101 is out of range (expected at most 100)",
        "F:14:18: error: stages.serve.health_path: 'healthz' is not allowed (expected a URL path starting with '/', "
        "without spaces)",
    ]
