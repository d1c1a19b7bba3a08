"""`bodywork run-stage` and `bodywork run`: real git daemon, real runner, real stage processes, no mocks.

The example project is pushed to a bare repository behind `git daemon`;
`run-stage` trains from its commit and serves from its branch, and a
prediction is checked over HTTP. `run` runs a copy of the example, and small
projects written by the tests exercise failures, run_on_failure, ports and `run --scheduled`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bodywork_render.local.run import descendants, runner_commands, scheduled_part
from bodywork_render.spec.model import BatchStage, ServiceStage
from bodywork_render.spec.project import load_project
from bodywork_render.spec.schedule import latest_tick
from tests.ci import unavailable
from tests.gitdaemon import GitDaemon, free_port, listening
from tests.pythons import interpreter
from tests.renderkit import COMMIT, render
from tests.test_runner import TARGET_RANGE, _post_json, _wait_for_health

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "train-and-serve"
ROW = [0.04, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, -0.02]
# What a stopped service may take before the test gives up: far less than the 30 s grace period, so a run that
# waits the grace period out fails, and far more than a prompt stop takes on a busy machine. Not a speed check.
STOP_SECONDS = 20


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@contextlib.contextmanager
def bodywork(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Iterator[subprocess.Popen[str]]:
    """`bodywork ARGS` started with piped output; on exit it and every process below it are gone.

    Its stages run in sessions of their own: a test that fails half-way asks
    bodywork to stop them, and kills whatever is left by process id.
    """
    command = [sys.executable, "-m", "bodywork_render", *args]
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        below = descendants(process.pid)
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.communicate(timeout=STOP_SECONDS)
        for pid in below if process.poll() is not None else [*below, process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.communicate()


def run_bodywork(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`bodywork ARGS` run to its end."""
    with bodywork(*args, env=env) as process:
        stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def _predict(port: int) -> list[float]:
    """The service's predictions for two rows, each checked to be a number in the data set's range."""
    status, answer = _post_json(f"http://127.0.0.1:{port}/predict", {"features": [ROW, [0.0] * 10]})
    assert status == 200, answer
    for prediction in answer["predictions"]:
        assert isinstance(prediction, float) and TARGET_RANGE[0] <= prediction <= TARGET_RANGE[1], answer
    return list(answer["predictions"])


def _stop(process: subprocess.Popen[str], signum: int) -> tuple[int, str, str]:
    """Send ``signum``; the exit code and output, once it ended within STOP_SECONDS."""
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=STOP_SECONDS)
    return process.returncode, stdout, stderr


# --- run-stage, from a repository served by git daemon ------------------------------------------


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GitDaemon, str]]:
    """The example pushed to branch main of a served bare repository: (daemon, commit)."""
    work = tmp_path_factory.mktemp("example") / "train-and-serve"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    with GitDaemon(tmp_path_factory.mktemp("repos")) as daemon:
        daemon.create_bare("train-and-serve")
        _git("init", "--quiet", "--initial-branch=main", cwd=work)
        _git("add", ".", cwd=work)
        _git("commit", "--quiet", "-m", "example project", cwd=work)
        _git("push", "--quiet", daemon.url("train-and-serve"), "main", cwd=work)
        yield daemon, _git("rev-parse", "HEAD", cwd=work)


@pytest.mark.slow
def test_run_stage_trains_from_a_commit_then_serves_from_a_branch_until_sigterm(
    pushed: tuple[GitDaemon, str], tmp_path: Path
) -> None:
    daemon, commit = pushed
    url = daemon.url("train-and-serve")
    artifacts = tmp_path / "artifacts"
    env = _env()
    shared = ("--shared-dir", str(artifacts))
    trained = run_bodywork("run-stage", "train", "--repo", url, "--ref", commit, *shared, env=env)
    assert trained.returncode == 0, trained.stderr
    assert json.loads((artifacts / "metrics.json").read_text())["commit"] == commit
    assert f"[bodywork] stage=train commit={commit[:7]} step=run: train/train.py finished" in trained.stderr

    port = free_port()
    workdir = tmp_path / "workdir"
    with bodywork(
        "run-stage",
        "serve",
        "--repo",
        url,
        "--ref",
        "main",
        "--workdir",
        str(workdir),
        *shared,
        env=_env(**env, PORT=str(port)),
    ) as process:
        health = _wait_for_health(f"http://127.0.0.1:{port}/health", process)
        assert health["model"]["commit"] == commit
        assert len(_predict(port)) == 2
        code, _, stderr = _stop(process, signal.SIGTERM)
    assert code == 0, stderr
    assert f"bodywork: --ref main is commit {commit}" in stderr
    assert "SIGTERM received: passing it on to serve" in stderr
    assert "serve INFO SIGTERM received: stopping" in stderr
    assert not listening(port)
    assert _git("rev-parse", "HEAD", cwd=workdir / "src") == commit, "--workdir is kept"
    assert (workdir / ".deps" / "serve" / ".bodywork-requirements.json").is_file() or "skipping pip" in stderr


@pytest.mark.slow
def test_run_stage_exits_with_the_stages_code(pushed: tuple[GitDaemon, str], tmp_path: Path) -> None:
    daemon, commit = pushed
    # No model in this folder: serve exits 1 at start.
    result = run_bodywork(
        "run-stage", "serve", "--repo", daemon.url("train-and-serve"), "--ref", commit,
        "--shared-dir", str(tmp_path / "empty"), env=_env(),
    )  # fmt: skip
    assert result.returncode == 1
    assert "no model at" in result.stderr and "serve/serve.py failed with exit code 1" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("repo", "ref", "expected"),
    [
        (
            "{daemon}",
            "0" * 40,
            "commit 0000000000000000000000000000000000000000 not found in git://127.0.0.1:{port}/train-and-serve.git",
        ),
        (
            "git://user:s3cr3t@127.0.0.1:{port}/train-and-serve.git",
            "no-such-branch",
            "--ref 'no-such-branch' is neither a full commit SHA nor a branch or tag of git://127.0.0.1:{port}/train-and-serve.git",
        ),
        ("git://user:s3cr3t@127.0.0.1:{port}/no-such.git", "0" * 40, "cannot fetch git://127.0.0.1:{port}/no-such.git"),
        ("http://user:s3cr3t@127.0.0.1:1/x.git", "main", "cannot resolve --ref 'main'"),
        ("http://user:s3cr3t@127.0.0.1:1/x.git", "0" * 40, "cannot fetch http://127.0.0.1:1/x.git"),
    ],
    ids=["wrong-commit", "wrong-branch", "wrong-repository", "unreachable-ref", "unreachable-commit"],
)
def test_run_stage_with_a_wrong_commit_or_url_is_a_clear_error_without_credentials(
    pushed: tuple[GitDaemon, str], repo: str, ref: str, expected: str
) -> None:
    daemon, _ = pushed
    repo = repo.format(daemon=daemon.url("train-and-serve"), port=daemon.port)
    result = run_bodywork("run-stage", "train", "--repo", repo, "--ref", ref, env=_env(BODYWORK_GIT_TOKEN="tok3n"))
    assert result.returncode == 1, result.stderr
    output = result.stdout + result.stderr
    assert expected.format(port=daemon.port) in output
    assert "Traceback" not in output
    for secret in ("s3cr3t", "user:", "tok3n"):
        assert secret not in output


@pytest.mark.slow
def test_run_stage_of_a_project_in_a_folder_at_an_annotated_tag(tmp_path: Path) -> None:
    work = tmp_path / "monorepo"
    shutil.copytree(EXAMPLE, work / "ml" / "pipeline", ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    _git("init", "--quiet", "--initial-branch=main", cwd=work)
    _git("add", ".", cwd=work)
    _git("commit", "--quiet", "-m", "a pipeline in a folder", cwd=work)
    _git("tag", "--annotate", "-m", "first release", "v1", cwd=work)
    commit = _git("rev-parse", "HEAD", cwd=work)
    artifacts = tmp_path / "artifacts"
    result = run_bodywork(
        "run-stage", "train", "--repo", str(work), "--ref", "v1", "--project-path", "ml/pipeline",
        "--shared-dir", str(artifacts), env=_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"bodywork: --ref v1 is commit {commit}" in result.stderr, "the tag resolves to its commit, not to itself"
    assert "step=run: ml/pipeline/train/train.py finished" in result.stderr
    assert (artifacts / "model.joblib").is_file()
    escape = run_bodywork("run-stage", "train", "--repo", str(work), "--ref", commit, "--project-path", "../x")
    assert escape.returncode == 1
    assert "--project-path '../x': expected a folder inside the repository" in escape.stderr


@pytest.mark.slow
def test_run_stage_of_an_unknown_stage_names_the_stages(pushed: tuple[GitDaemon, str]) -> None:
    daemon, commit = pushed
    result = run_bodywork("run-stage", "evaluate", "--repo", daemon.url("train-and-serve"), "--ref", commit)
    assert result.returncode == 1
    assert "no stage 'evaluate' in the pipeline 'train-and-serve' (its stages: serve, train)" in result.stderr


def test_runner_commands_are_those_of_the_rendered_pods() -> None:
    # Written out from the example's bodywork.yaml, not computed by the code under test.
    requirements = ["--requirement", "scikit-learn==1.9.1", "--requirement", "joblib==1.6.0"]
    own = {
        name: ["--workspace", "/workspace", "--stage", name, "--module", f"examples/train-and-serve/{name}/{name}.py",
               "--commit", COMMIT]
        for name in ("train", "serve")
    }  # fmt: skip
    expected_install = {name: [*own[name], *requirements] for name in own}
    expected_run = {"train": [*own["train"], "--timeout", "300", "--"], "serve": [*own["serve"], "--"]}
    base_env = {
        "HOME": "/tmp", "PYTHONUNBUFFERED": "1", "BODYWORK_LOG_LEVEL": "INFO", "BODYWORK_SHARED_DIR": "/bodywork/shared"
    }  # fmt: skip
    # Only an Ingress adds a path prefix; local runs are reached without one, so they do not set it.
    expected_env = {"train": base_env, "serve": {**base_env, "BODYWORK_ROUTE_PREFIX": "/train-and-serve/serve"}}
    pipeline = load_project(EXAMPLE).pipeline
    workloads = {o["kind"]: o for o in render(EXAMPLE).objects if o["kind"] in ("Job", "Deployment")}
    for kind, name, stage_type in (("Job", "train", BatchStage), ("Deployment", "serve", ServiceStage)):
        pod = workloads[kind]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        install = next(c for c in pod["initContainers"] if c["name"] == "install")
        stage = pipeline.stages[name]
        assert isinstance(stage, stage_type)
        assert install["args"] == expected_install[name]
        assert container["args"] == expected_run[name]
        module = f"examples/train-and-serve/{stage.module}"
        local_install, local_run = runner_commands(stage, COMMIT, Path("/workspace"), module)
        assert local_install[-len(expected_install[name]) - 1 :] == ["install", *expected_install[name]]
        assert local_run[-len(expected_run[name]) - 1 :] == ["run", *expected_run[name]]
        assert {item["name"]: item.get("value") for item in container["env"]} == expected_env[name]


# --- run: the whole pipeline from a project folder -------------------------------------------------


def _example_copy(folder: Path, port: int) -> Path:
    """The example project in ``folder``, its service on ``port``."""
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    config = folder / "bodywork.yaml"
    config.write_text(config.read_text().replace("port: 8000", f"port: {port}"))
    return folder


@pytest.mark.slow
def test_run_trains_serves_health_checked_then_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    project = _example_copy(tmp_path / "project", port)
    shared = tmp_path / "shared"
    result = run_bodywork("run", str(project), "--shared-dir", str(shared), env=_env(PORT=str(port)), timeout=80)
    assert result.returncode == 0, result.stderr
    assert (shared / "model.joblib").is_file(), "train writes the model into the shared folder"
    assert not (project / "artifacts").exists()
    lines = result.stderr.splitlines()
    order = ["step 1 of 2: train", "step 2 of 2: serve", f"serve is up: listening on port {port}", "stopping serve",
             "serve stopped (exit code 0)", "the pipeline train-and-serve finished"]  # fmt: skip
    assert [text for text in order for line in lines if line == f"bodywork: {text}"] == order, result.stderr
    assert "[train] [bodywork] stage=train commit=local step=run: train/train.py finished" in result.stdout
    assert re.search(r"^\[serve\] .* serve INFO serving the model", result.stdout, re.MULTILINE)
    assert not listening(port)


@pytest.mark.slow
def test_run_with_serve_keeps_the_service_until_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    project = _example_copy(tmp_path / "project", port)
    workdir = tmp_path / "workdir"
    with bodywork("run", str(project), "--serve", "--workdir", str(workdir), env=_env(PORT=str(port))) as process:
        _wait_for_health(f"http://127.0.0.1:{port}/health", process, seconds=60)
        assert len(_predict(port)) == 2
        time.sleep(0.5)
        assert process.poll() is None, "--serve stopped the service"
        code, _, stderr = _stop(process, signal.SIGINT)
    assert code == 0, stderr
    assert f"bodywork: serve serves on http://localhost:{port}" in stderr
    assert (workdir / "src").resolve() == project.resolve() and (workdir / "home").is_dir()
    assert (workdir / "shared" / "model.joblib").is_file(), "the shared folder defaults to shared/ in the workspace"
    assert not listening(port)


def _project(folder: Path, config: str, files: dict[str, str]) -> Path:
    """A project folder holding ``config`` as bodywork.yaml and ``files`` (path: text)."""
    for name, text in {"bodywork.yaml": config, **files}.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder


# A service that listens on the port it is given and writes a line when it is stopped.
LISTENER = """\
import signal, socket, sys
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(print("listener stopped", flush=True)))
while True:
    server.accept()[0].close()
"""


def _stages_config(port: int, dag: str, stages: str, on_failure: str = "") -> str:
    """A bodywork.yaml whose stage `listener` (LISTENER) listens on ``port``, with more ``stages``."""
    header = f"""\
        version: "1.1"
        pipeline:
          name: local-checks
          docker_image: python:3.12-slim
          DAG: {dag}
          {on_failure}
        stages:
          listener:
            executable_module_path: listener.py
            args: ["{port}"]
            service:
              max_startup_time_seconds: 2
              replicas: 1
              port: {port}
              ingress: false
        """
    return textwrap.dedent(header) + textwrap.indent(textwrap.dedent(stages), "  ")


def _batch(name: str, retries: int = 0, args: tuple[str, ...] = ()) -> str:
    """The bodywork.yaml entry of a batch stage that runs NAME.py."""
    return (
        f"{name}:\n  executable_module_path: {name}.py\n  args: {json.dumps(list(args))}\n"
        f"  batch: {{max_completion_time_seconds: 60, retries: {retries}}}\n"
    )


@pytest.mark.slow
def test_a_failing_stage_stops_everything_and_runs_run_on_failure(tmp_path: Path) -> None:
    port = free_port()
    marker = tmp_path / "marker"
    stages = _batch("fail", retries=1) + _batch("never") + _batch("on_failure", args=(str(marker),))
    project = _project(
        tmp_path / "project",
        _stages_config(port, "listener >> fail >> never", stages, "run_on_failure: on_failure"),
        {
            "listener.py": LISTENER,
            "fail.py": "import sys; print('failing on purpose'); sys.exit(3)",
            "never.py": "open('never-ran', 'w').close()",
            "on_failure.py": "import sys; open(sys.argv[1], 'w').write('ran')",
        },
    )
    result = run_bodywork("run", str(project))
    assert result.returncode == 1, result.stderr
    assert marker.read_text() == "ran"
    assert not (project / "never-ran").exists()
    assert result.stdout.count("[fail] failing on purpose") == 2, "retries: 1 is two attempts, as a Job's backoffLimit"
    assert "[listener] listener stopped" in result.stdout
    assert "bodywork: fail failed with exit code 3: retry 1 of 1" in result.stderr
    # One name per stage in everything a user reads: bodywork.yaml's (on_failure), never the Kubernetes one.
    assert "bodywork: running the run_on_failure stage on_failure" in result.stderr
    assert "[on_failure] [bodywork] stage=on_failure commit=local step=run: on_failure.py finished" in result.stdout
    assert "on-failure" not in result.stdout + result.stderr
    assert result.stderr.rstrip().endswith(
        "bodywork: the pipeline local-checks failed: stage fail failed with exit code 3"
    )
    assert result.stderr.index("listener stopped (exit code") < result.stderr.index("running the run_on_failure stage")
    assert not listening(port)


# Finishes only when the other stage of its step runs at the same time.
RENDEZVOUS = """\
import pathlib, sys, time
mine, other = sys.argv[1:]
pathlib.Path(mine).touch()
deadline = time.monotonic() + 20
while not pathlib.Path(other).exists():
    if time.monotonic() > deadline:
        sys.exit("the other stage of this step did not run alongside")
    time.sleep(0.05)
"""


@pytest.mark.slow
def test_the_stages_of_one_step_run_together(tmp_path: Path) -> None:
    port = free_port()
    stages = _batch("left", args=("left-up", "right-up")) + _batch("right", args=("right-up", "left-up"))
    project = _project(
        tmp_path / "project",
        _stages_config(port, "listener >> left, right", stages),
        {"listener.py": LISTENER, "left.py": RENDEZVOUS, "right.py": RENDEZVOUS},
    )
    result = run_bodywork("run", str(project))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bodywork: step 2 of 2: left, right" in result.stderr


@pytest.mark.slow
def test_a_service_that_never_listens_fails_the_run_in_its_startup_time(tmp_path: Path) -> None:
    port = free_port()
    project = _project(
        tmp_path / "project",
        _stages_config(port, "listener", ""),
        {"listener.py": "import time; time.sleep(60)"},
    )
    # The listener sleeps 60 s: a run that waited for it rather than its 2 s startup time would time out here.
    result = run_bodywork("run", str(project), timeout=30)
    assert result.returncode == 1, result.stderr
    assert f"service listener did not listen on port {port} within 2 s" in result.stderr


def test_two_services_on_one_port_are_refused_before_anything_runs(tmp_path: Path) -> None:
    port = free_port()
    twin = f"""\
        twin:
          executable_module_path: listener.py
          args: ["{port}"]
          service: {{max_startup_time_seconds: 2, replicas: 1, port: {port}, ingress: false}}
    """
    project = _project(tmp_path / "project", _stages_config(port, "listener, twin", twin), {"listener.py": LISTENER})
    result = run_bodywork("run", str(project))
    assert result.returncode == 1
    assert f"service stages 'listener', 'twin' all listen on port {port}" in result.stderr
    assert "[listener]" not in result.stdout


def test_a_port_in_use_on_this_machine_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        project = _project(tmp_path / "project", _stages_config(port, "listener", ""), {"listener.py": LISTENER})
        result = run_bodywork("run", str(project))
    assert result.returncode == 1
    assert f"port {port} of service stage 'listener' is already in use on this machine" in result.stderr
    assert result.stdout == ""


@pytest.mark.slow
def test_an_interrupted_run_stops_its_stages_without_run_on_failure(tmp_path: Path) -> None:
    port = free_port()
    stages = _batch("slow") + _batch("on_failure")
    project = _project(
        tmp_path / "project",
        _stages_config(port, "listener >> slow", stages, "run_on_failure: on_failure"),
        {
            "listener.py": LISTENER,
            "slow.py": "import time; print('started', flush=True); time.sleep(60)",
            "on_failure.py": "open('on-failure-ran', 'w').close()",
        },
    )
    with bodywork("run", str(project)) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if line == "[slow] started\n":
                break
        code, _, stderr = _stop(process, signal.SIGINT)
    assert code == 130, stderr
    assert "bodywork: SIGINT received: stopping every stage" in stderr
    assert "bodywork: slow stopped (exit code 143)" in stderr and "bodywork: listener stopped (exit code 0)" in stderr
    assert not (project / "on-failure-ran").exists()
    assert not listening(port)


def test_run_of_an_invalid_project_lists_its_errors(tmp_path: Path) -> None:
    project = _project(tmp_path / "project", "version: '1.1'\npipeline: {}\n", {})
    result = run_bodywork("run", str(project))
    assert result.returncode == 1
    assert "bodywork.yaml:2" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_run_with_python_runs_the_stages_under_that_interpreter(tmp_path: Path) -> None:
    other = next((found for version in ("3.12", "3.10", "3.13", "3.9") if (found := interpreter(version))), None)
    if other is None:
        unavailable("no Python but this one here (pyenv install 3.12)")
    stages = _batch("which")
    project = _project(
        tmp_path / "project",
        _stages_config(free_port(), "which", stages),
        {"which.py": "import sys; print('python', '.'.join(map(str, sys.version_info[:2])))", "listener.py": ""},
    )
    result = run_bodywork("run", str(project), "--python", other)
    assert result.returncode == 0, result.stderr
    version = subprocess.run([other, "-c", "import sys; print(*sys.version_info[:2], sep='.')"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    assert f"[which] python {version}" in result.stdout
    missing = run_bodywork("run", str(project), "--python", "no-such-python3")
    assert missing.returncode == 1
    assert "--python 'no-such-python3': no such executable" in missing.stderr and "Traceback" not in missing.stderr


# --- bodywork run --scheduled -----------------------------------------------------------------------------------------

# Appends its name to the file it is given: the order the stages ran in.
RECORD = "import sys; open(sys.argv[1], 'a').write(sys.argv[2] + '\\n')"


def _scheduled_project(folder: Path, port: int, schedule: str, record: Path) -> Path:
    """listener (a service) >> prepare >> train, report: a scheduled pipeline whose batch stages record their order."""
    stages = "".join(_batch(name, args=(str(record), name)) for name in ("prepare", "train", "report"))
    return _project(
        folder,
        _stages_config(port, "listener >> prepare >> train, report", stages, f"schedule: {schedule}"),
        {"listener.py": LISTENER, "prepare.py": RECORD, "train.py": RECORD, "report.py": RECORD},
    )


@pytest.mark.slow
def test_run_scheduled_runs_the_batch_stages_in_dag_order_for_the_latest_scheduled_time(tmp_path: Path) -> None:
    port, record = free_port(), tmp_path / "record"
    project = _scheduled_project(tmp_path / "project", port, "{cron: '0 0 1 1 *', time_zone: Asia/Tokyo}", record)
    schedule = load_project(project).pipeline.schedule
    assert schedule is not None
    before = latest_tick(schedule, datetime.now(timezone.utc))
    result = run_bodywork("run", str(project), "--scheduled")
    after = latest_tick(schedule, datetime.now(timezone.utc))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = record.read_text().splitlines()
    assert lines[0] == "prepare" and sorted(lines[1:]) == ["report", "train"], "DAG order, one step together"
    ticks = {tick.isoformat() for tick in (before, after) if tick is not None}
    (shown,) = re.findall(r"bodywork: scheduled run of (\S+) \(0 0 1 1 \* in Asia/Tokyo; run (\S+)\)", result.stderr)
    assert shown[0] in ticks and shown[0].endswith("T00:00:00+09:00") and shown[1].endswith("-12-31T15:00:00Z")
    assert "past starting_deadline_seconds (3600): a cluster starting now would skip it" in result.stderr
    assert "bodywork: not started: the service stages listener (the cluster rolls them after the run)" in result.stderr
    assert "[listener]" not in result.stdout and not listening(port)
    assert "bodywork: step 1 of 2: prepare" in result.stderr and "bodywork: step 2 of 2: train, report" in result.stderr


def test_run_scheduled_names_the_tick_around_a_clock_change(tmp_path: Path) -> None:
    project = _scheduled_project(
        tmp_path / "project", free_port(), "{cron: '30 1 * * *', time_zone: Europe/London}", tmp_path / "record"
    )
    pipeline = load_project(project).pipeline
    lines: list[str] = []
    now = datetime(2026, 3, 29, 1, 10, tzinfo=timezone.utc)  # 02:10 BST, the day 01:30 does not exist
    part = scheduled_part(pipeline, now, lambda source, line: lines.append(f"{source}: {line}"))
    assert lines == [
        "bodywork: scheduled run of 2026-03-29T02:00:00+01:00 (30 1 * * * in Europe/London; run 2026-03-29T01:00:00Z),"
        " the latest scheduled time at or before 2026-03-29T02:10:00+01:00",
        "bodywork: not started: the service stages listener (the cluster rolls them after the run)",
    ], "10 minutes late is due: no note"
    assert part.dag.steps == (("prepare",), ("train", "report"))


def test_run_scheduled_needs_a_schedule_and_no_serve(tmp_path: Path) -> None:
    port = free_port()
    files = {"listener.py": LISTENER, "work.py": ""}
    plain = _project(tmp_path / "plain", _stages_config(port, "listener >> work", _batch("work")), files)
    result = run_bodywork("run", str(plain), "--scheduled")
    assert result.returncode == 1
    assert "error: --scheduled: pipeline 'local-checks' has no schedule (expected pipeline.schedule)" in result.stderr
    scheduled = _scheduled_project(tmp_path / "scheduled", port, "{cron: '@daily'}", tmp_path / "record")
    result = run_bodywork("run", str(scheduled), "--scheduled", "--serve")
    assert result.returncode == 1
    assert "--scheduled and --serve: a scheduled run starts no service; give one" in result.stderr
    assert not (tmp_path / "record").exists()
