"""The typed, immutable model of a valid bodywork.yaml: Pipeline, BatchStage, ServiceStage, Dag.

Versions "1.0" (``project:``) and "1.1" (``pipeline:``) load into the same model, with
names normalised (see ``names``) and defaults applied. Build it with ``build_pipeline``
from data that ``validate`` accepted.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from bodywork_render.spec import names
from bodywork_render.spec.dag import ordered_steps, parse_dag

DEFAULT_CPU_REQUEST = 0.25
DEFAULT_MEMORY_REQUEST_MB = 256
DEFAULT_SHARED_STORAGE_SIZE = "1Gi"
DEFAULT_ACCESS_MODE = "ReadWriteOnce"


class SecretEnv(NamedTuple):
    """Environment variable ``env`` read from key ``env`` of bodywork secret ``name`` (see names.secret_name)."""

    env: str
    name: str


# Named tuples, not dataclasses: importing dataclasses (with inspect) cost 9 ms of every `bodywork render --check`,
# a pre-commit hook. A named tuple has no base class, so the fields every stage has (``name`` the Kubernetes name,
# ``source_name`` the key in bodywork.yaml) open both, in the same order (tests/test_model.py checks it).


class BatchStage(NamedTuple):
    """A stage that runs to completion as a Kubernetes Job."""

    name: str
    source_name: str
    module: str
    args: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    cpu_request: float = DEFAULT_CPU_REQUEST
    memory_request_mb: int = DEFAULT_MEMORY_REQUEST_MB
    cpu_limit: float | None = None
    memory_limit_mb: int | None = None
    secrets: tuple[SecretEnv, ...] = ()
    shared_storage: bool = False
    inputs: tuple[str, ...] = ()
    max_completion_time_seconds: int = 0
    retries: int = 0


class ServiceStage(NamedTuple):
    """A long-running stage served by a Deployment and a Service."""

    name: str
    source_name: str
    module: str
    args: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    cpu_request: float = DEFAULT_CPU_REQUEST
    memory_request_mb: int = DEFAULT_MEMORY_REQUEST_MB
    cpu_limit: float | None = None
    memory_limit_mb: int | None = None
    secrets: tuple[SecretEnv, ...] = ()
    shared_storage: bool = False
    inputs: tuple[str, ...] = ()
    max_startup_time_seconds: int = 60
    replicas: int = 1
    port: int = 8000
    ingress: bool = False


Stage = BatchStage | ServiceStage


class SharedStorage(NamedTuple):
    """The pipeline's shared volume: an existing claim (``claim_name``), or one the render creates."""

    claim_name: str | None = None
    size: str = DEFAULT_SHARED_STORAGE_SIZE
    storage_class: str | None = None
    access_mode: str = DEFAULT_ACCESS_MODE


def shared_storage(spec: dict[str, Any] | None) -> SharedStorage | None:
    """The model of a valid ``shared_storage`` mapping (None when absent)."""
    if spec is None:
        return None
    return SharedStorage(
        claim_name=spec.get("claim_name"),
        size=spec.get("size", DEFAULT_SHARED_STORAGE_SIZE),
        storage_class=spec.get("storage_class"),
        access_mode=spec.get("access_mode", DEFAULT_ACCESS_MODE),
    )


class Dag(NamedTuple):
    """Ordered steps; the stages of one step run in parallel."""

    steps: tuple[tuple[str, ...], ...]


class Pipeline(NamedTuple):
    """A whole bodywork pipeline, ready to plan."""

    name: str
    version: str
    docker_image: str
    namespace: str
    secrets_group: str | None
    log_level: str
    dag: Dag
    stages: dict[str, Stage]
    run_on_failure: str | None = None
    shared_storage: SharedStorage | None = None


def build_pipeline(data: dict[str, Any]) -> Pipeline:
    """The model of bodywork.yaml data that passed validation."""
    section = data.get("pipeline") or data["project"]
    group = section.get("secrets_group")
    stages = {names.normalise(key): _stage(key, spec) for key, spec in data["stages"].items()}
    dag_steps = [[names.normalise(name) for name in step] for step in parse_dag(section["DAG"])]
    run_on_failure = section.get("run_on_failure")
    return Pipeline(
        name=names.normalise(section["name"]),
        version=data["version"],
        docker_image=section["docker_image"],
        namespace=names.normalise(section.get("namespace") or section["name"]),
        secrets_group=group,
        log_level=(data.get("logging") or {}).get("log_level", "INFO"),
        dag=Dag(ordered_steps(dag_steps)),
        stages=stages,
        run_on_failure=names.normalise(run_on_failure) if run_on_failure else None,
        shared_storage=shared_storage(section.get("shared_storage")),
    )


def _stage(key: str, spec: dict[str, Any]) -> Stage:
    common: dict[str, Any] = dict(
        name=names.normalise(key),
        source_name=key,
        module=spec["executable_module_path"],
        args=tuple(spec.get("args", ())),
        requirements=tuple(spec.get("requirements", ())),
        cpu_request=float(spec.get("cpu_request", DEFAULT_CPU_REQUEST)),
        memory_request_mb=int(spec.get("memory_request_mb", DEFAULT_MEMORY_REQUEST_MB)),
        cpu_limit=spec.get("cpu_limit"),
        memory_limit_mb=spec.get("memory_limit_mb"),
        secrets=tuple(SecretEnv(env, secret) for env, secret in (spec.get("secrets") or {}).items()),
        shared_storage=spec.get("shared_storage", False),
        inputs=tuple(spec.get("inputs", ())),
    )
    if "batch" in spec:
        batch = spec["batch"]
        return BatchStage(
            **common, max_completion_time_seconds=batch["max_completion_time_seconds"], retries=batch["retries"]
        )
    service = spec["service"]
    return ServiceStage(
        **common,
        max_startup_time_seconds=service["max_startup_time_seconds"],
        replicas=service["replicas"],
        port=service["port"],
        ingress=service["ingress"],
    )
