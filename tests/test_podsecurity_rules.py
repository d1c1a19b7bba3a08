"""Pod security rules the control-by-control tests leave open: exact messages, allowed values at the edge of each
control, objects that are not plain dicts, and malformed pods that must not crash the check."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from bodywork_render.verify.kubernetes import ObjectProblem
from bodywork_render.verify.podsecurity import hardening_violations, restricted_violations


def container() -> dict[str, Any]:
    return {
        "name": "stage",
        "image": "python:3.12-slim",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "100m", "memory": "128M"}, "limits": {"memory": "128M"}},
    }


def pod(**spec: Any) -> dict[str, Any]:
    """A compliant Pod named 'p'; keyword arguments replace fields of its spec."""
    base = {
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container()],
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": base | spec}


def context(**fields: Any) -> dict[str, Any]:
    return {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}} | fields


def test_the_compliant_pod_passes() -> None:
    assert restricted_violations(pod()) == []
    assert hardening_violations(pod()) == []


def test_a_pod_level_run_as_non_root_false_is_one_problem() -> None:
    assert restricted_violations(pod(securityContext=context(runAsNonRoot=False))) == [
        ObjectProblem("Pod", "p", "spec.securityContext.runAsNonRoot", "must be true")
    ]


def test_run_as_non_root_missing_everywhere_is_reported_per_container() -> None:
    assert restricted_violations(pod(securityContext={"seccompProfile": {"type": "RuntimeDefault"}})) == [
        ObjectProblem(
            "Pod",
            "p",
            "spec.containers[0].securityContext.runAsNonRoot",
            "must be true (here or in the pod's securityContext)",
        )
    ]


def test_a_seccomp_profile_missing_everywhere_is_reported_per_container() -> None:
    assert restricted_violations(pod(securityContext={"runAsNonRoot": True})) == [
        ObjectProblem(
            "Pod",
            "p",
            "spec.containers[0].securityContext.seccompProfile.type",
            "must be RuntimeDefault or Localhost (here or in the pod's securityContext)",
        )
    ]


def test_a_host_process_pod_is_refused() -> None:
    obj = pod(securityContext=context(windowsOptions={"hostProcess": True}))
    assert restricted_violations(obj) == [
        ObjectProblem("Pod", "p", "spec.securityContext.windowsOptions.hostProcess", "must not be true (HostProcess)")
    ]


def test_apparmor_annotations_allow_runtime_default_and_localhost_profiles_only() -> None:
    key = "container.apparmor.security.beta.kubernetes.io/stage"
    for allowed in ("runtime/default", "localhost/custom"):
        obj = pod()
        obj["metadata"]["annotations"] = {key: allowed}
        assert restricted_violations(obj) == []
    obj = pod()
    obj["metadata"]["annotations"] = {key: "unconfined", "other": "unconfined"}
    assert restricted_violations(obj) == [
        ObjectProblem(
            "Pod",
            "p",
            'metadata.annotations["container.apparmor.security.beta.kubernetes.io/stage"]',  # a key with dots is quoted
            "AppArmor profile 'unconfined' is not allowed (runtime/default or localhost/*)",
        )
    ]


def test_selinux_user_and_role_may_be_empty_but_not_set() -> None:
    assert restricted_violations(pod(securityContext=context(seLinuxOptions={"user": "", "role": ""}))) == []
    obj = pod(securityContext=context(seLinuxOptions={"role": "sysadm_r"}))
    assert restricted_violations(obj) == [
        ObjectProblem("Pod", "p", "spec.securityContext.seLinuxOptions.role", "must not be set")
    ]


def test_a_disallowed_volume_type_names_the_allowed_ones() -> None:
    obj = pod(volumes=[{"name": "h", "hostPath": {"path": "/"}}])
    assert restricted_violations(obj) == [
        ObjectProblem(
            "Pod",
            "p",
            "spec.volumes[0].hostPath",
            "volume type 'hostPath' is not allowed (allowed: configMap, csi, downwardAPI, emptyDir, ephemeral, "
            "persistentVolumeClaim, projected, secret)",
        )
    ]


def test_malformed_fields_are_skipped_not_crashed_on() -> None:
    assert restricted_violations(pod(volumes=5)) == []
    job = {"kind": "Job", "metadata": {"name": "j"}, "spec": {"template": ["not", "a", "pod"]}}
    assert restricted_violations(job) == []
    assert hardening_violations(job) == [
        ObjectProblem("Job", "j", "spec.template.spec.automountServiceAccountToken", "must be false")
    ]


def test_an_object_without_a_usable_name_is_called_question_mark() -> None:
    for metadata in ({}, {"name": ""}, {"name": 7}):
        obj = pod(hostIPC=True) | {"metadata": metadata}
        assert restricted_violations(obj) == [
            ObjectProblem("Pod", "?", "spec.hostIPC", "must not be true (host namespaces)")
        ]


def test_read_only_mappings_are_checked_like_dicts() -> None:
    obj = pod(hostPID=True)
    frozen = MappingProxyType({**obj, "spec": MappingProxyType(obj["spec"])})
    assert restricted_violations(frozen) == [
        ObjectProblem("Pod", "p", "spec.hostPID", "must not be true (host namespaces)")
    ]


def test_an_empty_resource_value_is_not_set() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["resources"]["requests"]["cpu"] = ""
    assert hardening_violations(obj) == [
        ObjectProblem("Pod", "p", "spec.containers[0].resources.requests.cpu", "must be set")
    ]
