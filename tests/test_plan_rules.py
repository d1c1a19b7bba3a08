"""Planning rules, by meaning: which objects a pipeline becomes, in which files, waves and order, with which values.

The pipelines are built from the model directly; every expected value is written out here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bodywork_render.gitops.source import Source
from bodywork_render.render.options import RenderOptions
from bodywork_render.render.plan import (
    Plan,
    PlannedObject,
    cpu_quantity,
    install_arguments,
    memory_quantity,
    plan_pipeline,
    run_arguments,
    runner_config_map_name,
    step_dir,
)
from bodywork_render.spec.model import BatchStage, Dag, Pipeline, SecretEnv, ServiceStage, SharedStorage, Stage

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SOURCE = Source("https://example.invalid/acme/ml.git", COMMIT)
WAVE = "argocd.argoproj.io/sync-wave"
POD_SECURITY = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


def pipeline(
    stages: list[Stage],
    steps: tuple[tuple[str, ...], ...],
    run_on_failure: str | None = None,
    shared_storage: SharedStorage | None = None,
) -> Pipeline:
    return Pipeline(
        name="pipe",
        version="1.1",
        docker_image="python:3.12-slim",
        namespace="pipe-ns",
        secrets_group="grp",
        log_level="DEBUG",
        dag=Dag(steps),
        stages={s.name: s for s in stages},
        run_on_failure=run_on_failure,
        shared_storage=shared_storage,
    )


TRAIN = BatchStage(name="train", source_name="train", module="train.py", max_completion_time_seconds=600, retries=2)
SERVE = ServiceStage(name="serve", source_name="serve", module="serve.py", max_startup_time_seconds=61, port=5000)
ALERT = BatchStage(name="alert", source_name="alert_me", module="alert.py")


def plan(
    stages: list[Stage] | None = None,
    steps: tuple[tuple[str, ...], ...] = (("train",), ("serve",)),
    source: Source = SOURCE,
    digest: str = "t1",
    run_on_failure: str | None = None,
    shared_storage: SharedStorage | None = None,
    **options: Any,
) -> Plan:
    return plan_pipeline(
        pipeline(stages or [TRAIN, SERVE, ALERT], steps, run_on_failure, shared_storage),
        source,
        RenderOptions(**options),
        digest,
    )


def only(result: Plan, kind: str, name: str | None = None) -> PlannedObject:
    found = [o for o in result.objects if o.kind == kind and (name is None or o.name == name)]
    assert len(found) == 1, found
    return found[0]


def test_quantities_are_millicores_at_least_one_and_decimal_megabytes() -> None:
    assert cpu_quantity(0.25) == "250m"
    assert cpu_quantity(1.5) == "1500m"
    assert cpu_quantity(0.0004) == "1m"
    assert cpu_quantity(0.0016) == "2m"
    assert memory_quantity(100) == "100M"


def test_step_folders_are_two_digit() -> None:
    assert step_dir(3) == "steps/03"
    assert step_dir(12) == "steps/12"


def test_run_arguments_are_the_runner_contract() -> None:
    stage = BatchStage(
        name="train",
        source_name="train",
        module="train.py",
        args=("--epochs", "3"),
        requirements=("numpy==2.0", "pandas"),
        max_completion_time_seconds=90,
    )
    assert install_arguments(stage, COMMIT, "/ws", "proj/train.py") == [
        "--workspace", "/ws", "--stage", "train", "--module", "proj/train.py", "--commit", COMMIT,
        "--requirement", "numpy==2.0", "--requirement", "pandas",
    ]  # fmt: skip
    assert run_arguments(stage, COMMIT, "/ws", "proj/train.py") == [
        "--workspace", "/ws", "--stage", "train", "--module", "proj/train.py", "--commit", COMMIT,
        "--timeout", "90", "--", "--epochs", "3",
    ]  # fmt: skip


def test_run_arguments_have_no_timeout_without_a_completion_budget_or_for_a_service() -> None:
    assert run_arguments(ALERT, COMMIT, "/ws", "alert.py") == [
        "--workspace", "/ws", "--stage", "alert_me", "--module", "alert.py", "--commit", COMMIT, "--",
    ]  # fmt: skip
    assert "--timeout" not in run_arguments(SERVE, COMMIT, "/ws", "serve.py")


def test_manifests_are_namespace_account_then_stages_by_step_in_numbered_files() -> None:
    result = plan()
    assert [(o.kind, o.step, o.file) for o in result.objects] == [
        ("Namespace", 0, "00-namespace.yaml"),
        ("ServiceAccount", 0, "00-serviceaccount.yaml"),
        ("ConfigMap", 0, "00-runner-configmap.yaml"),
        ("NetworkPolicy", 0, "00-networkpolicy.yaml"),
        ("Job", 1, "01-train-job.yaml"),
        ("Deployment", 2, "02-serve-deployment.yaml"),
        ("Service", 2, "02-serve-service.yaml"),
        ("NetworkPolicy", 2, "02-serve-networkpolicy.yaml"),
    ]
    assert result.warnings == ()
    assert [o.template for o in result.objects] == [
        "namespace.yaml.j2",
        "serviceaccount.yaml.j2",
        "configmap-runner.yaml.j2",
        "networkpolicy.yaml.j2",
        "job.yaml.j2",
        "deployment.yaml.j2",
        "service.yaml.j2",
        "networkpolicy.yaml.j2",
    ]


def test_the_namespace_enforces_the_restricted_profile_before_everything_else() -> None:
    namespace = only(plan(), "Namespace")
    assert namespace.name == "pipe-ns"
    assert namespace.values == {
        "name": "pipe-ns",
        "labels": {
            "app.kubernetes.io/name": "pipe",
            "app.kubernetes.io/instance": "pipe",
            "app.kubernetes.io/component": "pipeline",
            "app.kubernetes.io/part-of": "pipe",
            "app.kubernetes.io/managed-by": "bodywork-render",
            "app.kubernetes.io/version": "0123456",
            **POD_SECURITY,
        },
        "annotations": {WAVE: "-1"},
    }


def test_no_namespace_object_when_not_asked_to_create_it() -> None:
    assert [o.kind for o in plan(namespace_object=False).objects][:1] == ["ServiceAccount"]


def test_a_namespace_option_is_normalised_and_used_by_every_object() -> None:
    result = plan(namespace="Team_A.ml")
    assert only(result, "Namespace").name == "team-a-ml"
    assert {o.values["namespace"] for o in result.objects if o.kind != "Namespace"} == {"team-a-ml"}


def test_the_service_account_is_named_after_the_pipeline_in_wave_zero() -> None:
    account = only(plan(), "ServiceAccount")
    assert account.name == "pipe"
    assert account.values["name"] == "pipe"
    assert account.values["namespace"] == "pipe-ns"
    assert account.values["annotations"] == {WAVE: "0"}
    assert account.values["labels"]["app.kubernetes.io/component"] == "pipeline"


def test_a_job_carries_its_wave_budget_retries_and_source_commit() -> None:
    job = only(plan(), "Job")
    assert re.fullmatch(r"pipe-train-[0-9a-f]{8}", job.name)
    values = job.values
    assert values["name"] == job.name
    assert values["namespace"] == "pipe-ns"
    assert values["annotations"] == {WAVE: "1"}
    assert values["retries"] == 2
    # Three tries of at most 600 s each, each with 600 s to schedule, pull, fetch and install.
    assert values["active_deadline_seconds"] == 3 * (600 + 600)
    assert values["permanent_exit_code"] == 78
    assert values["pod_annotations"].keys() == {"bodywork-render/source-commit", "bodywork-render/inputs"}
    assert values["pod_annotations"]["bodywork-render/source-commit"] == COMMIT
    assert re.fullmatch(r"[0-9a-f]{8}", values["pod_annotations"]["bodywork-render/inputs"])
    assert values["labels"] == {
        "app.kubernetes.io/name": "train",
        "app.kubernetes.io/instance": "pipe",
        "app.kubernetes.io/component": "batch",
        "app.kubernetes.io/part-of": "pipe",
        "app.kubernetes.io/managed-by": "bodywork-render",
        "app.kubernetes.io/version": "0123456",
        "bodywork-render/stage": "train",
    }
    assert values["pod"]["restart_policy"] == "Never"


def test_the_job_name_changes_with_the_job_template_the_commit_and_the_stage_spec() -> None:
    name = only(plan(), "Job").name
    assert only(plan(), "Job").name == name
    assert only(plan(digest="t2"), "Job").name != name
    assert only(plan(source=Source(SOURCE.repo_url, "f" * 40)), "Job").name != name
    retried = BatchStage(name="train", source_name="train", module="train.py", max_completion_time_seconds=600)
    assert only(plan([retried, SERVE]), "Job").name != name


def test_a_pod_runs_the_fetch_then_the_stage_with_the_pipeline_identity() -> None:
    pod = only(plan(), "Job").values["pod"]
    assert pod["service_account"] == "pipe"
    assert pod["runner_image"] == "python:3.12-bookworm"
    assert pod["image"] == "python:3.12-slim"
    assert pod["log_level"] == "DEBUG"
    assert pod["fetch_args"] == [
        "--repo", "https://example.invalid/acme/ml.git", "--commit", COMMIT, "--workspace", "/workspace",
    ]  # fmt: skip
    assert pod["run_args"] == [
        "--workspace", "/workspace", "--stage", "train", "--module", "train.py", "--commit", COMMIT,
        "--timeout", "600", "--",
    ]  # fmt: skip
    assert pod["install_args"] == [
        "--workspace", "/workspace", "--stage", "train", "--module", "train.py", "--commit", COMMIT,
    ]  # fmt: skip
    assert pod["runner_command"] == ["python3", "/opt/bodywork/bodywork_runner.py"]
    assert pod["runner_config_map"] == runner_config_map_name("pipe")
    assert {"name": "runner", "mountPath": "/opt/bodywork", "readOnly": True} in pod["mounts"]
    assert pod["shared_claim"] is None and pod["shared_mount"] is None
    assert pod["port"] is None and pod["route_prefix"] is None and pod["git_secret"] is None
    assert pod["secret_env"] == []


def test_a_pod_reads_module_paths_inside_the_project_folder() -> None:
    pod = only(plan(source=Source(SOURCE.repo_url, COMMIT, "ml/project")), "Job").values["pod"]
    assert pod["run_args"][pod["run_args"].index("--module") + 1] == "ml/project/train.py"


def test_pod_options_pass_through() -> None:
    pod = only(plan(runner_image="registry.example/runner:2", git_secret="deploy-key"), "Job").values["pod"]
    assert pod["runner_image"] == "registry.example/runner:2"
    assert pod["git_secret"] == "deploy-key"


def test_resources_default_the_memory_limit_to_twice_the_request_and_set_cpu_limits_only_when_given() -> None:
    pod = only(plan(), "Job").values["pod"]
    workspace = {"ephemeral-storage": "1Gi"}
    # 2 x 256 = 512, which is also the least default limit.
    assert pod["resources"] == {
        "requests": {"cpu": "250m", "memory": "256M", **workspace},
        "limits": {"memory": "512M"},
    }
    assert pod["install_resources"] == {"requests": pod["resources"]["requests"], "limits": {"memory": "2000M"}}
    small = BatchStage(name="train", source_name="train", module="train.py", memory_request_mb=100)
    assert only(plan([small, SERVE]), "Job").values["pod"]["resources"]["limits"] == {"memory": "512M"}
    large = BatchStage(name="train", source_name="train", module="train.py", memory_request_mb=1500)
    large_pod = only(plan([large, SERVE]), "Job").values["pod"]
    assert large_pod["resources"]["limits"] == {"memory": "3000M"}
    assert large_pod["install_resources"]["limits"] == {"memory": "3000M"}, "pip gets at least the stage's limit"
    sized = BatchStage(
        name="train",
        source_name="train",
        module="train.py",
        cpu_request=0.5,
        memory_request_mb=300,
        cpu_limit=2.0,
        memory_limit_mb=900,
    )
    pod = only(plan([sized, SERVE]), "Job").values["pod"]
    assert pod["resources"] == {
        "requests": {"cpu": "500m", "memory": "300M", **workspace},
        "limits": {"memory": "900M", "cpu": "2000m"},
    }


def test_a_job_without_a_completion_budget_has_no_deadline() -> None:
    assert only(plan([ALERT, SERVE], (("alert",), ("serve",))), "Job").values["active_deadline_seconds"] == 0


def test_the_runner_config_map_holds_the_shipped_runner_in_wave_zero_named_by_its_content() -> None:
    from bodywork_render.package_data import resource_dir

    config_map = only(plan(), "ConfigMap")
    runner = resource_dir("runner")
    assert config_map.values["files"] == {
        "bodywork_runner.py": (runner / "bodywork_runner.py").read_text(),
        "known_hosts": (runner / "known_hosts").read_text(),
    }
    assert config_map.name == config_map.values["name"] == runner_config_map_name("pipe")
    assert re.fullmatch(r"pipe-runner-[0-9a-f]{8}", config_map.name)
    assert config_map.values["annotations"] == {WAVE: "0"}


def test_the_runner_config_map_name_changes_with_the_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    from bodywork_render.render import plan as plan_module

    name = runner_config_map_name("pipe")
    job = only(plan(), "Job").name
    monkeypatch.setattr(plan_module, "runner_files", lambda: {"bodywork_runner.py": "changed", "known_hosts": ""})
    assert runner_config_map_name("pipe") != name
    assert only(plan(), "Job").name != job, "a Job pinned to the old runner is a new Job"


EVAL = BatchStage(name="eval", source_name="eval", module="eval.py", shared_storage=True)
SHARED_SERVE = ServiceStage(name="serve", source_name="serve", module="serve.py", shared_storage=True)


def test_shared_storage_is_mounted_only_by_the_stages_that_declare_it() -> None:
    result = plan(
        [TRAIN, EVAL, SHARED_SERVE], (("train",), ("eval",), ("serve",)), shared_storage=SharedStorage(size="3Gi")
    )
    pods = {o.values["labels"]["bodywork-render/stage"]: o.values["pod"] for o in result.objects if "pod" in o.values}
    assert {name: pod["shared_claim"] for name, pod in pods.items()} == {
        "train": None,
        "eval": "pipe-shared",
        "serve": "pipe-shared",
    }
    assert {name: pod["shared_mount"] for name, pod in pods.items()} == {
        "train": None,
        "eval": "/bodywork/shared",
        "serve": "/bodywork/shared",
    }


def test_a_created_claim_comes_in_the_step_of_its_first_user_and_is_never_pruned() -> None:
    storage = SharedStorage(size="3Gi", storage_class="efs", access_mode="ReadWriteMany")
    result = plan([TRAIN, EVAL, SHARED_SERVE], (("train",), ("eval",), ("serve",)), shared_storage=storage)
    assert [(o.kind, o.step) for o in result.objects if o.step >= 1] == [
        ("Job", 1),
        ("PersistentVolumeClaim", 2),
        ("Job", 2),
        ("Deployment", 3),
        ("Service", 3),
        ("NetworkPolicy", 3),
    ]
    claim = only(result, "PersistentVolumeClaim")
    assert claim.file == "02-shared-pvc.yaml"
    assert {k: claim.values[k] for k in ("name", "size", "storage_class", "access_mode")} == {
        "name": "pipe-shared",
        "size": "3Gi",
        "storage_class": "efs",
        "access_mode": "ReadWriteMany",
    }
    assert claim.values["annotations"] == {
        WAVE: "2",
        "argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
        "kustomize.toolkit.fluxcd.io/prune": "disabled",
    }


def test_an_existing_claim_is_mounted_and_never_created() -> None:
    result = plan([EVAL, SERVE], (("eval",), ("serve",)), shared_storage=SharedStorage(claim_name="models"))
    assert not [o for o in result.objects if o.kind == "PersistentVolumeClaim"]
    assert only(result, "Job").values["pod"]["shared_claim"] == "models"


def test_no_claim_when_no_stage_declares_the_shared_storage() -> None:
    result = plan(shared_storage=SharedStorage())
    assert not [o for o in result.objects if o.kind == "PersistentVolumeClaim"]


def test_secrets_become_environment_from_group_prefixed_secret_names() -> None:
    stage = BatchStage(
        name="train", source_name="train", module="train.py", secrets=(SecretEnv("DB_PASS", "db_Creds"),)
    )
    pod = only(plan([stage, SERVE]), "Job").values["pod"]
    assert pod["secret_env"] == [{"env": "DB_PASS", "secret": "grp-db-creds"}]


def test_a_service_stage_is_a_deployment_and_a_service_sharing_its_selector() -> None:
    result = plan()
    deployment = only(result, "Deployment").values
    service = only(result, "Service").values
    selector = {"app.kubernetes.io/name": "serve", "app.kubernetes.io/instance": "pipe"}
    assert only(result, "Deployment").name == "pipe-serve" and only(result, "Service").name == "pipe-serve"
    assert deployment["name"] == "pipe-serve" and service["name"] == "pipe-serve"
    assert deployment["selector"] == selector and service["selector"] == selector
    assert deployment["labels"]["app.kubernetes.io/component"] == "service"
    assert service["labels"] == deployment["labels"]
    assert deployment["annotations"] == {WAVE: "2"} and service["annotations"] == {WAVE: "2"}
    assert deployment["namespace"] == "pipe-ns" and service["namespace"] == "pipe-ns"
    assert service["port"] == 5000
    assert deployment["replicas"] == 1
    assert deployment["pod_annotations"]["bodywork-render/source-commit"] == COMMIT
    pod = deployment["pod"]
    assert pod["port"] == 5000
    assert pod["restart_policy"] is None
    assert pod["route_prefix"] is None
    assert pod["run_args"][-1] == "--" and "--timeout" not in pod["run_args"]


@pytest.mark.parametrize(
    ("startup", "failures", "deadline"),
    [(61, 13, 600), (60, 12, 600), (3, 1, 600), (300, 60, 600), (301, 61, 601), (400, 80, 700)],
)
def test_the_startup_probe_budget_rounds_up_and_the_progress_deadline_covers_it(
    startup: int, failures: int, deadline: int
) -> None:
    stage = ServiceStage(name="serve", source_name="serve", module="serve.py", max_startup_time_seconds=startup)
    deployment = only(plan([TRAIN, stage]), "Deployment").values
    assert deployment["pod"]["startup_period"] == 5
    assert deployment["pod"]["startup_failures"] == failures
    assert deployment["progress_deadline_seconds"] == deadline


def test_an_ingress_routes_the_pipeline_and_stage_prefix_to_the_service_port() -> None:
    stage = ServiceStage(name="serve", source_name="serve", module="serve.py", port=5000, replicas=3, ingress=True)
    result = plan([TRAIN, stage], ingress_class="nginx", ingress_host="ml.example")
    ingress = only(result, "Ingress")
    assert (ingress.name, ingress.step, ingress.file, ingress.template) == (
        "pipe-serve",
        2,
        "02-serve-ingress.yaml",
        "ingress.yaml.j2",
    )
    assert ingress.values == {
        "namespace": "pipe-ns",
        "annotations": {WAVE: "2"},
        "name": "pipe-serve",
        "labels": only(result, "Deployment").values["labels"],
        "ingress_class": "nginx",
        "ingress_host": "ml.example",
        "path": "/pipe/serve",
        "path_type": "Prefix",
        "tls": [],
        "service": "pipe-serve",
        "port": 5000,
    }
    deployment = only(result, "Deployment").values
    assert deployment["pod"]["route_prefix"] == "/pipe/serve"
    assert deployment["replicas"] == 3
    # Three replicas: a disruption budget follows (test_serving.py).
    kinds = ["Deployment", "Service", "Ingress", "NetworkPolicy", "PodDisruptionBudget"]
    assert [o.kind for o in result.objects][-5:] == kinds


def test_no_ingress_without_the_stage_asking() -> None:
    assert not [o for o in plan().objects if o.kind == "Ingress"]


def test_parallel_stages_share_a_wave() -> None:
    other = BatchStage(name="eval", source_name="eval", module="eval.py")
    result = plan([TRAIN, other, SERVE], (("train", "eval"), ("serve",)))
    assert [(o.name[:10], o.step) for o in result.objects if o.kind == "Job"] == [("pipe-train", 1), ("pipe-eval-", 1)]


def test_run_on_failure_is_an_argocd_sync_fail_hook_after_the_last_step() -> None:
    result = plan(run_on_failure="alert")
    hook = result.objects[-1]
    assert (hook.kind, hook.step, hook.file) == ("Job", 3, "03-alert-on-failure-job.yaml")
    assert re.fullmatch(r"pipe-alert-[0-9a-f]{8}", hook.name)
    assert hook.values["annotations"] == {
        "argocd.argoproj.io/hook": "SyncFail",
        "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
    }
    assert result.warnings == ()


@pytest.mark.parametrize(("engine", "applier"), [("flux", "Flux"), ("kubectl", "kubectl")])
def test_run_on_failure_is_left_out_with_a_warning_outside_argocd(engine: str, applier: str) -> None:
    result = plan(run_on_failure="alert", engine=engine)
    assert [o.name[:10] for o in result.objects if o.kind == "Job"] == ["pipe-train"]
    assert not [o for o in result.objects if o.name.startswith("pipe-alert")]
    assert result.warnings == (
        "run_on_failure stage 'alert_me' is left out: only Argo CD can run a Job when a sync fails "
        f"(a hook Job applied by {applier} would start at once); render with --engine argocd to include it",
    )


def test_run_on_failure_of_a_service_stage_is_left_out_with_a_warning() -> None:
    result = plan([TRAIN, SERVE], (("train",),), run_on_failure="serve")
    assert [o.kind for o in result.objects] == ["Namespace", "ServiceAccount", "ConfigMap", "NetworkPolicy", "Job"]
    assert len(result.warnings) == 1 and result.warnings[0].startswith("run_on_failure stage 'serve' is left out")


def test_kustomize_puts_each_step_in_its_folder_with_a_kustomization_and_a_root_listing_the_steps() -> None:
    result = plan(format="kustomize", engine="argocd")
    assert [(o.kind, o.name, o.step, o.file) for o in result.objects] == [
        ("Namespace", "pipe-ns", 0, "steps/00/namespace.yaml"),
        ("ServiceAccount", "pipe", 0, "steps/00/serviceaccount.yaml"),
        ("ConfigMap", runner_config_map_name("pipe"), 0, "steps/00/runner-configmap.yaml"),
        ("NetworkPolicy", "pipe", 0, "steps/00/networkpolicy.yaml"),
        ("Job", only(result, "Job").name, 1, "steps/01/train-job.yaml"),
        ("Deployment", "pipe-serve", 2, "steps/02/serve-deployment.yaml"),
        ("Service", "pipe-serve", 2, "steps/02/serve-service.yaml"),
        ("NetworkPolicy", "pipe-serve", 2, "steps/02/serve-networkpolicy.yaml"),
        ("Kustomization", "", 0, "kustomization.yaml"),
        ("Kustomization", "", 0, "steps/00/kustomization.yaml"),
        ("Kustomization", "", 1, "steps/01/kustomization.yaml"),
        ("Kustomization", "", 2, "steps/02/kustomization.yaml"),
    ]
    kustomizations = [o for o in result.objects if o.kind == "Kustomization"]
    assert {o.template for o in kustomizations} == {"kustomization.yaml.j2"}
    assert [o.values for o in kustomizations] == [
        {"resources": ["steps/00", "steps/01", "steps/02"]},
        {"resources": ["namespace.yaml", "serviceaccount.yaml", "runner-configmap.yaml", "networkpolicy.yaml"]},
        {"resources": ["train-job.yaml"]},
        {"resources": ["serve-deployment.yaml", "serve-service.yaml", "serve-networkpolicy.yaml"]},
    ]


def test_flux_chains_one_kustomization_per_step_with_a_timeout_for_its_slowest_stage() -> None:
    eval_ = BatchStage(name="eval", source_name="eval", module="eval.py")
    result = plan(
        [TRAIN, eval_, SERVE], (("train", "eval"), ("serve",)), format="kustomize", engine="flux", deploy_path="deploy/"
    )
    flux = [o for o in result.objects if o.template == "flux-kustomization.yaml.j2"]
    assert [(o.kind, o.name, o.step, o.file) for o in flux] == [
        ("Kustomization", "pipe-deploy-step-00", 0, "flux/pipe-deploy-step-00.yaml"),
        ("Kustomization", "pipe-deploy-step-01", 1, "flux/pipe-deploy-step-01.yaml"),
        ("Kustomization", "pipe-deploy-step-02", 2, "flux/pipe-deploy-step-02.yaml"),
    ]
    labels = {
        "app.kubernetes.io/name": "pipe",
        "app.kubernetes.io/instance": "pipe",
        "app.kubernetes.io/component": "pipeline",
        "app.kubernetes.io/part-of": "pipe",
        "app.kubernetes.io/managed-by": "bodywork-render",
        "app.kubernetes.io/version": "0123456",
    }
    common = {"flux_namespace": "flux-system", "labels": labels, "source_name": "flux-system"}
    # step 1: eval's default hour once (3600 + 300) outlasts train's 600 s three times; step 2: 61 s startup + 300.
    assert [o.values for o in flux] == [
        {
            "name": "pipe-deploy-step-00",
            "timeout": "300s",
            "path": "deploy/steps/00",
            "force": False,
            "depends_on": None,
        }
        | common,
        {
            "name": "pipe-deploy-step-01",
            "timeout": "3900s",
            "path": "deploy/steps/01",
            "force": True,
            "depends_on": "pipe-deploy-step-00",
        }
        | common,
        {
            "name": "pipe-deploy-step-02",
            "timeout": "361s",
            "path": "deploy/steps/02",
            "force": False,
            "depends_on": "pipe-deploy-step-01",
        }
        | common,
    ]


def test_flux_timeouts_multiply_the_completion_budget_by_the_attempts() -> None:
    long = BatchStage(name="train", source_name="train", module="train.py", max_completion_time_seconds=1300, retries=2)
    slow = ServiceStage(name="serve", source_name="serve", module="serve.py", max_startup_time_seconds=10)
    result = plan([long, slow], format="kustomize", engine="flux", flux_source="src", flux_namespace="fx")
    flux = [o for o in result.objects if o.template == "flux-kustomization.yaml.j2"]
    assert [o.values["timeout"] for o in flux] == ["300s", "4200s", "310s"]
    assert {o.values["source_name"] for o in flux} == {"src"}
    assert {o.values["flux_namespace"] for o in flux} == {"fx"}
    assert flux[1].values["path"] == "./steps/01"


def test_pipeline_and_stage_objects_carry_the_full_label_set() -> None:
    result = plan()
    assert only(result, "ServiceAccount").values["labels"] == {
        "app.kubernetes.io/name": "pipe",
        "app.kubernetes.io/instance": "pipe",
        "app.kubernetes.io/component": "pipeline",
        "app.kubernetes.io/part-of": "pipe",
        "app.kubernetes.io/managed-by": "bodywork-render",
        "app.kubernetes.io/version": "0123456",
    }
    assert only(result, "Deployment").values["labels"] == {
        "app.kubernetes.io/name": "serve",
        "app.kubernetes.io/instance": "pipe",
        "app.kubernetes.io/component": "service",
        "app.kubernetes.io/part-of": "pipe",
        "app.kubernetes.io/managed-by": "bodywork-render",
        "app.kubernetes.io/version": "0123456",
        "bodywork-render/stage": "serve",
    }


def test_flux_paths_drop_only_trailing_slashes_of_the_deploy_path() -> None:
    result = plan(format="kustomize", engine="flux", deploy_path="clusters/prodX//")
    flux = [o for o in result.objects if o.template == "flux-kustomization.yaml.j2"]
    assert [o.values["path"] for o in flux] == [
        "clusters/prodX/steps/00",
        "clusters/prodX/steps/01",
        "clusters/prodX/steps/02",
    ]
