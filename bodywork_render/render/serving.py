"""Serving: the values of a service's HorizontalPodAutoscaler and PodDisruptionBudget, and of the pod settings of
production serving (GPUs, node selector, tolerations, image pull secrets, the probes' action).

Pure, like plan.py, which places these values in its objects; the templates turn them into YAML.
"""

from __future__ import annotations

from typing import Any

from bodywork_render.spec.model import Pipeline, ServiceStage, Stage, Toleration

# A node drain may take one pod of a service at a time: never blocks a drain, whatever the replica count (a
# minAvailable equal to the replicas an autoscaler keeps would block it for good).
MAX_UNAVAILABLE = 1
# A PodDisruptionBudget's unhealthyPodEvictionPolicy is beta, and on by default, from Kubernetes 1.27 (alpha and off
# in 1.26, where the API server drops the field; unknown before). AlwaysAllow: a pod that is not ready (crash-looping,
# stuck) can be evicted, so it cannot block a drain by spending the budget.
UNHEALTHY_POD_EVICTION_SINCE = (1, 27)
UNHEALTHY_POD_EVICTION_POLICY = "AlwaysAllow"


def needs_disruption_budget(stage: ServiceStage) -> bool:
    """Whether the service can run two or more pods (its replicas, or its autoscaler's maximum): only then does a
    budget keep a drain from taking them all at once."""
    return stage.most_replicas >= 2


def unhealthy_pod_eviction_policy(k8s_version: str) -> str | None:
    """The budget's unhealthyPodEvictionPolicy for a Kubernetes release (``major.minor[.patch]``), None before it
    takes effect."""
    from bodywork_render.verify.kubernetes import major_minor

    try:
        release = major_minor(k8s_version)
    except ValueError:
        return None  # option_problems reports it
    return UNHEALTHY_POD_EVICTION_POLICY if release >= UNHEALTHY_POD_EVICTION_SINCE else None


def disruption_budget(k8s_version: str) -> dict[str, Any]:
    """The values of a service's PodDisruptionBudget besides its name, labels and selector."""
    return {
        "max_unavailable": MAX_UNAVAILABLE,
        "unhealthy_pod_eviction_policy": unhealthy_pod_eviction_policy(k8s_version),
    }


def autoscaler(stage: ServiceStage) -> dict[str, Any]:
    """The values of a service's HorizontalPodAutoscaler besides its name and labels (the stage autoscales)."""
    assert stage.autoscaling is not None
    scaling = stage.autoscaling
    targets = (("cpu", scaling.target_cpu_utilization), ("memory", scaling.target_memory_utilization))
    return {
        "min_replicas": scaling.min_replicas,
        "max_replicas": scaling.max_replicas,
        "metrics": [{"resource": name, "utilization": target} for name, target in targets if target is not None],
    }


def gpu_quantities(stage: Stage) -> dict[str, str]:
    """The stage container's GPUs, for both its requests and its limits (Kubernetes wants them equal)."""
    return {stage.gpu_resource: str(stage.gpus)} if stage.gpus else {}


def image_pull_secrets(pipeline: Pipeline) -> list[dict[str, str]]:
    """The pods' imagePullSecrets: references to the pipeline's image pull secrets."""
    return [{"name": name} for name in pipeline.image_pull_secrets]


def pod_settings(pipeline: Pipeline, stage: Stage) -> dict[str, Any]:
    """The pod values of the image pull secrets, node selector, tolerations and the probes' health path."""
    return {
        "image_pull_secrets": image_pull_secrets(pipeline),
        "node_selector": dict(stage.node_selector),
        "tolerations": [_toleration(toleration) for toleration in stage.tolerations],
        "health_path": stage.health_path if isinstance(stage, ServiceStage) else None,
    }


def _toleration(toleration: Toleration) -> dict[str, Any]:
    """A toleration in the pod spec: the fields given, under Kubernetes' names."""
    fields = {
        "key": toleration.key,
        "operator": toleration.operator,
        "value": toleration.value,
        "effect": toleration.effect,
        "tolerationSeconds": toleration.toleration_seconds,
    }
    return {name: value for name, value in fields.items() if value is not None}
