"""A scheduled run in a render (Route 1, `--scheduled-run`): new Jobs for the batch stages, the stages after them
roll, everything else byte-identical; the run recorded in hydrator.metadata and the README's reproduce command."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.runs import due_run, next_run, parse_time
from bodywork_render.render.metadata import HydratorMetadata
from bodywork_render.render.options import ARGO_WORKFLOWS
from bodywork_render.render.scheduled_run import future_run_problem
from bodywork_render.spec.model import Schedule
from tests.renderkit import objects_in, render
from tests.repos import bodywork
from tests.test_chart import by_identity, chart, helm_objects, manifests_for_helm
from tests.test_schedule_render import SCHEDULED, project

RUN = "2026-12-04T20:00:00Z"


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    """The files that differ (or exist in one only)."""
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


def test_a_run_renews_the_batch_stages_and_rolls_the_stages_after_them_only(tmp_path: Path) -> None:
    # api (a service) before the batch stages, serve after them: only train, score and serve change.
    folder = project(tmp_path / "p", "api >> train >> score >> serve", frozenset({"api", "serve"}))
    plain = render(folder).files
    run = render(folder, scheduled_run=RUN).files
    again = render(folder, scheduled_run=RUN).files

    assert run == again, "deterministic"
    job_files = {"02-train-job.yaml", "03-score-job.yaml"}
    assert changed(plain, run) == {*job_files, "04-serve-deployment.yaml", "hydrator.metadata", "README.md"}
    for name in job_files:
        before, after = yaml.safe_load(plain[name]), yaml.safe_load(run[name])
        assert before["metadata"]["name"] != after["metadata"]["name"], "a new Job: Kubernetes runs it again"
        assert after["metadata"]["labels"]["bodywork-render/scheduled-run"] == "2026-12-04T200000Z"
        assert after["spec"]["template"]["metadata"]["labels"]["bodywork-render/scheduled-run"] == "2026-12-04T200000Z"
    serve = [yaml.safe_load(files["04-serve-deployment.yaml"]) for files in (plain, run)]
    annotations = [s["spec"]["template"]["metadata"]["annotations"] for s in serve]
    assert annotations[0]["bodywork-render/inputs"] != annotations[1]["bodywork-render/inputs"], "serve rolls"
    assert serve[0]["metadata"]["labels"] == serve[1]["metadata"]["labels"], "but carries no run label"

    metadata = json.loads(run["hydrator.metadata"])
    assert metadata["scheduledRun"] == RUN
    assert metadata["schedule"] == {
        "cron": "0 20 * * *",
        "timeZone": "Europe/London",
        "suspend": False,
        "startingDeadlineSeconds": 3600,
    }
    assert "scheduledRun" not in json.loads(plain["hydrator.metadata"])
    assert f"--scheduled-run {RUN}" in run["README.md"]
    assert (
        f"\n\nScheduled run {RUN}: every batch stage has a new identity (new Jobs, run again in DAG order), and so has"
        " every stage after one. Its Jobs: `kubectl get jobs -n nightly -l"
        " bodywork-render/scheduled-run=2026-12-04T200000Z`.\n"
    ) in run["README.md"]
    recorded, unscheduled = (HydratorMetadata.read(files["hydrator.metadata"]) for files in (run, plain))
    assert recorded is not None and recorded.scheduled_run == RUN and recorded.schedule is not None
    assert unscheduled is not None and recorded.settings() == unscheduled.settings()


def test_two_runs_differ_in_their_jobs_and_a_service_beside_a_batch_stage_stays(tmp_path: Path) -> None:
    folder = project(tmp_path / "p", "train, api >> report, serve", frozenset({"api", "serve"}))
    first = render(folder, scheduled_run=RUN).files
    second = render(folder, scheduled_run="2026-12-05T20:00:00Z").files
    assert changed(first, second) == {
        "01-train-job.yaml",
        "02-report-job.yaml",
        "02-serve-deployment.yaml",
        "hydrator.metadata",
        "README.md",
    }


def test_the_chart_of_a_run_records_it_and_renews_its_jobs(tmp_path: Path) -> None:
    folder = project(tmp_path / "p", "train >> serve", frozenset({"serve"}))
    _, plain = chart(folder, tmp_path / "plain")
    _, run = chart(folder, tmp_path / "run", scheduled_run=RUN)
    assert json.loads(run.files["hydrator.metadata"])["scheduledRun"] == RUN
    assert f"--scheduled-run {RUN}" in run.files["README.md"]
    jobs = [[o["metadata"]["name"] for o in r.objects if o["kind"] == "Job"] for r in (plain, run)]
    assert jobs[0] != jobs[1]


@pytest.mark.parametrize(
    ("dag", "run", "message"),
    [
        ("train >> serve", "2026-12-04 20:00", "expected a scheduled time in UTC to the second, e.g. 2026-12-04T20"),
        ("train >> serve", "2026-02-30T20:00:00Z", "expected a scheduled time in UTC to the second"),
        (
            "train",
            RUN,
            "the schedule is rendered as CronJob 'nightly-train', which runs it (Route 2): a render makes"
            " no run of it; start one now with `kubectl create job --from=cronjob/nightly-train`",
        ),
    ],
)
def test_a_run_that_cannot_be_is_a_clear_error(dag: str, run: str, message: str, tmp_path: Path) -> None:
    folder = project(tmp_path / "p", dag, frozenset({"serve"}))
    with pytest.raises(BodyworkError, match=re.escape(f"--scheduled-run {run!r}: {message}")):
        render(folder, scheduled_run=run)


def test_a_run_of_a_pipeline_without_a_schedule_is_kept_with_a_warning(tmp_path: Path) -> None:
    """What publish and refresh render when a schedule is removed: the run the folder holds, carried forward."""
    folder = project(tmp_path / "p", "train >> serve", frozenset({"serve"}), schedule="")
    rendered = render(folder, scheduled_run=RUN)
    assert (
        f"warning: --scheduled-run {RUN}: pipeline 'nightly' has no schedule (pipeline.schedule); its batch stages"
        " keep the run in their identity"
    ) in "\n".join(rendered.warnings)
    recorded = json.loads(rendered.files["hydrator.metadata"])
    assert recorded["scheduledRun"] == RUN and "schedule" not in recorded
    assert "schedule" not in json.loads(render(folder).files["hydrator.metadata"])


def test_a_run_later_than_now_is_refused_by_render_and_publish(tmp_path: Path) -> None:
    folder = project(tmp_path / "p", "train >> serve", frozenset({"serve"}))
    message = "--scheduled-run '2062-12-04T20:00:00Z': later than now ("
    for command in (["render", str(folder), "--out", str(tmp_path / "out")], ["publish", str(folder), "--to", "x"]):
        result = bodywork(*command, "--scheduled-run", "2062-12-04T20:00:00Z")
        assert (result.returncode, result.stdout) == (1, ""), result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    assert future_run_problem("2026-12-04T20:00:00Z", parse_time("2026-12-04T20:00:00Z", "--at")) is None
    assert future_run_problem("2026-12-04T20:00:01Z", parse_time("2026-12-04T20:00:00Z", "--at")) is not None


def test_a_future_run_is_measured_in_utc_whatever_the_local_zone(new_york_local_time: None) -> None:
    now = datetime(2026, 12, 4, 20, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 11:00 UTC
    assert future_run_problem("2026-12-04T11:00:00Z", now) is None
    assert future_run_problem("2026-12-04T11:00:01Z", now) == (
        "--scheduled-run '2026-12-04T11:00:01Z': later than now (2026-12-04T11:00:00Z); expected a scheduled"
        " time that has come (a run of a later time would hold back every scheduled run until then)"
    )
    assert future_run_problem(None, now) is None
    assert future_run_problem("zzz", now) is None  # not a run id: run_problems says what is wrong with it


def test_on_argo_workflows_the_cron_workflow_runs_the_schedule_not_the_refresher(tmp_path: Path) -> None:
    folder = project(tmp_path / "p", "train >> serve", frozenset({"serve"}))
    rendered = render(folder, format=ARGO_WORKFLOWS)
    assert "schedule" not in json.loads(rendered.files["hydrator.metadata"])
    (cron,) = [o for o in rendered.objects if o["kind"] == "CronWorkflow"]
    name = cron["metadata"]["name"]
    message = f"CronWorkflow '{name}', which runs it: a render makes no run of it; start one now with `argo submit"
    with pytest.raises(BodyworkError, match=re.escape(message)):
        render(folder, format=ARGO_WORKFLOWS, scheduled_run=RUN)


def test_a_cron_job_pipeline_records_no_schedule_for_the_refresher() -> None:
    assert "schedule" not in json.loads(render(SCHEDULED).files["hydrator.metadata"])
    assert objects_in(render(SCHEDULED).files)


def test_the_chart_of_a_run_gives_the_objects_of_the_manifests_of_that_run(tmp_path: Path) -> None:
    folder = project(tmp_path / "p", "train >> serve", frozenset({"serve"}))
    chart_folder, _ = chart(folder, tmp_path / "c", scheduled_run=RUN)
    expected = manifests_for_helm(folder, scheduled_run=RUN)
    assert by_identity(helm_objects(chart_folder), from_helm=True) == by_identity(expected)


def test_in_the_kustomize_layout_a_run_changes_the_step_files_of_its_stages_only(tmp_path: Path) -> None:
    folder = project(tmp_path / "p", "api >> train >> serve", frozenset({"api", "serve"}))
    options = {"format": "kustomize", "engine": "flux", "deploy_path": "./envs/prod/nightly"}
    plain = render(folder, **options).files
    run = render(folder, scheduled_run=RUN, **options).files
    assert changed(plain, run) == {
        "steps/02/train-job.yaml",
        "steps/03/serve-deployment.yaml",
        "hydrator.metadata",
        "README.md",
    }, "the Flux Kustomizations and every kustomization.yaml stay: the DAG order is the one they already have"


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-12-04T20:03:00Z", "2026-12-04T20:03:00+00:00"),
        ("2026-12-04T21:03:00+01:00", "2026-12-04T20:03:00+00:00"),
        ("2026-12-04T20:03:00.500z", "2026-12-04T20:03:00.500000+00:00"),
    ],
)
def test_a_time_reads_with_its_offset(text: str, utc: str) -> None:
    assert parse_time(text, "--at").astimezone(timezone.utc).isoformat() == utc


@pytest.mark.parametrize("text", ["2026-12-04T20:03:00", "tomorrow", "", "Z"])
def test_a_time_without_an_offset_is_refused(text: str) -> None:
    with pytest.raises(BodyworkError, match="expected an ISO 8601 time with its UTC offset"):
        parse_time(text, "--at")


def test_a_run_is_due_until_its_starting_deadline_unless_suspended() -> None:
    schedule = Schedule("0 20 * * *", "Europe/London", starting_deadline_seconds=600)
    assert due_run(schedule, parse_time("2026-12-04T19:59:59Z", "--at")) is None
    assert due_run(schedule, parse_time("2026-12-04T20:10:00Z", "--at")) == RUN
    assert due_run(schedule, parse_time("2026-12-04T20:10:01Z", "--at")) is None
    assert due_run(Schedule("0 20 * * *", suspend=True), parse_time("2026-12-04T20:00:00Z", "--at")) is None
    assert due_run(None, parse_time("2026-12-04T20:00:00Z", "--at")) is None
    # Summer time: 20:00 in London is 19:00 UTC.
    assert due_run(schedule, parse_time("2026-07-01T19:05:00Z", "--at")) == "2026-07-01T19:00:00Z"


def test_the_next_run_is_the_due_one_when_newer_else_the_one_held_unless_that_is_later_than_now() -> None:
    at, tomorrow = parse_time("2026-12-04T20:10:00Z", "--at"), "2026-12-05T20:00:00Z"
    assert next_run(None, RUN, at) == RUN and next_run(RUN, None, at) == RUN and next_run(None, None, at) is None
    assert next_run("2026-12-03T20:00:00Z", RUN, at) == RUN and next_run(RUN, "2026-12-03T20:00:00Z", at) == RUN
    assert next_run("2062-12-04T20:00:00Z", RUN, at) == RUN, "a run held for a time not come holds nothing back"
    assert next_run("2062-12-04T20:00:00Z", None, at) == "2062-12-04T20:00:00Z"
    assert next_run(tomorrow, RUN, parse_time(tomorrow, "--at")) == tomorrow
