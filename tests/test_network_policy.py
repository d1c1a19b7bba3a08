"""NetworkPolicies by default: every pod of the pipeline admits nothing but a service stage's own port; egress open
unless narrowed; the opt-out; overlays; the chart's values; strict Kubernetes schemas."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bodywork_render.render.chart import render_chart
from bodywork_render.render.manifests import render_project
from bodywork_render.render.network import dns_rule
from bodywork_render.render.options import RenderOptions
from bodywork_render.render.write import write_tree
from bodywork_render.verify.kubernetes import schema_problems
from tests import helmsdk
from tests.renderkit import COMMIT, EXAMPLE, PROJECTS, REPO_URL, objects_in, render

DNS = {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
NARROWED = """\
  network_policy:
    ingress_namespace: ingress-nginx
    egress:
      - cidr: 0.0.0.0/0
        except: [169.254.169.254/32]
        ports: [443]
      - namespace: data
"""


def policies(objects: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "NetworkPolicy"}


def pods(objects: Sequence[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The pod template labels of each workload, by its stage."""
    return {
        o["metadata"]["labels"]["bodywork-render/stage"]: o["spec"]["template"]["metadata"]["labels"]
        for o in objects
        if o["kind"] in ("Job", "Deployment")
    }


def selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    return policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()


def project_with(tmp_path: Path, pipeline_lines: str, source: Path = EXAMPLE) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(source, folder)
    config = folder / "bodywork.yaml"
    text = config.read_text()
    config.write_text(text.replace("stages:\n", pipeline_lines + "stages:\n", 1))
    return folder


def test_by_default_pods_admit_only_a_service_stages_port_from_the_cluster_and_egress_is_left_open() -> None:
    objects = render(PROJECTS / "parallel-secrets-ingress").objects
    found = policies(objects)
    assert sorted(found) == ["churn-model", "churn-model-report", "churn-model-serve"]
    every = found["churn-model"]["spec"]
    assert every == {
        "podSelector": {
            "matchLabels": {"app.kubernetes.io/instance": "churn-model", "app.kubernetes.io/part-of": "churn-model"}
        },
        "policyTypes": ["Ingress"],
        "ingress": [],
    }
    assert all(selects(found["churn-model"], labels) for labels in pods(objects).values())
    serve = found["churn-model-serve"]["spec"]
    assert serve["policyTypes"] == ["Ingress"]
    assert serve["ingress"] == [{"from": [{"namespaceSelector": {}}], "ports": [{"protocol": "TCP", "port": 5000}]}]
    # Each stage's policy selects its own pods only.
    assert [stage for stage, labels in pods(objects).items() if selects(found["churn-model-serve"], labels)] == [
        "serve"
    ]
    assert schema_problems(list(found.values())) == []


def test_a_named_ingress_namespace_and_narrowed_egress(tmp_path: Path) -> None:
    objects = render(project_with(tmp_path, NARROWED)).objects
    found = policies(objects)
    assert found["train-and-serve"]["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert found["train-and-serve"]["spec"]["egress"] == [
        DNS,
        {
            "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}],
            "ports": [{"protocol": "TCP", "port": 443}],
        },
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "data"}}}]},
    ]
    assert found["train-and-serve-serve"]["spec"]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]
    assert schema_problems(list(found.values())) == []


@pytest.mark.parametrize("layout", ["manifests", "kustomize", "helm"])
def test_the_opt_out_renders_no_network_policy_in_any_format(layout: str, tmp_path: Path) -> None:
    project = project_with(tmp_path, "  network_policy: {enabled: false}\n")
    if layout == "helm":
        rendered = render_chart(project, RenderOptions(format="helm"), repo_url=REPO_URL, ref=COMMIT)
        write_tree(tmp_path / "chart", rendered.files)
        objects = helmsdk.template_objects(tmp_path / "chart", release="train-and-serve", namespace="ml")
        enabled = helmsdk.template_objects(
            tmp_path / "chart", {"networkPolicy": {"enabled": True}}, release="train-and-serve", namespace="ml"
        )
        assert sorted(policies(enabled)) == ["train-and-serve", "train-and-serve--hooks", "train-and-serve-serve"]
    else:
        objects = objects_in(render(project, format=layout).files)
    assert policies(objects) == {}
    assert objects


def test_a_version_1_0_project_takes_the_network_and_route_settings_too(tmp_path: Path) -> None:
    settings = (
        "  network_policy: {ingress_namespace: ingress-nginx}\n"
        "  ingress: {nginx_rewrite: true}\n"
        "  gateway: {name: public, namespace: gateways}\n"
    )
    project = project_with(tmp_path, settings, source=PROJECTS / "failure-hook")
    assert "project:" in (project / "bodywork.yaml").read_text()
    objects = objects_in(render(project).files)
    assert [p["metadata"]["name"] for p in objects if p["kind"] == "NetworkPolicy"]


def test_overlays_change_the_policy_per_environment(tmp_path: Path) -> None:
    project = project_with(tmp_path, "")
    (project / "bodywork.prod.yaml").write_text("pipeline:\n" + NARROWED)
    (project / "bodywork.dev.yaml").write_text("pipeline:\n  network_policy: {enabled: false}\n")

    def rendered(env: str | None) -> dict[str, dict[str, Any]]:
        objects = render_project(project, RenderOptions(), env=env, repo_url=REPO_URL, ref=COMMIT).objects
        return policies(list(objects))

    base, prod, dev = rendered(None), rendered("prod"), rendered("dev")
    assert base["train-and-serve"]["spec"]["policyTypes"] == ["Ingress"]
    assert prod["train-and-serve"]["spec"]["egress"][0] == DNS
    assert prod["train-and-serve-serve"]["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }
    assert dev == {}


def test_chart_values_tune_the_policies_and_default_to_the_manifests(tmp_path: Path) -> None:
    project = project_with(tmp_path, NARROWED)
    rendered = render_chart(project, RenderOptions(format="helm"), repo_url=REPO_URL, ref=COMMIT)
    write_tree(tmp_path / "chart", rendered.files)
    manifests = policies(list(render(project).objects))
    defaults = policies(helmsdk.template_objects(tmp_path / "chart", release="train-and-serve", namespace="ml"))
    # The chart adds the hook copy that guards its pre-install Jobs (the manifests need none).
    assert defaults.pop("train-and-serve--hooks")
    assert {n: p["spec"] for n, p in defaults.items()} == {n: p["spec"] for n, p in manifests.items()}
    tuned = policies(
        helmsdk.template_objects(
            tmp_path / "chart",
            {"networkPolicy": {"ingressNamespace": "gateways", "restrictEgress": False}},
            release="train-and-serve",
            namespace="ml",
        )
    )
    assert tuned["train-and-serve"]["spec"]["policyTypes"] == ["Ingress"]
    assert "egress" not in tuned["train-and-serve"]["spec"]
    assert tuned["train-and-serve-serve"]["spec"]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateways"}}}
    ]
    assert schema_problems(list(tuned.values())) == []


def test_in_the_chart_a_hook_copy_guards_the_pre_install_jobs_and_the_release_owns_the_policy(
    tmp_path: Path,
) -> None:
    rendered = render_chart(EXAMPLE, RenderOptions(format="helm"), repo_url=REPO_URL, ref=COMMIT)
    write_tree(tmp_path / "chart", rendered.files)
    narrowed = {"networkPolicy": {"restrictEgress": True}}
    objects = helmsdk.template_objects(tmp_path / "chart", narrowed, release="train-and-serve", namespace="ml")
    annotations = {
        (o["kind"], o["metadata"]["name"]): o["metadata"]["annotations"]
        for o in objects
        if o["kind"] in ("NetworkPolicy", "Job")
    }
    (job,) = [key for key in annotations if key[0] == "Job"]
    copy = annotations[("NetworkPolicy", "train-and-serve--hooks")]
    assert copy["helm.sh/hook"] == annotations[job]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(copy["helm.sh/hook-weight"]) < int(annotations[job]["helm.sh/hook-weight"])  # created first
    assert copy["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    # The release's own policies are no hooks: Helm upgrades, removes and uninstalls them.
    assert "helm.sh/hook" not in annotations[("NetworkPolicy", "train-and-serve")]
    assert "helm.sh/hook" not in annotations[("NetworkPolicy", "train-and-serve-serve")]
    found = policies(objects)
    guard, own = found["train-and-serve--hooks"]["spec"], found["train-and-serve"]["spec"]
    assert {k: v for k, v in guard.items() if k != "podSelector"} == {
        k: v for k, v in own.items() if k != "podSelector"
    }
    assert guard["egress"] == [DNS]
    # The copy selects the Jobs' pods, never a service's: left behind by a failed hook, it darkens no service.
    assert [stage for stage, labels in pods(objects).items() if selects(found["train-and-serve--hooks"], labels)] == [
        "train"
    ]
    assert schema_problems(list(found.values())) == []
    # Upgrading with the policy disabled leaves nothing behind that Helm does not manage.
    disabled = helmsdk.template_objects(
        tmp_path / "chart", {"networkPolicy": {"enabled": False}}, release="train-and-serve", namespace="ml"
    )
    assert policies(disabled) == {}


def test_a_service_without_a_route_admits_the_cluster_even_with_an_ingress_namespace(tmp_path: Path) -> None:
    project = project_with(tmp_path, NARROWED)
    config = project / "bodywork.yaml"
    config.write_text(config.read_text().replace("ingress: true", "ingress: false"))
    cluster = [{"from": [{"namespaceSelector": {}}], "ports": [{"protocol": "TCP", "port": 8000}]}]
    assert policies(render(project).objects)["train-and-serve-serve"]["spec"]["ingress"] == cluster
    rendered = render_chart(project, RenderOptions(format="helm"), repo_url=REPO_URL, ref=COMMIT)
    write_tree(tmp_path / "chart", rendered.files)
    chart = policies(helmsdk.template_objects(tmp_path / "chart", release="train-and-serve", namespace="ml"))
    assert chart["train-and-serve-serve"]["spec"]["ingress"] == cluster
    routed = helmsdk.template_objects(
        tmp_path / "chart",
        {"stages": {"serve": {"ingress": {"enabled": True}}}},
        release="train-and-serve",
        namespace="ml",
    )
    assert policies(routed)["train-and-serve-serve"]["spec"]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]


def test_in_the_chart_restricting_egress_without_egress_rules_keeps_dns(tmp_path: Path) -> None:
    rendered = render_chart(EXAMPLE, RenderOptions(format="helm"), repo_url=REPO_URL, ref=COMMIT)
    write_tree(tmp_path / "chart", rendered.files)
    narrowed = {"networkPolicy": {"restrictEgress": True}}
    found = policies(helmsdk.template_objects(tmp_path / "chart", narrowed, release="train-and-serve", namespace="ml"))
    assert found["train-and-serve"]["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert found["train-and-serve"]["spec"]["egress"] == [dns_rule()] == [DNS]


@pytest.mark.parametrize("service_type", ["NodePort", "LoadBalancer"])
def test_in_the_chart_a_service_exposed_outside_the_cluster_admits_every_address(
    service_type: str, tmp_path: Path
) -> None:
    rendered = render_chart(
        project_with(tmp_path, NARROWED), RenderOptions(format="helm"), repo_url=REPO_URL, ref=COMMIT
    )
    write_tree(tmp_path / "chart", rendered.files)
    values = {"service": {"type": service_type}}
    found = policies(helmsdk.template_objects(tmp_path / "chart", values, release="train-and-serve", namespace="ml"))
    assert found["train-and-serve-serve"]["spec"]["ingress"] == [
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}},
                {"ipBlock": {"cidr": "0.0.0.0/0"}},
                {"ipBlock": {"cidr": "::/0"}},
            ],
            "ports": [{"protocol": "TCP", "port": 8000}],
        }
    ]
    assert schema_problems(list(found.values())) == []
