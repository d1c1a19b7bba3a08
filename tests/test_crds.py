"""The custom resources we write, against the upstream CRDs: the vendored copies, the strict reading, the CEL rules."""

from __future__ import annotations

import copy
import sys
from typing import Any

import pytest

from bodywork_render.gitops.bootstrap import ArgoCDOptions, FluxOptions, argocd_manifests, flux_manifests
from bodywork_render.verify.crds import VENDORED, strict_schema
from bodywork_render.verify.kubernetes import schema_problems
from scripts.vendor_crds import FOLDER, UPSTREAM, text, upstream_file, vendored_document
from tests.renderkit import EXAMPLE, PROJECTS, objects_in, render

needs_cel = pytest.mark.skipif(sys.version_info < (3, 11), reason="common-expression-language needs Python 3.11+")


@pytest.mark.parametrize("gvk", sorted(VENDORED), ids=lambda gvk: gvk[1])
def test_the_vendored_schema_is_the_upstream_crds_own(gvk: tuple[str, str]) -> None:
    assert (UPSTREAM / upstream_file(gvk)).is_file(), f"the upstream CRD is not at {UPSTREAM / upstream_file(gvk)}"
    assert (FOLDER / VENDORED[gvk]).read_text(encoding="utf-8") == text(vendored_document(gvk)), (
        "run: python -m scripts.vendor_crds"
    )


def test_every_vendored_file_is_a_known_kind() -> None:
    assert sorted(p.name for p in FOLDER.glob("*.json")) == sorted(VENDORED.values())


def test_the_strict_reading_follows_the_structural_schema_rules() -> None:
    open_api = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "required": ["port", "mode"],
                "properties": {
                    "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "mode": {"type": "string", "default": "fast"},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "pruned": {"type": "object"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                    "maybe": {"type": "string", "nullable": True},
                },
            },
        },
    }
    schema = strict_schema(open_api, "https://kubernetes.io/api/_definitions.json")
    spec = schema["properties"]["spec"]
    assert schema["additionalProperties"] is False and spec["additionalProperties"] is False
    assert schema["properties"]["metadata"] == {
        "$ref": "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    }
    assert spec["required"] == ["port"]  # mode has a default: defaulting comes before validation
    assert spec["properties"]["port"] == {"type": ["integer", "string"]}
    assert "additionalProperties" not in spec["properties"]["free"]
    assert spec["properties"]["pruned"]["additionalProperties"] is False
    assert spec["properties"]["labels"]["additionalProperties"] == {"type": "string"}
    assert spec["properties"]["tags"]["uniqueItems"] is True
    assert spec["properties"]["maybe"]["type"] == ["string", "null"]


def http_route() -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "demo-serve", "namespace": "ml"},
        "spec": {
            "parentRefs": [{"name": "public", "namespace": "gateways"}],
            "hostnames": ["ml.example.com"],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/demo/serve"}}],
                    "filters": [
                        {
                            "type": "URLRewrite",
                            "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
                        }
                    ],
                    "backendRefs": [{"name": "demo-serve", "port": 8000}],
                }
            ],
        },
    }


HOSTNAME = "^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


def test_planted_bad_fields_in_an_httproute_are_rejected() -> None:
    route = http_route()
    assert schema_problems([route]) == []
    rule = route["spec"]["rules"][0]
    rule["filters"][0]["urlRewrite"]["path"]["replacePrefix"] = "/"
    rule["matches"][0]["path"]["type"] = "Prefix"
    rule["backendRefs"][0]["port"] = 70000
    route["spec"]["parentRefs"][0]["sectionNam"] = "https"
    route["spec"]["hostnames"] = ["ML.example.com"]
    assert [(p.path, p.message.split(",")[0]) for p in schema_problems([route])] == [
        (
            "spec.hostnames[0]",
            "expected a string matching ^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
        ),
        ("spec.parentRefs[0].sectionNam", "unknown field"),
        ("spec.rules[0].backendRefs[0].port", "70000 is greater than the maximum of 65535"),
        ("spec.rules[0].filters[0].urlRewrite.path.replacePrefix", "unknown field"),
        ("spec.rules[0].matches[0].path.type", 'expected one of "Exact"'),
    ]


def test_a_planted_bad_field_in_an_argocd_application_is_rejected_but_not_under_preserve_unknown_fields() -> None:
    (app,) = argocd_manifests(
        ArgoCDOptions(repo="https://git.example.com/d.git", branch="main", path="envs/prod/demo")
    ).objects
    app = copy.deepcopy(app)
    app["spec"]["source"]["helm"] = {"valuesObject": {"anything": {"goes": [1]}}, "releaseNam": "x"}
    app["spec"]["syncPolicy"]["retry"] = {"limit": 2, "backoff": {"duration": "5s", "maxDuration": 60}}
    problems = [(p.path, p.message) for p in schema_problems([app])]
    assert problems == [
        ("spec.source.helm.releaseNam", "unknown field"),
        ("spec.syncPolicy.retry.backoff.maxDuration", "expected string, got integer 60"),
    ]


FLUX = FluxOptions(repo="https://git.example.com/d.git", branch="main", path="envs/prod/demo")
ARGOCD = ArgoCDOptions(repo="https://git.example.com/d.git", branch="main", path="envs/prod/demo")


def rendered_custom_resources() -> list[dict[str, Any]]:
    """Every Flux and Argo CD object the project writes: the bootstraps and the kustomize layout's steps."""
    found = [
        *flux_manifests(
            FluxOptions(repo="https://git.example.com/d.git", branch="main", path="envs/prod/demo")
        ).objects,
        *argocd_manifests(
            ArgoCDOptions(repo="https://git.example.com/d.git", branch="main", path="envs/prod/demo")
        ).objects,
    ]
    for project in (EXAMPLE, PROJECTS / "parallel-secrets-ingress"):
        rendered = objects_in(render(project, format="kustomize", engine="flux").files)
        found += [o for o in rendered if (o["apiVersion"], o["kind"]) in VENDORED]
    return found


def test_every_custom_resource_we_render_passes_the_strict_crd_schemas() -> None:
    objects = rendered_custom_resources()
    assert {o["kind"] for o in objects} >= {"GitRepository", "Kustomization", "Application"}
    assert schema_problems(objects) == []


@needs_cel
def test_every_custom_resource_we_render_passes_the_crds_cel_rules() -> None:
    from tests.crd_rules import rule_problems

    assert {o["metadata"]["name"]: rule_problems(o) for o in rendered_custom_resources()} == {
        o["metadata"]["name"]: [] for o in rendered_custom_resources()
    }


@needs_cel
def test_a_cel_rule_of_the_httproute_crd_is_enforced() -> None:
    from tests.crd_rules import rule_problems

    route = http_route()
    assert rule_problems(route) == []
    route["spec"]["rules"][0]["matches"][0]["path"]["type"] = "Exact"
    assert rule_problems(route) == [
        "spec.rules[0]: When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be"
        " specified"
    ]
