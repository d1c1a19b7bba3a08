"""Plan: the Kubernetes objects a pipeline becomes, each with its template, values and DAG step.

Pure: a Pipeline and RenderOptions in, a Plan out. Every object of a stage carries the
Argo CD sync wave of its DAG step; stages of one step share a wave (they run in parallel).
"""

from __future__ import annotations

import json
import math
import posixpath
from typing import Any, NamedTuple

from bodywork_render.gitops.pins import Pins, commit_pins
from bodywork_render.gitops.source import Source
from bodywork_render.package_data import RUNNER_FILE, runner_files
from bodywork_render.render import labels, network, routes, serving
from bodywork_render.render.options import ARGO_WORKFLOWS, RenderOptions
from bodywork_render.render.scheduled import cron_job_name, cron_job_stage, cron_job_values, schedule_warnings
from bodywork_render.render.scheduled_run import run_input
from bodywork_render.spec import names
from bodywork_render.spec.images import pull_policy
from bodywork_render.spec.model import BatchStage, IngressSettings, Pipeline, ServiceStage, Stage

WORKSPACE = "/workspace"
RUNNER_MOUNT = "/opt/bodywork"
SHARED_MOUNT = "/bodywork/shared"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
SYNC_FAIL_HOOK = "argocd.argoproj.io/hook"
SOURCE_COMMIT = "bodywork-render/source-commit"
# A digest of what a stage runs and of the stages upstream of it: a re-run upstream rolls the stage (gitops/pins.py).
INPUTS = "bodywork-render/inputs"
STARTUP_PERIOD_SECONDS = 5
# A Job's deadline gives each try this long for scheduling, image pulls, the fetch and the install, besides the
# module's own max_completion_time_seconds.
SETUP_SECONDS_PER_TRY = 600
# Without memory_limit_mb the limit is twice the request, at least this: imports and peaks that a request sized
# by bodywork's rules (often 100 MB) does not cover.
MIN_DEFAULT_MEMORY_LIMIT_MB = 512
# pip's peak while installing large wheels (scikit-learn alone peaked at 110-135 MB; torch far more).
INSTALL_MEMORY_LIMIT_MB = 2000
# The workspace holds the checkout and the installed requirements (the example's: about 275 MB).
WORKSPACE_STORAGE_REQUEST = "1Gi"
# What keeps an object that holds data when it leaves the render or the application is deleted.
KEEP_ANNOTATIONS = {
    "argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
    "kustomize.toolkit.fluxcd.io/prune": "disabled",
}
# The runner's exit code for a failure no retry can change (runner/bodywork_runner.py EXIT_PERMANENT).
EXIT_PERMANENT = 78


class PlannedObject(NamedTuple):
    """One object to render: ``template`` filled with ``values`` gives a single Kubernetes object."""

    template: str
    kind: str
    name: str
    step: int
    file: str
    values: dict[str, Any]


class Plan(NamedTuple):
    """The objects of a render, in output order, and what the user must hear about."""

    objects: tuple[PlannedObject, ...]
    warnings: tuple[str, ...]


def plan_pipeline(
    pipeline: Pipeline, source: Source, options: RenderOptions, job_template_digest: str, pins: Pins | None = None
) -> Plan:
    """The objects of a pipeline; ``job_template_digest`` joins the Job name hash (a template change is a new Job).

    ``pins`` (gitops/pins.py) give each stage the commit its pods fetch and the identity of its inputs; without
    them every stage is pinned to ``source.commit``.
    """
    namespace = names.normalise(options.namespace) if options.namespace else pipeline.namespace
    # Named by a digest of the runner's files: computed once, every pod mounts it.
    runner_map_name = runner_config_map_name(pipeline.name)
    ctx = _Context(
        pipeline, source, options, namespace, job_template_digest, pins or commit_pins(source), runner_map_name
    )
    objects: list[PlannedObject] = []
    warnings: list[str] = schedule_warnings(pipeline, options)
    if options.namespace_object:
        objects.append(ctx.namespace_object())
    objects.append(ctx.service_account())
    objects.append(ctx.runner_config_map())
    if pipeline.network_policy.enabled:
        objects.append(ctx.pipeline_network_policy())
    upstream = ""
    for step_number, step in enumerate(pipeline.dag.steps, start=1):
        planned = [ctx.stage_objects(pipeline.stages[stage_name], step_number, upstream) for stage_name in step]
        for stage_objects in planned:
            objects.extend(stage_objects)
        # What the next step's stages depend on: every object of this step, upstream included.
        upstream = names.digest(*(json.dumps(o.values, sort_keys=True) for group in planned for o in group))
    if pipeline.run_on_failure:
        stage = pipeline.stages[pipeline.run_on_failure]
        # Argo Workflows runs it as the workflow's exit handler (render/argo_workflows.py), whichever the engine.
        if (options.engine == "argocd" or options.format == ARGO_WORKFLOWS) and isinstance(stage, BatchStage):
            objects.append(ctx.job(stage, len(pipeline.dag.steps) + 1, upstream, hook=True))
        else:
            warnings.append(
                f"run_on_failure stage {stage.source_name!r} is left out: only Argo CD can run a Job when a sync fails "
                f"(a hook Job applied by {'Flux' if options.engine == 'flux' else 'kubectl'} would start at once); "
                "render with --engine argocd to include it"
            )
    routed = any(isinstance(s, ServiceStage) and s.ingress for s in pipeline.stages.values())
    if pipeline.gateway is not None and pipeline.ingress != IngressSettings() and routed:
        warnings.append(
            "pipeline.ingress (annotations, tls, nginx_rewrite) is not used: pipeline.gateway routes the service "
            "stages with HTTPRoutes instead of Ingresses (TLS is the Gateway listener's)"
        )
    tls_warning = routes.hostless_tls(pipeline.ingress, options.ingress_host)
    if pipeline.gateway is None and routed and tls_warning:
        warnings.append(tls_warning)
    objects = ctx.with_shared_claim(objects)
    if options.format == "kustomize":
        objects.extend(step_kustomizations(objects))
        if options.engine == "flux":
            objects.extend(ctx.flux_kustomizations(objects))
    return Plan(tuple(objects), tuple(warnings))


POD_CONDITIONS_OPTIONAL_K8S = (1, 29)
"""The first Kubernetes release whose podFailurePolicy rules may leave out onPodConditions."""


def install_arguments(stage: Stage, commit: str, workspace: str, module: str) -> list[str]:
    """The runner's ``install`` arguments for a stage (its init container), a contract with runner/bodywork_runner.py.

    ``module`` is the stage's module path inside the repository.
    """
    # No commit for a tracked render: the runner reads the one its fetch step checked out.
    arguments = ["--workspace", workspace, "--stage", stage.source_name, "--module", module]
    arguments += ["--commit", commit] if commit else []
    for requirement in stage.requirements:
        arguments += ["--requirement", requirement]
    return arguments


def run_arguments(stage: Stage, commit: str, workspace: str, module: str) -> list[str]:
    """The runner's ``run`` arguments for a stage: the contract between the pods and runner/bodywork_runner.py.

    ``module`` is the stage's module path inside the repository; each try of a batch stage is
    stopped at its max_completion_time_seconds.
    """
    # No commit for a tracked render: the runner reads the one its fetch step checked out.
    arguments = ["--workspace", workspace, "--stage", stage.source_name, "--module", module]
    arguments += ["--commit", commit] if commit else []
    if isinstance(stage, BatchStage) and stage.max_completion_time_seconds:
        arguments += ["--timeout", str(stage.max_completion_time_seconds)]
    return [*arguments, "--", *stage.args]


def try_deadline_seconds(stage: BatchStage) -> int:
    """How long one try of a batch stage may take (0: no limit): its module time plus the setup allowance."""
    if not stage.max_completion_time_seconds:
        return 0
    return stage.max_completion_time_seconds + SETUP_SECONDS_PER_TRY


def job_deadline_seconds(stage: BatchStage) -> int:
    """The Job's activeDeadlineSeconds (0: none): every try's module time plus its setup allowance."""
    return (stage.retries + 1) * try_deadline_seconds(stage)


def memory_limit_mb(stage: Stage) -> int:
    """The stage container's memory limit: memory_limit_mb, else twice the request and at least 512 MB."""
    return stage.memory_limit_mb or max(2 * stage.memory_request_mb, MIN_DEFAULT_MEMORY_LIMIT_MB)


def runner_digest() -> str:
    """A digest of the runner's files: it names the runner ConfigMap, so a new runner rolls the pods."""
    return names.digest(*(f"{k}={v}" for k, v in sorted(runner_files().items())))


def runner_config_map_name(pipeline: str) -> str:
    """The runner ConfigMap's name: ``<pipeline>-runner-<digest of the runner's files>``."""
    return names.of_stage(pipeline, "runner", f"-{runner_digest()}")


def created_claim_name(pipeline: str) -> str:
    """The name of the PersistentVolumeClaim a render creates for the pipeline's shared storage."""
    return names.fit(f"{pipeline}-shared", limit=names.SUBDOMAIN_MAX)


def shared_claim_name(pipeline: Pipeline) -> str | None:
    """The PersistentVolumeClaim the stages with shared storage mount (None when the pipeline has none)."""
    storage = pipeline.shared_storage
    if storage is None:
        return None
    return storage.claim_name or created_claim_name(pipeline.name)


def cpu_quantity(cores: float) -> str:
    """Kubernetes CPU quantity in millicores, e.g. 0.25 -> '250m'."""
    return f"{max(1, round(cores * 1000))}m"


def memory_quantity(megabytes: int) -> str:
    """Kubernetes memory quantity in decimal megabytes, as bodywork did: 100 -> '100M'."""
    return f"{megabytes}M"


class _Context(NamedTuple):
    pipeline: Pipeline
    source: Source
    options: RenderOptions
    namespace: str
    job_template_digest: str
    pins: Pins
    runner_map_name: str

    @property
    def version(self) -> str:
        """The app.kubernetes.io/version of the pipeline's own objects."""
        return self._version()

    def _identity(self, stage: Stage, upstream: str) -> dict[str, str]:
        """The pod annotations that pin a stage: the commit its pods fetch (none for a tracked render), and its
        inputs with its upstream's."""
        pin = self.pins.of(stage.name)
        fetched = {SOURCE_COMMIT: pin.commit} if pin.commit else {}
        run = self.options.scheduled_run
        # A scheduled run is one more input of each batch stage (render/scheduled_run.py); none: the same bytes as ever.
        identity = [pin.inputs, upstream, *([run_input(run)] if run and isinstance(stage, BatchStage) else [])]
        return {**fetched, INPUTS: names.digest(*identity)}

    def _version(self, stage: str | None = None) -> str:
        """The app.kubernetes.io/version of a stage's objects (or the pipeline's own): its pin's short commit, or
        for a tracked render the digest of its inputs."""
        pin = self.pins.of(stage) if stage else self.pins.pipeline
        return pin.commit[:7] or pin.inputs

    def _file(self, step: int, stem: str) -> str:
        if self.options.format == "kustomize":
            return f"{step_dir(step)}/{stem}.yaml"
        return f"{step:02d}-{stem}.yaml"

    @property
    def _pod_conditions_required(self) -> bool:
        """Whether the Kubernetes release's Job API requires onPodConditions in every podFailurePolicy rule (before
        1.29, where it became optional)."""
        from bodywork_render.verify.kubernetes import major_minor

        try:
            return major_minor(self.options.k8s_version) < POD_CONDITIONS_OPTIONAL_K8S
        except ValueError:
            return False  # option_problems reports it

    def _meta(self, step: int) -> dict[str, Any]:
        return {"namespace": self.namespace, "annotations": {SYNC_WAVE: str(step)}}

    def namespace_object(self) -> PlannedObject:
        values = {
            "name": self.namespace,
            "labels": {
                **labels.pipeline_labels(self.pipeline.name, self.version),
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
            "annotations": {SYNC_WAVE: "-1"},
        }
        return PlannedObject("namespace.yaml.j2", "Namespace", self.namespace, 0, self._file(0, "namespace"), values)

    def service_account(self) -> PlannedObject:
        name = self.pipeline.name
        values = {"name": name, "labels": labels.pipeline_labels(self.pipeline.name, self.version), **self._meta(0)}
        return PlannedObject(
            "serviceaccount.yaml.j2", "ServiceAccount", name, 0, self._file(0, "serviceaccount"), values
        )

    def runner_config_map(self) -> PlannedObject:
        name = self.runner_map_name
        values = {
            "name": name,
            "labels": labels.pipeline_labels(self.pipeline.name, self.version),
            "files": runner_files(),
            **self._meta(0),
        }
        return PlannedObject(
            "configmap-runner.yaml.j2", "ConfigMap", name, 0, self._file(0, "runner-configmap"), values
        )

    def pipeline_network_policy(self) -> PlannedObject:
        """The NetworkPolicy of every pod of the pipeline: no incoming connection; outgoing ones as egress says."""
        name = self.pipeline.name
        values = {
            "name": name,
            "labels": labels.pipeline_labels(self.pipeline.name, self.version),
            "pod_selector": labels.pipeline_selector(self.pipeline.name),
            "ingress": [],
            "egress": network.egress_rules(self.pipeline.network_policy),
            **self._meta(0),
        }
        return PlannedObject("networkpolicy.yaml.j2", "NetworkPolicy", name, 0, self._file(0, "networkpolicy"), values)

    def with_shared_claim(self, objects: list[PlannedObject]) -> list[PlannedObject]:
        """``objects`` with the claim the render creates placed before its first user, in that user's step: a claim
        whose storage class binds on first use stays Pending until a pod mounts it, and Argo CD and Flux would wait
        for it forever before a later step."""
        storage = self.pipeline.shared_storage
        # A SyncFail hook runs only when an earlier wave failed: the claim must come with a stage of the DAG.
        users = [
            i
            for i, o in enumerate(objects)
            if o.values.get("pod", {}).get("shared_claim") and SYNC_FAIL_HOOK not in o.values.get("annotations", {})
        ]
        if storage is None or storage.claim_name is not None or not users:
            return objects
        first = users[0]
        name = shared_claim_name(self.pipeline) or ""
        step = objects[first].step
        values = {
            "name": name,
            "labels": labels.pipeline_labels(self.pipeline.name, self.version),
            "size": storage.size,
            "storage_class": storage.storage_class,
            "access_mode": storage.access_mode,
            **self._meta(step),
        }
        # The data outlives the pipeline: neither pruned nor deleted with the application.
        values["annotations"] = {**values["annotations"], **KEEP_ANNOTATIONS}
        claim = PlannedObject(
            "persistentvolumeclaim.yaml.j2", "PersistentVolumeClaim", name, step, self._file(step, "shared-pvc"), values
        )
        return [*objects[:first], claim, *objects[first:]]

    def stage_objects(self, stage: Stage, step: int, upstream: str) -> list[PlannedObject]:
        """The objects of a stage; ``upstream`` is the digest of the objects of the steps before its own."""
        if isinstance(stage, BatchStage):
            scheduled = cron_job_stage(self.pipeline) == stage
            return [self.cron_job(stage, step, upstream) if scheduled else self.job(stage, step, upstream)]
        return self.service_objects(stage, step, upstream)

    def cron_job(self, stage: BatchStage, step: int, upstream: str) -> PlannedObject:
        """A scheduled batch stage (render/scheduled.py): its Job's values in a jobTemplate, with the schedule.

        Named like a Deployment, without the Job's hash: a CronJob is updated in place, and its pod template's pins
        change the next run.
        """
        assert self.pipeline.schedule is not None
        name = cron_job_name(self.pipeline, stage)
        values = {**self.job(stage, step, upstream).values, "name": name}
        values["schedule"] = cron_job_values(self.pipeline.schedule)
        return PlannedObject(
            "cronjob.yaml.j2", "CronJob", name, step, self._file(step, f"{stage.name}-cronjob"), values
        )

    def job(self, stage: BatchStage, step: int, upstream: str, hook: bool = False) -> PlannedObject:
        version = self._version(stage.name)
        run = self.options.scheduled_run
        values = {
            **self._meta(step),
            "labels": {
                **labels.stage_labels(self.pipeline.name, stage.name, "batch", version),
                **(labels.run_labels(run) if run else {}),
            },
            "retries": stage.retries,
            "active_deadline_seconds": job_deadline_seconds(stage),
            "permanent_exit_code": EXIT_PERMANENT,
            # Only where needed: the key joins the Job name's digest.
            **({"pod_conditions_required": True} if self._pod_conditions_required else {}),
            "pod_annotations": self._identity(stage, upstream),
            "pod": self._pod(stage, restart_policy="Never"),
        }
        if hook:
            values["annotations"] = {
                SYNC_FAIL_HOOK: "SyncFail",
                "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
            }
        spec_digest = names.digest(self.job_template_digest, json.dumps(values, sort_keys=True))
        name = names.job_name(self.pipeline.name, stage.name, spec_digest)
        # The chart names its Job after the release with the same digest.
        values.update(name=name, spec_digest=spec_digest)
        stem = f"{stage.name}-on-failure-job" if hook else f"{stage.name}-job"
        return PlannedObject("job.yaml.j2", "Job", name, step, self._file(step, stem), values)

    def service_objects(self, stage: ServiceStage, step: int, upstream: str) -> list[PlannedObject]:
        name = names.of_stage(self.pipeline.name, stage.name)
        version = self._version(stage.name)
        stage_labels = labels.stage_labels(self.pipeline.name, stage.name, "service", version)
        selector = labels.selector_labels(self.pipeline.name, stage.name)
        startup_failures = max(1, math.ceil(stage.max_startup_time_seconds / STARTUP_PERIOD_SECONDS))
        deployment = {
            **self._meta(step),
            "name": name,
            "labels": stage_labels,
            "selector": selector,
            # An autoscaled Deployment leaves its replicas to the HorizontalPodAutoscaler: a count applied by Argo CD,
            # Flux or Helm would undo the autoscaler's on every sync.
            "replicas": None if stage.autoscaling else stage.replicas,
            "progress_deadline_seconds": max(600, stage.max_startup_time_seconds + 300),
            "pod_annotations": self._identity(stage, upstream),
            "pod": {
                **self._pod(stage, restart_policy=None),
                "route_prefix": self.ingress_path(stage) if stage.ingress and not self._strips_prefix() else None,
                "port": stage.port,
                "startup_period": STARTUP_PERIOD_SECONDS,
                "startup_failures": startup_failures,
            },
        }
        service = {
            **self._meta(step),
            "name": name,
            "labels": stage_labels,
            "selector": selector,
            "port": stage.port,
        }
        objects = [
            PlannedObject(
                "deployment.yaml.j2",
                "Deployment",
                name,
                step,
                self._file(step, f"{stage.name}-deployment"),
                deployment,
            ),
            PlannedObject("service.yaml.j2", "Service", name, step, self._file(step, f"{stage.name}-service"), service),
        ]
        if stage.ingress:
            objects.append(self._route(stage, name, step, stage_labels))
        if self.pipeline.network_policy.enabled:
            policy = {
                **self._meta(step),
                "name": name,
                "labels": stage_labels,
                "pod_selector": selector,
                "ingress": network.service_ingress(self.pipeline.network_policy, stage.port, stage.ingress),
                "egress": None,
            }
            objects.append(
                PlannedObject(
                    "networkpolicy.yaml.j2",
                    "NetworkPolicy",
                    name,
                    step,
                    self._file(step, f"{stage.name}-networkpolicy"),
                    policy,
                )
            )
        return objects + self.scaling_objects(stage, step, name, stage_labels, selector)

    def scaling_objects(
        self, stage: ServiceStage, step: int, name: str, stage_labels: dict[str, str], selector: dict[str, str]
    ) -> list[PlannedObject]:
        """A service's HorizontalPodAutoscaler when it autoscales, and its PodDisruptionBudget when it can run two
        or more pods; both named as its Deployment."""
        objects = []
        meta = {**self._meta(step), "name": name, "labels": stage_labels}
        if stage.autoscaling:
            values = {**meta, **serving.autoscaler(stage)}
            objects.append(
                PlannedObject(
                    "horizontalpodautoscaler.yaml.j2",
                    "HorizontalPodAutoscaler",
                    name,
                    step,
                    self._file(step, f"{stage.name}-hpa"),
                    values,
                )
            )
        if serving.needs_disruption_budget(stage):
            values = {**meta, "selector": selector, **serving.disruption_budget(self.options.k8s_version)}
            objects.append(
                PlannedObject(
                    "poddisruptionbudget.yaml.j2",
                    "PodDisruptionBudget",
                    name,
                    step,
                    self._file(step, f"{stage.name}-pdb"),
                    values,
                )
            )
        return objects

    def _strips_prefix(self) -> bool:
        return routes.strips_prefix(self.pipeline.ingress, self.pipeline.gateway)

    def _route(self, stage: ServiceStage, name: str, step: int, stage_labels: dict[str, str]) -> PlannedObject:
        """A service stage's way in from outside: an HTTPRoute when the pipeline names a Gateway, else an Ingress."""
        meta = self._meta(step)
        common = {**meta, "name": name, "labels": stage_labels, "service": name, "port": stage.port}
        prefix, host = self.ingress_path(stage), self.options.ingress_host
        if self.pipeline.gateway is not None:
            values = {**common, **routes.http_route(self.pipeline.gateway, prefix, host)}
            return PlannedObject(
                "httproute.yaml.j2", "HTTPRoute", name, step, self._file(step, f"{stage.name}-httproute"), values
            )
        route = routes.ingress_route(self.pipeline.ingress, prefix, host)
        values = {
            **common,
            **route,
            "annotations": {**meta["annotations"], **route["annotations"]},
            "ingress_class": self.options.ingress_class,
            "ingress_host": host,
        }
        return PlannedObject(
            "ingress.yaml.j2", "Ingress", name, step, self._file(step, f"{stage.name}-ingress"), values
        )

    def ingress_path(self, stage: Stage) -> str:
        """The path prefix the Ingress routes to a service stage; the stage's pods get it as BODYWORK_ROUTE_PREFIX."""
        return f"/{self.pipeline.name}/{stage.name}"

    def _fetched(self, stage: Stage) -> list[str]:
        """What the fetch step checks out: the stage's pinned commit, or on the tracked branch the newest commit
        holding its inputs."""
        pin = self.pins.of(stage.name)
        if self.pins.branch is None:
            return ["--commit", pin.commit]
        return [
            "--branch",
            self.pins.branch,
            *(arg for path, oid in pin.matches for arg in ("--match", f"{path}={oid}")),
        ]

    def _pod(self, stage: Stage, restart_policy: str | None) -> dict[str, Any]:
        source = self.source
        commit = self.pins.of(stage.name).commit
        module = posixpath.join(source.project_path, stage.module) if source.project_path else stage.module
        limits = {"memory": memory_quantity(memory_limit_mb(stage))}
        if stage.cpu_limit:
            limits["cpu"] = cpu_quantity(stage.cpu_limit)
        requests = {
            "cpu": cpu_quantity(stage.cpu_request),
            "memory": memory_quantity(stage.memory_request_mb),
            "ephemeral-storage": WORKSPACE_STORAGE_REQUEST,
        }
        gpus = serving.gpu_quantities(stage)
        install_limit = max(memory_limit_mb(stage), INSTALL_MEMORY_LIMIT_MB)
        return {
            "service_account": self.pipeline.name,
            "restart_policy": restart_policy,
            "runner_image": self.options.runner_image,
            "runner_pull_policy": pull_policy(self.options.runner_image),
            "pull_policy": pull_policy(self.pipeline.docker_image),
            "runner_config_map": self.runner_map_name,
            "image": self.pipeline.docker_image,
            "fetch_args": ["--repo", source.repo_url, *self._fetched(stage), "--workspace", WORKSPACE],
            "install_args": install_arguments(stage, commit, WORKSPACE, module),
            "run_args": run_arguments(stage, commit, WORKSPACE, module),
            "log_level": self.pipeline.log_level,
            "secret_env": [
                {"env": s.env, "secret": names.secret_name(s.name, self.pipeline.secrets_group)} for s in stage.secrets
            ],
            "resources": {"requests": {**requests, **gpus}, "limits": {**limits, **gpus}},
            "install_resources": {"requests": requests, "limits": {"memory": memory_quantity(install_limit)}},
            "runner_command": ["python3", posixpath.join(RUNNER_MOUNT, RUNNER_FILE)],
            "mounts": [
                {"name": "workspace", "mountPath": WORKSPACE},
                {"name": "tmp", "mountPath": "/tmp"},
                {"name": "runner", "mountPath": RUNNER_MOUNT, "readOnly": True},
            ],
            "shared_claim": shared_claim_name(self.pipeline) if stage.shared_storage else None,
            "shared_mount": SHARED_MOUNT if stage.shared_storage else None,
            "port": None,
            "route_prefix": None,
            "git_secret": self.options.git_secret,
            **serving.pod_settings(self.pipeline, stage),
        }

    def flux_kustomizations(self, objects: list[PlannedObject]) -> list[PlannedObject]:
        """The kustomize layout's Flux Kustomizations: each step waits for its slowest stage, and forces a step with
        Jobs (a Job's pod template is immutable)."""
        steps = [
            FluxStep(step, f"{self._step_timeout(step)}s", any(o.kind == "Job" and o.step == step for o in objects))
            for step in sorted({o.step for o in objects})
        ]
        pipeline_labels = labels.pipeline_labels(self.pipeline.name, self.version)
        return flux_kustomizations(self.pipeline.name, self.options, pipeline_labels, steps)

    def _step_timeout(self, step: int) -> int:
        """How long Flux waits for a step: the slowest stage's budget plus time to pull and fetch."""
        budget = 300
        if 1 <= step <= len(self.pipeline.dag.steps):
            for stage in (self.pipeline.stages[n] for n in self.pipeline.dag.steps[step - 1]):
                if isinstance(stage, BatchStage):
                    runtime = stage.max_completion_time_seconds or 3600
                    budget = max(budget, runtime * (stage.retries + 1) + 300)
                else:
                    budget = max(budget, stage.max_startup_time_seconds + 300)
        return budget


class FluxStep(NamedTuple):
    """A step folder as Flux applies it: how long it waits for the step's objects, and whether it recreates what it
    cannot patch."""

    step: int
    timeout: str
    force: bool


def step_kustomizations(objects: list[PlannedObject]) -> list[PlannedObject]:
    """A kustomization.yaml per step folder of ``objects`` (files under ``steps/NN/``), and the root one that lists
    the steps in order."""
    steps = sorted({o.step for o in objects})
    planned = [
        PlannedObject(
            "kustomization.yaml.j2",
            "Kustomization",
            "",
            step,
            f"{step_dir(step)}/kustomization.yaml",
            {"resources": [o.file.rsplit("/", 1)[1] for o in objects if o.step == step]},
        )
        for step in steps
    ]
    root = PlannedObject(
        "kustomization.yaml.j2", "Kustomization", "", 0, "kustomization.yaml", {"resources": list(map(step_dir, steps))}
    )
    return [root, *planned]


def flux_kustomizations(
    pipeline: str, options: RenderOptions, pipeline_labels: dict[str, str], steps: list[FluxStep]
) -> list[PlannedObject]:
    """Flux Kustomizations in flux/, one per step folder, chained by dependsOn with wait: Flux applies a step once
    the one before it is applied and ready at the same revision."""
    planned = []
    previous = None
    base = flux_base_name(pipeline, options.deploy_path)
    for step in steps:
        name = names.fit(f"{base}-step-{step.step:02d}")
        values = {
            "name": name,
            "flux_namespace": options.flux_namespace,
            "labels": pipeline_labels,
            "timeout": step.timeout,
            "path": f"{options.deploy_path.rstrip('/')}/{step_dir(step.step)}",
            "force": step.force,
            "source_name": options.flux_source,
            "depends_on": previous,
        }
        planned.append(
            PlannedObject("flux-kustomization.yaml.j2", "Kustomization", name, step.step, f"flux/{name}.yaml", values)
        )
        previous = name
    return planned


def flux_base_name(pipeline: str, deploy_path: str) -> str:
    """What a render's Flux Kustomizations are named after: the folder Flux reads, so two environments of one
    pipeline never share a name (with the pipeline's name when the folder's lacks it)."""
    folder = names.of_folder(deploy_path) or ""
    return folder if pipeline in folder else f"{pipeline}-{folder}".rstrip("-")


def step_dir(step: int) -> str:
    """The folder of a DAG step in the kustomize layout."""
    return f"steps/{step:02d}"
