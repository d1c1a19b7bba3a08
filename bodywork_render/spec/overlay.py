"""Environments: a ``bodywork.<env>.yaml`` beside bodywork.yaml overrides what differs per environment.

An overlay may set the image, namespace, secrets group, image pull secrets, shared storage, schedule (field by field),
network policy, ingress host/class, ingress settings and gateway of the pipeline, and the replicas or autoscaling,
health path, resources, GPUs, node selector and tolerations of stages (schemas/bodywork-env.schema.json);
``gateway: null`` drops the base file's gateway.
Flags given on the command line win over the overlay, the overlay over bodywork.yaml.
"""

from __future__ import annotations

import re
from pathlib import Path

from bodywork_render.diagnostics import BodyworkError, Diagnostic
from bodywork_render.flags import Flag
from bodywork_render.spec import names
from bodywork_render.spec.load import Document, read_document

TYPE_CHECKING = False  # without importing typing: `bodywork validate` imports this module (see diagnostics.py)
if TYPE_CHECKING:
    from typing import Any

    from bodywork_render.render.options import RenderOptions
    from bodywork_render.spec.load import Files
    from bodywork_render.spec.model import Pipeline

_ENV = "[a-z0-9]([a-z0-9-]*[a-z0-9])?"
ENV_NAME = re.compile(f"^{_ENV}$")
OVERLAY_NAME = re.compile(rf"^bodywork\.(?P<env>{_ENV})\.yaml$")
ENV_FLAG = Flag(
    "--env",
    "Environment whose overlay bodywork.<env>.yaml (beside bodywork.yaml) applies; publish and refresh write"
    " to envs/<env>/<pipeline> (default: no overlay, envs/default/<pipeline>).",
)
"""The one flag that names an environment, for validate, render, publish and refresh."""
_STAGE_FIELDS = ("cpu_request", "memory_request_mb", "cpu_limit", "memory_limit_mb", "replicas")


def overlay_path(config: Path, env: str) -> Path:
    """Where the overlay of environment ``env`` lives: beside the project's bodywork.yaml."""
    if not ENV_NAME.match(env):
        raise BodyworkError(
            f"--env {env!r}: expected lower-case letters, digits and '-' (it names bodywork.<env>.yaml)"
        )
    return config.with_name(f"bodywork.{env}.yaml")


def overlay_env(path: Path) -> str | None:
    """The environment of an overlay file given by name (an existing ``bodywork.<env>.yaml``); None for any other
    path."""
    named = OVERLAY_NAME.match(path.name)
    return named["env"] if named and path.is_file() else None


def read_overlay(config: Path, env: str, files: Files | None = None) -> Document:
    """The overlay of ``env`` beside ``config`` (on disk, or in ``files``), read but not validated; BodyworkError when
    missing."""
    path = overlay_path(config, env)
    if not (files.is_file(path) if files is not None else path.is_file()):
        raise BodyworkError(
            [
                Diagnostic(
                    str(path),
                    0,
                    0,
                    "",
                    "error",
                    f"no overlay for environment {env!r} (expected this file beside bodywork.yaml"
                    + (f" {files.where})" if files is not None else ")"),
                )
            ]
        )
    return read_document(path, files)


def apply_overlay(pipeline: Pipeline, overlay: dict[str, Any]) -> Pipeline:
    """The pipeline with the overlay's values in place of the base file's."""
    from bodywork_render.spec.model import gateway, ingress_settings, network_policy, schedule, shared_storage

    section = overlay.get("pipeline") or {}
    by_source = {stage.source_name: stage for stage in pipeline.stages.values()}
    stages = dict(pipeline.stages)
    for key, changes in (overlay.get("stages") or {}).items():
        stage = by_source[key]
        fields = {f: changes[f] for f in _STAGE_FIELDS if f in changes}
        stages[stage.name] = stage._replace(**fields, **_serving_fields(changes))
    return pipeline._replace(
        docker_image=section.get("docker_image", pipeline.docker_image),
        namespace=names.normalise(section["namespace"]) if "namespace" in section else pipeline.namespace,
        secrets_group=section.get("secrets_group", pipeline.secrets_group),
        stages=stages,
        shared_storage=shared_storage(section["shared_storage"])
        if "shared_storage" in section
        else pipeline.shared_storage,
        schedule=schedule(section.get("schedule"), pipeline.schedule),
        image_pull_secrets=tuple(section.get("image_pull_secrets", pipeline.image_pull_secrets)),
        network_policy=network_policy(section["network_policy"])
        if "network_policy" in section
        else pipeline.network_policy,
        ingress=ingress_settings(section["ingress"]) if "ingress" in section else pipeline.ingress,
        gateway=gateway(section["gateway"]) if "gateway" in section else pipeline.gateway,
    )


def _serving_fields(changes: dict[str, Any]) -> dict[str, Any]:
    """The stage fields of an overlay's GPUs, node selector, tolerations, health path and autoscaling: a fixed
    ``replicas`` turns the base file's autoscaling off, ``autoscaling`` replaces it (validate allows one of them)."""
    from bodywork_render.spec.model import autoscaling, scheduling

    fields = scheduling(changes)
    if "health_path" in changes:
        fields["health_path"] = changes["health_path"]
    if "autoscaling" in changes or "replicas" in changes:
        fields["autoscaling"] = autoscaling(changes.get("autoscaling"))
    return fields


def overlay_options(options: RenderOptions, overlay: dict[str, Any]) -> RenderOptions:
    """Render options with the overlay's ingress host and class where no flag set them."""
    section = overlay.get("pipeline") or {}
    return options._replace(
        ingress_host=options.ingress_host or section.get("ingress_host"),
        ingress_class=options.ingress_class or section.get("ingress_class"),
    )
