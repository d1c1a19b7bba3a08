"""Scheduled pipelines in a render: which route runs ``pipeline.schedule``, and the CronJob of Route 2.

Route 2, nothing but Kubernetes: a ``batch/v1`` CronJob expresses a schedule exactly when the pipeline's
scheduled part is a single batch stage, that is when the DAG holds exactly one batch stage, no service stage
comes in a later DAG step than it (a CronJob cannot roll a Deployment after its run), and there is no
``run_on_failure`` stage (a CronJob cannot start a Job only when its run fails). That stage is rendered as a
CronJob in place of its Job, in every format; service stages in earlier steps or in its own step stay as they are.

Every other scheduled pipeline keeps its Jobs: its schedule is run by the refresher (Route 1), which publishes
one commit per scheduled time; a warning says so, and says when nothing would apply those commits.

Pure: a Pipeline and RenderOptions in, names, values and messages out.
"""

from __future__ import annotations

from typing import Any

from bodywork_render.render.options import ARGO_WORKFLOWS, RenderOptions
from bodywork_render.spec import names
from bodywork_render.spec.model import BatchStage, Pipeline, Schedule, ServiceStage

CRON_JOB_MIN_K8S = (1, 27)
"""The first Kubernetes release whose CronJobs take ``timeZone`` (GA in 1.27)."""
CRON_JOB_NAME_MAX = 52
"""The longest CronJob name Kubernetes accepts: its controller appends 11 characters to name each Job."""
CONCURRENCY_POLICIES = {"forbid": "Forbid", "replace": "Replace", "allow": "Allow"}
"""bodywork.yaml's concurrency_policy -> the CronJob's concurrencyPolicy."""


def cron_job_stage(pipeline: Pipeline) -> BatchStage | None:
    """The batch stage rendered as a CronJob (Route 2), or None when the pipeline has no schedule or Route 2 does not
    express it (``route_1_reasons``)."""
    if pipeline.schedule is None or route_1_reasons(pipeline):
        return None
    return next(stage for stage in _dag_stages(pipeline) if isinstance(stage, BatchStage))


def cron_job_name(pipeline: Pipeline, stage: BatchStage) -> str:
    """The name of a scheduled stage's CronJob: ``<pipeline>-<stage>``, without the Job's hash (it is updated in
    place), within CRON_JOB_NAME_MAX."""
    return names.of_stage(pipeline.name, stage.name, limit=CRON_JOB_NAME_MAX)


def route_1_reasons(pipeline: Pipeline) -> list[str]:
    """Why a CronJob cannot express the pipeline's schedule exactly (empty: it can)."""
    batches = [(step, stage) for step, stage in _dag_steps(pipeline) if isinstance(stage, BatchStage)]
    reasons: list[str] = []
    if len(batches) != 1:
        shown = ", ".join(repr(stage.source_name) for _, stage in batches)
        reasons.append(f"{len(batches)} batch stages ({shown}), not one" if batches else "no batch stage")
    elif later := [
        stage.source_name
        for step, stage in _dag_steps(pipeline)
        if isinstance(stage, ServiceStage) and step > batches[0][0]
    ]:
        reasons.append(
            f"service stage{'s' if len(later) > 1 else ''} {', '.join(map(repr, later))} after"
            f" {batches[0][1].source_name!r} must roll after each run"
        )
    if pipeline.run_on_failure:
        on_failure = pipeline.stages[pipeline.run_on_failure].source_name
        reasons.append(f"run_on_failure stage {on_failure!r} must run when a run fails")
    return reasons


def schedule_warnings(pipeline: Pipeline, options: RenderOptions) -> list[str]:
    """What the user must hear about the schedule of a render where Route 2 does not apply, or about a scheduled
    run of a pipeline without one (none otherwise)."""
    if pipeline.schedule is None and options.scheduled_run is not None:
        return [
            f"--scheduled-run {options.scheduled_run}: pipeline {pipeline.name!r} has no schedule"
            " (pipeline.schedule); its batch stages keep the run in their identity, as publish and refresh carry"
            " forward the run of a schedule removed, so that removing it re-runs nothing"
        ]
    if pipeline.schedule is None or cron_job_stage(pipeline) is not None or options.format == ARGO_WORKFLOWS:
        return []  # argo-workflows: a CronWorkflow runs the whole pipeline (render/argo_workflows.py)
    schedule = pipeline.schedule
    warning = (
        f"pipeline.schedule {schedule.cron!r} ({schedule.time_zone}) is not rendered as a CronJob"
        f" ({'; '.join(route_1_reasons(pipeline))}): the stages stay Jobs, and the schedule is run by the refresher"
        " (`bodywork gitops refresher` or charts/bodywork-refresher), which publishes one commit per scheduled time"
        " to the deployment repository for Argo CD or Flux to apply"
    )
    if options.engine == "kubectl":
        warning += "; with --engine kubectl nothing applies those commits: nothing will run this pipeline on schedule"
    return [warning]


def schedule_problems(pipeline: Pipeline, options: RenderOptions) -> list[str]:
    """Why the render cannot express the schedule for the chosen Kubernetes release (empty: it can)."""
    from bodywork_render.verify.kubernetes import major_minor

    if cron_job_stage(pipeline) is None or options.format == ARGO_WORKFLOWS:
        return []  # argo-workflows renders no CronJob
    try:
        release = major_minor(options.k8s_version)
    except ValueError:
        return []  # option_problems reports it
    if release >= CRON_JOB_MIN_K8S:
        return []
    return [
        f"--k8s-version {options.k8s_version}: pipeline.schedule is rendered as a CronJob with timeZone"
        f" ({pipeline.schedule.time_zone if pipeline.schedule else ''}), which needs Kubernetes"
        f" {'.'.join(map(str, CRON_JOB_MIN_K8S))} or later; give --k8s-version"
        f" {'.'.join(map(str, CRON_JOB_MIN_K8S))} or later"
    ]


def readme_lines(pipeline: Pipeline, namespace: str, cron_job: str | None) -> list[str]:
    """The output README's paragraph on the schedule: how it runs, and how to read past runs (none without one).

    ``cron_job`` is the name of the rendered CronJob (None: Route 1).
    """
    from bodywork_render.render.labels import selector_labels

    schedule = pipeline.schedule
    if schedule is None:
        return []
    when = f"`{schedule.cron}` ({schedule.time_zone}){', suspended' if schedule.suspend else ''}"
    stage = cron_job_stage(pipeline)
    if cron_job is None or stage is None:
        return [
            "",
            f"Schedule {when}: not a CronJob ({'; '.join(route_1_reasons(pipeline))}). It is run by the refresher"
            " (`bodywork gitops refresher` or charts/bodywork-refresher), which publishes one commit per scheduled"
            " time to the deployment repository, for Argo CD or Flux to apply; without it, or applied by plain"
            " kubectl, nothing runs this pipeline on schedule.",
        ]
    selector = ",".join(f"{k}={v}" for k, v in selector_labels(pipeline.name, stage.name).items())
    return [
        "",
        f"Schedule {when}: CronJob `{cron_job}` runs stage `{stage.source_name}` (Kubernetes 1.27 or later for"
        f" its timeZone). A commit changes its next run and starts none; `kubectl create job -n {namespace}"
        f" --from=cronjob/{cron_job} {cron_job}-now` starts one now. Past runs (the last"
        f" {schedule.successful_runs_history_limit} successful and {schedule.failed_runs_history_limit} failed"
        f" are kept): `kubectl get jobs -n {namespace} -l {selector}`, and `kubectl logs -n {namespace} job/<job>"
        " -c stage` for one's output.",
    ]


def cron_job_values(schedule: Schedule) -> dict[str, Any]:
    """The CronJob fields of a schedule, by their Kubernetes names."""
    return {
        "schedule": schedule.cron.strip(),
        "timeZone": schedule.time_zone,
        "concurrencyPolicy": CONCURRENCY_POLICIES[schedule.concurrency_policy],
        "suspend": schedule.suspend,
        "successfulJobsHistoryLimit": schedule.successful_runs_history_limit,
        "failedJobsHistoryLimit": schedule.failed_runs_history_limit,
        "startingDeadlineSeconds": schedule.starting_deadline_seconds,
    }


def _dag_steps(pipeline: Pipeline) -> list[tuple[int, BatchStage | ServiceStage]]:
    return [(number, pipeline.stages[name]) for number, step in enumerate(pipeline.dag.steps, start=1) for name in step]


def _dag_stages(pipeline: Pipeline) -> list[BatchStage | ServiceStage]:
    return [stage for _, stage in _dag_steps(pipeline)]
