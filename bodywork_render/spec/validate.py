"""Validate: a loaded bodywork.yaml against the JSON Schema, then the rules a schema cannot say.

Pure: takes a Document (and, to check that modules exist, a callable), returns every
diagnostic at once, sorted by position. No I/O, no printing.
"""

from __future__ import annotations

import math
import posixpath
from functools import cache

from bodywork_render.diagnostics import Diagnostic
from bodywork_render.spec import names
from bodywork_render.spec._schema_compiled import accepts
from bodywork_render.spec.dag import parse_dag
from bodywork_render.spec.load import Document, PathKey

TYPE_CHECKING = False  # without importing typing: see diagnostics.py
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from bodywork_render.diagnostics import Severity

YAML11_BOOLEANS = {"yes", "no", "y", "n", "on", "off", "true", "false"}

_DNS_SUBDOMAIN = names.SUBDOMAIN
_NAME = "[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
# The patterns of node_selector, tolerations and gpu_resource in the schemas.
_QUALIFIED_NAME = f"^({_DNS_SUBDOMAIN}/)?{_NAME}$"
_LABEL_VALUE = f"^({_NAME})?$"
_EXTENDED_RESOURCE = f"^{_DNS_SUBDOMAIN}/{_NAME}$"
_PATTERN_EXPECTATIONS = {
    "^[A-Za-z0-9.-]+$": "letters, digits, '-' and '.' only",
    "^[A-Za-z0-9_.-]+$": "letters, digits, '_', '-' and '.' only",
    "^[A-Za-z_][A-Za-z0-9_]*$": "an environment variable name: letters, digits and '_', not starting with a digit",
    "^[^\\s]+$": "no spaces",
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "a DNS-1123 label: lower-case letters, digits and '-', starting and ending with"
    " a letter or digit",
    "^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$": "a lower-case DNS name such as"
    " ml.example.com, or a wildcard *.example.com",
    "\\.(py|ipynb)$": "a path ending in .py or .ipynb",
    # The runner's REQUIREMENT (runner/bodywork_runner.py), which refuses the same with the same words.
    "^[^-\\t\\n\\v\\f\\r ]": "a package specifier, URL or path, not starting with '-' or a space; pip options"
    " belong in the image or a requirements.txt beside the module",
    "^/[^\\s]*$": "a URL path starting with '/', without spaces",
    _QUALIFIED_NAME: "a label or annotation key: an optional DNS subdomain and '/', then letters, digits, '-', '_'"
    " and '.', letters or digits at both ends",
    _LABEL_VALUE: "a label value: letters, digits, '-', '_' and '.', letters or digits at both ends",
    _EXTENDED_RESOURCE: "a resource name with its domain, e.g. nvidia.com/gpu",
    f"^{_DNS_SUBDOMAIN}$": "a Kubernetes name: lower-case letters, digits, '-' and '.', letters or digits at both ends",
}


BASE_SCHEMA = "bodywork.schema.json"
ENV_SCHEMA = "bodywork-env.schema.json"


@cache
def _validator(schema: str) -> Any:
    import jsonschema_rs

    from bodywork_render.package_data import load_json

    return jsonschema_rs.Draft202012Validator(load_json(schema))


def validate_document(doc: Document, module_exists: Callable[[str], bool] | None = None) -> list[Diagnostic]:
    """Every problem of a bodywork.yaml document, errors and warnings, sorted by position.

    ``module_exists`` checks that an executable_module_path exists in the project;
    without it (a file validated on its own) existence is not checked.
    """
    if doc.data is None:
        return [_at(doc, (), "error", "the file is empty (expected a mapping with version, pipeline and stages)")]
    if not isinstance(doc.data, dict):
        return [_at(doc, (), "error", f"expected a mapping at the top level, got {_describe(doc.data)}")]
    unreadable = _unreadable(doc, doc.data, ())
    if unreadable:
        return unreadable
    found = _schema_problems(doc, BASE_SCHEMA) + _semantic_problems(doc, module_exists)
    return sorted(set(found))


def validate_overlay(doc: Document, base: dict[str, Any] | None) -> list[Diagnostic]:
    """Every problem of an environment overlay (bodywork.<env>.yaml) of the valid base data ``base``; with None
    (the base has errors), only those found without the base: its own schema, image, network policy, namespace."""
    if doc.data is None:
        return []
    if not isinstance(doc.data, dict):
        return [_at(doc, (), "error", f"expected a mapping at the top level, got {_describe(doc.data)}")]
    unreadable = _unreadable(doc, doc.data, ())
    if unreadable:
        return unreadable
    found = _schema_problems(doc, ENV_SCHEMA)
    pipeline = doc.data.get("pipeline")
    section: dict[str, Any] = pipeline if isinstance(pipeline, dict) else {}
    found += _image_problems(doc, ("pipeline", "docker_image"), section.get("docker_image"))
    found += _network_policy_problems(doc, ("pipeline", "network_policy"), section.get("network_policy"))
    namespace = section.get("namespace")
    if isinstance(namespace, str) and namespace and not names.is_label(names.normalise(namespace)):
        found.append(
            _at(
                doc,
                ("pipeline", "namespace"),
                "error",
                f"{namespace!r} becomes {names.normalise(namespace)!r}, not a valid Kubernetes name",
            )
        )
    if base is None:
        return sorted(set(found))
    base_section = base.get("pipeline") or base.get("project") or {}
    found += _schedule_problems(doc, "pipeline", section, has_base="schedule" in base_section)
    stages = doc.data.get("stages")
    for key, spec in stages.items() if isinstance(stages, dict) else ():
        if key not in base["stages"]:
            found.append(
                _at(
                    doc,
                    ("stages", key),
                    "error",
                    f"stage {key!r} is not defined in bodywork.yaml{_did_you_mean(key, list(base['stages']))}",
                    key=True,
                )
            )
        elif isinstance(spec, dict) and "replicas" in spec and "service" not in base["stages"][key]:
            found.append(
                _at(
                    doc,
                    ("stages", key, "replicas"),
                    "error",
                    f"stage {key!r} is a batch stage; replicas apply to service stages only",
                    key=True,
                )
            )
        if key in base["stages"] and isinstance(spec, dict):
            found += _overlay_serving_problems(doc, key, spec, base["stages"][key])
    return sorted(set(found))


def _unreadable(doc: Document, node: Any, path: PathKey) -> list[Diagnostic]:
    """Keys that are not strings, and text holding half a UTF-16 pair ("\\ud800"): neither can be checked by the schema,
    printed or written as UTF-8, so they are reported alone."""
    found: list[Diagnostic] = []
    if isinstance(node, str) and not _encodable(node):
        found.append(_at(doc, path, "error", _SURROGATE))
    elif isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                found.append(
                    _at(
                        doc,
                        path + (key,),
                        "error",
                        f"expected a string key, got {_describe(key)}{_quote_hint(key)}",
                        key=True,
                    )
                )
            elif not _encodable(key):
                found.append(_at(doc, path + (key,), "error", _SURROGATE, key=True))
            else:
                found += _unreadable(doc, value, path + (key,))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += _unreadable(doc, item, path + (index,))
    return found


_SURROGATE = "an escape such as \\ud800 (half a UTF-16 pair) names no character; write the character itself"


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _schema_problems(doc: Document, schema: str) -> list[Diagnostic]:
    # Importing jsonschema_rs costs about 20 ms on every commit's pre-commit run: the code compiled from the
    # schema (scripts/compile_schema.py) accepts exactly what it accepts, so it is asked only to explain a rejection.
    if accepts(schema, doc.data):
        return []
    found: list[Diagnostic] = []
    for error in _validator(schema).iter_errors(doc.data):
        found.extend(_explain(doc, error, schema))
    return found


def _explain(doc: Document, error: Any, schema: str) -> list[Diagnostic]:
    path = _data_path(doc.data, error.instance_path)
    kind = type(error.kind).__name__
    value = _get(doc.data, path)
    if kind == "AdditionalProperties":
        allowed = sorted(_schema_at(schema, error.schema_path[:-1]).get("properties", {}))
        return [
            _at(
                doc,
                path + (key,),
                "error",
                f"unknown field {key!r}{_did_you_mean(key, allowed)} (expected one of: {', '.join(allowed)})",
                key=True,
            )
            for key in error.kind.unexpected
        ]
    if kind == "Required":
        other_section = {"pipeline": "project", "project": "pipeline"}.get(error.kind.property)
        if path == () and other_section in doc.data:
            return []  # the section is there under the other version's name: the FalseSchema message says so
        return [_at(doc, path, "error", f"missing required field {error.kind.property!r}", key=True)]
    if kind == "Type":
        return [_at(doc, path, "error", _type_message(error.kind.types, value))]
    if kind == "Enum":
        options = ", ".join(repr(option) for option in error.kind.options)
        return [_at(doc, path, "error", f"expected one of {options}, got {_describe(value)}{_quote_hint(value)}")]
    if kind == "FalseSchema" and path in (("pipeline",), ("project",)):
        other = "project" if path == ("pipeline",) else "pipeline"
        declared = doc.data.get("version")
        wanted = "1.1" if path == ("pipeline",) else "1.0"
        return [
            _at(
                doc,
                path,
                "error",
                f"'{path[0]}' is the section of version \"{wanted}\"; this file declares version {declared!r}: "
                f"rename it to '{other}' or set version: \"{wanted}\"",
                key=True,
            )
        ]
    if kind == "OneOfNotValid":
        return [_at(doc, path, "error", "a stage needs exactly one of 'batch' or 'service'", key=True)]
    if kind == "OneOfMultipleValid":
        return [_at(doc, path, "error", "a stage is either 'batch' or 'service', not both; keep one", key=True)]
    if kind == "Pattern":
        expected = _PATTERN_EXPECTATIONS.get(error.kind.pattern, f"to match {error.kind.pattern}")
        return [_at(doc, path, "error", f"{value!r} is not allowed (expected {expected})")]
    if kind == "PropertyNames":
        return [_property_name_problem(doc, path, error)]
    if kind == "MinLength":
        if not value:
            return [_at(doc, path, "error", "must not be empty")]
        length = f"{len(value)} character{'' if len(value) == 1 else 's'}"
        return [_at(doc, path, "error", f"is {length} long (expected at least {error.kind.limit})")]
    if kind == "MaxLength":
        return [_at(doc, path, "error", f"is {len(value)} characters long (expected at most {error.kind.limit})")]
    if kind == "MinProperties":
        return [_at(doc, path, "error", "must hold at least one entry")]
    if kind in ("Minimum", "Maximum", "ExclusiveMinimum", "ExclusiveMaximum"):
        bound = {
            "Minimum": "at least",
            "Maximum": "at most",
            "ExclusiveMinimum": "more than",
            "ExclusiveMaximum": "less than",
        }[kind]
        return [_at(doc, path, "error", f"{value!r} is out of range (expected {bound} {error.kind.limit})")]
    return [_at(doc, path, "error", error.message)]


def _property_name_problem(doc: Document, path: PathKey, error: Any) -> Diagnostic:
    inner = error.kind.error
    key = inner.instance
    if type(inner.kind).__name__ == "Pattern":
        expected = _PATTERN_EXPECTATIONS.get(inner.kind.pattern, f"to match {inner.kind.pattern}")
        return _at(doc, path + (key,), "error", f"name {key!r} is not allowed (expected {expected})", key=True)
    return _at(doc, path + (key,), "error", f"name {key!r}: {inner.message}", key=True)


def _semantic_problems(doc: Document, module_exists: Callable[[str], bool] | None) -> list[Diagnostic]:
    data = doc.data
    section_key = "pipeline" if isinstance(data.get("pipeline"), dict) else "project"
    section = data.get(section_key)
    stages = data.get("stages")
    if not isinstance(section, dict) or not isinstance(stages, dict):
        return []
    found: list[Diagnostic] = []
    found += _name_problems(doc, section_key, section, stages)
    found += _dag_problems(doc, section_key, section, stages)
    found += _module_problems(doc, stages, module_exists)
    found += _storage_problems(doc, section_key, section, stages)
    found += _network_policy_problems(doc, (section_key, "network_policy"), section.get("network_policy"))
    found += _schedule_problems(doc, section_key, section)
    found += _image_problems(doc, (section_key, "docker_image"), section.get("docker_image"))
    found += _serving_problems(doc, stages)
    return found


def _serving_problems(doc: Document, stages: dict[str, Any]) -> list[Diagnostic]:
    """The autoscaling and toleration rules (spec/serving.py) of every stage."""
    from bodywork_render.spec.serving import autoscaling_problems, toleration_problems

    found: list[Diagnostic] = []
    for key, spec in stages.items():
        if not isinstance(spec, dict):
            continue
        problems = toleration_problems(spec.get("tolerations"), ("stages", key, "tolerations"))
        service = spec.get("service")
        if isinstance(service, dict) and "autoscaling" in service:
            problems += autoscaling_problems(service["autoscaling"], ("stages", key, "service", "autoscaling"))
        found += [_at(doc, path, "error", message) for path, message in problems]
    return found


def _overlay_serving_problems(doc: Document, key: str, spec: dict[str, Any], base: dict[str, Any]) -> list[Diagnostic]:
    """An overlay stage's serving settings: service-only fields on a batch stage, replicas beside autoscaling, and
    the autoscaling and toleration rules."""
    from bodywork_render.spec.serving import autoscaling_problems, toleration_problems

    where = ("stages", key)
    found = [
        _at(doc, (*where, field), "error", f"stage {key!r} is a batch stage; {field} applies to service stages only")
        for field in ("autoscaling", "health_path")
        if field in spec and "service" not in base
    ]
    if "replicas" in spec and "autoscaling" in spec:
        found.append(
            _at(
                doc,
                (*where, "autoscaling"),
                "error",
                "give replicas (a fixed count) or autoscaling (a range), not both",
                key=True,
            )
        )
    problems = toleration_problems(spec.get("tolerations"), (*where, "tolerations"))
    if "autoscaling" in spec:
        problems += autoscaling_problems(spec["autoscaling"], (*where, "autoscaling"))
    return found + [_at(doc, path, "error", message) for path, message in problems]


def _image_problems(doc: Document, where: PathKey, image: Any) -> list[Diagnostic]:
    """A warning for an image reference that names no fixed image (``:latest``, or no tag)."""
    from bodywork_render.spec.images import floating, split_image

    if not isinstance(image, str) or not floating(image):
        return []
    repository = split_image(image)[0]
    return [
        _at(
            doc,
            where,
            "warning",
            f"{image!r} names no fixed image: each node keeps the copy it pulled first, and pushing a new one re-runs"
            f" no stage (its Job name does not change); pin a version tag or a digest ({repository}:1.2.3 or"
            f" {repository}@sha256:...). It is rendered with imagePullPolicy Always meanwhile",
        )
    ]


def _network_policy_problems(doc: Document, where: PathKey, policy: Any) -> list[Diagnostic]:
    """Egress entries that name no destination or two, and IP blocks the API server refuses: not an address/prefix,
    host bits set, or an except that is not a strict subset of its cidr."""
    egress = policy.get("egress") if isinstance(policy, dict) else None
    found: list[Diagnostic] = []
    for index, rule in enumerate(egress) if isinstance(egress, list) else ():
        if not isinstance(rule, dict):
            continue
        at = (*where, "egress", index)
        if ("cidr" in rule) == ("namespace" in rule):
            found.append(_at(doc, at, "error", "expected exactly one of 'cidr' or 'namespace' in an egress entry"))
        if "except" in rule and "cidr" not in rule:
            found.append(_at(doc, (*at, "except"), "error", "'except' needs a 'cidr' to cut it from", key=True))
        block = None
        for path, text in [((*at, "cidr"), rule.get("cidr"))] + [
            ((*at, "except", i), item) for i, item in enumerate(rule.get("except") or ())
        ]:
            if not isinstance(text, str):
                continue
            network, problem = _ip_block(text)
            if problem:
                found.append(_at(doc, path, "error", problem))
            elif path[-1] == "cidr":
                block = network
            elif block is not None and not _strict_subnet(network, block):
                found.append(
                    _at(
                        doc,
                        path,
                        "error",
                        f"{text!r} is not a strict subset of the cidr {rule['cidr']!r} "
                        "(expected a block inside it with a longer prefix)",
                    )
                )
    return found


def _ip_block(text: str) -> tuple[Any, str | None]:
    """The IP block ``text`` (address/prefix, no host bit set), or None and what is wrong with it."""
    import ipaddress

    address, slash, _ = text.partition("/")
    try:
        block = ipaddress.ip_network(text, strict=False)
        first = ipaddress.ip_address(address)
    except ValueError:
        return None, f"{text!r} is not an IP block (expected an address/prefix: 10.0.0.0/8)"
    if not slash:
        return None, f"{text!r} has no prefix length (expected an address/prefix: {block})"
    if first != block.network_address:
        return None, f"{text!r} has host bits set (expected the block's first address: {block})"
    return block, None


def _strict_subnet(inner: Any, outer: Any) -> bool:
    """Whether ``inner`` lies inside ``outer`` and is smaller, as the API server wants an except to be."""
    return bool(inner.version == outer.version and inner.subnet_of(outer) and inner.prefixlen > outer.prefixlen)


def _storage_problems(
    doc: Document, section_key: str, section: dict[str, Any], stages: dict[str, Any]
) -> list[Diagnostic]:
    """A stage that mounts the shared storage of a pipeline that declares none; a claim to create that only the
    run_on_failure stage mounts (it runs after a failed sync, so no sync would ever create the claim before it)."""
    if "shared_storage" in section:
        storage, on_failure = section.get("shared_storage"), section.get("run_on_failure")
        mounting = [
            key for key, spec in stages.items() if isinstance(spec, dict) and spec.get("shared_storage") is True
        ]
        if (
            isinstance(storage, dict)
            and "claim_name" not in storage
            and isinstance(on_failure, str)
            and mounting == [on_failure]
        ):
            return [
                _at(
                    doc,
                    ("stages", on_failure, "shared_storage"),
                    "error",
                    f"stage {on_failure!r} runs only when a sync fails, and no other stage mounts the shared storage,"
                    f" so the claim would never be created before it (expected {section_key}.shared_storage.claim_name,"
                    " an existing claim)",
                )
            ]
        return []
    return [
        _at(
            doc,
            ("stages", key, "shared_storage"),
            "error",
            f"stage {key!r} mounts the shared storage, but {section_key}.shared_storage is not set"
            " (expected claim_name, or size, storage_class and access_mode)",
        )
        for key, spec in stages.items()
        if isinstance(spec, dict) and spec.get("shared_storage") is True
    ]


def _schedule_problems(
    doc: Document, section_key: str, section: dict[str, Any], *, has_base: bool = True
) -> list[Diagnostic]:
    """A cron expression or time zone that Kubernetes would refuse; an overlay's schedule that sets none where the
    base file has none (``has_base`` False) and names no cron."""
    schedule = section.get("schedule")
    if not isinstance(schedule, dict):
        return []
    from bodywork_render.spec.schedule import cron_error, time_zone_error

    where = (section_key, "schedule")
    found: list[Diagnostic] = []
    cron, zone = schedule.get("cron"), schedule.get("time_zone")
    if not has_base and "cron" not in schedule:
        found.append(
            _at(doc, where, "error", "bodywork.yaml has no schedule to change, so this one needs cron", key=True)
        )
    problem = cron_error(cron) if isinstance(cron, str) and cron else None
    if problem:
        found.append(_at(doc, where + ("cron",), "error", f"{cron!r}: {problem}"))
    problem = time_zone_error(zone) if isinstance(zone, str) and zone else None
    if problem:
        found.append(_at(doc, where + ("time_zone",), "error", problem))
    return found


def _name_problems(
    doc: Document, section_key: str, section: dict[str, Any], stages: dict[str, Any]
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for field in ("name", "namespace"):
        value = section.get(field)
        if isinstance(value, str) and value and not names.is_label(names.normalise(value)):
            found.append(
                _at(
                    doc,
                    (section_key, field),
                    "error",
                    f"{value!r} becomes {names.normalise(value)!r}, not a valid Kubernetes name (expected a DNS-1123 "
                    "label: lower-case letters, digits and '-', starting and ending with a letter or digit, "
                    "at most 63 characters)",
                )
            )
    given = section.get("name")
    pipeline = given if isinstance(given, str) else ""
    services = [key for key, spec in stages.items() if isinstance(spec, dict) and "service" in spec]
    service_name = names.of_stage(names.normalise(pipeline), names.normalise(services[0])) if services else ""
    if names.is_label(names.normalise(pipeline)) and services and not names.is_dns1035_label(service_name):
        found.append(
            _at(
                doc,
                (section_key, "name"),
                "error",
                f"pipeline name {pipeline!r} begins the names of its Services (service stage {services[0]!r}), "
                "which must start with a letter",
            )
        )
    seen: dict[str, str] = {}
    for key, spec in stages.items():
        normal = names.normalise(key)
        if normal in seen:
            found.append(
                _at(
                    doc,
                    ("stages", key),
                    "error",
                    f"stage {key!r} and stage {seen[normal]!r} both become the Kubernetes name {normal!r}; rename one",
                    key=True,
                )
            )
            continue
        seen[normal] = key
        if not names.is_label(normal):
            found.append(
                _at(
                    doc,
                    ("stages", key),
                    "error",
                    f"stage name {key!r} becomes {normal!r}, "
                    "not a valid Kubernetes name (expected letters or digits at both ends)",
                    key=True,
                )
            )
        secrets = spec.get("secrets") if isinstance(spec, dict) else None
        group = section.get("secrets_group") if isinstance(section.get("secrets_group"), str) else None
        for env, secret in (secrets or {}).items() if isinstance(secrets, dict) else ():
            if isinstance(secret, str) and secret and not names.is_subdomain(names.secret_name(secret, group)):
                found.append(
                    _at(
                        doc,
                        ("stages", key, "secrets", env),
                        "error",
                        f"secret {secret!r} becomes the Secret name {names.secret_name(secret, group)!r}, "
                        "not a valid Kubernetes name",
                    )
                )
    return found


def _dag_problems(doc: Document, section_key: str, section: dict[str, Any], stages: dict[str, Any]) -> list[Diagnostic]:
    dag_text = section.get("DAG")
    if not isinstance(dag_text, str):
        return []
    where = (section_key, "DAG")
    found: list[Diagnostic] = []
    in_dag: dict[str, int] = {}  # stage name -> 1-based step
    for number, step in enumerate(parse_dag(dag_text), 1):
        for name in step:
            if not name:
                found.append(
                    _at(
                        doc,
                        where,
                        "error",
                        f"empty stage name in step {number} of {dag_text!r} (expected 'a >> b, c >> d')",
                    )
                )
            elif name in in_dag:
                found.append(
                    _at(
                        doc,
                        where,
                        "error",
                        f"stage {name!r} appears twice in the DAG "
                        + (f"(steps {in_dag[name]} and {number})" if in_dag[name] != number else f"(in step {number})")
                        + "; a stage runs once",
                    )
                )
            elif name not in stages:
                found.append(
                    _at(
                        doc,
                        where,
                        "error",
                        f"stage {name!r} is not defined under 'stages'{_did_you_mean(name, list(stages))}",
                    )
                )
            else:
                in_dag[name] = number
    on_failure = section.get("run_on_failure")
    if isinstance(on_failure, str):
        spec = stages.get(on_failure)
        if spec is None:
            found.append(
                _at(
                    doc,
                    (section_key, "run_on_failure"),
                    "error",
                    f"stage {on_failure!r} is not defined under 'stages'{_did_you_mean(on_failure, list(stages))}",
                )
            )
        elif isinstance(spec, dict) and "batch" not in spec:
            found.append(
                _at(
                    doc,
                    (section_key, "run_on_failure"),
                    "error",
                    f"stage {on_failure!r} must be a batch stage to run on failure",
                )
            )
        elif on_failure in in_dag:
            found.append(
                _at(
                    doc,
                    (section_key, "run_on_failure"),
                    "error",
                    f"stage {on_failure!r} is in the DAG; the stage run on failure must stay out of it",
                )
            )
    for key in stages:
        if key not in in_dag and key != on_failure:
            found.append(
                _at(
                    doc,
                    ("stages", key),
                    "warning",
                    f"stage {key!r} is not in the DAG and will not be rendered",
                    key=True,
                )
            )
    return found


def _module_problems(
    doc: Document, stages: dict[str, Any], module_exists: Callable[[str], bool] | None
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for key, spec in stages.items():
        module = spec.get("executable_module_path") if isinstance(spec, dict) else None
        if not isinstance(module, str) or not module:
            continue
        where = ("stages", key, "executable_module_path")
        normal = posixpath.normpath(module.replace("\\", "/"))
        if module.startswith(("/", "\\")) or (len(module) > 1 and module[1] == ":"):
            found.append(
                _at(
                    doc,
                    where,
                    "error",
                    f"{module!r} is an absolute path (expected a path relative to the project folder)",
                )
            )
        elif normal == ".." or normal.startswith("../"):
            found.append(_at(doc, where, "error", f"{module!r} leaves the project folder (expected a path inside it)"))
        elif module_exists is not None and module.endswith((".py", ".ipynb")) and not module_exists(normal):
            found.append(_at(doc, where, "error", f"{module!r} does not exist in the project folder"))
    return found


def _at(doc: Document, path: PathKey, severity: Severity, message: str, *, key: bool = False) -> Diagnostic:
    line, column = doc.position(path, key=key)
    return Diagnostic(doc.file, line, column, format_path(path), severity, message)


def format_path(path: PathKey) -> str:
    """``stages.train.args[0]`` from ('stages', 'train', 'args', 0); a null key is ``[null]``."""
    text = ""
    for part in path:
        if part is None:
            text += "[null]"
        else:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _data_path(data: Any, instance_path: Any) -> PathKey:
    """The path into ``data`` of a schema error. jsonschema_rs gives a key that looks like a number ("0") as an int,
    and drops empty keys (""); where the path cannot be followed it ends at the nearest parent."""
    path: list[str | int] = []
    for part in instance_path:
        while isinstance(data, dict) and part not in data and str(part) not in data and "" in data:
            path.append("")
            data = data[""]
        if isinstance(data, dict) and part not in data:
            part = str(part)
        if (
            isinstance(data, dict)
            and part in data
            or isinstance(data, list)
            and isinstance(part, int)
            and 0 <= part < len(data)
        ):
            path.append(part)
            data = data[part]
        else:
            break
    return tuple(path)


def _get(data: Any, path: PathKey) -> Any:
    for part in path:
        data = data[part]
    return data


def _schema_at(schema: str, schema_path: Any) -> dict[str, Any]:
    from bodywork_render.package_data import load_json

    node: Any = load_json(schema)
    for part in schema_path:
        node = node[part]
    return node if isinstance(node, dict) else {}


def _did_you_mean(word: str, candidates: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in candidates}
        close = [lowered[word.lower()]] if word.lower() in lowered else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_ARTICLES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "null": "null",
}


def _type_message(types: list[str], value: Any) -> str:
    expected = " or ".join(_ARTICLES.get(t, t) for t in types)
    if isinstance(value, float) and not math.isfinite(value):  # YAML's .inf and .nan
        return f"expected {expected}, got {value}, which is not a finite number"
    message = f"expected {expected}, got {_describe(value)}"
    if "boolean" in types and isinstance(value, str) and value.lower() in YAML11_BOOLEANS:
        word = "true" if value.lower() in ("yes", "y", "on", "true") else "false"
        return (
            f"{message}: {value!r} is a YAML 1.1 boolean, which YAML 1.2 and bodywork-render read as a string; "
            f"write {word}"
        )
    if "integer" in types and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return f"{message}: remove the quotes"
    if "integer" in types and isinstance(value, float):
        return f"{message}: write a whole number such as {int(value)}"
    return message + _quote_hint(value) if "string" in types else message


def _quote_hint(value: Any) -> str:
    if isinstance(value, bool):
        return f': YAML reads {str(value).lower()} as a boolean; quote it: "{str(value).lower()}"'
    if isinstance(value, (int, float)):
        return f': YAML reads {value} as a number; quote it: "{value}"'
    return ""
