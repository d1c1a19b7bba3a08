"""Argo Workflows (``--format argo-workflows``): the plan of the manifests with the batch stages as one workflow.

The batch stages' Jobs (and a CronJob, and the run_on_failure hook Job) leave the plan; their planned values make
the templates of a ``WorkflowTemplate`` whose ``dag`` holds one task per DAG stage, each depending on every stage of
the step before (bodywork's DAG exactly): a batch stage runs its pod (the Job's pod values, rendered by the same
``_pod.yaml.j2`` macro), a service stage's task rolls its Deployment after the stages upstream of it. The
run_on_failure stage is the workflow's exit handler, run only when the workflow did not succeed. A ``Workflow``
named by the batch stages' pins runs the template once per change; with ``pipeline.schedule``, a ``CronWorkflow``
runs it on schedule instead. Everything else (Namespace, ServiceAccount, runner ConfigMap, shared claim,
NetworkPolicies, the service stages' Deployments, Services, routes, autoscalers and disruption budgets) is what
``--format manifests`` renders.

Pure: a Plan in, a Plan out.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bodywork_render.render import labels, serving
from bodywork_render.render.options import RenderOptions
from bodywork_render.render.plan import (
    EXIT_PERMANENT,
    SYNC_FAIL_HOOK,
    SYNC_WAVE,
    FluxStep,
    Plan,
    PlannedObject,
    flux_kustomizations,
    step_dir,
    step_kustomizations,
    try_deadline_seconds,
)
from bodywork_render.render.scheduled import CONCURRENCY_POLICIES, CRON_JOB_NAME_MAX
from bodywork_render.spec import names
from bodywork_render.spec.model import BatchStage, Pipeline, Stage

ARGO_API_VERSION = "argoproj.io/v1alpha1"
WORKFLOW_TEMPLATES = ("argo/workflowtemplate.yaml.j2", "argo/workflow.yaml.j2", "_pod.yaml.j2")
"""The templates a run is made from: their digest joins the Workflow's name (a changed template is a new run)."""
ROLLED_BY = "bodywork-render/rolled-by"
"""The pod template annotation a roll task sets to the workflow's name: a new value rolls the Deployment."""
# The Job controller's backoff between tries (10 s, doubled, at most 6 minutes), in Argo Workflows' terms. Argo's
# IntOrString fields (factor, limit, activeDeadlineSeconds) are written as strings, as its JSON Schema types them.
BACKOFF = {"duration": "10s", "factor": "2", "cap": "6m"}
EXECUTOR_RULES = [
    # What Argo Workflows' executor (its init and wait containers) does with the API: report each task's outputs.
    {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]},
]
ROLL_TRIES = 3
"""Tries of a roll task: a patch refused while the API server restarts is not a failed pipeline."""
# Argo Workflows' non-root executor image runs as this user; its pods without a pod of ours (the roll tasks) too.
EXECUTOR_USER = 8737
FLUX_TIMEOUT = "10m"
"""How long Flux waits for a step folder's objects to be ready (the services' Deployments): the run is not waited
for."""
RUN_WAVE = 1
"""The Argo CD sync wave of the run and of every object of a stage, after the pipeline's own objects and the
WorkflowTemplate (wave 0). One wave: the Workflow orders the stages, and Argo CD waits for a wave's objects to be
healthy before the next, so a service that cannot start before the first run (its model is not there yet) would hold
back the run that makes it; a claim that binds on first use stays Pending until a pod mounts it."""
ARGO_TAG = re.compile(r"\{\{\s*(=|(item|steps|inputs|outputs|pod|workflow|tasks|node|lastRetry)\.|retries\s*\}\})")
"""What Argo Workflows replaces in a template's strings when it runs it (its variables and expressions, with those it
sets for a template with a retryStrategy: node.name, retries, lastRetry.*); it has no escape for them."""
PERMANENT_FAILURE = f"(exit code {EXIT_PERMANENT})"
"""What Argo Workflows writes in a node's message when a container of its pod exited with the runner's permanent
failure (``<container>: <reason> (exit code 78)``): ``lastRetry.exitCode`` reads the main container only, and the
runner ends an init container (``fetch``, ``install``) with it too."""
EXPR_WORDS = frozenset(("not", "in", "and", "or", "matches", "contains", "let", "if", "else", "true", "false", "nil"))
"""The words of Argo Workflows' expression language (expr) that a lower-case task name could spell: `depends` cannot
name them."""
DAG_TEMPLATE = "pipeline"
EXIT_TEMPLATE = "on-failure"


def cron_workflow_name(pipeline: Pipeline) -> str:
    """The name of a scheduled pipeline's CronWorkflow: Argo Workflows names each run <CronWorkflow>-<time>, and
    refuses a longer name, as Kubernetes a CronJob's."""
    return names.fit(pipeline.name, limit=CRON_JOB_NAME_MAX)


def argo_workflows_plan(pipeline: Pipeline, plan: Plan, options: RenderOptions, template_digest: str) -> Plan:
    """The plan of ``--format argo-workflows`` from the plan of the manifests; ``template_digest`` is the digest of
    ``WORKFLOW_TEMPLATES`` (the Workflow's name carries it). With ``--engine flux``, the files are in a folder per
    sync wave, each applied by a Flux Kustomization in flux/, as `bodywork gitops flux` expects."""
    jobs = {o.values["labels"][labels.STAGE_LABEL]: o for o in plan.objects if _is_run(o)}
    hook = next((o for o in plan.objects if o.kind == "Job" and _is_hook(o)), None)
    kept = [o for o in plan.objects if not _is_run(o) and o is not hook]
    account = next(o for o in kept if o.kind == "ServiceAccount")  # the pipeline's: its namespace and labels
    namespace = account.values["namespace"]
    deployments = {o.values["labels"][labels.STAGE_LABEL]: o.name for o in kept if o.kind == "Deployment"}
    base = _Base(pipeline, namespace, dict(account.values["labels"]))
    executor = names.fit(f"{pipeline.name}-workflow-executor")
    objects = [o if o.step < RUN_WAVE else _in_wave(o, RUN_WAVE) for o in kept]
    objects += base.executor_account(executor)
    objects += base.rbac(executor, "executor", EXECUTOR_RULES)
    if deployments:
        rules = [
            {
                "apiGroups": ["apps"],
                "resources": ["deployments"],
                "resourceNames": sorted(deployments.values()),
                "verbs": ["get", "patch"],
            }
        ]
        objects += base.rbac(executor, "roll", rules)
    tasks = _tasks(pipeline, jobs)
    template_name = pipeline.name
    spec = {
        "name": template_name,
        **base.meta(0),
        "labels": base.labels,
        "service_account": pipeline.name,
        "executor_service_account": executor,
        "executor_user": EXECUTOR_USER,
        "image_pull_secrets": serving.image_pull_secrets(pipeline),
        "dag_template": DAG_TEMPLATE,
        "tasks": tasks,
        "batch": [_batch_template(pipeline.stages[stage], job) for stage, job in jobs.items()],
        "rolls": [_roll_template(stage, name, namespace) for stage, name in deployments.items()],
        "exit_template": EXIT_TEMPLATE if hook else None,
        "on_failure": _batch_template(pipeline.stages[pipeline.run_on_failure or ""], hook) if hook else None,
    }
    objects.append(
        PlannedObject(
            "argo/workflowtemplate.yaml.j2",
            "WorkflowTemplate",
            template_name,
            0,
            base.file(0, "workflowtemplate"),
            spec,
        )
    )
    run_values = {**base.meta(RUN_WAVE), "labels": base.labels, "template": template_name}
    if pipeline.schedule is None:
        pins = sorted(o.values["spec_digest"] for o in (*jobs.values(), *([hook] if hook else ())))
        name = names.job_name(pipeline.name, "run", names.digest(template_digest, *pins))
        objects.append(
            PlannedObject(
                "argo/workflow.yaml.j2",
                "Workflow",
                name,
                RUN_WAVE,
                base.file(RUN_WAVE, "workflow"),
                {**run_values, "name": name},
            )
        )
    else:
        schedule = pipeline.schedule
        name = cron_workflow_name(pipeline)
        values = {
            **run_values,
            "name": name,
            "schedule": {
                "schedules": [schedule.cron.strip()],
                "timezone": schedule.time_zone,
                "concurrencyPolicy": CONCURRENCY_POLICIES[schedule.concurrency_policy],
                "suspend": schedule.suspend,
                "successfulJobsHistoryLimit": schedule.successful_runs_history_limit,
                "failedJobsHistoryLimit": schedule.failed_runs_history_limit,
                "startingDeadlineSeconds": schedule.starting_deadline_seconds,
            },
        }
        objects.append(
            PlannedObject(
                "argo/cronworkflow.yaml.j2",
                "CronWorkflow",
                name,
                RUN_WAVE,
                base.file(RUN_WAVE, "cronworkflow"),
                values,
            )
        )
    # In wave order, the format's own objects after the manifests' of their wave (a stable sort).
    objects.sort(key=lambda o: o.step)
    if options.engine == "flux":
        objects = _flux_objects(pipeline, options, objects, base.labels)
    runs = [*jobs.items(), *([(pipeline.run_on_failure, hook)] if hook and pipeline.run_on_failure else [])]
    substituted = [
        pipeline.stages[stage].source_name for stage, job in runs if ARGO_TAG.search(json.dumps(job.values["pod"]))
    ]
    return Plan(tuple(objects), (*plan.warnings, *_warnings(pipeline), *_substitution_warnings(substituted)))


def _warnings(pipeline: Pipeline) -> list[str]:
    """What bodywork's pipeline means that Argo Workflows cannot express exactly (empty: nothing)."""
    warnings = []
    stages = [pipeline.stages[name] for step in pipeline.dag.steps for name in step]
    if any(isinstance(s, BatchStage) for s in stages):
        warnings.append(
            "a batch stage's pod evicted or preempted (a node drain) is a failed try on Argo Workflows, where a Job's"
            " podFailurePolicy ignores it: it spends one of the stage's retries, and fails a stage without any"
        )
    later = [
        pipeline.stages[name].source_name
        for before, step in zip(pipeline.dag.steps, pipeline.dag.steps[1:], strict=False)
        if any(not isinstance(pipeline.stages[n], BatchStage) for n in before)
        for name in step
    ]
    if later:
        warnings.append(
            f"stage{'s' if len(later) > 1 else ''} {', '.join(map(repr, later))} after a service stage start once its"
            " roll is requested, not once its new pods are ready (a roll task patches the Deployment and ends)"
        )
    if pipeline.network_policy.enabled and pipeline.network_policy.egress is not None:
        warnings.append(
            "network_policy.egress narrows the outgoing connections of the batch stages' pods, where Argo Workflows'"
            " wait container reports each step to the Kubernetes API server: add the API server's address and port"
            " (kubectl get endpoints kubernetes -n default) to egress, or the steps cannot finish"
        )
    return warnings


def _substitution_warnings(stages: list[str]) -> list[str]:
    """The warning for batch stages whose pod holds text Argo Workflows would substitute (none when empty)."""
    if not stages:
        return []
    return [
        f"stage{'s' if len(stages) > 1 else ''} {', '.join(map(repr, stages))}: an arg, requirement or image holds"
        " '{{' followed by one of Argo Workflows' variables or '=' (e.g. {{workflow.name}}), which Argo replaces"
        " when it runs the stage: the stage would not get the text as written"
    ]


class _Base:
    """What every object of the format shares: the pipeline, its namespace and labels."""

    def __init__(self, pipeline: Pipeline, namespace: str, pipeline_labels: dict[str, str]) -> None:
        self.pipeline, self.namespace, self.labels = pipeline, namespace, pipeline_labels

    def meta(self, step: int) -> dict[str, Any]:
        return {"namespace": self.namespace, "annotations": {SYNC_WAVE: str(step)}}

    def file(self, step: int, stem: str) -> str:
        return f"{step:02d}-{stem}.yaml"

    def rbac(self, service_account: str, purpose: str, rules: list[dict[str, Any]]) -> list[PlannedObject]:
        """A Role with ``rules`` and its RoleBinding to ``service_account``, named ``<pipeline>-workflow-<purpose>``."""
        name = names.fit(f"{self.pipeline.name}-workflow-{purpose}")
        common = {"name": name, "labels": self.labels, **self.meta(0)}
        return [
            PlannedObject(
                "argo/role.yaml.j2", "Role", name, 0, self.file(0, f"{purpose}-role"), {**common, "rules": rules}
            ),
            PlannedObject(
                "argo/rolebinding.yaml.j2",
                "RoleBinding",
                name,
                0,
                self.file(0, f"{purpose}-rolebinding"),
                {**common, "service_account": service_account},
            ),
        ]

    def executor_account(self, name: str) -> list[PlannedObject]:
        """The executor's ServiceAccount, and the token Secret Argo Workflows mounts into the executor's containers
        only (named ``<account>.service-account-token``, as it looks for it; Kubernetes fills it: no value is
        rendered)."""
        values = {"name": name, "labels": self.labels, **self.meta(0)}
        secret = f"{name}.service-account-token"
        return [
            PlannedObject(
                "serviceaccount.yaml.j2", "ServiceAccount", name, 0, self.file(0, "executor-serviceaccount"), values
            ),
            PlannedObject(
                "argo/serviceaccount-token.yaml.j2",
                "Secret",
                secret,
                0,
                self.file(0, "executor-token"),
                {**values, "name": secret, "service_account": name},
            ),
        ]


def _flux_objects(
    pipeline: Pipeline, options: RenderOptions, objects: list[PlannedObject], pipeline_labels: dict[str, str]
) -> list[PlannedObject]:
    """The objects in a folder per sync wave (``steps/NN/``, as ``--format kustomize`` lays its steps), with their
    kustomization.yaml files and a Flux Kustomization per wave, the run's after the WorkflowTemplate's. One
    Kustomization would apply the Workflow with the WorkflowTemplate, in an order of its own (by kind name: Workflow
    first); Argo Workflows reads the template once, when it first sees the Workflow, so a run could start from the
    previous template, or fail for want of one."""
    in_folders = [o._replace(file=f"{step_dir(o.step)}/{o.file.split('-', 1)[1]}") for o in objects]
    waves = [FluxStep(wave, FLUX_TIMEOUT, False) for wave in sorted({o.step for o in objects})]
    return [
        *in_folders,
        *step_kustomizations(in_folders),
        *flux_kustomizations(pipeline.name, options, pipeline_labels, waves),
    ]


def _is_hook(planned: PlannedObject) -> bool:
    return SYNC_FAIL_HOOK in planned.values.get("annotations", {})


def _is_run(planned: PlannedObject) -> bool:
    """A batch stage's Job or CronJob of the DAG (not the run_on_failure hook)."""
    return planned.kind in ("Job", "CronJob") and not _is_hook(planned)


def _in_wave(planned: PlannedObject, wave: int) -> PlannedObject:
    """A planned object of the manifests moved to another sync wave (its annotation and its file's number)."""
    annotations = {**planned.values["annotations"], SYNC_WAVE: str(wave)}
    file = f"{wave:02d}-{planned.file.split('-', 1)[1]}"
    return planned._replace(step=wave, file=file, values={**planned.values, "annotations": annotations})


def _tasks(pipeline: Pipeline, jobs: dict[str, PlannedObject]) -> list[dict[str, str]]:
    """One dag task per stage of the DAG, depending on every stage of the step before."""
    tasks = []
    before: tuple[str, ...] = ()
    for step in pipeline.dag.steps:
        for stage in step:
            template = _run_name(stage) if stage in jobs else _roll_name(stage)
            depends = " && ".join(map(_task_name, before))
            tasks.append({"name": _task_name(stage), "template": template, "depends": depends})
        before = step
    return tasks


def _task_name(stage: str) -> str:
    """A stage's dag task: its name, or ``S<name>`` for one that starts with a digit or is a word of expr. Argo
    Workflows evaluates ``depends`` as an expression whose identifiers are the task names ('-' read as '_'), and an
    identifier cannot start with a digit nor be a keyword; a stage's name is lower-case, so the prefix never meets
    another stage's name."""
    return stage if stage[:1].isalpha() and stage not in EXPR_WORDS else f"S{stage}"


def _run_name(stage: str) -> str:
    return f"run-{stage}"


def _roll_name(stage: str) -> str:
    return f"roll-{stage}"


def _batch_template(stage: Stage, job: PlannedObject) -> dict[str, Any]:
    """The values of a batch stage's container template: the Job's pod values, retries and deadlines."""
    assert isinstance(stage, BatchStage)
    values = job.values
    retry: dict[str, Any] = {
        "limit": str(values["retries"]),
        "retryPolicy": "Always",
        # What no retry can change fails the stage at once, as the Job's podFailurePolicy does, from the stage's
        # container (its exit code) or an init container (the node's message).
        "expression": f'lastRetry.exitCode != "{EXIT_PERMANENT}"'
        f' && !(lastRetry.message contains "{PERMANENT_FAILURE}")',
        "backoff": {
            **BACKOFF,
            **({"maxDuration": f"{values['active_deadline_seconds']}s"} if values["active_deadline_seconds"] else {}),
        },
    }
    return {
        "name": _run_name(stage.name),
        "labels": values["labels"],
        "pod_annotations": values["pod_annotations"],
        "retry": retry if values["retries"] else None,
        "active_deadline_seconds": try_deadline_seconds(stage),
        "pod": values["pod"],
    }


def _roll_template(stage: str, deployment: str, namespace: str) -> dict[str, Any]:
    """The values of a service stage's roll template: a merge patch of its Deployment's pod template annotation."""
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": deployment, "namespace": namespace},
        "spec": {"template": {"metadata": {"annotations": {ROLLED_BY: "{{workflow.name}}"}}}},
    }
    return {"name": _roll_name(stage), "manifest": json.dumps(patch, indent=2) + "\n", "tries": ROLL_TRIES}


def template_pods(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The pods of a WorkflowTemplate's container templates, each as the Pod Argo Workflows starts (less its own
    executor containers), so that the Kubernetes schemas and the pod security checks read them as any pod. A
    template's ``podSpecPatch`` (ours: JSON, top-level scalar fields) is merged in, as Argo Workflows patches it."""
    if obj.get("kind") != "WorkflowTemplate":
        return []
    pod_fields = (
        *("serviceAccountName", "automountServiceAccountToken", "securityContext", "nodeSelector", "tolerations"),
        *("initContainers", "volumes"),
    )
    pull_secrets = {"imagePullSecrets": obj["spec"]["imagePullSecrets"]} if "imagePullSecrets" in obj["spec"] else {}
    return [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{obj['metadata']['name']}-{template['name']}",
                "namespace": obj["metadata"]["namespace"],
                **template.get("metadata", {}),
            },
            "spec": {
                **{field: template[field] for field in pod_fields if field in template},
                **pull_secrets,
                "containers": [template["container"]],
                "restartPolicy": "Never",
                **json.loads(template.get("podSpecPatch", "{}")),
            },
        }
        for template in obj["spec"]["templates"]
        if "container" in template
    ]


def kubernetes_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the Kubernetes schemas and pod security checks read of rendered objects: Argo Workflows' own objects
    give way to the pods of their templates (tests check them against Argo Workflows' JSON Schema)."""
    return [
        pod for obj in objects for pod in ([obj] if obj.get("apiVersion") != ARGO_API_VERSION else template_pods(obj))
    ]


def argo_readme_lines(pipeline: Pipeline, plan: Plan, namespace: str) -> list[str]:
    """The output README's paragraph on Argo Workflows: what the cluster needs, how runs start, how to re-run."""
    run = next((o for o in plan.objects if o.kind in ("Workflow", "CronWorkflow")), None)
    template = next(o.name for o in plan.objects if o.kind == "WorkflowTemplate")
    lines = [
        "",
        f"Argo Workflows: WorkflowTemplate `{template}` runs the DAG (a task per stage: a batch stage's pod, or a"
        " roll of a service stage's Deployment after the stages upstream of it). The cluster needs Argo Workflows v4"
        f" with its controller watching namespace `{namespace}` (a cluster-wide install, or a namespace install in"
        " it), the executor's containers set to a restricted securityContext in the controller's ConfigMap"
        " (`executor.securityContext`: runAsNonRoot, allowPrivilegeEscalation false, capabilities drop ALL,"
        " seccompProfile RuntimeDefault), as the namespace enforces the restricted Pod Security Standard.",
    ]
    if run is not None and run.kind == "Workflow":
        lines += [
            "",
            f"Workflow `{run.name}` runs it once: its name is a digest of what the batch stages run, so a change"
            " starts one new run and an unchanged render none. Re-run from the failed step:"
            f" `argo retry -n {namespace} {run.name}`; follow one: `argo logs -n {namespace} {run.name}`.",
        ]
    elif run is not None and pipeline.schedule is not None:
        lines += [
            "",
            f"Schedule `{pipeline.schedule.cron}` ({pipeline.schedule.time_zone}): CronWorkflow `{run.name}` runs it;"
            f" a commit changes its next run and starts none. Start one now: `argo submit -n {namespace}"
            f" --from cronwf/{run.name}`; past runs: `argo list -n {namespace}`; re-run one from its failed step:"
            f" `argo retry -n {namespace} <workflow>`.",
        ]
    return lines
