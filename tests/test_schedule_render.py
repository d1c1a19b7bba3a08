"""pipeline.schedule in a render: Route 2 (a CronJob in manifests, kustomize and the chart) where one batch stage is
the scheduled part, Jobs and a warning (the refresher's Route 1) everywhere else, and the Kubernetes release check."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.render.chart import render_chart
from bodywork_render.render.manifests import render_project
from bodywork_render.render.options import RenderOptions
from bodywork_render.verify.kubernetes import schema_problems
from bodywork_render.verify.podsecurity import hardening_violations, restricted_violations
from tests import helmsdk
from tests.renderkit import COMMIT, PROJECTS, REPO_URL, objects_in, render
from tests.test_chart import by_identity, chart, helm_objects, manifests_for_helm

SCHEDULED = PROJECTS / "scheduled"
OTHER_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"
SCHEDULE = "  schedule: {cron: '0 20 * * *', time_zone: Europe/London}\n"


def project(
    folder: Path, dag: str, services: frozenset[str] = frozenset(), schedule: str = SCHEDULE, on_failure: str = ""
) -> Path:
    """A project folder with this DAG (the named stages services, the others batch stages) and schedule lines."""
    stages = [s.strip() for step in dag.split(">>") for s in step.split(",")] + ([on_failure] if on_failure else [])
    lines = ['version: "1.1"', "pipeline:", "  name: nightly", "  docker_image: python:3.12-slim", f"  DAG: {dag}"]
    lines += [f"  run_on_failure: {on_failure}"] if on_failure else []
    lines += [schedule.rstrip("\n"), "stages:"] if schedule else ["stages:"]
    folder.mkdir(parents=True, exist_ok=True)
    for stage in stages:
        lines += [f"  {stage}:", f"    executable_module_path: {stage}.py"]
        if stage in services:
            lines += ["    service: {max_startup_time_seconds: 30, replicas: 1, port: 8000, ingress: false}"]
        else:
            lines += ["    batch: {max_completion_time_seconds: 60, retries: 1}"]
        (folder / f"{stage}.py").touch()
    (folder / "bodywork.yaml").write_text("\n".join(lines) + "\n")
    return folder


def kinds(objects: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> dict[str, str]:
    """stage -> kind of its workload."""
    return {
        o["metadata"]["labels"]["bodywork-render/stage"]: o["kind"]
        for o in objects
        if o["kind"] in ("Job", "CronJob", "Deployment")
    }


def cron_job(objects: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == "CronJob"]
    return found


def problems(objects: tuple[dict[str, Any], ...] | list[dict[str, Any]], k8s_version: str) -> list[str]:
    found = [str(p) for p in schema_problems(objects, k8s_version)]
    for obj in objects:
        found += [str(p) for p in restricted_violations(obj) + hardening_violations(obj)]
    return found


# --- Route 2: a CronJob ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["manifests", "kustomize"])
def test_a_single_batch_stage_is_a_cron_job_with_the_schedule(layout: str) -> None:
    rendered = render(SCHEDULED, format=layout)
    assert kinds(rendered.objects) == {"score": "CronJob"}
    cron = cron_job(rendered.objects)
    assert cron["metadata"]["name"] == "nightly-scores-score"
    assert {k: v for k, v in cron["spec"].items() if k != "jobTemplate"} == {
        "schedule": "0 20 * * *",
        "timeZone": "Europe/London",
        "concurrencyPolicy": "Forbid",
        "suspend": False,
        "successfulJobsHistoryLimit": 5,
        "failedJobsHistoryLimit": 1,
        "startingDeadlineSeconds": 3600,
    }
    assert not [w for w in rendered.warnings if "schedule" in w]
    assert problems(rendered.objects, "1.37") == []


def test_the_job_template_is_the_job_the_stage_would_be_without_a_schedule(tmp_path: Path) -> None:
    scheduled = project(tmp_path / "scheduled", "score")
    plain = project(tmp_path / "plain", "score", schedule="")
    cron = cron_job(render(scheduled).objects)
    (job,) = [o for o in render(plain).objects if o["kind"] == "Job"]
    assert cron["spec"]["jobTemplate"]["spec"] == job["spec"]
    assert cron["spec"]["jobTemplate"]["metadata"]["labels"] == job["metadata"]["labels"] == cron["metadata"]["labels"]
    assert cron["metadata"]["annotations"] == job["metadata"]["annotations"]
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]
    assert set(pod["metadata"]["annotations"]) == {"bodywork-render/source-commit", "bodywork-render/inputs"}
    assert pod["spec"]["restartPolicy"] == "Never"


def test_the_cron_job_keeps_its_name_and_a_new_commit_changes_its_next_run() -> None:
    before = cron_job(render(SCHEDULED).objects)
    after = cron_job(render_project(SCHEDULED, RenderOptions(), repo_url=REPO_URL, ref=OTHER_COMMIT).objects)
    assert before["metadata"]["name"] == after["metadata"]["name"] == "nightly-scores-score"
    pods = [o["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["annotations"] for o in (before, after)]
    assert [p["bodywork-render/source-commit"] for p in pods] == [COMMIT, OTHER_COMMIT]


def test_a_long_stage_name_fits_the_52_characters_of_a_cron_job(tmp_path: Path) -> None:
    stage = "s" * 60
    cron = cron_job(render(project(tmp_path / "p", stage)).objects)
    assert len(cron["metadata"]["name"]) == 52 and cron["metadata"]["name"].startswith("nightly-" + "s" * 34)


def test_services_before_or_beside_the_batch_stage_keep_route_2(tmp_path: Path) -> None:
    rendered = render(project(tmp_path / "p", "api >> score, ui", frozenset({"api", "ui"})))
    assert kinds(rendered.objects) == {"api": "Deployment", "ui": "Deployment", "score": "CronJob"}
    assert not [w for w in rendered.warnings if "schedule" in w]


def test_kustomize_puts_the_cron_job_in_its_step_and_flux_need_not_force_it() -> None:
    rendered = render(SCHEDULED, format="kustomize", engine="flux")
    assert "steps/01/score-cronjob.yaml" in rendered.files
    step = yaml.safe_load(next(t for p, t in rendered.files.items() if p.startswith("flux/") and "step-01" in p))
    assert "force" not in step["spec"]


@pytest.mark.parametrize("version", ["1.29", "1.37"])
def test_the_cron_job_passes_the_strict_schemas_and_the_restricted_profile(version: str) -> None:
    assert problems(render(SCHEDULED, k8s_version=version).objects, version) == []


def test_the_first_release_with_time_zones_renders_the_cron_job() -> None:
    assert cron_job(render(SCHEDULED, k8s_version="1.27").objects)["spec"]["timeZone"] == "Europe/London"


@pytest.mark.parametrize("version", ["1.25", "1.26"])
def test_a_kubernetes_release_without_time_zones_is_a_clear_error(version: str) -> None:
    with pytest.raises(BodyworkError) as caught:
        render(SCHEDULED, k8s_version=version)
    assert str(caught.value) == (
        f"error: --k8s-version {version}: pipeline.schedule is rendered as a CronJob with timeZone (Europe/London),"
        " which needs Kubernetes 1.27 or later; give --k8s-version 1.27 or later"
    )
    with pytest.raises(BodyworkError, match="needs Kubernetes 1.27 or later"):
        render_chart(SCHEDULED, RenderOptions(format="helm", k8s_version=version), repo_url=REPO_URL, ref=COMMIT)


def test_overlays_change_and_suspend_the_cron_job_per_environment(tmp_path: Path) -> None:
    folder = project(tmp_path / "p", "score")
    (folder / "bodywork.staging.yaml").write_text("pipeline:\n  schedule: {cron: '0 6 * * MON'}\n")
    (folder / "bodywork.dev.yaml").write_text("pipeline:\n  schedule: {suspend: true, concurrency_policy: replace}\n")

    def spec(env: str | None) -> dict[str, Any]:
        rendered = render_project(folder, RenderOptions(), env=env, repo_url=REPO_URL, ref=COMMIT)
        return dict(cron_job(rendered.objects)["spec"])

    assert (spec(None)["schedule"], spec(None)["suspend"]) == ("0 20 * * *", False)
    assert (spec("staging")["schedule"], spec("staging")["timeZone"]) == ("0 6 * * MON", "Europe/London")
    assert (spec("dev")["suspend"], spec("dev")["concurrencyPolicy"]) == (True, "Replace")


def test_the_output_readme_says_how_to_read_past_runs() -> None:
    readme = render(SCHEDULED).files["README.md"]
    assert "\n\nSchedule `0 20 * * *` (Europe/London): CronJob `nightly-scores-score` runs stage `score`" in readme
    assert (
        "`kubectl get jobs -n nightly-scores -l app.kubernetes.io/name=score,app.kubernetes.io/instance=nightly-scores`"
        in readme
    )
    assert "`kubectl logs -n nightly-scores job/<job> -c stage`" in readme


# --- the chart ------------------------------------------------------------------------------------------------------


def test_the_chart_renders_the_cron_job_of_the_manifests_as_a_plain_object(tmp_path: Path) -> None:
    folder, rendered = chart(SCHEDULED, tmp_path)
    objects = helm_objects(folder)
    assert by_identity(objects, from_helm=True) == by_identity(manifests_for_helm(SCHEDULED))
    cron = cron_job(objects)
    assert not [k for k in cron["metadata"].get("annotations", {}) if k.startswith("helm.sh/")], "not a hook"
    assert helmsdk.lint(folder) == []
    assert "templates/job.yaml" not in rendered.files


def test_chart_values_change_the_schedule(tmp_path: Path) -> None:
    folder, _ = chart(SCHEDULED, tmp_path)
    values = {
        "stages": {
            "score": {
                "schedule": {
                    "cron": "@hourly",
                    "timeZone": "America/New_York",
                    "suspend": True,
                    "concurrencyPolicy": "Allow",
                    "successfulJobsHistoryLimit": 0,
                    "failedJobsHistoryLimit": 7,
                    "startingDeadlineSeconds": 60,
                }
            }
        }
    }
    spec = cron_job(helm_objects(folder, values))["spec"]
    assert {k: v for k, v in spec.items() if k != "jobTemplate"} == {
        "schedule": "@hourly",
        "timeZone": "America/New_York",
        "suspend": True,
        "concurrencyPolicy": "Allow",
        "successfulJobsHistoryLimit": 0,
        "failedJobsHistoryLimit": 7,
        "startingDeadlineSeconds": 60,
    }
    for bad in ({"concurrencyPolicy": "forbid"}, {"failedJobsHistoryLimit": -1}, {"startingDeadlineSeconds": 5}):
        wrong = copy.deepcopy(values)
        wrong["stages"]["score"]["schedule"].update(bad)
        with pytest.raises(helm_python.HelmValuesError):
            helmsdk.validate_values(folder, wrong)


# --- Route 1: Jobs, a warning and the README ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dag, services, on_failure, reason",
    [
        ("prepare >> train", frozenset(), "", "2 batch stages ('prepare', 'train'), not one"),
        ("train >> serve", frozenset({"serve"}), "", "service stage 'serve' after 'train' must roll after each run"),
        ("train", frozenset(), "alert", "run_on_failure stage 'alert' must run when a run fails"),
        ("serve", frozenset({"serve"}), "", "no batch stage"),
    ],
    ids=["two-batch-stages", "service-downstream", "run-on-failure", "services-only"],
)
def test_where_a_cron_job_cannot_express_the_schedule_the_stages_stay_jobs_with_a_warning(
    dag: str, services: frozenset[str], on_failure: str, reason: str, tmp_path: Path
) -> None:
    folder = project(tmp_path / "p", dag, services, on_failure=on_failure)
    rendered = render(folder, engine="argocd")
    assert "CronJob" not in kinds(rendered.objects).values()
    warning = (
        f"warning: pipeline.schedule '0 20 * * *' (Europe/London) is not rendered as a CronJob ({reason}): the stages"
        " stay Jobs, and the schedule is run by the refresher (`bodywork gitops refresher` or"
        " charts/bodywork-refresher), which publishes one commit per scheduled time to the deployment repository"
        " for Argo CD or Flux to apply"
    )
    assert warning in rendered.warnings
    readme = rendered.files["README.md"]
    assert f"Schedule `0 20 * * *` (Europe/London): not a CronJob ({reason}). It is run by the refresher" in readme
    assert warning.removeprefix("warning: ") in readme
    _, chart_render = chart(folder, tmp_path / "chart")
    assert warning in chart_render.warnings


def test_the_readme_of_a_route_1_schedule_gives_every_reason_and_who_runs_it(tmp_path: Path) -> None:
    schedule = "  schedule: {cron: '0 20 * * *', time_zone: Europe/London, suspend: true}\n"
    services = frozenset({"serve", "score"})
    folder = project(tmp_path / "p", "train >> serve, score", services, schedule=schedule, on_failure="alert")
    rendered = render(folder, engine="argocd")
    reasons = (
        "service stages 'serve', 'score' after 'train' must roll after each run; run_on_failure stage 'alert' must run"
        " when a run fails"
    )
    assert f"warning: pipeline.schedule '0 20 * * *' (Europe/London) is not rendered as a CronJob ({reasons}):" in [
        w[: w.index("):") + 2] for w in rendered.warnings
    ]
    assert (
        "\n\nSchedule `0 20 * * *` (Europe/London), suspended: not a CronJob (service stages 'serve', 'score' after"
        " 'train' must roll after each run; run_on_failure stage 'alert' must run when a run fails). It is run by the"
        " refresher (`bodywork gitops refresher` or charts/bodywork-refresher), which publishes one commit per"
        " scheduled time to the deployment repository, for Argo CD or Flux to apply; without it, or applied by plain"
        " kubectl, nothing runs this pipeline on schedule.\n"
    ) in rendered.files["README.md"]


def test_with_kubectl_nothing_runs_a_schedule_a_cron_job_cannot_express(tmp_path: Path) -> None:
    rendered = render(project(tmp_path / "p", "train >> serve", frozenset({"serve"})), engine="kubectl")
    (warning,) = [w for w in rendered.warnings if "schedule" in w]
    assert warning.startswith("warning: pipeline.schedule '0 20 * * *' (Europe/London) is not rendered as a CronJob")
    assert warning.endswith(
        "; with --engine kubectl nothing applies those commits: nothing will run this pipeline on schedule"
    )


def test_a_pipeline_without_a_schedule_renders_no_schedule_text(tmp_path: Path) -> None:
    rendered = render(project(tmp_path / "p", "train >> serve", frozenset({"serve"}), schedule=""))
    assert "Schedule" not in rendered.files["README.md"]
    assert not [w for w in rendered.warnings if "schedule" in w]
    assert objects_in(rendered.files)
