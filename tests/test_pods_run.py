"""The rendered pods run as a kubelet would run them (tests/kubelet.py): the example's train Job to completion, then
its serve Deployment answering POST /predict, from the manifests and from the Helm chart; and the emulator itself,
on small hand-written pods."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from bodywork_render.spec.project import load_project
from bodywork_render.spec.schedule import latest_tick
from tests import helmsdk
from tests.ci import unavailable
from tests.gitdaemon import GitDaemon, free_port, listening
from tests.kubelet import NOBODY, PodFailed, RunningPipeline, apply_steps, job_of_cron_job, run_pipeline
from tests.renderkit import EXAMPLE, PROJECTS, checkout, git


@pytest.fixture
def host() -> None:
    """Skip (fail in CI) where the emulator cannot run: it mounts in private namespaces and changes users as root."""
    if os.geteuid() != 0:
        unavailable("the kubelet emulator needs root: it mounts volumes in private mount namespaces")
    missing = [tool for tool in ("unshare", "setpriv", "mount") if shutil.which(tool) is None]
    if missing:
        unavailable(f"the kubelet emulator needs util-linux's {', '.join(missing)}")
    if subprocess.run(["unshare", "--mount", "true"], check=False).returncode:
        unavailable("the kubelet emulator needs `unshare --mount` to work (a container may forbid it)")


# --- the example, rendered ----------------------------------------------------------------------


def bodywork(*args: str) -> None:
    """The CLI as a user runs it; fails the test with its output when it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "bodywork_render", *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def example(git_daemon: GitDaemon, tmp_path: Path) -> tuple[Path, str, str]:
    """The example as a repository on the git daemon: (checkout, git:// URL, commit)."""
    git_daemon.create_bare("train-and-serve")
    url = git_daemon.url("train-and-serve")
    project = checkout(EXAMPLE, tmp_path / "train-and-serve", origin=url)
    git(project, "push", "-q", "origin", "HEAD:main")
    return project, url, git(project, "rev-parse", "HEAD")


def manifests(folder: Path) -> list[dict[str, Any]]:
    """The objects of every YAML file of a manifests render, in file order."""
    return [doc for path in sorted(folder.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def serving_port(objects: list[dict[str, Any]]) -> int:
    """The containerPort of the one Deployment."""
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (port,) = container["ports"]
    return int(port["containerPort"])


def post_json(url: str, document: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST a JSON document; the status and the JSON answer."""
    request = urllib.request.Request(
        url, data=json.dumps(document).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def assert_serves_predictions(objects: list[dict[str, Any]], commit: str) -> None:
    """Run the pipeline; the service answers /predict with the model the train Job fitted at this commit."""
    port = serving_port(objects)
    if listening(port):
        unavailable(f"port {port} is taken on this machine: the emulated pods share its network")
    with run_pipeline(objects):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=30) as response:
            health = json.loads(response.read())
        assert health["model"]["commit"] == commit
        features = [[0.0] * health["model"]["n_features"], [0.05] * health["model"]["n_features"]]
        status, answer = post_json(f"http://127.0.0.1:{port}/predict", {"features": features})
    assert status == 200
    low, high = health["model"]["target_range"]
    assert len(answer["predictions"]) == 2
    assert all(low - 100 < value < high + 100 for value in answer["predictions"]), answer


@pytest.mark.slow
def test_the_example_manifests_train_then_serve(host: None, example: tuple[Path, str, str], tmp_path: Path) -> None:
    project, url, commit = example
    bodywork("render", str(project), "--out", str(tmp_path / "out"), "--ref", commit, "--repo-url", url)
    assert_serves_predictions(manifests(tmp_path / "out"), commit)


@pytest.mark.slow
def test_the_example_chart_train_then_serve(host: None, example: tuple[Path, str, str], tmp_path: Path) -> None:
    project, url, commit = example
    chart = tmp_path / "chart"
    bodywork("render", str(project), "--format", "helm", "--out", str(chart), "--ref", commit, "--repo-url", url)
    name = yaml.safe_load((chart / "Chart.yaml").read_text())["name"]
    objects = helmsdk.template_objects(chart, release=name, namespace=name)
    assert any("helm.sh/hook" in o["metadata"].get("annotations", {}) for o in objects), "the Jobs are hooks"
    assert_serves_predictions(objects, commit)


@pytest.mark.slow
def test_the_scheduled_cron_job_runs_its_stage_at_a_scheduled_time(
    host: None, git_daemon: GitDaemon, tmp_path: Path
) -> None:
    """The CronJob of tests/projects/scheduled, rendered, run as its controller and a kubelet would at its latest
    scheduled time."""
    git_daemon.create_bare("scheduled")
    url = git_daemon.url("scheduled")
    project = checkout(PROJECTS / "scheduled", tmp_path / "scheduled", origin=url)
    git(project, "push", "-q", "origin", "HEAD:main")
    commit = git(project, "rev-parse", "HEAD")
    bodywork("render", str(project), "--out", str(tmp_path / "out"), "--ref", commit, "--repo-url", url)
    objects = manifests(tmp_path / "out")
    (cron_job,) = [o for o in objects if o["kind"] == "CronJob"]
    schedule = load_project(project).pipeline.schedule
    assert schedule is not None
    tick = latest_tick(schedule, datetime.now(timezone.utc))
    assert tick is not None
    job = job_of_cron_job(cron_job, tick)
    with run_pipeline([job if o is cron_job else o for o in objects]) as pipeline:
        logs = pipeline.logs(job["metadata"]["name"])
    assert "scoring with --batch-size 500" in logs
    assert f"stage=score commit={commit[:7]} step=run" in logs


# --- the emulator -------------------------------------------------------------------------------

SECURITY = {"runAsNonRoot": True, "runAsUser": NOBODY, "runAsGroup": NOBODY, "fsGroup": NOBODY}


def container(name: str, script: str, **fields: Any) -> dict[str, Any]:
    """A container running a Python script, with the report claim mounted at /report."""
    mounts = [{"name": "report", "mountPath": "/report"}, *fields.pop("volumeMounts", [])]
    return {"name": name, "command": ["python3", "-c", script], "volumeMounts": mounts, **fields}


def pod(containers: list[dict[str, Any]], init: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    """A pod template running as nobody (fsGroup nobody), with the claim 'report' as a volume."""
    volumes = [{"name": "report", "persistentVolumeClaim": {"claimName": "report"}}, *spec.pop("volumes", [])]
    return {
        "metadata": {"labels": {"app": "test"}},
        "spec": {
            "securityContext": SECURITY,
            "initContainers": init or [],
            "containers": containers,
            "volumes": volumes,
            **spec,
        },
    }


def job(name: str, template: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A Job of the template (restartPolicy Never unless set)."""
    template["spec"].setdefault("restartPolicy", "Never")
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {"template": template, **spec}}


def report(pipeline: RunningPipeline, name: str) -> Any:
    """What a container wrote as JSON to /report/<name> (the claim 'report')."""
    return json.loads((pipeline.claim("report") / name).read_text())


INSPECT = """
import json, os, sys
def writable(path):
    try:
        open(path, "w").close()
        return True
    except OSError as error:
        return error.strerror
json.dump({
    "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "cwd": os.getcwd(), "env": dict(os.environ),
    "argv": sys.argv[1:], "config": open("/etc/config/greeting").read(),
    "config_mode": oct(os.stat("/etc/config/greeting").st_mode & 0o777),
    "scratch": writable("/scratch/file"), "tmp": writable("/tmp/file"), "root": writable("/file"),
    "config_write": writable("/etc/config/new"),
}, open("/report/inspect.json", "w"))
"""


def test_a_container_sees_its_spec(host: None) -> None:
    config_map = {"kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"greeting": "hello"}}
    inspect = container(
        "inspect",
        INSPECT,
        args=["$(WHO)", "$$(WHO)", "$(UNDEFINED)", "$(PATH)"],
        workingDir="/srv/app",
        env=[
            {"name": "WHO", "value": "pod"},
            {"name": "GREETING", "value": "hi $(WHO)"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "credentials", "key": "token"}}},
        ],
        securityContext={"readOnlyRootFilesystem": True},
        volumeMounts=[
            {"name": "scratch", "mountPath": "/scratch"},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "config", "mountPath": "/etc/config", "readOnly": True},
        ],
    )
    template = pod(
        [inspect],
        volumes=[
            {"name": "scratch", "emptyDir": {}},
            {"name": "tmp", "emptyDir": {}},
            {"name": "config", "configMap": {"name": "settings", "defaultMode": 0o440}},
        ],
    )
    with run_pipeline([config_map, job("inspect", template)], secrets={"credentials": {"token": "s3cret"}}) as ran:
        seen = report(ran, "inspect.json")
    assert (seen["uid"], seen["gid"], seen["groups"]) == (NOBODY, NOBODY, [NOBODY])
    assert seen["cwd"] == "/srv/app"
    assert seen["argv"] == ["pod", "$(WHO)", "$(UNDEFINED)", "$(PATH)"], "only the spec's env expands"
    env = seen["env"]
    assert {k: env[k] for k in ("WHO", "GREETING", "TOKEN")} == {"WHO": "pod", "GREETING": "hi pod", "TOKEN": "s3cret"}
    assert set(env) == {"WHO", "GREETING", "TOKEN", "PATH", "LANG", "HOSTNAME", "HOME"}, (
        "the spec's env and the image's"
    )
    assert (seen["config"], seen["config_mode"]) == ("hello", "0o440")
    assert (seen["scratch"], seen["tmp"]) == (True, True)
    assert seen["root"] == seen["config_write"] == "Read-only file system"


def test_a_failing_init_container_stops_the_pod(host: None) -> None:
    init = [container("first", "print('first ran')"), container("second", "import sys; print('no'); sys.exit(3)")]
    main = container("main", "open('/report/main-ran', 'w')")
    with pytest.raises(PodFailed, match=r"container second exited with 3:\nno") as failure:
        with run_pipeline([job("init", pod([main], init), backoffLimit=0)]):
            pass
    assert "BackoffLimitExceeded after 1 pods" in str(failure.value)


def test_a_job_retries_up_to_its_backoff_limit(host: None, tmp_path: Path) -> None:
    # Each pod appends a line to the claim, and fails until three pods have run.
    script = "f = open('/report/runs', 'a+'); f.write('run\\n'); f.seek(0); raise SystemExit(len(f.readlines()) < 3)"
    with run_pipeline([job("third-time", pod([container("c", script)]), backoffLimit=2)]) as ran:
        assert (ran.claim("report") / "runs").read_text() == "run\n" * 3
    with pytest.raises(PodFailed, match="BackoffLimitExceeded after 2 pods"):
        with run_pipeline([job("never", pod([container("c", script)]), backoffLimit=1)]):
            pass


def test_a_pod_failure_policy_fails_the_job_at_once(host: None) -> None:
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}
    failing = job("fatal", pod([container("c", "raise SystemExit(42)")]), backoffLimit=5, podFailurePolicy=policy)
    with pytest.raises(PodFailed, match="FailJob") as failure:
        with run_pipeline([failing]):
            pass
    assert str(failure.value).count("exited with 42") == 1


def running(marker: str) -> list[int]:
    """The processes whose command line holds ``marker``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def test_a_job_past_its_deadline_is_killed_with_every_process_of_its_pod(host: None) -> None:
    # The container starts a process in a session of its own (as the runner starts pip and the module).
    marker = f"orphan-{os.getpid()}-{time.monotonic_ns()}"
    script = f"""
import subprocess, sys, time
orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{marker}"], start_new_session=True)
time.sleep(0.3)
print("orphan alive" if orphan.poll() is None else "orphan dead", flush=True)
time.sleep(60)
"""
    template = pod([container("c", script)], terminationGracePeriodSeconds=1)
    slow = job("slow", template, backoffLimit=3, activeDeadlineSeconds=3)
    started = time.monotonic()
    with pytest.raises(PodFailed, match="DeadlineExceeded") as failure:
        with run_pipeline([slow]):
            pass
    assert time.monotonic() - started < 30, "not the 60 s the container sleeps"
    assert "orphan alive" in str(failure.value)
    # The kernel tears a PID namespace down after its process 1 died: give a loaded machine a moment.
    deadline = time.monotonic() + 5
    while running(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running(marker) == []


SERVE = """
import functools, http.server
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory="/report")
http.server.ThreadingHTTPServer(("127.0.0.1", {port}), handler).serve_forever()
"""


def deployment(name: str, template: dict[str, Any]) -> dict[str, Any]:
    """A Deployment of three replicas of the template (the emulator starts one)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": 3, "template": template},
    }


def test_a_job_then_a_deployment_share_a_claim_and_serve(host: None) -> None:
    port = free_port()
    write = job("write", pod([container("c", "open('/report/answer', 'w').write('42')")]), backoffLimit=0)
    write["metadata"]["annotations"] = {"argocd.argoproj.io/sync-wave": "1"}
    probe = {"tcpSocket": {"port": "http"}, "periodSeconds": 1, "failureThreshold": 20}
    serve = container(
        "serve", SERVE.format(port=port), ports=[{"name": "http", "containerPort": port}], startupProbe=probe
    )
    server = deployment("serve", pod([serve], terminationGracePeriodSeconds=1))
    server["metadata"]["annotations"] = {"argocd.argoproj.io/sync-wave": "2"}
    mounts_before = Path("/proc/self/mountinfo").read_text()
    with run_pipeline([server, write]) as ran:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/answer", timeout=10) as response:
            assert response.read() == b"42"
        workdir = ran.workdir
    # The kernel tears a PID namespace down after its process 1 died: give a loaded machine a moment.
    deadline = time.monotonic() + 5
    while listening(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not listening(port), "the Deployment's process is stopped"
    assert workdir is not None and not workdir.exists()
    assert Path("/proc/self/mountinfo").read_text() == mounts_before


def test_a_deployment_that_exits_before_listening_fails(host: None) -> None:
    probe = {"tcpSocket": {"port": free_port()}, "periodSeconds": 1, "failureThreshold": 20}
    serve = container("serve", "print('no model'); raise SystemExit(1)", startupProbe=probe)
    with pytest.raises(PodFailed, match="exited with 1 before listening"):
        with run_pipeline([deployment("broken", pod([serve]))]):
            pass


def test_an_optional_secret_volume_that_is_missing_is_left_out(host: None) -> None:
    script = "import os, json; json.dump(os.path.exists('/etc/git'), open('/report/mounted', 'w'))"
    mounted = container("c", script, volumeMounts=[{"name": "git", "mountPath": "/etc/git", "readOnly": True}])
    volume = {"name": "git", "secret": {"secretName": "git-credentials", "optional": True}}
    with run_pipeline([job("optional", pod([mounted], volumes=[volume]))]) as ran:
        assert report(ran, "mounted") is False
    with run_pipeline(
        [job("present", pod([mounted], volumes=[volume]))], secrets={"git-credentials": {"k": "v"}}
    ) as ran:
        assert report(ran, "mounted") is True


def names(steps: list[list[Any]]) -> list[list[str]]:
    """The names of the objects of each step."""
    return [[o["metadata"]["name"] for o in step] for step in steps]


def test_objects_are_created_in_helm_hook_steps_else_in_sync_waves() -> None:
    def obj(kind: str, name: str, **annotations: str) -> dict[str, Any]:
        return {"kind": kind, "metadata": {"name": name, "annotations": annotations}}

    wave = "argocd.argoproj.io/sync-wave"
    waves = [obj("Deployment", "serve", **{wave: "2"}), obj("Job", "train", **{wave: "1"}), obj("ConfigMap", "cm")]
    waves.append(obj("Service", "serve", **{wave: "2"}))
    assert names(apply_steps(waves)) == [["cm"], ["train"], ["serve", "serve"]]
    pre, post = "pre-install,pre-upgrade", "post-install,post-upgrade"
    hooks = [
        obj("Deployment", "serve", **{wave: "0"}),
        obj("Job", "evaluate", **{"helm.sh/hook": post, "helm.sh/hook-weight": "3"}),
        obj("Job", "prepare", **{"helm.sh/hook": pre, "helm.sh/hook-weight": "2"}),
        obj("ConfigMap", "runner"),
        obj("Job", "train", **{"helm.sh/hook": pre, "helm.sh/hook-weight": "1"}),
        obj("ServiceAccount", "sa", **{"helm.sh/hook": pre, "helm.sh/hook-weight": "1"}),
    ]
    steps = [["sa"], ["train"], ["prepare"], ["serve", "runner"], ["evaluate"]]
    assert names(apply_steps(hooks)) == steps, "hooks by weight, then by name"


def test_a_hook_job_cannot_mount_a_config_map_that_helm_creates_after_it(host: None) -> None:
    config_map: dict[str, Any] = {"kind": "ConfigMap", "metadata": {"name": "runner"}, "data": {"runner.py": ""}}
    mounted = container("c", "pass", volumeMounts=[{"name": "runner", "mountPath": "/opt/runner"}])
    hook = job("train", pod([mounted], volumes=[{"name": "runner", "configMap": {"name": "runner"}}]))
    hook["metadata"]["annotations"] = {"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "1"}
    with pytest.raises(PodFailed, match="ConfigMap runner is created after the pod that needs it"):
        with run_pipeline([config_map, hook]):
            pass
    config_map["metadata"]["annotations"] = {"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "0"}
    with run_pipeline([config_map, hook]) as ran:
        assert ran.jobs["train"].containers[0].exit_code() == 0
