"""The typed, immutable model of a valid bodywork.yaml: Pipeline, BatchStage, ServiceStage, Dag, Schedule.

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
DEFAULT_TIME_ZONE = "Etc/UTC"
DEFAULT_GPU_RESOURCE = "nvidia.com/gpu"


class Toleration(NamedTuple):
    """A taint the stage's pods tolerate, in Kubernetes' own terms (None: the field is not given)."""

    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None


class Autoscaling(NamedTuple):
    """A service's HorizontalPodAutoscaler: its replica range and utilisation targets (% of the requests)."""

    min_replicas: int
    max_replicas: int
    target_cpu_utilization: int | None = None
    target_memory_utilization: int | None = None


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
    gpus: int = 0
    gpu_resource: str = DEFAULT_GPU_RESOURCE
    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[Toleration, ...] = ()
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
    gpus: int = 0
    gpu_resource: str = DEFAULT_GPU_RESOURCE
    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    max_startup_time_seconds: int = 60
    replicas: int = 1
    port: int = 8000
    ingress: bool = False
    autoscaling: Autoscaling | None = None
    health_path: str | None = None

    @property
    def most_replicas(self) -> int:
        """The most pods the service can have: the autoscaler's maximum, else its fixed replicas."""
        return self.autoscaling.max_replicas if self.autoscaling else self.replicas


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


class EgressRule(NamedTuple):
    """Somewhere the pipeline's pods may connect to when egress is narrowed: an IP block or a namespace, and ports."""

    cidr: str | None = None
    except_cidrs: tuple[str, ...] = ()
    namespace: str | None = None
    ports: tuple[int, ...] = ()


class NetworkPolicy(NamedTuple):
    """The pipeline's NetworkPolicies: on by default; ``egress`` None leaves outgoing connections open."""

    enabled: bool = True
    ingress_namespace: str | None = None
    egress: tuple[EgressRule, ...] | None = None


def network_policy(spec: dict[str, Any] | None) -> NetworkPolicy:
    """The model of a valid ``network_policy`` mapping (the defaults when absent)."""
    if spec is None:
        return NetworkPolicy()
    egress = spec.get("egress")
    return NetworkPolicy(
        enabled=spec.get("enabled", True),
        ingress_namespace=spec.get("ingress_namespace"),
        egress=None
        if egress is None
        else tuple(
            EgressRule(
                cidr=rule.get("cidr"),
                except_cidrs=tuple(rule.get("except", ())),
                namespace=rule.get("namespace"),
                ports=tuple(rule.get("ports", ())),
            )
            for rule in egress
        ),
    )


class IngressSettings(NamedTuple):
    """What the service stages' Ingresses carry besides their host and class: annotations, TLS, the nginx rewrite."""

    annotations: tuple[tuple[str, str], ...] = ()
    tls_secret: str | None = None
    tls_hosts: tuple[str, ...] = ()
    nginx_rewrite: bool = False


def ingress_settings(spec: dict[str, Any] | None) -> IngressSettings:
    """The model of a valid ``ingress`` mapping (the defaults when absent)."""
    if spec is None:
        return IngressSettings()
    tls = spec.get("tls") or {}
    return IngressSettings(
        annotations=tuple((spec.get("annotations") or {}).items()),
        tls_secret=tls.get("secret_name"),
        tls_hosts=tuple(tls.get("hosts", ())),
        nginx_rewrite=spec.get("nginx_rewrite", False),
    )


class Gateway(NamedTuple):
    """The Gateway API Gateway the service stages' HTTPRoutes attach to."""

    name: str
    namespace: str | None = None
    section_name: str | None = None


def gateway(spec: dict[str, Any] | None) -> Gateway | None:
    """The model of a valid ``gateway`` mapping (None when absent)."""
    if spec is None:
        return None
    return Gateway(name=spec["name"], namespace=spec.get("namespace"), section_name=spec.get("section_name"))


class Schedule(NamedTuple):
    """When the pipeline's batch stages run again (``pipeline.schedule``); the fields of bodywork.yaml, defaults
    applied. ``concurrency_policy`` is ``forbid``, ``replace`` or ``allow``."""

    cron: str
    time_zone: str = DEFAULT_TIME_ZONE
    suspend: bool = False
    concurrency_policy: str = "forbid"
    successful_runs_history_limit: int = 3
    failed_runs_history_limit: int = 1
    starting_deadline_seconds: int = 3600


def schedule(spec: dict[str, Any] | None, base: Schedule | None = None) -> Schedule | None:
    """The model of a valid ``schedule`` mapping (None when absent); with ``base``, the mapping changes the fields
    it names of that schedule (an overlay's)."""
    if spec is None:
        return base
    given = {field: spec[field] for field in Schedule._fields if field in spec}
    return base._replace(**given) if base is not None else Schedule(**given)


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
    network_policy: NetworkPolicy = NetworkPolicy()
    ingress: IngressSettings = IngressSettings()
    gateway: Gateway | None = None
    schedule: Schedule | None = None
    image_pull_secrets: tuple[str, ...] = ()


def scheduling(spec: dict[str, Any]) -> dict[str, Any]:
    """The GPU, node selector and tolerations fields of a valid stage mapping (of bodywork.yaml or an overlay) that
    it gives, as fields of either stage."""
    fields: dict[str, Any] = {key: spec[key] for key in ("gpus", "gpu_resource") if key in spec}
    if "node_selector" in spec:
        fields["node_selector"] = tuple(spec["node_selector"].items())
    if "tolerations" in spec:
        fields["tolerations"] = tuple(
            Toleration(t.get("key"), t.get("operator"), t.get("value"), t.get("effect"), t.get("tolerationSeconds"))
            for t in spec["tolerations"]
        )
    return fields


def autoscaling(spec: dict[str, Any] | None) -> Autoscaling | None:
    """The model of a valid ``autoscaling`` mapping (None when absent)."""
    if spec is None:
        return None
    return Autoscaling(
        spec["min_replicas"],
        spec["max_replicas"],
        spec.get("target_cpu_utilization"),
        spec.get("target_memory_utilization"),
    )


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
        network_policy=network_policy(section.get("network_policy")),
        ingress=ingress_settings(section.get("ingress")),
        gateway=gateway(section.get("gateway")),
        schedule=schedule(section.get("schedule")),
        image_pull_secrets=tuple(section.get("image_pull_secrets", ())),
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
        **scheduling(spec),
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
        autoscaling=autoscaling(service.get("autoscaling")),
        health_path=service.get("health_path"),
    )
