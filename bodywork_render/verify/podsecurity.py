"""Pod security of rendered objects: the Pod Security Standards "restricted" profile, and our stricter defaults.

``restricted_violations`` checks the restricted profile (which includes the
baseline one) of the current Pod Security Standards, field by field, on any
object that carries a pod: Pod, PodTemplate, Job, CronJob, Deployment,
StatefulSet, DaemonSet, ReplicaSet, ReplicationController. Init and ephemeral
containers are checked like the others. The optional controls of the standard
(non-root groups) are left out, as Pod Security Admission leaves them out.

``hardening_violations`` checks what bodywork-render adds on top: a read-only
root filesystem, requests and a memory limit on every container, and no
service-account token mounted.

Both return ``ObjectProblem``s whose path points at the field to fix.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from bodywork_render.verify.kubernetes import ObjectProblem, dotted_path

_POD_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "PodTemplate": ("template",),
    "Job": ("spec", "template"),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
_ALLOWED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
_SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
_APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_HOOKS = ("postStart", "preStop")


class _Pod:
    """The pod an object carries, with the path of its template inside the object."""

    def __init__(self, obj: Mapping[str, Any], kind: str, name: str, prefix: tuple[str, ...]) -> None:
        self.kind, self.name, self.prefix = kind, name, prefix
        template = _get(obj, *prefix) if prefix else obj
        self.metadata: Mapping[str, Any] = _mapping(_get(template, "metadata"))
        self.spec: Mapping[str, Any] = _mapping(_get(template, "spec"))
        self.context: Mapping[str, Any] = _mapping(self.spec.get("securityContext"))
        self.windows = _get(self.spec, "os", "name") == "windows"

    def problem(self, path: tuple[str | int, ...], message: str) -> ObjectProblem:
        """A problem at ``path`` below the pod template (``metadata``/``spec``...)."""
        return ObjectProblem(self.kind, self.name, dotted_path((*self.prefix, *path)), message)

    def containers(
        self, lists: tuple[str, ...] = _CONTAINER_LISTS
    ) -> Iterator[tuple[tuple[str | int, ...], Mapping[str, Any]]]:
        """Each container with its path: init, regular and ephemeral ones."""
        for field in lists:
            items = self.spec.get(field)
            for index, container in enumerate(items if isinstance(items, list) else ()):
                yield ("spec", field, index), _mapping(container)


def restricted_violations(obj: Mapping[str, Any]) -> list[ObjectProblem]:
    """Every way the pod of ``obj`` breaks the Pod Security Standards "restricted" profile (empty: none, or no pod)."""
    pod = _pod(obj)
    if pod is None:
        return []
    problems: list[ObjectProblem] = []
    problems += _host_namespaces(pod)
    problems += _volumes(pod)
    problems += _pod_context(pod)
    for path, container in pod.containers():
        problems += _container(pod, path, container)
    problems += _non_root(pod)
    if not pod.windows:  # the standard exempts Windows pods from seccomp, as from privilege escalation and capabilities
        problems += _seccomp(pod)
    return problems


def hardening_violations(obj: Mapping[str, Any]) -> list[ObjectProblem]:
    """Every way the pod of ``obj`` misses bodywork-render's own defaults beyond the restricted profile."""
    pod = _pod(obj)
    if pod is None:
        return []
    problems: list[ObjectProblem] = []
    if pod.spec.get("automountServiceAccountToken") is not False:
        problems.append(pod.problem(("spec", "automountServiceAccountToken"), "must be false"))
    for path, container in pod.containers(("initContainers", "containers")):
        context = _mapping(container.get("securityContext"))
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(pod.problem((*path, "securityContext", "readOnlyRootFilesystem"), "must be true"))
        resources = _mapping(container.get("resources"))
        for group, resource in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
            if _mapping(resources.get(group)).get(resource) in (None, ""):
                problems.append(pod.problem((*path, "resources", group, resource), "must be set"))
    return problems


def _pod(obj: Mapping[str, Any]) -> _Pod | None:
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in _POD_PATHS:
        return None
    name = _get(obj, "metadata", "name")
    return _Pod(obj, kind, name if isinstance(name, str) and name else "?", _POD_PATHS[kind])


def _host_namespaces(pod: _Pod) -> list[ObjectProblem]:
    return [
        pod.problem(("spec", field), "must not be true (host namespaces)")
        for field in ("hostNetwork", "hostPID", "hostIPC")
        if pod.spec.get(field) is True
    ]


def _volumes(pod: _Pod) -> Iterator[ObjectProblem]:
    volumes = pod.spec.get("volumes")
    for index, volume in enumerate(volumes if isinstance(volumes, list) else ()):
        for field in _mapping(volume):
            if field != "name" and field not in _ALLOWED_VOLUME_TYPES:
                allowed = ", ".join(sorted(_ALLOWED_VOLUME_TYPES))
                yield pod.problem(
                    ("spec", "volumes", index, field), f"volume type {field!r} is not allowed (allowed: {allowed})"
                )


def _pod_context(pod: _Pod) -> Iterator[ObjectProblem]:
    base = ("spec", "securityContext")
    yield from _shared_context(pod, base, pod.context)
    sysctls = pod.context.get("sysctls")
    for index, sysctl in enumerate(sysctls if isinstance(sysctls, list) else ()):
        name = _mapping(sysctl).get("name")
        if name not in _SAFE_SYSCTLS:
            yield pod.problem((*base, "sysctls", index, "name"), f"sysctl {name!r} is not in the safe set")
    annotations = _mapping(pod.metadata.get("annotations"))
    for key, value in annotations.items():
        if str(key).startswith(_APPARMOR_ANNOTATION) and not (
            value == "runtime/default" or (isinstance(value, str) and value.startswith("localhost/"))
        ):
            yield pod.problem(
                ("metadata", "annotations", key),
                f"AppArmor profile {value!r} is not allowed (runtime/default or localhost/*)",
            )


def _shared_context(pod: _Pod, base: tuple[str | int, ...], context: Mapping[str, Any]) -> Iterator[ObjectProblem]:
    """The controls that apply alike to the pod's and to each container's securityContext."""
    if _get(context, "windowsOptions", "hostProcess") is True:
        yield pod.problem((*base, "windowsOptions", "hostProcess"), "must not be true (HostProcess)")
    if context.get("runAsUser") == 0:
        yield pod.problem((*base, "runAsUser"), "must not be 0 (root)")
    apparmor = _get(context, "appArmorProfile", "type")
    if apparmor is not None and apparmor not in _APPARMOR_TYPES:
        yield pod.problem(
            (*base, "appArmorProfile", "type"),
            f"AppArmor profile {apparmor!r} is not allowed (RuntimeDefault or Localhost)",
        )
    selinux = _mapping(context.get("seLinuxOptions"))
    if (selinux.get("type") or "") not in _SELINUX_TYPES:
        yield pod.problem((*base, "seLinuxOptions", "type"), f"SELinux type {selinux.get('type')!r} is not allowed")
    for field in ("user", "role"):
        if selinux.get(field) not in (None, ""):
            yield pod.problem((*base, "seLinuxOptions", field), "must not be set")


def _container(pod: _Pod, path: tuple[str | int, ...], container: Mapping[str, Any]) -> Iterator[ObjectProblem]:
    base = (*path, "securityContext")
    context = _mapping(container.get("securityContext"))
    yield from _shared_context(pod, base, context)
    if context.get("privileged") is True:
        yield pod.problem((*base, "privileged"), "must not be true (privileged container)")
    if context.get("procMount") not in (None, "Default"):
        yield pod.problem((*base, "procMount"), "must be Default")
    ports = container.get("ports")
    for index, port in enumerate(ports if isinstance(ports, list) else ()):
        if _mapping(port).get("hostPort") not in (None, 0):
            yield pod.problem((*path, "ports", index, "hostPort"), "must not be set (host ports)")
    for probe in _PROBES:
        yield from _host_fields(pod, (*path, probe), _mapping(container.get(probe)))
    for hook in _HOOKS:
        yield from _host_fields(pod, (*path, "lifecycle", hook), _mapping(_get(container, "lifecycle", hook)))
    if pod.windows:
        return
    if context.get("allowPrivilegeEscalation") is not False:
        yield pod.problem((*base, "allowPrivilegeEscalation"), "must be false")
    capabilities = _mapping(context.get("capabilities"))
    drop = capabilities.get("drop")
    if not isinstance(drop, list) or "ALL" not in drop:
        yield pod.problem((*base, "capabilities", "drop"), "must include ALL")
    added = capabilities.get("add")
    for index, capability in enumerate(added if isinstance(added, list) else ()):
        if capability != "NET_BIND_SERVICE":
            yield pod.problem(
                (*base, "capabilities", "add", index),
                f"capability {capability!r} may not be added (only NET_BIND_SERVICE)",
            )


def _host_fields(pod: _Pod, path: tuple[str | int, ...], handler: Mapping[str, Any]) -> Iterator[ObjectProblem]:
    """Probes and lifecycle hooks may not aim at another host."""
    for action in ("httpGet", "tcpSocket"):
        if _mapping(handler.get(action)).get("host") not in (None, ""):
            yield pod.problem((*path, action, "host"), "must not be set (probes and hooks stay in the pod)")


def _non_root(pod: _Pod) -> Iterator[ObjectProblem]:
    """runAsNonRoot: true on the pod or on every container, and false nowhere."""
    pod_value = pod.context.get("runAsNonRoot")
    if pod_value is False:
        yield pod.problem(("spec", "securityContext", "runAsNonRoot"), "must be true")
    for path, container in pod.containers():
        value = _mapping(container.get("securityContext")).get("runAsNonRoot")
        if value is False or (value is None and pod_value is None):  # a false pod value is reported once, above
            yield pod.problem(
                (*path, "securityContext", "runAsNonRoot"), "must be true (here or in the pod's securityContext)"
            )


def _seccomp(pod: _Pod) -> Iterator[ObjectProblem]:
    """seccompProfile RuntimeDefault or Localhost, on the pod or on every container; never anything else."""
    pod_type = _get(pod.context, "seccompProfile", "type")
    if pod_type is not None and pod_type not in _SECCOMP_TYPES:
        yield pod.problem(
            ("spec", "securityContext", "seccompProfile", "type"),
            f"seccomp profile {pod_type!r} is not allowed (RuntimeDefault or Localhost)",
        )
    for path, container in pod.containers():
        value = _get(container, "securityContext", "seccompProfile", "type")
        where = (*path, "securityContext", "seccompProfile", "type")
        if value is not None and value not in _SECCOMP_TYPES:
            yield pod.problem(where, f"seccomp profile {value!r} is not allowed (RuntimeDefault or Localhost)")
        elif value is None and pod_type is None:  # a wrong pod-level profile is reported once, above
            yield pod.problem(where, "must be RuntimeDefault or Localhost (here or in the pod's securityContext)")


def _get(node: Any, *keys: str) -> Any:
    for key in keys:
        if not _is_mapping(node):
            return None
        node = node.get(key)
    return node


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if _is_mapping(value) else {}


def _is_mapping(value: Any) -> bool:
    # Rendered objects are dicts; the ABC check, for other mappings, costs several times more.
    return isinstance(value, dict) or (value is not None and isinstance(value, Mapping))
