"""Chart values: the one description of a chart's values, whence values.yaml, values.schema.json and the README table.

Every value is a ``Value``: its key, what it does, its JSON Schema and its default (or
nested values). Defaults come from the pipeline and the planned pods, so a chart installed
with its defaults renders what ``--format manifests`` renders. Every default is written
JSON-quoted: a string such as ``{{ .Release.Name }}`` or ``"x\\n---"`` stays a string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.source import Source
from bodywork_render.package_data import load_json
from bodywork_render.render.network import default_egress
from bodywork_render.render.options import RenderOptions
from bodywork_render.render.plan import INPUTS, SOURCE_COMMIT
from bodywork_render.render.routes import ingress_route
from bodywork_render.render.serving import UNHEALTHY_POD_EVICTION_POLICY, unhealthy_pod_eviction_policy
from bodywork_render.render.templating import block, quote
from bodywork_render.spec import names
from bodywork_render.spec.images import pull_policy, split_image
from bodywork_render.spec.model import (
    BatchStage,
    Gateway,
    NetworkPolicy,
    Pipeline,
    ServiceStage,
    SharedStorage,
    Stage,
)

_ENV_NAME = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
_PLAIN_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
# Plain words that a YAML reader (YAML 1.1, as Helm's) takes for a boolean or null: a stage named so is a quoted key.
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


@dataclass(frozen=True)
class Value:
    """One entry of values.yaml: a key, what it does, its JSON Schema, and a default or nested values."""

    key: str
    doc: str
    schema: Mapping[str, Any] | None = None
    default: Any = None
    children: tuple[Value, ...] = ()


def chart_values(
    pipeline: Pipeline,
    source: Source,
    options: RenderOptions,
    pods: Mapping[str, Mapping[str, Any]],
    pod_spec: Mapping[str, Any],
    pins: Mapping[str, Mapping[str, str]],
    pipeline_commit: str,
    schedules: Mapping[str, Mapping[str, Any]],
) -> tuple[Value, ...]:
    """The values of a pipeline's chart; ``pods`` maps each stage of the DAG to its planned pod values, ``pins`` to
    its pin annotations (plan.SOURCE_COMMIT, plan.INPUTS); ``pipeline_commit`` is the pipeline's pin; ``schedules``
    maps the stage rendered as a CronJob to its schedule's CronJob fields (render/scheduled.py).

    ``pod_spec`` is the spec of one rendered pod (of --format manifests), whose security contexts and
    init container's resources every stage shares: the chart's defaults are copied from it.
    """
    stages = [pipeline.stages[name] for step in pipeline.dag.steps for name in step]
    return (
        Value(
            "nameOverride",
            "Replaces the chart name in the app.kubernetes.io/part-of label and in the ServiceAccount's name.",
            _string(),
            "",
        ),
        Value(
            "fullnameOverride",
            "Replaces the ServiceAccount's name (by default the release name, or <release>-<chart> when the release "
            "name does not contain the chart name).",
            _string(),
            "",
        ),
        _image(
            "image",
            "The project's image: every stage runs in it (docker_image in bodywork.yaml).",
            pipeline.docker_image,
        ),
        Value(
            "imagePullSecrets",
            "Secrets for pulling the images from a private registry, e.g. [{name: regcred}] "
            "(pipeline.image_pull_secrets).",
            _array(_object({"name": _string(1)}, required=["name"])),
            [{"name": name} for name in pipeline.image_pull_secrets],
        ),
        Value(
            "runner",
            "The init container 'fetch' that checks the project's code out at the pinned commit before a stage "
            "starts (the runner script itself comes from the chart's runner ConfigMap).",
            children=(
                _image(
                    "image", "The fetch container's image: any image with python3, git and ssh.", options.runner_image
                ),
                Value(
                    "resources",
                    "Resources of the fetch container.",
                    _resources(),
                    pod_spec["initContainers"][0]["resources"],
                ),
            ),
        ),
        Value(
            "source",
            "The git repository, and the newest commit that changed what the pipeline runs (each stage runs its own "
            "'commit').",
            children=(
                Value(
                    "repoUrl", "URL the runner clones (credential-free; see gitSecret).", _string(1), source.repo_url
                ),
                Value(
                    "commit",
                    "Full commit SHA: its first 7 characters are the app.kubernetes.io/version label of the "
                    "pipeline's own objects, and of a stage whose 'commit' is empty.",
                    _COMMIT,
                    pipeline_commit,
                ),
                Value(
                    "gitSecret",
                    "Secret with git credentials for a private repository (key 'token', or 'ssh-privatekey'); "
                    "empty for a public one.",
                    _string(),
                    options.git_secret or "",
                ),
            ),
        ),
        Value(
            "logLevel",
            "Log level of the runner, passed to the stages as BODYWORK_LOG_LEVEL.",
            {"type": "string", "enum": ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]},
            pipeline.log_level,
        ),
        Value(
            "serviceAccount",
            "The ServiceAccount every stage's pod runs as (no API token is mounted).",
            children=(
                Value(
                    "annotations",
                    "Annotations of the ServiceAccount, e.g. for cloud workload identity.",
                    _string_map(),
                    {},
                ),
            ),
        ),
        Value(
            "podSecurityContext",
            "Security context of every pod; the default meets the Pod Security Standards 'restricted' profile.",
            _open_object(),
            pod_spec["securityContext"],
        ),
        Value(
            "securityContext",
            "Security context of every container; the default meets the 'restricted' profile.",
            _open_object(),
            pod_spec["containers"][0]["securityContext"],
        ),
        _shared_storage(pipeline.shared_storage),
        _network_policy(pipeline.network_policy),
        Value(
            "service",
            "The Services in front of the service stages.",
            children=(
                Value(
                    "type",
                    "Service type.",
                    {"type": "string", "enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                    "ClusterIP",
                ),
                Value("annotations", "Annotations of every Service.", _string_map(), {}),
            ),
        ),
        _disruption_budget(options.k8s_version),
        Value(
            "ingress",
            "The Ingresses of the service stages whose ingress is enabled; each routes <path> to its stage.",
            children=(
                Value(
                    "className",
                    "ingressClassName; empty for the cluster's default class.",
                    _string(),
                    options.ingress_class or "",
                ),
                Value(
                    "host",
                    "Host of the Ingress rules; empty to match every host.",
                    _string(),
                    options.ingress_host or "",
                ),
                Value(
                    "annotations",
                    "Annotations of every Ingress, e.g. for cert-manager (pipeline.ingress.annotations).",
                    _string_map(),
                    dict(pipeline.ingress.annotations),
                ),
                Value(
                    "tls",
                    "TLS of every Ingress, e.g. [{hosts: [ml.example.com], secretName: ml-tls}]; an entry without "
                    "hosts gets ingress.host (pipeline.ingress.tls).",
                    _array(_object({"hosts": _array(_string(1)), "secretName": _string(1)})),
                    # Without the host: the template takes ingress.host, so `--set ingress.host=` moves TLS with it.
                    ingress_route(pipeline.ingress, "/", None)["tls"],
                ),
                Value(
                    "nginxRewrite",
                    "For ingress-nginx: strip the path prefix on the way (rewrite-target with a capture group), for "
                    "apps that answer at / (pipeline.ingress.nginx_rewrite).",
                    {"type": "boolean"},
                    pipeline.ingress.nginx_rewrite,
                ),
            ),
        ),
        _gateway(pipeline.gateway),
        Value(
            "stages",
            "The stages, by name, in DAG order.",
            children=tuple(
                _stage(stage, pods[stage.name], pins[stage.name], schedules.get(stage.name)) for stage in stages
            ),
        ),
    )


def values_yaml(values: tuple[Value, ...], header: str) -> str:
    """values.yaml: every value with its comment, top-level values separated by blank lines."""
    lines = header.rstrip("\n").splitlines()
    for value in values:
        lines.append("")
        lines += _yaml_lines(value, 0)
    return "\n".join(lines) + "\n"


def values_schema(values: tuple[Value, ...]) -> str:
    """values.schema.json: every value required, no unknown keys, so Helm rejects a typo as it rejects a bad value.

    Draft-07, the newest draft that every Helm 3 and 4 release validates.
    """
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "values of the chart",
        **_object_schema(values, {}),
    }
    # Stages of one kind share one schema, written once: Helm refuses a chart file over 5 MiB, which a
    # thousand stages' schemas written out each would pass.
    stages = schema["properties"].get("stages", {}).get("properties", {})
    shared: dict[str, str] = {}
    definitions: dict[str, Any] = {}
    for name, stage_schema in stages.items():
        # The description names the stage; a draft-07 validator ignores it beside $ref, a reader does not.
        own = {"description": stage_schema.pop("description")} if "description" in stage_schema else {}
        text = json.dumps(stage_schema, sort_keys=True)
        if text not in shared:
            shared[text] = f"stage{len(shared) + 1}"
            definitions[shared[text]] = stage_schema
        stages[name] = {**own, "$ref": f"#/definitions/{shared[text]}"}
    if definitions:
        schema["definitions"] = definitions
    return json.dumps(schema, indent=2) + "\n"


def value_rows(values: tuple[Value, ...], prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted key, JSON default, description) of every leaf value, for the README."""
    rows: list[tuple[str, str, str]] = []
    for value in values:
        path = f"{prefix}{value.key}"
        if value.children:
            rows += value_rows(value.children, path + ".")
        else:
            rows.append((path, json.dumps(value.default), value.doc))
    return rows


def _yaml_lines(value: Value, indent: int) -> list[str]:
    pad = " " * indent
    key = value.key if _PLAIN_KEY.match(value.key) and value.key.lower() not in _YAML_WORDS else quote(value.key)
    lines = [f"{pad}# {value.doc}"]
    if value.children:
        lines.append(f"{pad}{key}:")
        for child in value.children:
            lines += _yaml_lines(child, indent + 2)
    else:
        lines += f"{pad}{key}:{block(value.default, indent + 2)}".split("\n")
    return lines


def _object_schema(values: tuple[Value, ...], base: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **base,
        "type": "object",
        "additionalProperties": False,
        "required": [v.key for v in values],
        "properties": {v.key: _schema_of(v) for v in values},
    }


def _schema_of(value: Value) -> dict[str, Any]:
    if value.children:
        return _object_schema(value.children, {"description": value.doc, **(value.schema or {})})
    return {"description": value.doc, **(value.schema or {})}


_COMMIT = {"type": "string", "pattern": "^[0-9a-f]{40}$"}


def _stage(
    stage: Stage,
    pod: Mapping[str, Any],
    pin: Mapping[str, str],
    schedule: Mapping[str, Any] | None,
) -> Value:
    common = (
        Value("enabled", "Render this stage; false leaves its objects out.", {"type": "boolean"}, True),
        Value(
            "commit",
            "Full commit SHA the stage's pods fetch: the newest commit that changed the stage's inputs (its module's "
            "folder and its 'inputs'), so that other commits leave the stage as it is.",
            _COMMIT,
            pin[SOURCE_COMMIT],
        ),
        Value(
            "inputs",
            "Digest of what the stage runs and of the stages upstream of it (pod annotation bodywork-render/inputs): "
            "a new value re-runs the Job or rolls the Deployment.",
            _string(1),
            pin[INPUTS],
        ),
        Value(
            "module",
            "Module (or notebook) the runner executes, inside the repository: the project's folder joined with "
            "executable_module_path.",
            _string(1),
            pod["run_args"][pod["run_args"].index("--module") + 1],
        ),
        Value(
            "requirements",
            "pip requirements, installed by the init container 'install' (in the project's image) before the module "
            "runs.",
            _array(_string(1)),
            list(stage.requirements),
        ),
        Value("args", "Arguments passed to the module.", _array(_string()), list(stage.args)),
        Value(
            "env",
            "Extra environment variables of the stage container (Kubernetes EnvVar objects).",
            _array(_object({"name": {"type": "string", "pattern": _ENV_NAME}}, required=["name"], closed=False)),
            [],
        ),
        Value(
            "secrets",
            "Environment variables read from Secrets: 'name' is set from key 'name' of Secret 'secret'.",
            _array(
                _object(
                    {
                        "name": {"type": "string", "pattern": _ENV_NAME},
                        "secret": {"type": "string", "pattern": names.DNS1123_SUBDOMAIN.pattern, "maxLength": 253},
                    },
                    required=["name", "secret"],
                )
            ),
            [{"name": s["env"], "secret": s["secret"]} for s in pod["secret_env"]],
        ),
        Value(
            "resources",
            "CPU, memory and ephemeral storage (the workspace) requests and limits of the stage container; its GPUs "
            "are gpus.",
            _resources(),
            _without_gpus(pod["resources"], stage),
        ),
        Value(
            "installResources",
            "Requests and limits of the install container (pip's peak memory while it installs large wheels).",
            _resources(),
            pod["install_resources"],
        ),
        Value(
            "sharedStorage",
            "Mount the shared storage (sharedStorage) at BODYWORK_SHARED_DIR in the stage container.",
            {"type": "boolean"},
            stage.shared_storage,
        ),
        Value(
            "gpus",
            "GPUs of the stage container: its request and limit of gpuResource (Kubernetes wants both equal); 0 for "
            "none.",
            _integer(0),
            stage.gpus,
        ),
        Value(
            "gpuResource",
            "The extended resource a GPU is counted in, as the cluster's device plugin names it.",
            _spec_constraints("gpu_resource"),
            stage.gpu_resource,
        ),
        Value("nodeSelector", "Node labels the stage's pods must run on.", _string_map(), dict(stage.node_selector)),
        Value("tolerations", "Tolerations of the stage's pods.", _array(_open_object()), pod["tolerations"]),
        Value("affinity", "Affinity of the stage's pods.", _open_object(), {}),
    )
    if isinstance(stage, BatchStage):
        specific: tuple[Value, ...] = (
            Value(
                "retries",
                "How many times a failed run is retried (the Job's backoffLimit).",
                _integer(0),
                stage.retries,
            ),
            Value(
                "maxCompletionTimeSeconds",
                "Time limit of a try of the module in seconds, 0 for none (the runner's --timeout); the Job's "
                "activeDeadlineSeconds is (retries + 1) x (this + the set-up allowance of a try).",
                _integer(0),
                stage.max_completion_time_seconds,
            ),
        )
        kind = "batch stage (a Job)"
        if schedule is not None:
            specific += (_schedule(schedule),)
            kind = "batch stage on the pipeline's schedule (a CronJob)"
    else:
        assert isinstance(stage, ServiceStage)
        specific = (
            Value("replicas", "Number of pods, unless autoscaling is enabled.", _integer(0), stage.replicas),
            _autoscaling(stage),
            Value(
                "healthPath",
                "HTTP path of the readiness and liveness probes (GET on the port, as the pods serve it); empty for "
                "TCP probes.",
                {"type": "string", "pattern": r"^(/\S*)?$"},
                stage.health_path or "",
            ),
            Value("port", "Port the stage listens on, and the port of its Service.", _integer(1, 65535), stage.port),
            Value(
                "maxStartupTimeSeconds",
                "How long a pod may take to start listening before it is restarted.",
                _integer(0),
                stage.max_startup_time_seconds,
            ),
            Value(
                "ingress",
                "The stage's Ingress.",
                children=(
                    Value("enabled", "Route <ingress.host><path> to this stage.", {"type": "boolean"}, stage.ingress),
                    Value(
                        "path",
                        "Path prefix routed to this stage, empty for /<the release's full name>/<stage> "
                        "(/<pipeline>/<stage> for a release named after the pipeline); its pods get it as "
                        "BODYWORK_ROUTE_PREFIX.",
                        {"type": "string", "pattern": "^(/|$)"},
                        "",
                    ),
                ),
            ),
        )
        kind = "service stage (a Deployment and a Service)"
    return Value(stage.name, f"The {kind} {stage.source_name!r}.", children=common + specific)


def _autoscaling(stage: ServiceStage) -> Value:
    scaling = stage.autoscaling
    targets = ("targetCPUUtilizationPercentage", "targetMemoryUtilizationPercentage")
    # An enabled autoscaler needs a target; the template refuses minReplicas above maxReplicas.
    schema = {
        "if": {"properties": {"enabled": {"const": True}}},
        "then": {"anyOf": [{"properties": {target: {"minimum": 1}}} for target in targets]},
    }
    return Value(
        "autoscaling",
        "A HorizontalPodAutoscaler (autoscaling/v2) of the stage's Deployment, which then leaves its replicas to it; "
        "with two or more pods possible, a PodDisruptionBudget too.",
        schema,
        children=(
            Value(
                "enabled",
                "Autoscale the stage between minReplicas and maxReplicas.",
                {"type": "boolean"},
                bool(scaling),
            ),
            Value("minReplicas", "Fewest pods.", _integer(1, 1000), scaling.min_replicas if scaling else 1),
            Value(
                "maxReplicas",
                "Most pods, at least minReplicas.",
                _integer(1, 1000),
                scaling.max_replicas if scaling else 1,
            ),
            Value(
                targets[0],
                "Average CPU use aimed at, in % of the CPU request; 0 for none.",
                _integer(0, 100),
                (scaling.target_cpu_utilization or 0) if scaling else 0,
            ),
            Value(
                targets[1],
                "Average memory use aimed at, in % of the memory request; 0 for none.",
                _integer(0, 100),
                (scaling.target_memory_utilization or 0) if scaling else 0,
            ),
        ),
    )


def _disruption_budget(k8s_version: str) -> Value:
    return Value(
        "podDisruptionBudget",
        "The PodDisruptionBudget (maxUnavailable: 1) of each service stage that can run two or more pods (replicas, "
        "or autoscaling.maxReplicas).",
        children=(
            Value(
                "unhealthyPodEvictionPolicy",
                f"{UNHEALTHY_POD_EVICTION_POLICY}: a pod that is not ready may be evicted, so it cannot hold a node "
                "drain up; empty to leave the field out (Kubernetes before 1.27).",
                {"type": "string", "enum": ["", UNHEALTHY_POD_EVICTION_POLICY, "IfHealthyBudget"]},
                unhealthy_pod_eviction_policy(k8s_version) or "",
            ),
        ),
    )


def _without_gpus(resources: Mapping[str, Any], stage: Stage) -> dict[str, Any]:
    """The stage container's resources without its GPUs, which the chart adds from the gpus value."""
    return {kind: {k: v for k, v in amounts.items() if k != stage.gpu_resource} for kind, amounts in resources.items()}


def _spec_constraints(field: str) -> dict[str, Any]:
    """The JSON Schema constraints of a field defined in bodywork.yaml's schema, without its annotations."""
    definition = load_json("bodywork.schema.json")["$defs"][field]
    return {k: v for k, v in definition.items() if k not in ("description", "default", "examples")}


def _shared_storage(storage: SharedStorage | None) -> Value:
    given = storage or SharedStorage()
    # The constraints of bodywork.yaml's shared_storage, written once in its JSON Schema.
    fields = load_json("bodywork.schema.json")["$defs"]["shared_storage"]["properties"]

    def schema(field: str, optional: bool = False) -> dict[str, Any]:
        constraints = {k: v for k, v in fields[field].items() if k not in ("description", "default", "examples")}
        return {"anyOf": [{"const": ""}, constraints]} if optional else constraints

    return Value(
        "sharedStorage",
        "The PersistentVolumeClaim that the stages with sharedStorage mount (pipeline.shared_storage).",
        children=(
            Value(
                "enabled",
                "Mount it in the stages with sharedStorage; false mounts it nowhere.",
                {"type": "boolean"},
                storage is not None,
            ),
            Value(
                "existingClaim",
                "An existing PersistentVolumeClaim in the release namespace; empty: the chart creates one, kept on "
                "uninstall.",
                schema("claim_name", optional=True),
                given.claim_name or "",
            ),
            Value("size", "Size of the claim the chart creates.", schema("size"), given.size),
            Value(
                "storageClass",
                "storageClassName of the claim the chart creates; empty for the cluster's default class.",
                schema("storage_class", optional=True),
                given.storage_class or "",
            ),
            Value(
                "accessMode",
                "Access mode of the claim the chart creates; ReadWriteMany for stages spread over nodes.",
                schema("access_mode"),
                given.access_mode,
            ),
        ),
    )


def _gateway(gateway: Gateway | None) -> Value:
    # The constraints of bodywork.yaml's gateway, written once in its JSON Schema.
    fields = load_json("bodywork.schema.json")["$defs"]["gateway"]["properties"]

    def schema(field: str) -> dict[str, Any]:
        return {
            "anyOf": [{"const": ""}, {k: v for k, v in fields[field].items() if k not in ("description", "examples")}]
        }

    return Value(
        "gateway",
        "The Gateway API Gateway that routes the service stages whose ingress is enabled (pipeline.gateway): with a "
        "name, each gets an HTTPRoute that strips its path prefix, instead of an Ingress.",
        children=(
            Value("name", "Name of the Gateway; empty: Ingresses.", schema("name"), gateway.name if gateway else ""),
            Value(
                "namespace",
                "Namespace of the Gateway; empty: the release namespace.",
                schema("namespace"),
                (gateway.namespace if gateway else None) or "",
            ),
            Value(
                "sectionName",
                "The Gateway's listener to attach to; empty: every listener that allows the routes.",
                schema("section_name"),
                (gateway.section_name if gateway else None) or "",
            ),
        ),
    )


def _network_policy(policy: NetworkPolicy) -> Value:
    # The constraints of bodywork.yaml's network_policy, written once in its JSON Schema.
    namespace = load_json("bodywork.schema.json")["$defs"]["network_policy"]["properties"]["ingress_namespace"]
    constraints = {k: v for k, v in namespace.items() if k not in ("description", "examples")}
    return Value(
        "networkPolicy",
        "The NetworkPolicies of the pipeline's pods (pipeline.network_policy): no incoming connection but to a "
        "service stage's port; outgoing ones open unless restrictEgress.",
        children=(
            Value("enabled", "Render the NetworkPolicies; false renders none.", {"type": "boolean"}, policy.enabled),
            Value(
                "ingressNamespace",
                "Namespace of the pods that forward to the service stages whose ingress is enabled (the Ingress "
                "controller's, or the Gateway's data-plane proxies): only its pods may connect to those; empty: any "
                "pod of the cluster may (as it may to a stage without a route, and from anywhere when service.type is "
                "not ClusterIP).",
                {"anyOf": [{"const": ""}, constraints]},
                policy.ingress_namespace or "",
            ),
            Value(
                "restrictEgress",
                "Let the pods connect only where egress says; false leaves outgoing connections open.",
                {"type": "boolean"},
                policy.egress is not None,
            ),
            Value(
                "egress",
                "NetworkPolicy egress rules of every pod when restrictEgress is true, as Kubernetes writes them; keep "
                "the DNS rule (port 53) the default starts with.",
                _array(_open_object()),
                default_egress(policy),
            ),
        ),
    )


def _schedule(given: Mapping[str, Any]) -> Value:
    from bodywork_render.render.scheduled import CONCURRENCY_POLICIES

    # The constraints of bodywork.yaml's schedule, written once in its JSON Schema.
    fields = load_json("bodywork.schema.json")["$defs"]["schedule"]["properties"]

    def schema(field: str) -> dict[str, Any]:
        return {k: v for k, v in fields[field].items() if k not in ("description", "default", "examples", "enum")}

    return Value(
        "schedule",
        "When the CronJob runs the stage (pipeline.schedule); Kubernetes 1.27 or later.",
        children=(
            Value(
                "cron",
                "The CronJob's schedule: five fields or a macro such as @daily.",
                schema("cron"),
                given["schedule"],
            ),
            Value("timeZone", "IANA time zone the cron expression is read in.", schema("time_zone"), given["timeZone"]),
            Value(
                "suspend",
                "Start no run while true (runs already started finish).",
                schema("suspend"),
                given["suspend"],
            ),
            Value(
                "concurrencyPolicy",
                "A run due while the last one runs: Forbid skips it, Replace stops the old one, Allow runs both.",
                {"type": "string", "enum": list(CONCURRENCY_POLICIES.values())},
                given["concurrencyPolicy"],
            ),
            Value(
                "successfulJobsHistoryLimit",
                "Finished successful runs (Jobs, pods and logs) kept.",
                schema("successful_runs_history_limit"),
                given["successfulJobsHistoryLimit"],
            ),
            Value(
                "failedJobsHistoryLimit",
                "Failed runs (Jobs, pods and logs) kept.",
                schema("failed_runs_history_limit"),
                given["failedJobsHistoryLimit"],
            ),
            Value(
                "startingDeadlineSeconds",
                "A run that could not start this many seconds after its time is skipped.",
                schema("starting_deadline_seconds"),
                given["startingDeadlineSeconds"],
            ),
        ),
    )


def _string(min_length: int = 0) -> dict[str, Any]:
    return {"type": "string", "minLength": min_length} if min_length else {"type": "string"}


def _integer(minimum: int, maximum: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def _array(items: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": dict(items)}


def _object(properties: Mapping[str, Any], required: list[str] | None = None, closed: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": dict(properties), "additionalProperties": not closed}
    if required:
        schema["required"] = required
    return schema


def _open_object() -> dict[str, Any]:
    return {"type": "object"}


def _string_map() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": {"type": "string"}}


def _resources() -> dict[str, Any]:
    quantities = {"type": "object", "additionalProperties": {"type": ["string", "number"]}}
    return _object({"requests": quantities, "limits": quantities, "claims": _array(_open_object())})


_DIGEST = "^$|^[a-z0-9]+:[a-f0-9]{32,}$"


def _image(key: str, doc: str, reference: str) -> Value:
    repository, tag, digest = split_image(reference)
    if not repository or not re.match(_DIGEST, digest):  # the chart's own schema would refuse its defaults
        raise BodyworkError(
            f"image {reference!r}: a chart holds an image as repository[:tag][@digest] "
            "(e.g. python:3.12-slim or registry.example.com/name@sha256:<hex>)"
        )
    return Value(
        key,
        doc,
        children=(
            Value("repository", "Image repository.", _string(1), repository),
            Value("tag", "Image tag; empty for none.", _string(), tag),
            Value(
                "digest",
                "Image digest (sha256:...), appended after the tag; empty for none.",
                {"type": "string", "pattern": _DIGEST},
                digest,
            ),
            Value(
                "pullPolicy",
                "When the kubelet pulls the image: Always for a floating tag (latest, or none), else IfNotPresent.",
                {"type": "string", "enum": ["Always", "IfNotPresent", "Never"]},
                pull_policy(reference),
            ),
        ),
    )
