"""Labels: the one place that knows the Kubernetes label set of every rendered object."""

from __future__ import annotations

MANAGED_BY = "bodywork-render"
STAGE_LABEL = "bodywork-render/stage"
RUN_LABEL = "bodywork-render/scheduled-run"


def selector_labels(pipeline: str, stage: str) -> dict[str, str]:
    """Labels that select a stage's pods; stable across commits."""
    return {
        "app.kubernetes.io/name": stage,
        "app.kubernetes.io/instance": pipeline,
    }


def pipeline_selector(pipeline: str) -> dict[str, str]:
    """Labels that select every pod of a pipeline (its NetworkPolicy's podSelector); stable across commits."""
    return {"app.kubernetes.io/instance": pipeline, "app.kubernetes.io/part-of": pipeline}


def stage_labels(pipeline: str, stage: str, component: str, version: str) -> dict[str, str]:
    """Every label of a stage's objects: the recommended app.kubernetes.io set plus the stage label."""
    return {
        **selector_labels(pipeline, stage),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": pipeline,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/version": version,
        STAGE_LABEL: stage,
    }


def pipeline_labels(pipeline: str, version: str) -> dict[str, str]:
    """Labels of the pipeline-wide objects (Namespace, ServiceAccount)."""
    return {
        "app.kubernetes.io/name": pipeline,
        "app.kubernetes.io/instance": pipeline,
        "app.kubernetes.io/component": "pipeline",
        "app.kubernetes.io/part-of": pipeline,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/version": version,
    }


def run_labels(run: str) -> dict[str, str]:
    """The label of a scheduled run's Jobs: its run id without ':' (a label value has none), 2026-12-04T200000Z."""
    return {RUN_LABEL: run.replace(":", "")}
