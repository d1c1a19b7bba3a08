"""The Pod Security Standards "restricted" profile and our hardening defaults, control by control."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from bodywork_render.verify.kubernetes import ObjectProblem, schema_problems
from bodywork_render.verify.podsecurity import hardening_violations, restricted_violations

Pod = dict[str, Any]
POD = "spec.template.spec"
C0 = f"{POD}.containers[0]"
I0 = f"{POD}.initContainers[0]"


def container(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": "python:3.12-slim",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "100m", "memory": "128M"}, "limits": {"memory": "128M"}},
        "volumeMounts": [{"name": "workspace", "mountPath": "/workspace"}],
    }


def pod_spec() -> Pod:
    return {
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [container("fetch")],
        "containers": [container("stage")],
        "volumes": [{"name": "workspace", "emptyDir": {}}],
    }


def job() -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train-1a2b3c4d"},
        "spec": {"backoffLimit": 0, "template": {"metadata": {}, "spec": pod_spec()}},
    }


def secured(kind: str) -> dict[str, Any]:
    """A compliant object of each kind that carries a pod."""
    spec = pod_spec()
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}
    if kind == "CronJob":
        return {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "refresh"},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": spec}}}},
        }
    if kind == "Job":
        return job()
    spec["restartPolicy"] = "Always"
    selector = {"matchLabels": {"app": "serve"}}
    template = {"metadata": {"labels": {"app": "serve"}}, "spec": spec}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "serve"},
        "spec": {"selector": selector, "template": template}
        | ({"serviceName": "serve"} if kind == "StatefulSet" else {}),
    }


KINDS = ["Pod", "Job", "CronJob", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_secured_pod_of_every_kind_passes_both_and_is_schema_valid(kind: str) -> None:
    obj = secured(kind)
    assert restricted_violations(obj) == []
    assert hardening_violations(obj) == []
    assert schema_problems([obj]) == []


def test_objects_without_a_pod_have_nothing_to_check() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"hostNetwork": True}}
    assert restricted_violations(service) == []
    assert hardening_violations(service) == []


def test_paths_start_where_the_kind_keeps_its_pod() -> None:
    cron, pod = secured("CronJob"), secured("Pod")
    cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["hostPID"] = True
    pod["spec"]["hostPID"] = True
    assert restricted_violations(cron) == [
        ObjectProblem(
            "CronJob", "refresh", "spec.jobTemplate.spec.template.spec.hostPID", "must not be true (host namespaces)"
        )
    ]
    assert [problem.path for problem in restricted_violations(pod)] == ["spec.hostPID"]


def _set(path: str, value: Any) -> Callable[[Pod], None]:
    """A change to the Job's pod spec: ``path`` is dotted below spec.template.spec, ints index lists."""

    def change(spec: Pod) -> None:
        *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
        node: Any = spec
        for part in parents:
            node = node[part] if isinstance(part, int) else node.setdefault(part, {})
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return change


_DELETE = object()

# (id, change of the Job's pod spec, path of the violation, start of its message)
FAILING = [
    ("host-network", _set("hostNetwork", True), f"{POD}.hostNetwork", "must not be true"),
    ("host-pid", _set("hostPID", True), f"{POD}.hostPID", "must not be true"),
    ("host-ipc", _set("hostIPC", True), f"{POD}.hostIPC", "must not be true"),
    (
        "privileged",
        _set("containers.0.securityContext.privileged", True),
        f"{C0}.securityContext.privileged",
        "must not be true",
    ),
    (
        "privileged-init",
        _set("initContainers.0.securityContext.privileged", True),
        f"{I0}.securityContext.privileged",
        "must not be true",
    ),
    (
        "capability-added",
        _set("containers.0.securityContext.capabilities.add", ["NET_BIND_SERVICE", "SYS_ADMIN"]),
        f"{C0}.securityContext.capabilities.add[1]",
        "capability 'SYS_ADMIN' may not be added",
    ),
    (
        "capabilities-not-dropped",
        _set("containers.0.securityContext.capabilities.drop", ["NET_RAW"]),
        f"{C0}.securityContext.capabilities.drop",
        "must include ALL",
    ),
    (
        "host-path-volume",
        _set("volumes.0", {"name": "workspace", "hostPath": {"path": "/var"}}),
        f"{POD}.volumes[0].hostPath",
        "volume type 'hostPath' is not allowed",
    ),
    (
        "nfs-volume",
        _set("volumes.0", {"name": "workspace", "nfs": {"server": "nfs", "path": "/"}}),
        f"{POD}.volumes[0].nfs",
        "volume type 'nfs' is not allowed",
    ),
    (
        "host-port",
        _set("containers.0.ports", [{"containerPort": 80, "hostPort": 80}]),
        f"{C0}.ports[0].hostPort",
        "must not be set",
    ),
    (
        "host-process",
        _set("securityContext.windowsOptions", {"hostProcess": True}),
        f"{POD}.securityContext.windowsOptions.hostProcess",
        "must not be true",
    ),
    (
        "apparmor-field",
        _set("containers.0.securityContext.appArmorProfile", {"type": "Unconfined"}),
        f"{C0}.securityContext.appArmorProfile.type",
        "AppArmor profile 'Unconfined' is not allowed",
    ),
    (
        "selinux-type",
        _set("securityContext.seLinuxOptions", {"type": "spc_t"}),
        f"{POD}.securityContext.seLinuxOptions.type",
        "SELinux type 'spc_t' is not allowed",
    ),
    (
        "selinux-user",
        _set("initContainers.0.securityContext.seLinuxOptions", {"user": "system_u"}),
        f"{I0}.securityContext.seLinuxOptions.user",
        "must not be set",
    ),
    (
        "proc-mount",
        _set("containers.0.securityContext.procMount", "Unmasked"),
        f"{C0}.securityContext.procMount",
        "must be Default",
    ),
    (
        "sysctl",
        _set("securityContext.sysctls", [{"name": "kernel.msgmax", "value": "65536"}]),
        f"{POD}.securityContext.sysctls[0].name",
        "sysctl 'kernel.msgmax' is not in the safe set",
    ),
    (
        "probe-host",
        _set("containers.0.livenessProbe", {"httpGet": {"host": "10.0.0.1", "port": 80}}),
        f"{C0}.livenessProbe.httpGet.host",
        "must not be set",
    ),
    (
        "hook-host",
        _set("containers.0.lifecycle", {"preStop": {"tcpSocket": {"host": "db", "port": 5432}}}),
        f"{C0}.lifecycle.preStop.tcpSocket.host",
        "must not be set",
    ),
    (
        "privilege-escalation-unset",
        _set("containers.0.securityContext.allowPrivilegeEscalation", _DELETE),
        f"{C0}.securityContext.allowPrivilegeEscalation",
        "must be false",
    ),
    (
        "privilege-escalation-true",
        _set("initContainers.0.securityContext.allowPrivilegeEscalation", True),
        f"{I0}.securityContext.allowPrivilegeEscalation",
        "must be false",
    ),
    ("run-as-root-user", _set("securityContext.runAsUser", 0), f"{POD}.securityContext.runAsUser", "must not be 0"),
    (
        "run-as-root-user-container",
        _set("containers.0.securityContext.runAsUser", 0),
        f"{C0}.securityContext.runAsUser",
        "must not be 0",
    ),
    (
        "run-as-non-root-false-container",
        _set("containers.0.securityContext.runAsNonRoot", False),
        f"{C0}.securityContext.runAsNonRoot",
        "must be true",
    ),
    (
        "seccomp-unconfined-container",
        _set("containers.0.securityContext.seccompProfile", {"type": "Unconfined"}),
        f"{C0}.securityContext.seccompProfile.type",
        "seccomp profile 'Unconfined' is not allowed",
    ),
    (
        "seccomp-unconfined-pod",
        _set("securityContext.seccompProfile", {"type": "Unconfined"}),
        f"{POD}.securityContext.seccompProfile.type",
        "seccomp profile 'Unconfined' is not allowed",
    ),
]


@pytest.mark.parametrize(
    ("change", "path", "message"), [case[1:] for case in FAILING], ids=[case[0] for case in FAILING]
)
def test_each_restricted_control_fails(change: Callable[[Pod], None], path: str, message: str) -> None:
    obj = job()
    change(obj["spec"]["template"]["spec"])
    problems = restricted_violations(obj)
    assert [(problem.kind, problem.name, problem.path) for problem in problems] == [("Job", "train-1a2b3c4d", path)]
    assert problems[0].message.startswith(message)


def test_the_apparmor_annotation_is_checked() -> None:
    obj = job()
    obj["spec"]["template"]["metadata"]["annotations"] = {
        "container.apparmor.security.beta.kubernetes.io/stage": "unconfined",
        "container.apparmor.security.beta.kubernetes.io/fetch": "localhost/k8s-fetch",
    }
    assert restricted_violations(obj) == [
        ObjectProblem(
            "Job",
            "train-1a2b3c4d",
            'spec.template.metadata.annotations["container.apparmor.security.beta.kubernetes.io/stage"]',
            "AppArmor profile 'unconfined' is not allowed (runtime/default or localhost/*)",
        )
    ]


@pytest.mark.parametrize(
    ("field", "reported"), [("runAsNonRoot", "runAsNonRoot"), ("seccompProfile", "seccompProfile.type")]
)
def test_a_pod_level_control_missing_everywhere_is_reported_per_container(field: str, reported: str) -> None:
    obj = job()
    del obj["spec"]["template"]["spec"]["securityContext"][field]
    assert [problem.path for problem in restricted_violations(obj)] == [
        f"{I0}.securityContext.{reported}",
        f"{C0}.securityContext.{reported}",
    ]


def test_run_as_non_root_false_on_the_pod() -> None:
    obj = job()
    obj["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = False
    obj["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = True
    assert [problem.path for problem in restricted_violations(obj)] == [f"{POD}.securityContext.runAsNonRoot"]


def test_ephemeral_containers_are_checked() -> None:
    obj = secured("Pod")
    obj["spec"]["ephemeralContainers"] = [
        {"name": "debug", "image": "busybox", "securityContext": {"privileged": True}}
    ]
    assert [problem.path for problem in restricted_violations(obj)] == [
        "spec.ephemeralContainers[0].securityContext.privileged",
        "spec.ephemeralContainers[0].securityContext.allowPrivilegeEscalation",
        "spec.ephemeralContainers[0].securityContext.capabilities.drop",
    ]


PASSING = [
    (
        "non-root-per-container",
        [
            _set("securityContext.runAsNonRoot", _DELETE),
            _set("containers.0.securityContext.runAsNonRoot", True),
            _set("initContainers.0.securityContext.runAsNonRoot", True),
        ],
    ),
    (
        "seccomp-per-container",
        [
            _set("securityContext.seccompProfile", _DELETE),
            _set("containers.0.securityContext.seccompProfile", {"type": "RuntimeDefault"}),
            _set(
                "initContainers.0.securityContext.seccompProfile",
                {"type": "Localhost", "localhostProfile": "profiles/fetch.json"},
            ),
        ],
    ),
    ("net-bind-service", [_set("containers.0.securityContext.capabilities.add", ["NET_BIND_SERVICE"])]),
    (
        "explicit-safe-values",
        [
            _set("hostNetwork", False),
            _set("hostPID", False),
            _set("hostIPC", False),
            _set("containers.0.securityContext.privileged", False),
            _set("containers.0.securityContext.procMount", "Default"),
            _set("containers.0.ports", [{"containerPort": 8000, "hostPort": 0}]),
            _set("securityContext.windowsOptions", {"hostProcess": False}),
        ],
    ),
    (
        "allowed-volume-types",
        [
            _set(
                "volumes",
                [
                    {"name": "a", "emptyDir": {}},
                    {"name": "b", "configMap": {"name": "c"}},
                    {"name": "c", "secret": {"secretName": "s"}},
                    {"name": "d", "projected": {"sources": []}},
                    {"name": "e", "downwardAPI": {"items": []}},
                    {"name": "f", "persistentVolumeClaim": {"claimName": "p"}},
                    {"name": "g", "csi": {"driver": "d"}},
                    {"name": "h", "ephemeral": {}},
                ],
            )
        ],
    ),
    (
        "safe-sysctls",
        [
            _set(
                "securityContext.sysctls",
                [
                    {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"},
                    {"name": "net.ipv4.tcp_keepalive_time", "value": "60"},
                ],
            )
        ],
    ),
    ("selinux-container-type", [_set("securityContext.seLinuxOptions", {"type": "container_t", "level": "s0:c1"})]),
    (
        "apparmor-runtime-default",
        [
            _set("securityContext.appArmorProfile", {"type": "RuntimeDefault"}),
            _set(
                "containers.0.securityContext.appArmorProfile", {"type": "Localhost", "localhostProfile": "k8s-stage"}
            ),
        ],
    ),
    (
        "probes-on-the-pod",
        [
            _set("containers.0.readinessProbe", {"httpGet": {"path": "/", "port": 8000}}),
            _set("containers.0.lifecycle", {"preStop": {"httpGet": {"port": 8000, "host": ""}}}),
        ],
    ),
    (
        "windows-pod",
        [
            _set("os", {"name": "windows"}),
            _set("securityContext.seccompProfile", _DELETE),
            _set("containers.0.securityContext", {"runAsNonRoot": True}),
            _set("initContainers.0.securityContext", {"runAsNonRoot": True}),
        ],
    ),
]


@pytest.mark.parametrize("changes", [case[1] for case in PASSING], ids=[case[0] for case in PASSING])
def test_each_restricted_control_passes_its_allowed_values(changes: list[Callable[[Pod], None]]) -> None:
    obj = job()
    for change in changes:
        change(obj["spec"]["template"]["spec"])
    assert restricted_violations(obj) == []
    assert schema_problems([obj]) == []


HARDENING = [
    (
        "read-only-root-unset",
        _set("containers.0.securityContext.readOnlyRootFilesystem", _DELETE),
        f"{C0}.securityContext.readOnlyRootFilesystem",
        "must be true",
    ),
    (
        "read-only-root-false-init",
        _set("initContainers.0.securityContext.readOnlyRootFilesystem", False),
        f"{I0}.securityContext.readOnlyRootFilesystem",
        "must be true",
    ),
    (
        "cpu-request",
        _set("containers.0.resources.requests.cpu", _DELETE),
        f"{C0}.resources.requests.cpu",
        "must be set",
    ),
    (
        "memory-request",
        _set("initContainers.0.resources.requests.memory", _DELETE),
        f"{I0}.resources.requests.memory",
        "must be set",
    ),
    (
        "memory-limit",
        _set("containers.0.resources.limits", {"cpu": "1"}),
        f"{C0}.resources.limits.memory",
        "must be set",
    ),
    (
        "token-unset",
        _set("automountServiceAccountToken", _DELETE),
        f"{POD}.automountServiceAccountToken",
        "must be false",
    ),
    ("token-true", _set("automountServiceAccountToken", True), f"{POD}.automountServiceAccountToken", "must be false"),
]


@pytest.mark.parametrize(
    ("change", "path", "message"), [case[1:] for case in HARDENING], ids=[case[0] for case in HARDENING]
)
def test_each_hardening_default_fails(change: Callable[[Pod], None], path: str, message: str) -> None:
    obj = job()
    change(obj["spec"]["template"]["spec"])
    assert hardening_violations(obj) == [ObjectProblem("Job", "train-1a2b3c4d", path, message)]
    assert restricted_violations(obj) == []


def test_missing_resources_are_each_named() -> None:
    obj = job()
    del obj["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert [problem.path for problem in hardening_violations(obj)] == [
        f"{C0}.resources.requests.cpu",
        f"{C0}.resources.requests.memory",
        f"{C0}.resources.limits.memory",
    ]


def test_the_checks_do_not_change_the_object() -> None:
    obj = job()
    obj["spec"]["template"]["spec"]["hostNetwork"] = True
    before = copy.deepcopy(obj)
    restricted_violations(obj)
    hardening_violations(obj)
    assert obj == before
