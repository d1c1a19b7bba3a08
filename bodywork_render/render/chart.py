"""Chart: a pipeline as a Helm chart (`bodywork render --format helm`), and its `.tgz` package.

The chart's files are Jinja templates under ``templates/chart/``, written with the delimiters
``[[ ]]``, ``[% %]`` and ``[# #]`` so that Helm's own ``{{ }}`` pass through untouched. Every
per-environment setting is a value (see ``chart_values``); with its default values the chart
renders the objects of ``--format manifests``, apart from Helm's labels and annotations (hooks, resource policy),
the Namespace (Helm installs into the release namespace) and the run_on_failure stage.

DAG order becomes Helm hooks: batch stages before the first service step are
``pre-install,pre-upgrade`` hooks, the others ``post-install,post-upgrade`` hooks, each weighted
by its DAG step. Where that is not the DAG's order, a warning says so. What the Jobs need before
they start (the ServiceAccount and the runner ConfigMap when a Job is a pre-install hook, the shared
PersistentVolumeClaim always) are pre-install hooks of weight 0. The runner's files ship in the chart
under ``files/``.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from bodywork_render import __version__
from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.pins import Pins, commit_pins
from bodywork_render.gitops.source import Source
from bodywork_render.package_data import resource_dir, runner_files
from bodywork_render.render import labels
from bodywork_render.render.chart_values import chart_values, value_rows, values_schema, values_yaml
from bodywork_render.render.manifests import (
    Provenance,
    Rendered,
    file_header,
    plan_for_render,
    prepare,
    render_plan,
)
from bodywork_render.render.metadata import HydratorMetadata
from bodywork_render.render.network import EVERY_ADDRESS, NAMESPACE_NAME_LABEL
from bodywork_render.render.options import DEFAULT_CHART_VERSION, RenderOptions, reproduce_command
from bodywork_render.render.plan import (
    EXIT_PERMANENT,
    KEEP_ANNOTATIONS,
    SETUP_SECONDS_PER_TRY,
    SHARED_MOUNT,
    STARTUP_PERIOD_SECONDS,
    WORKSPACE,
    PlannedObject,
    created_claim_name,
    runner_config_map_name,
    runner_digest,
)
from bodywork_render.render.routes import REWRITE_SUFFIX, REWRITE_TARGET, REWRITE_VALUE, ROOT_REWRITE_PATH
from bodywork_render.render.scheduled import CRON_JOB_NAME_MAX, schedule_warnings
from bodywork_render.render.scheduled_run import route_1_schedule
from bodywork_render.render.serving import MAX_UNAVAILABLE
from bodywork_render.render.templating import Templates, block, jinja_environment, render_template
from bodywork_render.render.write import MARKER
from bodywork_render.spec import names
from bodywork_render.spec.model import Pipeline, ServiceStage

PRE_HOOK = "pre-install,pre-upgrade"
POST_HOOK = "post-install,post-upgrade"
HOOK_POLICY_PART = "-hooks"
"""The part of the name of the pipeline NetworkPolicy's hook copy, <fullname>--hooks: never a stage's policy's, as a
stage's name starts with a letter or digit."""
# The chart's folder of the runner files, which its runner ConfigMap reads with .Files.Get.
RUNNER_FOLDER = "files"
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-((0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(\+([0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*))?$"
)

# The kinds a stage becomes.
_STAGE_KINDS = ("Job", "CronJob", "Deployment")
# Chart template -> file of the chart; the kind templates are written only when the pipeline has that kind.
_FILES = {
    "Chart.yaml.j2": "Chart.yaml",
    "helmignore.j2": ".helmignore",
    "README.md.j2": "README.md",
    "templates/_helpers.tpl.j2": "templates/_helpers.tpl",
    "templates/_pod.tpl.j2": "templates/_pod.tpl",
    "templates/serviceaccount.yaml.j2": "templates/serviceaccount.yaml",
    "templates/configmap-runner.yaml.j2": "templates/configmap-runner.yaml",
    "templates/persistentvolumeclaim.yaml.j2": "templates/persistentvolumeclaim.yaml",
    "templates/networkpolicy.yaml.j2": "templates/networkpolicy.yaml",
    "templates/NOTES.txt.j2": "templates/NOTES.txt",
}
_KIND_FILES = {
    "Job": ("templates/job.yaml.j2",),
    "CronJob": ("templates/cronjob.yaml.j2",),
    "Deployment": (
        "templates/deployment.yaml.j2",
        "templates/service.yaml.j2",
        "templates/ingress.yaml.j2",
        "templates/horizontalpodautoscaler.yaml.j2",
        "templates/poddisruptionbudget.yaml.j2",
        "templates/httproute.yaml.j2",
    ),
}


class ChartTemplates:
    """The Jinja environment of chart files: shipped templates/chart/, overridden file by file by <override>/chart/."""

    def __init__(self, override: Path | None = None) -> None:
        folders = [override / "chart"] if override is not None else []
        self.env = jinja_environment(
            [*folders, resource_dir("templates") / "chart"],
            trim_blocks=True,
            lstrip_blocks=True,
            variable_start_string="[[",
            variable_end_string="]]",
            block_start_string="[%",
            block_end_string="%]",
            comment_start_string="[#",
            comment_end_string="#]",
        )
        self.env.filters["code"] = code_span
        self.env.filters["block"] = block

    def render(self, name: str, context: dict[str, Any]) -> str:
        """One chart file."""
        return render_template(self.env, name, context, "chart template")


def code_span(text: str) -> str:
    """Text as a Markdown code span inside a table cell: fenced by more backticks than it holds, '|' escaped."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    escaped = text.replace("|", "\\|")
    return f"{fence}{pad}{escaped}{pad}{fence}"


def render_chart(
    path: Path,
    options: RenderOptions,
    *,
    chart_version: str = DEFAULT_CHART_VERSION,
    env: str | None = None,
    repo_url: str | None = None,
    ref: str | None = None,
    templates: Path | None = None,
) -> Rendered:
    """The whole chain for a project folder or file, ending in a chart whose defaults are those of environment ``env``
    (its overlay applied); warnings of the project come first."""
    prepared = prepare(path, options, env=env, repo_url=repo_url, ref=ref)
    rendered = chart_files(
        prepared.project.pipeline, prepared.source, prepared.options, chart_version, templates, env, prepared.pins
    )
    return Rendered(rendered.files, rendered.objects, prepared.warnings + rendered.warnings)


def chart_files(
    pipeline: Pipeline,
    source: Source,
    options: RenderOptions,
    chart_version: str = DEFAULT_CHART_VERSION,
    templates: Path | None = None,
    env: str | None = None,
    pins: Pins | None = None,
) -> Rendered:
    """The chart of a pipeline; ``objects`` are those it renders with default values, verified as --format manifests
    verifies them (all but the hook copy of the pipeline's NetworkPolicy, which copies a verified one).
    ``pins`` are the stages' (gitops/pins.py; default: all at the source commit).

    ``env`` names the environment whose overlay made ``pipeline``, for the README's reproducing command.

    The objects are rendered and verified through the manifests templates first, so a chart is
    only written when its default objects are valid Kubernetes objects.
    """
    if not SEMVER.match(chart_version):
        raise BodyworkError(
            f"--chart-version {chart_version!r} is not a semantic version (e.g. {DEFAULT_CHART_VERSION} or 1.2.0-rc.1)"
        )
    # The plan's warnings are those of --format manifests --engine argocd; the schedule's are the chart's own.
    schedule_notes = schedule_warnings(pipeline, options)
    options = options._replace(format="manifests", engine="argocd")
    manifest_templates = Templates(templates)
    plan_pins = pins or commit_pins(source)
    plan = plan_for_render(pipeline, source, options, manifest_templates, plan_pins)
    # Helm installs into the release namespace, and the run_on_failure Job (planned after the last step) has no Helm
    # form.
    left_out = {(o.kind, o.name) for o in plan.objects if o.kind == "Namespace" or o.step > len(pipeline.dag.steps)}
    planned = [o for o in plan.objects if (o.kind, o.name) not in left_out]
    manifests = render_plan(pipeline, plan, source, options, manifest_templates)
    objects = tuple(o for o in manifests.objects if (o["kind"], o["metadata"]["name"]) not in left_out)

    hooks, warnings = helm_order(pipeline)
    warnings += schedule_notes
    if pipeline.run_on_failure:
        warnings.append(
            f"run_on_failure stage {pipeline.stages[pipeline.run_on_failure].source_name!r} is left out: "
            "Helm cannot run a Job only when a release fails (a hook runs on every install or upgrade)"
        )
    if options.namespace:
        warnings.append(
            "--namespace is not used by --format helm: "
            "the chart installs into the release namespace (helm install --namespace)"
        )
    context = _context(pipeline, source, options, chart_version, Provenance(env, templates), planned, hooks, warnings)
    pods = {_stage_of(o): o.values["pod"] for o in planned if o.kind in _STAGE_KINDS}
    # The pod security contexts, the runner's resources and its volume's mode are written once, in _pod.yaml.j2: the
    # chart's defaults are read from a rendered pod, so that the chart's defaults render what --format manifests
    # renders.
    pod_spec = next(_pod_template(o)["spec"] for o in objects if o["kind"] in _STAGE_KINDS)
    stage_pins = {_stage_of(o): o.values["pod_annotations"] for o in planned if o.kind in _STAGE_KINDS}
    schedules = {_stage_of(o): o.values["schedule"] for o in planned if o.kind == "CronJob"}
    values = chart_values(pipeline, source, options, pods, pod_spec, stage_pins, plan_pins.pipeline.commit, schedules)
    context["rows"] = value_rows(values)
    context["runner_mode"] = next(v["configMap"]["defaultMode"] for v in pod_spec["volumes"] if v["name"] == "runner")
    pod = next(iter(pods.values()))
    context["runner_command"] = pod["runner_command"]
    context["mounts"] = pod["mounts"]

    chart_templates = ChartTemplates(templates)
    names = dict(_FILES)
    for kind, kind_templates in _KIND_FILES.items():
        if any(o.kind == kind for o in planned):
            names.update({t: t.removesuffix(".j2") for t in kind_templates})
    files = {output: chart_templates.render(template, context) for template, output in names.items()}
    files["values.yaml"] = values_yaml(values, context["header"])
    files["values.schema.json"] = values_schema(values)
    files.update({f"{RUNNER_FOLDER}/{name}": text for name, text in runner_files().items()})
    files[MARKER] = HydratorMetadata(
        source,
        "helm",
        options.k8s_version,
        chart_version=chart_version,
        env=env,
        schedule=route_1_schedule(pipeline, options.format),
        scheduled_run=options.scheduled_run,
    ).text()
    return Rendered(dict(sorted(files.items())), objects, tuple(f"warning: {w}" for w in warnings))


def helm_order(pipeline: Pipeline) -> tuple[dict[str, str], list[str]]:
    """The hook of every batch stage (stage name -> PRE_HOOK or POST_HOOK), and where that is not the DAG's order."""
    steps = pipeline.dag.steps
    service_steps = [
        n for n, step in enumerate(steps, start=1) if any(isinstance(pipeline.stages[s], ServiceStage) for s in step)
    ]
    first = service_steps[0] if service_steps else len(steps) + 1
    last = service_steps[-1] if service_steps else len(steps) + 1
    hooks: dict[str, str] = {}
    warnings: list[str] = []
    for number, step in enumerate(steps, start=1):
        for name in step:
            stage = pipeline.stages[name]
            if isinstance(stage, ServiceStage):
                continue
            hooks[name] = PRE_HOOK if number < first else POST_HOOK
            if first <= number < last:
                warnings.append(
                    f"batch stage {stage.source_name!r} (step {number}) runs after the service stages of step(s) "
                    f"{step_ranges([n for n in service_steps if n > number])} instead of before them: Helm starts "
                    f"every service before any post-install hook; it runs as a {POST_HOOK} hook with weight {number}, "
                    "still after every stage it depends on"
                )
    if len(service_steps) > 1:
        warnings.append(
            f"the service stages of steps {step_ranges(service_steps)} start together, not step after step: "
            "Helm applies every object "
            "that is not a hook at once (Argo CD, when it renders the chart, still orders them by sync wave)"
        )
    return hooks, warnings


def step_ranges(numbers: list[int]) -> str:
    """Ascending step numbers, runs shortened: [1, 2, 3, 5] -> '1-3, 5'."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)


def package_chart(files: dict[str, str], destination: Path) -> Path:
    """Write ``<name>-<version>.tgz`` into destination, as `helm package` would, atomically; returns its path.

    BodyworkError (naming --package) when it cannot be written.
    """
    import yaml

    chart = yaml.safe_load(files["Chart.yaml"])
    archive = archive_bytes(files, chart["name"])
    target = destination / f"{chart['name']}-{chart['version']}.tgz"
    try:
        destination.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=destination)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(archive)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError as exc:
        raise BodyworkError(f"--package {destination}: cannot write {target.name}: {exc.strerror or exc}") from None
    return target


def archive_bytes(files: dict[str, str], name: str) -> bytes:
    """The chart archive: entries ``<name>/<path>`` in Helm's order (Chart.yaml, values, templates, other files),
    deterministic (fixed mtime, owner 0, mode 0644), without the files .helmignore names."""
    first = ["Chart.yaml", "values.yaml", "values.schema.json"]
    paths = [p for p in first if p in files]
    paths += sorted(p for p in files if p.startswith("templates/"))
    paths += sorted(p for p in files if p not in paths and p != MARKER)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in paths:
                data = files[path].encode("utf-8")
                info = tarfile.TarInfo(f"{name}/{path}")
                info.size = len(data)
                info.mode = 0o644
                info.mtime = 0
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _pod_template(obj: dict[str, Any]) -> dict[str, Any]:
    """The pod template of a rendered Job, CronJob or Deployment."""
    spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    return dict(spec["template"])


def _stage_of(planned: PlannedObject) -> str:
    return str(planned.values["labels"][labels.STAGE_LABEL])


def _context(
    pipeline: Pipeline,
    source: Source,
    options: RenderOptions,
    chart_version: str,
    provenance: Provenance,
    planned: list[PlannedObject],
    hooks: dict[str, str],
    warnings: list[str],
) -> dict[str, Any]:
    jobs = [
        {
            "stage": _stage_of(o),
            "source": pipeline.stages[_stage_of(o)].source_name,
            "digest": o.values["spec_digest"],
            "step": o.step,
            "hook": hooks[_stage_of(o)],
        }
        for o in planned
        if o.kind == "Job"
    ]
    cron_jobs = [
        {"stage": _stage_of(o), "source": pipeline.stages[_stage_of(o)].source_name, "name": o.name, "step": o.step}
        for o in planned
        if o.kind == "CronJob"
    ]
    services = [
        {"stage": _stage_of(o), "source": pipeline.stages[_stage_of(o)].source_name, "step": o.step}
        for o in planned
        if o.kind == "Deployment"
    ]
    order = [
        {
            "step": o.step,
            "stage": _stage_of(o),
            "kind": o.kind,
            "runs_as": f"`{hooks[_stage_of(o)]}` hook, weight {o.step}"
            if o.kind == "Job"
            else "applied with the release, runs on its schedule"
            if o.kind == "CronJob"
            else "applied with the release",
        }
        for o in planned
        if o.kind in _STAGE_KINDS
    ]
    extra = ["--format helm", *([f"--chart-version {chart_version}"] if chart_version != DEFAULT_CHART_VERSION else [])]
    extra += provenance.extra_flags()
    namespace = names.normalise(options.namespace) if options.namespace else pipeline.namespace
    return {
        "chart": pipeline.name,
        "description": f"The bodywork ML pipeline {pipeline.name!r}, rendered by bodywork-render.",
        "version": chart_version,
        "default_version": DEFAULT_CHART_VERSION,
        "app_version": source.short_commit,
        "header": file_header(source),
        "go_header": "{{- /* Rendered by bodywork-render; do not edit: render again. */ -}}",
        "tool_version": __version__,
        "source": source,
        "command": reproduce_command(source, options, provenance.env, *extra),
        "namespace": namespace,
        "jobs": jobs,
        "cron_jobs": cron_jobs,
        "cron_job_name_max": CRON_JOB_NAME_MAX,
        "services": services,
        "pre_jobs": any(job["hook"] == PRE_HOOK for job in jobs),
        "pre_hook": PRE_HOOK,
        "stage_steps": [(_stage_of(o), o.step) for o in planned if o.kind in _STAGE_KINDS],
        # The names of a release named after the pipeline (for its README); the templates name the objects after
        # the release (_helpers.tpl, objectName).
        "runner_config_map": runner_config_map_name(pipeline.name),
        "runner_digest": runner_digest(),
        "runner_files": sorted(runner_files()),
        "runner_folder": RUNNER_FOLDER,
        "workspace": WORKSPACE,
        "shared_mount": SHARED_MOUNT,
        # The claim the chart creates when sharedStorage.existingClaim is empty, whatever bodywork.yaml declares.
        "shared_claim": created_claim_name(pipeline.name),
        "keep_annotations": KEEP_ANNOTATIONS,
        "setup_seconds": SETUP_SECONDS_PER_TRY,
        "permanent_exit_code": EXIT_PERMANENT,
        "order": order,
        # A scheduled run's label on its Jobs (render/scheduled_run.py), as --format manifests labels them.
        "run_labels": labels.run_labels(options.scheduled_run) if options.scheduled_run else {},
        "warnings": warnings,
        "startup_period": STARTUP_PERIOD_SECONDS,
        "max_unavailable": MAX_UNAVAILABLE,
        "rewrite_annotation": REWRITE_TARGET,
        "namespace_name_label": NAMESPACE_NAME_LABEL,
        "rewrite_value": REWRITE_VALUE,
        "rewrite_suffix": REWRITE_SUFFIX,
        "root_rewrite_path": ROOT_REWRITE_PATH,
        "hook_policy_part": HOOK_POLICY_PART,
        "every_address": EVERY_ADDRESS,
    }
