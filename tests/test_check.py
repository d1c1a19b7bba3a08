"""schema_problems against the real Kubernetes schemas (offline), the upstream CRDs, and the kubeconform contract."""

from __future__ import annotations

import copy
import datetime
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from bodywork_render.verify.kubernetes import (
    DEFAULT_K8S_VERSION,
    ObjectProblem,
    dotted_path,
    schema_problems,
    supported_k8s_versions,
)
from scripts.extract_k8s import (
    DEFS_URI,
    EXTRACT,
    make_extract,
    package_definitions,
    served,
    templated_kinds,
    without_descriptions,
)

LABELS = {"app.kubernetes.io/name": "serve", "app.kubernetes.io/managed-by": "bodywork-render"}


@pytest.fixture(autouse=True)
def no_kubeconform(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty PATH, so that the offline backend runs even where kubeconform is installed."""
    empty = tmp_path_factory.mktemp("bin")
    monkeypatch.setenv("PATH", str(empty))
    return empty


def pod_spec() -> dict[str, Any]:
    container = {
        "name": "stage",
        "image": "python:3.12-slim",
        "command": ["python3", "/workspace/.runner/run.py"],
        "args": ["--stage", "serve"],
        "env": [{"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "prod-serve", "key": "KEY"}}}],
        "ports": [{"name": "http", "containerPort": 8000}],
        "resources": {"requests": {"cpu": "500m", "memory": "512M"}, "limits": {"memory": "512M"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "workspace", "mountPath": "/workspace"}],
    }
    return {
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [{"name": "workspace", "emptyDir": {}}],
    }


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "serve", "namespace": "ml", "labels": dict(LABELS)},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "serve"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": {"labels": dict(LABELS)}, "spec": pod_spec()},
        },
    }


def job() -> dict[str, Any]:
    spec = pod_spec()
    spec["restartPolicy"] = "Never"
    del spec["containers"][0]["ports"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train-1a2b3c4d", "namespace": "ml"},
        "spec": {"backoffLimit": 2, "activeDeadlineSeconds": 600, "template": {"spec": spec}},
    }


def service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "serve", "namespace": "ml"},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": "serve"},
            "ports": [{"name": "http", "port": 8000, "targetPort": "http"}],
        },
    }


def ingress() -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "serve", "namespace": "ml"},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "ml.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/ml/serve",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "serve", "port": {"number": 8000}}},
                            }
                        ]
                    },
                }
            ],
        },
    }


def service_account() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "ml", "namespace": "ml"},
        "automountServiceAccountToken": False,
    }


def namespace() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "ml", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}},
    }


def kustomization() -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "ml-step-2", "namespace": "flux-system"},
        "spec": {
            "interval": "10m0s",
            "path": "./step-2",
            "prune": True,
            "wait": True,
            "force": True,
            "timeout": "15m",
            "sourceRef": {"kind": "GitRepository", "name": "ml"},
            "dependsOn": [{"name": "ml-step-1"}],
        },
    }


def git_repository() -> dict[str, Any]:
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "ml", "namespace": "flux-system"},
        "spec": {"interval": "1m", "url": "https://git.example.com/deploy.git", "ref": {"branch": "main"}},
    }


def application() -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "ml", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example.com/deploy.git", "targetRevision": "main", "path": "ml"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "ml"},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, "syncOptions": ["CreateNamespace=true"]},
        },
    }


BUILTIN = [deployment, job, service, ingress, service_account, namespace]
CUSTOM = [kustomization, git_repository, application]


@pytest.mark.parametrize("make", BUILTIN + CUSTOM, ids=lambda make: make.__name__)
def test_a_valid_object_has_no_problem(make: Any) -> None:
    assert schema_problems([make()]) == []


def test_an_unknown_field_is_reported_at_its_own_path() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    assert schema_problems([obj]) == [
        ObjectProblem("Deployment", "serve", "spec.template.spec.containers[0].imagePullPolicyy", "unknown field")
    ]


def test_every_unknown_field_of_one_mapping_is_its_own_problem() -> None:
    obj = service()
    obj["extra"] = 1
    obj["spec"]["bogus"] = True
    obj["spec"]["clusterIp"] = "None"
    assert [problem.path for problem in schema_problems([obj])] == ["extra", "spec.bogus", "spec.clusterIp"]


def test_a_wrong_type_names_what_was_expected_and_found() -> None:
    obj = job()
    obj["spec"]["backoffLimit"] = "2"
    problem = ObjectProblem("Job", "train-1a2b3c4d", "spec.backoffLimit", 'expected integer, got string "2"')
    assert schema_problems([obj]) == [problem]
    assert str(problem) == 'Job/train-1a2b3c4d: spec.backoffLimit: expected integer, got string "2"'


def test_a_missing_required_field_is_reported_at_the_missing_path() -> None:
    obj = deployment()
    del obj["spec"]["selector"]
    del obj["spec"]["template"]["spec"]["containers"][0]["name"]
    assert schema_problems([obj]) == [
        ObjectProblem("Deployment", "serve", "spec.selector", "required field is missing"),
        ObjectProblem("Deployment", "serve", "spec.template.spec.containers[0].name", "required field is missing"),
    ]


def test_a_bad_api_version_of_a_known_kind() -> None:
    obj = deployment()
    obj["apiVersion"] = "extensions/v1beta1"
    assert schema_problems([obj]) == [
        ObjectProblem(
            "Deployment",
            "serve",
            "apiVersion",
            f"Deployment is not served as extensions/v1beta1 in Kubernetes {DEFAULT_K8S_VERSION} (known: apps/v1)",
        )
    ]


def test_an_unknown_kind() -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert schema_problems([obj]) == [
        ObjectProblem(
            "Widget", "w", "kind", f"unknown kind 'Widget' (example.com/v1) in Kubernetes {DEFAULT_K8S_VERSION}"
        )
    ]


def test_objects_without_identity() -> None:
    assert schema_problems([{"kind": "Job", "metadata": {"name": "j"}}, ["not", "an", "object"]]) == [
        ObjectProblem("Job", "j", "apiVersion", "required string field is missing"),
        ObjectProblem("?", "?", "", "expected an object, got array"),
    ]


def test_quantities_and_odd_keys_read_well() -> None:
    obj = deployment()
    obj["metadata"]["labels"]["app.kubernetes.io/version"] = 3
    obj["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = [1]
    assert [str(problem) for problem in schema_problems([obj])] == [
        'Deployment/serve: metadata.labels["app.kubernetes.io/version"]: expected string, got integer 3',
        "Deployment/serve: spec.template.spec.containers[0].resources.requests.cpu:"
        " expected a quantity (string or number), got array",
    ]


def test_every_problem_of_every_object_at_once_in_object_order() -> None:
    bad_job, bad_service = job(), service()
    bad_job["spec"]["parallelism"] = "many"
    bad_service["spec"]["ports"][0]["port"] = "http"
    problems = schema_problems([bad_service, deployment(), bad_job, namespace()])
    assert [(problem.kind, problem.path) for problem in problems] == [
        ("Service", "spec.ports[0].port"),
        ("Job", "spec.parallelism"),
    ]


def test_the_release_decides_which_fields_exist() -> None:
    obj = job()
    obj["spec"]["managedBy"] = "kueue.x-k8s.io/multikueue"
    assert schema_problems([obj], "1.30") == []
    assert schema_problems([obj], "v1.29.4") == [
        ObjectProblem("Job", "train-1a2b3c4d", "spec.managedBy", "unknown field")
    ]


def test_supported_versions() -> None:
    versions = supported_k8s_versions()
    assert DEFAULT_K8S_VERSION in versions
    assert versions == sorted(versions, key=lambda v: tuple(int(p) for p in v.split(".")))
    assert schema_problems([job()], f"v{DEFAULT_K8S_VERSION}.3") == []
    with pytest.raises(ValueError, match="supported releases: 1.25"):
        schema_problems([job()], "1.12")
    with pytest.raises(ValueError, match="no schemas for Kubernetes 'latest'"):
        schema_problems([job()], "latest")


def test_values_from_a_round_trip_yaml_loader_are_accepted() -> None:
    from ruamel.yaml import YAML

    loaded = YAML().load(
        textwrap.dedent("""\
        apiVersion: batch/v1
        kind: Job
        metadata: {name: train-1a2b3c4d}
        spec:
          backoffLimit: 0x2
          activeDeadlineSeconds: 1_000
          template:
            spec:
              restartPolicy: Never
              containers: [{name: stage, image: python, resources: {requests: {cpu: 0.5}}}]
        """)
    )
    assert schema_problems([loaded]) == []
    loaded["spec"]["completions"] = "0x2"
    assert [problem.path for problem in schema_problems([loaded])] == ["spec.completions"]


def test_a_value_without_json_form_is_a_problem() -> None:
    obj = namespace()
    obj["metadata"]["annotations"] = {"released": datetime.date(2024, 1, 1)}
    obj["metadata"]["labels"][7] = "seven"
    assert schema_problems([obj]) == [
        ObjectProblem("Namespace", "ml", "metadata.annotations.released", "a date has no JSON form; quote it"),
        ObjectProblem("Namespace", "ml", "metadata.labels", "key 7 is not a string"),
    ]


def test_the_upstream_crd_schemas_are_strict() -> None:
    ks, repo, app = kustomization(), git_repository(), application()
    del ks["spec"]["prune"]
    ks["spec"]["interval"] = "ten minutes"
    ks["spec"]["dependsOn"].append({"namespace": "flux-system"})
    ks["spec"]["dependsOn"][0]["kind"] = "Kustomization"
    ks["metadata"]["labelz"] = {}
    ks["spec"]["sourceRef"]["kind"] = "HelmRepository"
    ks["spec"]["wait"] = None
    repo["spec"]["ref"]["sha"] = "abc"
    app["spec"]["syncPolicy"]["automated"]["prun"] = True
    del app["spec"]["destination"]
    assert [(p.kind, p.path, p.message) for p in schema_problems([ks, repo, app])] == [
        ("Kustomization", "metadata.labelz", "unknown field"),
        ("Kustomization", "spec.dependsOn[0].kind", "unknown field"),
        ("Kustomization", "spec.dependsOn[1].name", "required field is missing"),
        (
            "Kustomization",
            "spec.interval",
            'expected a string matching ^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$, got string "ten minutes"',
        ),
        ("Kustomization", "spec.prune", "required field is missing"),
        (
            "Kustomization",
            "spec.sourceRef.kind",
            'expected one of "OCIRepository", "GitRepository", "Bucket", "ExternalArtifact",'
            ' got string "HelmRepository"',
        ),
        ("Kustomization", "spec.wait", "expected boolean, got null"),
        ("GitRepository", "spec.ref.sha", "unknown field"),
        ("Application", "spec.destination", "required field is missing"),
        ("Application", "spec.syncPolicy.automated.prun", "unknown field"),
    ]


def test_an_older_api_version_of_a_crd_is_unknown() -> None:
    obj = kustomization()
    obj["apiVersion"] = "kustomize.toolkit.fluxcd.io/v1beta2"
    assert [problem.path for problem in schema_problems([obj])] == ["apiVersion"]


def _agreement_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = [(make.__name__, make()) for make in BUILTIN]

    def broken(name: str, make: Any, change: Any) -> None:
        obj = make()
        change(obj)
        cases.append((name, obj))

    broken("unknown-top-field", service, lambda o: o.update(extra=1))
    broken(
        "unknown-container-field",
        deployment,
        lambda o: o["spec"]["template"]["spec"]["containers"][0].update(imagePullPolicyy="Always"),
    )
    broken("wrong-type", job, lambda o: o["spec"].update(backoffLimit="2"))
    broken("missing-selector", deployment, lambda o: o["spec"].pop("selector"))
    broken("missing-container-name", job, lambda o: o["spec"]["template"]["spec"]["containers"][0].pop("name"))
    broken("bad-api-version", ingress, lambda o: o.update(apiVersion="networking.k8s.io/v1beta1"))
    broken(
        "bad-quantity",
        deployment,
        lambda o: o["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"].update(memory=[1]),
    )
    broken("bad-enum-free-string", service, lambda o: o["spec"].update(type=7))
    broken("label-not-string", namespace, lambda o: o["metadata"]["labels"].update(team=1))
    broken("ports-not-list", service, lambda o: o["spec"].update(ports={"port": 80}))
    return cases


def test_the_verdicts_agree_with_kubernetes_validate_strict() -> None:
    import kubernetes_validate

    disagreements = []
    for name, obj in _agreement_cases():
        try:
            kubernetes_validate.validate(copy.deepcopy(obj), DEFAULT_K8S_VERSION, strict=True)
            theirs = True
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError):
            theirs = False
        ours = schema_problems([obj]) == []
        if ours != theirs:
            disagreements.append((name, ours, theirs))
    assert disagreements == []
    assert sum(1 for _, obj in _agreement_cases() if schema_problems([obj])) == 10


def test_importing_the_module_loads_no_validator() -> None:
    heavy = "{'jsonschema_rs', 'kubernetes_validate', 'jsonschema'}"
    code = f"import sys, bodywork_render.verify.kubernetes; print(sorted({heavy} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_dotted_path() -> None:
    assert dotted_path(()) == ""
    assert dotted_path(("spec", "containers", 0, "image")) == "spec.containers[0].image"
    assert dotted_path(("metadata", "annotations", "a.b/c", 2)) == 'metadata.annotations["a.b/c"][2]'


# -- schemas/k8s: our extract of the default release's definitions ------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def cron_job() -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "refresh", "namespace": "ml"},
        "spec": {"schedule": "*/5 * * * *", "concurrencyPolicy": "Forbid", "jobTemplate": {"spec": job()["spec"]}},
    }


def far_fetched_deployment() -> dict[str, Any]:
    """A Deployment wrong deep in definitions that the example never uses."""
    obj = deployment()
    spec = obj["spec"]["template"]["spec"]
    spec["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operatr": "In"}]}]
            }
        }
    }
    spec["topologySpreadConstraints"] = [{"maxSkew": "1", "topologyKey": "zone"}]
    spec["volumes"].append({"name": "data", "hostPath": {"path": 7}, "csi": {"driver": "x", "readOnly": "yes"}})
    container = spec["containers"][0]
    container["env"].append({"name": "NODE", "valueFrom": {"fieldRef": {}}})
    container["lifecycle"] = {"preStop": {"sleep": {"seconds": "5"}}}
    container["securityContext"]["seLinuxOptions"] = {"level": "s0", "role": 1}
    container["ports"][0]["protocol"] = 6
    return obj


def test_the_extract_is_made_from_the_installed_kubernetes_validate() -> None:
    """The shipped extract is what scripts/extract_k8s.py makes now; the test compares and never rewrites it."""
    assert json.loads(EXTRACT.read_text(encoding="utf-8")) == make_extract(DEFAULT_K8S_VERSION), (
        f"{EXTRACT.relative_to(ROOT)} is stale: run `.venv/bin/python -m scripts.extract_k8s` and review the diff"
    )
    assert {("batch/v1", "CronJob"), ("apps/v1", "Deployment"), ("v1", "Namespace")} <= templated_kinds()
    assert without_descriptions({"description": "d", "properties": {"description": {"description": "d"}}}) == {
        "properties": {"description": {}}
    }


def test_the_extract_is_used_only_with_the_file_it_was_made_from() -> None:
    from bodywork_render.verify.kubernetes import _shipped_extract

    assert _shipped_extract(DEFAULT_K8S_VERSION, package_definitions(DEFAULT_K8S_VERSION)) is not None
    assert _shipped_extract(DEFAULT_K8S_VERSION, package_definitions("1.36")) is None  # another size: stale
    assert _shipped_extract("1.36", package_definitions("1.36")) is None  # not shipped


def test_the_extract_gives_the_errors_of_the_package_definitions() -> None:
    import jsonschema_rs

    def errors(document: dict[str, Any], obj: dict[str, Any]) -> list[tuple[Any, ...]]:
        name = served(document)[(obj["apiVersion"], obj["kind"])]
        validator = jsonschema_rs.validator_for(
            {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": f"{DEFS_URI}#/$defs/{name}"},
            registry=jsonschema_rs.Registry([(DEFS_URI, document)]),
            offline=True,
        )
        return [(e.kind.name, e.instance_path, e.schema_path, e.message) for e in validator.iter_errors(obj)]

    extract = json.loads(EXTRACT.read_text(encoding="utf-8"))["definitions"]
    package = json.loads(package_definitions(DEFAULT_K8S_VERSION).read_text(encoding="utf-8"))
    cases = [obj for _, obj in _agreement_cases() if (obj["apiVersion"], obj["kind"]) in served(extract)]
    cases += [cron_job(), far_fetched_deployment()]
    for obj in cases:
        assert errors(extract, obj) == errors(package, obj)
    assert errors(extract, far_fetched_deployment())


def test_values_that_a_template_never_writes_get_the_schema_verdict() -> None:
    """A mapping that is not a dict, a URL ending in a newline and a valid field our templates never write are each
    judged by the schemas: only the URL is wrong."""
    from types import MappingProxyType

    proxied = namespace()
    proxied["metadata"] = MappingProxyType(proxied["metadata"])
    newline = git_repository()
    newline["spec"]["url"] = "https://git.example.com/deploy.git\n"
    unused = deployment()
    unused["spec"]["minReadySeconds"] = 5
    assert [p.path for p in schema_problems([proxied, newline, unused])] == ["spec.url"]


# -- kubeconform: the subprocess contract, with a stand-in that answers in kubeconform's JSON format -----------
#
# kubeconform's `-output json -summary` report, as its pkg/output/json.go writes it (Go's json.MarshalIndent, two
# spaces): "resources" lists only the resources that are not valid (valid ones need -verbose), each with the fields
# filename ("stdin" when read from stdin), kind, name, version, status ("statusInvalid" or "statusError") and msg,
# plus "validationErrors" ([{path: JSON pointer, msg}], omitted when empty); then "summary" counts. The messages
# are those of its acceptance tests and of its JSON Schema library. It exits 1 when a resource is not valid.

SCHEMA_URL = "https://raw.githubusercontent.com/yannh/kubernetes-json-schema/master/v1.31.0-standalone-strict"
# A report as kubeconform prints it for an invalid Job and a Deployment whose apiVersion has no schema.
KUBECONFORM_REPORT = f"""{{
  "resources": [
    {{
      "filename": "stdin",
      "kind": "Job",
      "name": "train-1a2b3c4d",
      "version": "batch/v1",
      "status": "statusInvalid",
      "msg": "problem validating schema. Check JSON formatting: jsonschema: '/spec/backoffLimit' does not validate with {SCHEMA_URL}/job-batch-v1.json#/properties/spec/properties/backoffLimit/type: expected integer or null, but got string",
      "validationErrors": [
        {{
          "path": "/spec/backoffLimit",
          "msg": "expected integer or null, but got string"
        }},
        {{
          "path": "/spec/template/spec/containers/0",
          "msg": "additionalProperties 'imagePullPolicyy' not allowed"
        }}
      ]
    }},
    {{
      "filename": "stdin",
      "kind": "Deployment",
      "name": "serve",
      "version": "apps/v1beta1",
      "status": "statusError",
      "msg": "could not find schema for Deployment"
    }}
  ],
  "summary": {{
    "valid": 1,
    "invalid": 1,
    "errors": 1,
    "skipped": 0
  }}
}}
"""  # noqa: E501 - kubeconform's own line

FAKE_KUBECONFORM = """\
#!{python}
import json, sys
from pathlib import Path

here = Path(__file__).parent
documents = [json.loads(doc) for doc in sys.stdin.read().split("\\n---\\n") if doc.strip()]
(here / "record.json").write_text(json.dumps({{"argv": sys.argv[1:], "documents": documents}}))
mode = (here / "mode").read_text().strip()
if mode == "garbage":
    print("panic: runtime error")
    sys.exit(2)
sys.stdout.write((here / "report.json").read_text())
sys.exit(1 if json.loads((here / "report.json").read_text())["resources"] else 0)
"""


@pytest.fixture()
def fake_kubeconform(no_kubeconform: Path) -> Path:
    """kubeconform on PATH: it records its arguments and stdin, then prints report.json (KUBECONFORM_REPORT)."""
    script = no_kubeconform / "kubeconform"
    script.write_text(FAKE_KUBECONFORM.format(python=sys.executable))
    script.chmod(0o755)
    (no_kubeconform / "mode").write_text("normal")
    (no_kubeconform / "report.json").write_text(KUBECONFORM_REPORT)
    return no_kubeconform


def test_the_stand_in_report_has_kubeconforms_json_layout() -> None:
    """Field names, their order and the indentation of kubeconform's Go encoder; nothing our parser would not read."""
    report = json.loads(KUBECONFORM_REPORT)
    assert json.dumps(report, indent=2) + "\n" == KUBECONFORM_REPORT
    assert list(report) == ["resources", "summary"]
    assert list(report["summary"]) == ["valid", "invalid", "errors", "skipped"]
    fields = ["filename", "kind", "name", "version", "status", "msg"]
    assert [list(r) for r in report["resources"]] == [[*fields, "validationErrors"], fields]
    assert all(list(e) == ["path", "msg"] for e in report["resources"][0]["validationErrors"])


def test_kubeconform_is_called_strictly_with_the_builtin_objects_on_stdin(fake_kubeconform: Path) -> None:
    bad_job = job()
    bad_job["spec"]["backoffLimit"] = "2"
    bad_job["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    old = deployment()
    old["apiVersion"] = "apps/v1beta1"
    bad_ks = kustomization()
    bad_ks["spec"]["wiat"] = True
    problems = schema_problems([service(), bad_ks, bad_job, old, "not an object"], "1.31")
    record = json.loads((fake_kubeconform / "record.json").read_text())
    assert record["argv"] == ["-strict", "-summary", "-output", "json", "-kubernetes-version", "1.31.0"]
    assert [doc["kind"] for doc in record["documents"]] == ["Service", "Job", "Deployment"]
    assert problems == [
        ObjectProblem("Kustomization", "ml-step-2", "spec.wiat", "unknown field"),
        ObjectProblem("Job", "train-1a2b3c4d", "spec.backoffLimit", "expected integer or null, but got string"),
        ObjectProblem(
            "Job",
            "train-1a2b3c4d",
            "spec.template.spec.containers[0]",
            "additionalProperties 'imagePullPolicyy' not allowed",
        ),
        ObjectProblem("Deployment", "serve", "", "could not find schema for Deployment"),
        ObjectProblem("?", "?", "", "expected an object, got string"),
    ]


def test_a_kubeconform_report_without_resources_is_no_problem(fake_kubeconform: Path) -> None:
    # kubeconform's report when every resource is valid, as its pkg/output/json_test.go expects it.
    summary = '  "summary": {\n    "valid": 1,\n    "invalid": 0,\n    "errors": 0,\n    "skipped": 0\n  }\n'
    (fake_kubeconform / "report.json").write_text('{\n  "resources": [],\n' + summary + "}\n")
    assert schema_problems([job()], "1.31") == []
    assert [doc["kind"] for doc in json.loads((fake_kubeconform / "record.json").read_text())["documents"]] == ["Job"]


def test_kubeconform_without_a_report_is_an_error(fake_kubeconform: Path) -> None:
    (fake_kubeconform / "mode").write_text("garbage")
    with pytest.raises(RuntimeError, match="kubeconform gave no JSON report \\(exit 2\\): panic"):
        schema_problems([job()])


def test_only_custom_resources_never_start_kubeconform(fake_kubeconform: Path) -> None:
    assert schema_problems([kustomization(), application()]) == []
    assert not (fake_kubeconform / "record.json").exists()
    assert os.environ["PATH"] == str(fake_kubeconform)
