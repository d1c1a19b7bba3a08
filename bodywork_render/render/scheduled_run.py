"""Route 1's scheduled runs in a render: the run id (``--scheduled-run``) folded into the batch stages' identity.

A scheduled run of a pipeline that Route 2 does not render as a CronJob (render/scheduled.py) is a render of the
commit the deployment repository holds with one more input in the identity of every batch stage: the run id, the
scheduled time in UTC (spec/schedule.py ``run_id``). Each batch Job gets a new name, and through the upstream
digest of render/plan.py every stage after one rolls, so the GitOps engine replays the DAG in its own order;
services in earlier steps, or in a batch stage's own step, and the pipeline's objects stay byte-identical.

Pure: a Pipeline and RenderOptions in, values and messages out.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from bodywork_render.render.options import ARGO_WORKFLOWS, RenderOptions
from bodywork_render.render.scheduled import cron_job_name, cron_job_stage
from bodywork_render.spec.model import Pipeline, Schedule
from bodywork_render.spec.schedule import RUN_ID_FORMAT

RUN_ID = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
"""A run id: a scheduled time in UTC to the second, as spec/schedule.py ``run_id`` spells it."""
RUN_ID_EXAMPLE = "2026-12-04T20:00:00Z"


def route_1_schedule(pipeline: Pipeline, render_format: str) -> Schedule | None:
    """The schedule the refresher runs (Route 1): the pipeline's, unless it has none, Route 2 renders it, or the
    format is argo-workflows (a CronWorkflow runs it)."""
    if pipeline.schedule is None or cron_job_stage(pipeline) is not None or render_format == ARGO_WORKFLOWS:
        return None
    return pipeline.schedule


def is_run_id(text: str) -> bool:
    """Whether ``text`` is a run id: ``YYYY-MM-DDTHH:MM:SSZ``, a real time."""
    if not RUN_ID.match(text):
        return False
    try:
        datetime.strptime(text, RUN_ID_FORMAT)
    except ValueError:
        return False
    return True


def run_problems(pipeline: Pipeline, options: RenderOptions) -> list[str]:
    """Why the render cannot be the scheduled run ``options.scheduled_run`` (empty: it can, or there is none)."""
    run = options.scheduled_run
    if run is None:
        return []
    flag = f"--scheduled-run {run!r}"
    if not is_run_id(run):
        return [f"{flag}: expected a scheduled time in UTC to the second, e.g. {RUN_ID_EXAMPLE}"]
    if options.format == ARGO_WORKFLOWS:
        from bodywork_render.render.argo_workflows import cron_workflow_name

        name = cron_workflow_name(pipeline)
        return [
            f"{flag}: with --format {ARGO_WORKFLOWS} the schedule is CronWorkflow {name!r}, which runs it: a render"
            f" makes no run of it; start one now with `argo submit --from cronwf/{name}`"
        ]
    stage = cron_job_stage(pipeline)
    if stage is not None:
        name = cron_job_name(pipeline, stage)
        return [
            f"{flag}: the schedule is rendered as CronJob {name!r}, which runs it (Route 2): a render makes no run of"
            f" it; start one now with `kubectl create job --from=cronjob/{name}`"
        ]
    return []


def future_run_problem(run: str | None, now: datetime) -> str | None:
    """Why ``--scheduled-run`` cannot be asked for at ``now`` (an aware datetime): a time not come yet, whose run the
    deployment folder would hold, holding back every scheduled run until then. None: it can, or there is none."""
    if run is None or not is_run_id(run) or run <= now.astimezone(timezone.utc).strftime(RUN_ID_FORMAT):
        return None
    return (
        f"--scheduled-run {run!r}: later than now ({now.astimezone(timezone.utc):{RUN_ID_FORMAT}}); expected a"
        " scheduled time that has come (a run of a later time would hold back every scheduled run until then)"
    )


def run_input(run: str) -> str:
    """What a run adds to the identity of a batch stage (render/plan.py folds it into ``bodywork-render/inputs``)."""
    return f"scheduled-run={run}"


def readme_lines(options: RenderOptions, namespace: str) -> list[str]:
    """The output README's sentence on the scheduled run it is (none for a render without one)."""
    from bodywork_render.render.labels import run_labels

    run = options.scheduled_run
    if run is None:
        return []
    selector = ",".join(f"{k}={v}" for k, v in run_labels(run).items())
    return [
        "",
        f"Scheduled run {run}: every batch stage has a new identity (new Jobs, run again in DAG order), and so has"
        f" every stage after one. Its Jobs: `kubectl get jobs -n {namespace} -l {selector}`.",
    ]
