"""--format argo-workflows: Argo Workflows' own schema, bodywork's DAG kept exactly, the pod contract, run identity."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bodywork_render.gitops.publish import Target, land, prepare
from bodywork_render.render.argo_workflows import template_pods
from bodywork_render.render.manifests import render_project
from bodywork_render.render.options import ARGO_WORKFLOWS, RenderOptions
from bodywork_render.render.plan import SYNC_WAVE
from bodywork_render.spec import names
from bodywork_render.spec.dag import parse_dag
from bodywork_render.verify.kubernetes import schema_problems
from bodywork_render.verify.podsecurity import hardening_violations, restricted_violations
from tests.argoschema import argo_problems, argo_schema_accepts
from tests.corpus import corpus_params
from tests.renderkit import EXAMPLE, PROJECTS, REPO_URL, checkout, git, identity, objects_in, of_kind, render
from tests.repos import FAST, Repos

FORMAT = ARGO_WORKFLOWS
PROJECT_PATHS = [EXAMPLE, *sorted(p for p in PROJECTS.iterdir() if (p / "bodywork.yaml").is_file())]
STEPS = ("steps/00/", "steps/01/")
"""The folders of ``--engine flux``: the WorkflowTemplate and what it needs, then the run and the stages' objects."""


def argo_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["apiVersion"] == "argoproj.io/v1alpha1"]


def without_wave(obj: dict[str, Any]) -> dict[str, Any]:
    annotations = {k: v for k, v in obj["metadata"]["annotations"].items() if k != SYNC_WAVE}
    return {**obj, "metadata": {**obj["metadata"], "annotations": annotations}}


def the(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = of_kind(objects, kind)
    return found


def templates_by_name(workflow_template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in workflow_template["spec"]["templates"]}


def bodywork_edges(config: Path) -> set[tuple[str, str]]:
    """The DAG of a bodywork.yaml as bodywork runs it: each stage after every stage of the step before."""
    data = yaml.safe_load(config.read_text())
    section = data.get("pipeline") or data["project"]
    steps = [[names.normalise(stage) for stage in step] for step in parse_dag(section["DAG"])]
    return {(a, b) for before, step in zip(steps, steps[1:], strict=False) for a in before for b in step}


def dag_edges(workflow_template: dict[str, Any]) -> set[tuple[str, str]]:
    """The (upstream, downstream) stage pairs of a rendered WorkflowTemplate's dag, the graph Argo Workflows runs: each
    task's stage is the one its template runs or rolls."""
    (dag,) = [t["dag"] for t in workflow_template["spec"]["templates"] if "dag" in t]
    stage = {task["name"]: task["template"].split("-", 1)[1] for task in dag["tasks"]}
    assert all(re.fullmatch(r"[A-Za-z][-A-Za-z0-9]*", name) for name in stage)  # identifiers of `depends`
    return {
        (stage[up], stage[task["name"]]) for task in dag["tasks"] for up in task.get("depends", "").split(" && ") if up
    }


def assert_valid(objects: list[dict[str, Any]]) -> None:
    """Argo Workflows' objects against its schema, strictly; the pods of their templates as Kubernetes pods."""
    found = argo_objects(objects)
    assert {o["kind"] for o in found} >= {"WorkflowTemplate"}
    for obj in found:
        assert argo_problems(obj) == [], obj["kind"]
        assert argo_schema_accepts(obj)
    pods = [pod for obj in found for pod in template_pods(obj)]
    assert schema_problems(pods) == []
    for pod in pods:
        assert restricted_violations(pod) + hardening_violations(pod) == []


@pytest.mark.parametrize("project", PROJECT_PATHS, ids=[p.name for p in PROJECT_PATHS])
def test_every_argo_object_of_the_example_and_test_projects_is_valid(project: Path) -> None:
    objects = objects_in(render(project, format=FORMAT).files)
    assert_valid(objects)
    assert template_pods(the(objects, "WorkflowTemplate"))
    kubernetes = [o for o in objects if o not in argo_objects(objects)]
    assert schema_problems(kubernetes) == []
    for obj in kubernetes:
        assert restricted_violations(obj) + hardening_violations(obj) == []
    assert bodywork_edges(project / "bodywork.yaml") == dag_edges(the(objects, "WorkflowTemplate"))


@pytest.mark.slow  # a sweep of the whole corpus
@pytest.mark.parametrize("path", corpus_params(valid=True))
def test_every_valid_corpus_file_renders_valid_argo_objects_keeping_its_dag_exactly(path: Path) -> None:
    objects = objects_in(render(path, format=FORMAT).files)
    assert_valid(objects)
    assert bodywork_edges(path) == dag_edges(the(objects, "WorkflowTemplate"))


def test_parallel_branches_run_in_parallel_and_join() -> None:
    objects = objects_in(render(PROJECTS / "parallel-secrets-ingress", format=FORMAT).files)
    template = the(objects, "WorkflowTemplate")
    (dag,) = [t["dag"] for t in template["spec"]["templates"] if "dag" in t]
    depends = {task["name"]: task.get("depends") for task in dag["tasks"]}
    assert depends == {
        "prepare": None,
        "train-a": "prepare",
        "train-b": "prepare",
        "serve": "train-a && train-b",
        "report": "train-a && train-b",
    }


def test_a_batch_template_is_the_jobs_pod_with_retries_and_the_deadline_of_a_try() -> None:
    project = PROJECTS / "parallel-secrets-ingress"
    manifests = objects_in(render(project).files)
    objects = objects_in(render(project, format=FORMAT).files)
    template = templates_by_name(the(objects, "WorkflowTemplate"))["run-train-a"]
    (job,) = [j for j in of_kind(manifests, "Job") if j["metadata"]["labels"]["bodywork-render/stage"] == "train-a"]
    pod = job["spec"]["template"]
    assert template["metadata"] == pod["metadata"]
    assert template["initContainers"] == pod["spec"]["initContainers"]
    assert [template["container"]] == pod["spec"]["containers"]
    for field in ("volumes", "securityContext", "serviceAccountName", "automountServiceAccountToken"):
        assert template[field] == pod["spec"][field]
    assert template["retryStrategy"] == {
        "limit": "1",
        "retryPolicy": "Always",
        "expression": template["retryStrategy"]["expression"],  # test_exit_code_78_of_any_container_is_not_retried
        "backoff": {
            "duration": "10s",
            "factor": "2",
            "cap": "6m",
            "maxDuration": f"{job['spec']['activeDeadlineSeconds']}s",
        },
    }
    assert int(template["activeDeadlineSeconds"]) * 2 == job["spec"]["activeDeadlineSeconds"]  # one try of two


def retried(expression: str, exit_code: str, message: str) -> bool:
    """Whether Argo Workflows' retryStrategy ``expression`` retries a try, for the expressions rendered: ``&&`` of
    ``lastRetry.exitCode != "N"`` and ``!(lastRetry.message contains "TEXT")`` (expr, double-quoted strings)."""
    verdict = True
    for clause in expression.split(" && "):
        if code := re.fullmatch(r'lastRetry\.exitCode != "(-?\d+)"', clause):
            verdict = verdict and exit_code != code[1]
        elif text := re.fullmatch(r'!\(lastRetry\.message contains "([^"\\]*)"\)', clause):
            verdict = verdict and text[1] not in message
        else:
            raise AssertionError(f"an expression this test cannot read: {clause!r}")
    return verdict


@pytest.mark.parametrize(
    ("exit_code", "message", "retry"),
    [
        # What Argo Workflows gives lastRetry: the exit code of the main container ("-1" when it never ran), and the
        # node's message, "<container>: <reason> (exit code N)" for the first container that failed
        # (workflow/controller/operator.go, inferFailedReason).
        ("78", "main: Error (exit code 78)", False),
        ("-1", "install: Error (exit code 78)", False),
        ("-1", "fetch: Error (exit code 78): no stage matches", False),
        ("-1", "install: Error (exit code 1)", True),
        ("178", "main: Error (exit code 178)", True),
        ("137", "main: OOMKilled (exit code 137)", True),
        ("-1", "pod deleted", True),
    ],
)
def test_exit_code_78_of_any_container_is_not_retried(exit_code: str, message: str, retry: bool) -> None:
    objects = objects_in(render(PROJECTS / "parallel-secrets-ingress", format=FORMAT).files)
    expressions = {
        t["retryStrategy"]["expression"]
        for t in the(objects, "WorkflowTemplate")["spec"]["templates"]
        if "container" in t
    }
    (expression,) = expressions
    assert retried(expression, exit_code, message) is retry


def test_service_stages_are_the_manifests_objects_rolled_after_their_upstream_by_a_role_limited_to_them() -> None:
    project = PROJECTS / "parallel-secrets-ingress"
    manifests = objects_in(render(project).files)
    objects = objects_in(render(project, format=FORMAT).files)
    for kind in ("Deployment", "Service", "Ingress", "ConfigMap", "Namespace"):
        # The same objects, but for their sync wave: the stages' objects and the run share one (argo_workflows.py).
        assert list(map(without_wave, of_kind(objects, kind))) == list(map(without_wave, of_kind(manifests, kind)))
    waves = {o["metadata"]["annotations"][SYNC_WAVE] for o in objects if o["kind"] != "Namespace"}
    assert waves == {"0", "1"}
    assert {
        o["metadata"]["annotations"][SYNC_WAVE] for o in of_kind(objects, "Deployment") + of_kind(objects, "Workflow")
    } == {"1"}
    assert not of_kind(objects, "Job")
    deployments = sorted(d["metadata"]["name"] for d in of_kind(objects, "Deployment"))
    roles = {r["metadata"]["name"]: r["rules"] for r in of_kind(objects, "Role")}
    assert roles["churn-model-workflow-roll"] == [
        {"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": deployments, "verbs": ["get", "patch"]}
    ]
    assert roles["churn-model-workflow-executor"] == [
        {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]}
    ]
    bindings = {b["metadata"]["name"]: b["subjects"] for b in of_kind(objects, "RoleBinding")}
    assert set(bindings) == set(roles)
    executor = the(objects, "WorkflowTemplate")["spec"]["executor"]["serviceAccountName"]
    assert all(
        subjects == [{"kind": "ServiceAccount", "name": executor, "namespace": "ml-prod"}]
        for subjects in bindings.values()
    )
    roll = templates_by_name(the(objects, "WorkflowTemplate"))["roll-serve"]["resource"]
    assert (roll["action"], roll["mergeStrategy"]) == ("patch", "merge")
    patch = yaml.safe_load(roll["manifest"])
    assert patch["metadata"] == {"name": "churn-model-serve", "namespace": "ml-prod"}
    assert patch["spec"] == {
        "template": {"metadata": {"annotations": {"bodywork-render/rolled-by": "{{workflow.name}}"}}}
    }


def test_a_batch_stages_pod_on_argo_is_its_jobs_pod_with_gpus_node_selector_tolerations_and_pull_secrets() -> None:
    project = PROJECTS / "serving"
    (job,) = of_kind(objects_in(render(project).files), "Job")
    (pod,) = template_pods(the(objects_in(render(project, format=FORMAT).files), "WorkflowTemplate"))
    assert pod["spec"] == job["spec"]["template"]["spec"]  # every field: enableServiceLinks from the podSpecPatch
    assert pod["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["spec"]["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert [t["key"] for t in pod["spec"]["tolerations"]] == ["nvidia.com/gpu", "spot"]
    assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"


def test_the_stage_pods_get_no_token_and_the_executor_its_own() -> None:
    objects = objects_in(render(EXAMPLE, format=FORMAT).files)
    spec = the(objects, "WorkflowTemplate")["spec"]
    assert (spec["serviceAccountName"], spec["automountServiceAccountToken"]) == ("train-and-serve", False)
    executor = spec["executor"]["serviceAccountName"]
    (token,) = of_kind(objects, "Secret")
    assert token["metadata"]["name"] == f"{executor}.service-account-token"
    assert token["metadata"]["annotations"]["kubernetes.io/service-account.name"] == executor
    assert token["type"] == "kubernetes.io/service-account-token" and "data" not in token
    assert executor in {sa["metadata"]["name"] for sa in of_kind(objects, "ServiceAccount")}


def test_run_on_failure_is_the_exit_handler_run_only_when_the_workflow_did_not_succeed() -> None:
    project = PROJECTS / "failure-hook"
    objects = objects_in(render(project, format=FORMAT, engine="flux").files)
    spec = the(objects, "WorkflowTemplate")["spec"]
    handler = templates_by_name(the(objects, "WorkflowTemplate"))[spec["onExit"]]
    ((step,),) = handler["steps"]
    assert step["when"] == "{{workflow.status}} != Succeeded"
    hook = templates_by_name(the(objects, "WorkflowTemplate"))[step["template"]]
    assert "container" in hook
    data = yaml.safe_load((project / "bodywork.yaml").read_text())
    on_failure = names.normalise((data.get("pipeline") or data["project"])["run_on_failure"])
    assert step["template"] == f"run-{on_failure}"
    assert on_failure not in {t["name"] for t in spec["templates"][0]["dag"]["tasks"]}


def test_a_schedule_is_a_cron_workflow_of_the_template_and_no_run_per_render() -> None:
    project = PROJECTS / "scheduled"
    rendered = render(project, format=FORMAT)
    objects = objects_in(rendered.files)
    cron = the(objects, "CronWorkflow")
    schedule = yaml.safe_load((project / "bodywork.yaml").read_text())["pipeline"]["schedule"]
    assert cron["spec"]["schedules"] == [schedule["cron"].strip()]
    assert cron["spec"]["timezone"] == schedule.get("time_zone", "Etc/UTC")
    assert cron["spec"]["concurrencyPolicy"] in ("Forbid", "Replace", "Allow")
    assert cron["spec"]["workflowSpec"] == {
        "workflowTemplateRef": {"name": the(objects, "WorkflowTemplate")["metadata"]["name"]}
    }
    assert not of_kind(objects, "Workflow") and not of_kind(objects, "CronJob")
    assert not [w for w in rendered.warnings if "refresher" in w]


# -- identity: one run per change, none for an unchanged render --------------------------------------------------


def workflow_name(project: Path) -> str:
    rendered = render_project(project, RenderOptions(format=FORMAT), repo_url=REPO_URL)
    return str(the(objects_in(rendered.files), "Workflow")["metadata"]["name"])


def commit(project: Path, changes: dict[str, str]) -> None:
    for relative, text in changes.items():
        (project / relative).write_text(text)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "change")


def test_an_unchanged_render_names_the_same_run_and_a_changed_stage_a_new_one(tmp_path: Path) -> None:
    project = checkout(PROJECTS / "parallel-secrets-ingress", tmp_path / "repo")
    first = workflow_name(project)
    assert workflow_name(project) == first
    commit(project, {"README.md": "# notes\n"})  # touches no stage
    assert workflow_name(project) == first
    commit(project, {"train/train.py": (project / "train/train.py").read_text() + "\n# a new model\n"})
    changed = workflow_name(project)
    assert changed != first
    assert workflow_name(project) == changed


@pytest.mark.parametrize(("project", "run"), [(EXAMPLE, "Workflow"), (PROJECTS / "scheduled", "CronWorkflow")])
def test_with_flux_the_run_is_applied_after_the_workflow_template_it_runs(
    tmp_path: Path, project: Path, run: str
) -> None:
    from tests.test_render import kustomize_build

    rendered = render(project, format=FORMAT, engine="flux", deploy_path="./envs/prod/demo")
    flux = [yaml.safe_load(rendered.files[path]) for path in sorted(rendered.files) if path.startswith("flux/")]
    assert [k["spec"]["path"] for k in flux] == ["./envs/prod/demo/steps/00", "./envs/prod/demo/steps/01"]
    assert all(k["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "flux-system"} for k in flux)
    assert all(k["spec"]["wait"] for k in flux)
    assert "dependsOn" not in flux[0]["spec"]
    assert flux[1]["spec"]["dependsOn"] == [{"name": flux[0]["metadata"]["name"]}]
    template, runs = (objects_in({p: t for p, t in rendered.files.items() if p.startswith(s)}) for s in STEPS)
    assert {"WorkflowTemplate", "ConfigMap", "ServiceAccount", "Role", "RoleBinding"} <= {o["kind"] for o in template}
    assert of_kind(runs, run) and not of_kind(template, run)
    for relative, text in rendered.files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    built = kustomize_build(tmp_path)
    expected = [o for o in objects_in(rendered.files) if o["apiVersion"] != flux[0]["apiVersion"]]
    assert sorted(map(identity, built)) == sorted(map(identity, expected))
    for step in STEPS:
        assert sorted(map(identity, kustomize_build(tmp_path / step))) == sorted(
            identity(o) for o in objects_in({p: t for p, t in rendered.files.items() if p.startswith(step)})
        )


def test_a_cron_workflow_name_leaves_room_for_the_time_argo_appends_to_each_run(tmp_path: Path) -> None:
    long = "a-pipeline-whose-name-is-long-enough-to-need-shortening-x"
    text = (PROJECTS / "scheduled" / "bodywork.yaml").read_text().replace("nightly-scores", long)
    shutil.copytree(PROJECTS / "scheduled", tmp_path / "p")
    (tmp_path / "p" / "bodywork.yaml").write_text(text)
    objects = objects_in(render(tmp_path / "p", format=FORMAT).files)
    cron = the(objects, "CronWorkflow")
    assert len(cron["metadata"]["name"]) <= 52 < len(long)
    assert argo_problems(cron) == []
    assert cron["spec"]["workflowSpec"]["workflowTemplateRef"]["name"] == long


def test_publish_writes_the_format_once_with_flux_at_the_folder_it_lands_in(repos: Repos) -> None:
    destination = Target(repos.deploy_url)
    options = RenderOptions(format=FORMAT, engine="flux")
    first = land(prepare(repos.project, options, destination), destination, retry=FAST)
    again = land(prepare(repos.project, options, destination), destination, retry=FAST)
    assert (first.status, again.status) == ("pushed", "up to date")
    files = repos.tree()
    assert any(path.endswith("/steps/01/workflow.yaml") for path in files)
    flux = sorted(path for path in files if "/flux/" in path)
    paths = [yaml.safe_load(repos.show(path))["spec"]["path"] for path in flux]
    assert paths == ["./envs/default/demo/steps/00", "./envs/default/demo/steps/01"]


@pytest.mark.parametrize(("stage", "task"), [("1st_prepare", "S1st-prepare"), ("in", "Sin"), ("not", "Snot")])
def test_a_stage_named_with_a_leading_digit_or_an_expr_word_is_a_task_depends_can_name(
    tmp_path: Path, stage: str, task: str
) -> None:
    text = (PROJECTS / "parallel-secrets-ingress" / "bodywork.yaml").read_text().replace("prepare", stage)
    shutil.copytree(PROJECTS / "parallel-secrets-ingress", tmp_path / "p")
    (tmp_path / "p" / "bodywork.yaml").write_text(text)
    (tmp_path / "p" / stage).mkdir()
    (tmp_path / "p" / stage / f"{stage}.py").write_text("")
    template = the(objects_in(render(tmp_path / "p", format=FORMAT).files), "WorkflowTemplate")
    (dag,) = [t["dag"] for t in template["spec"]["templates"] if "dag" in t]
    assert [(t["name"], t.get("depends")) for t in dag["tasks"][:2]] == [(task, None), ("train-a", task)]
    assert bodywork_edges(tmp_path / "p" / "bodywork.yaml") == dag_edges(template)


def test_narrowed_egress_is_warned_about_as_the_executor_must_reach_the_api_server(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "p")
    config = tmp_path / "p" / "bodywork.yaml"
    narrowed = "  network_policy:\n    egress:\n      - {cidr: 0.0.0.0/0, ports: [443]}\n"
    config.write_text(config.read_text().replace("pipeline:\n", "pipeline:\n" + narrowed, 1))
    warned = [w for w in render(tmp_path / "p", format=FORMAT).warnings if "API server" in w]
    assert len(warned) == 1 and "network_policy.egress" in warned[0]
    assert not [w for w in render(tmp_path / "p").warnings if "API server" in w]
    assert not [w for w in render(EXAMPLE, format=FORMAT).warnings if "API server" in w]


@pytest.mark.parametrize(
    ("arg", "replaced"),
    [
        ("{{workflow.name}}", True),
        ("{{=sprig.upper('a')}}", True),
        ("{{node.name}}", True),  # Argo sets node.name, retries and lastRetry.* in a template with a retryStrategy
        ("{{ retries }}", True),
        ("{{lastRetry.exitCode}}", True),
        ("{{ .Release.Name }}", False),
        ("{{retries_left}}", False),
    ],
)
def test_text_argo_would_substitute_in_a_stages_pod_is_warned_about(tmp_path: Path, arg: str, replaced: bool) -> None:
    shutil.copytree(PROJECTS / "scheduled", tmp_path / "p")
    config = tmp_path / "p" / "bodywork.yaml"
    config.write_text(config.read_text().replace('"500"', json.dumps(arg)))
    warned = [w for w in render(tmp_path / "p", format=FORMAT).warnings if "Argo replaces" in w]
    assert warned == (
        [
            "warning: stage 'score': an arg, requirement or image holds '{{' followed by one of Argo Workflows'"
            " variables or '=' (e.g. {{workflow.name}}), which Argo replaces when it runs the stage: the stage would"
            " not get the text as written"
        ]
        if replaced
        else []
    )
    assert not [w for w in render(PROJECTS / "scheduled", format=FORMAT).warnings if "Argo replaces" in w]
