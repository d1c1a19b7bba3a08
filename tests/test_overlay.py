"""Environments: bodywork.<env>.yaml overlays, validated like the base file and applied in render."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.render.manifests import Rendered, render_project
from bodywork_render.render.options import RenderOptions
from tests.renderkit import COMMIT, PROJECTS, REPO_URL, objects_in

PROD = """\
pipeline:
  docker_image: python:3.13-slim
  namespace: ML_Prod
  secrets_group: live
  ingress_host: ml.example.com
stages:
  serve:
    replicas: 6
    cpu_request: 2
    memory_limit_mb: 4000
  train_a:
    memory_request_mb: 8000
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(PROJECTS / "parallel-secrets-ingress", folder)
    return folder


def render(project: Path, env: str | None, **options: Any) -> Rendered:
    return render_project(project, RenderOptions(**options), env=env, repo_url=REPO_URL, ref=COMMIT)


def test_overlay_overrides_image_namespace_secrets_replicas_resources_and_ingress(project: Path) -> None:
    (project / "bodywork.prod.yaml").write_text(PROD)
    objects = {
        (o["kind"], o["metadata"].get("labels", {}).get("bodywork-render/stage", o["metadata"]["name"])): o
        for o in objects_in(render(project, "prod").files)
    }
    serve = objects[("Deployment", "serve")]
    assert serve["metadata"]["namespace"] == "ml-prod" and ("Namespace", "ml-prod") in objects
    assert serve["spec"]["replicas"] == 6
    container = serve["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "python:3.13-slim"
    assert container["resources"] == {
        "requests": {"cpu": "2000m", "memory": "256M", "ephemeral-storage": "1Gi"},
        "limits": {"memory": "4000M"},
    }
    assert container["env"][-1]["valueFrom"]["secretKeyRef"]["name"] == "live-sentry"
    train = objects[("Job", "train-a")]["spec"]["template"]["spec"]["containers"][0]
    assert train["resources"]["requests"]["memory"] == "8000M"
    assert objects[("Ingress", "serve")]["spec"]["rules"][0]["host"] == "ml.example.com"


def test_an_overlay_replaces_the_shared_storage_as_a_whole(project: Path) -> None:
    config = project / "bodywork.yaml"
    text = config.read_text()
    assert "  DAG:" in text and "    executable_module_path: train" in text
    storage = "  shared_storage: {size: 5Gi, storage_class: fast, access_mode: ReadWriteMany}\n"
    text = text.replace("  DAG:", storage + "  DAG:", 1)
    module = "    executable_module_path: train"
    config.write_text(text.replace(module, "    shared_storage: true\n" + module))
    (project / "bodywork.prod.yaml").write_text("pipeline:\n  shared_storage: {claim_name: models-prod}\n")

    def claims(env: str | None) -> tuple[list[dict[str, Any]], set[str]]:
        objects = objects_in(render(project, env).files)
        mounted = {
            volume["persistentVolumeClaim"]["claimName"]
            for o in objects
            if o["kind"] == "Job"
            for volume in o["spec"]["template"]["spec"]["volumes"]
            if "persistentVolumeClaim" in volume
        }
        return [o for o in objects if o["kind"] == "PersistentVolumeClaim"], mounted

    created, mounted = claims(None)
    assert [c["spec"] for c in created] == [
        {"accessModes": ["ReadWriteMany"], "storageClassName": "fast", "resources": {"requests": {"storage": "5Gi"}}}
    ]
    assert mounted == {created[0]["metadata"]["name"]} == {"churn-model-shared"}
    assert claims("prod") == ([], {"models-prod"}), "an existing claim: mounted, never created"


def test_flags_win_over_the_overlay(project: Path) -> None:
    (project / "bodywork.prod.yaml").write_text(PROD)
    objects = objects_in(render(project, "prod", ingress_host="flag.example.com", namespace="from-flag").files)
    ingress = next(o for o in objects if o["kind"] == "Ingress")
    assert ingress["spec"]["rules"][0]["host"] == "flag.example.com"
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {"from-flag"}


def test_without_env_the_overlay_is_ignored(project: Path) -> None:
    before = render(project, None).files
    (project / "bodywork.prod.yaml").write_text(PROD)
    assert render(project, None).files == before


def test_invalid_overlay_reports_every_error_with_positions(project: Path) -> None:
    (project / "bodywork.dev.yaml").write_text(
        "pipeline:\n  replicas: 2\n"
        "stages:\n  serv:\n    replicas: 1\n  prepare:\n    replicas: 2\n  serve:\n    replicas: -1\n"
    )
    with pytest.raises(BodyworkError) as caught:
        render(project, "dev")
    file = str(project / "bodywork.dev.yaml")
    assert [str(d).replace(file, "F") for d in caught.value.diagnostics] == [
        "F:2:3: error: pipeline.replicas: unknown field 'replicas' "
        "(expected one of: docker_image, gateway, image_pull_secrets, ingress, ingress_class, ingress_host, namespace,"
        " network_policy, schedule, secrets_group, shared_storage)",
        "F:4:3: error: stages.serv: stage 'serv' is not defined in bodywork.yaml (did you mean 'serve'?)",
        "F:7:5: error: stages.prepare.replicas: "
        "stage 'prepare' is a batch stage; replicas apply to service stages only",
        "F:9:15: error: stages.serve.replicas: -1 is out of range (expected at least 0)",
    ]


@pytest.mark.parametrize("base", ["replicas: 3", "replicas: [3"], ids=["invalid", "unreadable"])
def test_an_overlay_is_checked_on_its_own_while_the_base_file_has_errors(base: str, project: Path) -> None:
    config = project / "bodywork.yaml"
    config.write_text(config.read_text().replace("replicas: 3", base.replace("3", "-3")))
    (project / "bodywork.dev.yaml").write_text("pipeline:\n  replicas: 2\nstages:\n  serv:\n    replicas: -1\n")
    with pytest.raises(BodyworkError) as caught:
        render(project, "dev")
    overlay = [str(d) for d in caught.value.diagnostics if d.file == str(project / "bodywork.dev.yaml")]
    assert [d.file for d in caught.value.diagnostics].count(str(config)) == 1
    assert [line.partition(": error: ")[2] for line in overlay] == [
        "pipeline.replicas: unknown field 'replicas' (expected one of: docker_image, gateway, image_pull_secrets,"
        " ingress, ingress_class, ingress_host, namespace, network_policy, schedule, secrets_group, shared_storage)",
        "stages.serv.replicas: -1 is out of range (expected at least 0)",
    ]  # not yet whether stage 'serv' is in bodywork.yaml: that waits for a valid bodywork.yaml


def test_missing_overlay_and_bad_env_names_are_clear_errors(project: Path) -> None:
    with pytest.raises(BodyworkError) as missing:
        render(project, "staging")
    assert (
        str(missing.value) == f"{project / 'bodywork.staging.yaml'}: error: no overlay for environment 'staging' "
        "(expected this file beside bodywork.yaml)"
    )
    with pytest.raises(BodyworkError) as bad:
        render(project, "../etc")
    assert "expected lower-case letters, digits and '-'" in str(bad.value)


@pytest.mark.parametrize("definition", ["shared_storage", "network_policy", "ingress", "gateway"])
def test_an_overlay_setting_takes_the_same_values_as_the_base_file(definition: str) -> None:
    from bodywork_render.package_data import load_json

    base, env = load_json("bodywork.schema.json"), load_json("bodywork-env.schema.json")
    assert env["$defs"][definition] == base["$defs"][definition]
