"""Local runs: one stage, or a whole pipeline, on this machine, run by the stage runner as the pods run it.

``run_stage`` is what a stage's pod does: the runner's ``fetch`` checks the
repository out at one commit into a workspace, the fetched bodywork.yaml is
validated, the runner's ``install`` installs the stage's requirements, and its
``run`` starts the stage with the arguments and environment that the pod
template gives the stage container. Stages with ``shared_storage`` get the
shared folder (``--shared-dir``, else ``shared`` in the workspace) as
BODYWORK_SHARED_DIR, where a pod mounts the shared volume.

``run_pipeline`` runs a project folder's current files, committed or not, in
DAG order. The folder itself is the runner's ``src`` (a link in the
workspace), so nothing is copied and what the stages write into the project
(the example's ``artifacts/``) stays there. Batch stages run to completion and
are retried as their Job would be; services are started and health-checked on
their port (TCP connect, like the pods' startup probe) and stopped at the end.

The runner is always the file shipped with this package, run by this
interpreter. Secrets are not read from any cluster: a stage sees the
environment variables set on this machine. Nothing here prints: every line
goes to the ``Logger`` the caller passes, with the stage it comes from.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from types import FrameType

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.redact import redact_url
from bodywork_render.gitops.source import FULL_SHA
from bodywork_render.package_data import runner_file
from bodywork_render.render import plan
from bodywork_render.spec import names
from bodywork_render.spec.model import BatchStage, Dag, Pipeline, ServiceStage, Stage

Logger = Callable[[str, str], None]
"""Receives one line of output and where it comes from: a stage's name, or ``bodywork``."""

OWN = "bodywork"
# What the runner logs as the commit of files that are not one.
LOCAL_COMMIT = "local"
# The Deployments' terminationGracePeriodSeconds (templates/deployment.yaml.j2): SIGTERM, then SIGKILL.
STOP_GRACE_SECONDS = 30.0
POLL_SECONDS = 0.1
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
SIGNAL_EXIT_BASE = 128
SHARED_DIR_ENV = "BODYWORK_SHARED_DIR"


class Interrupts:
    """While installed (a context manager), SIGINT and SIGTERM are recorded instead of ending this process.

    The run loops take them with ``take`` and pass them on to the stages.
    """

    _SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._pending: list[int] = []

    def __enter__(self) -> Interrupts:
        self._previous = {signum: signal.signal(signum, self._record) for signum in self._SIGNALS}
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _record(self, signum: int, _frame: FrameType | None) -> None:
        self._pending.append(signum)

    def take(self) -> int | None:
        """The oldest signal not taken yet, or None."""
        return self._pending.pop(0) if self._pending else None


def _exit_code(returncode: int) -> int:
    """A process's exit code as a shell reports it: 128+N for death by signal N."""
    return SIGNAL_EXIT_BASE - returncode if returncode < 0 else returncode


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, as ``ps`` lists them (none when ``ps`` is missing)."""
    try:
        listing = subprocess.run(["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    children: dict[int, list[int]] = {}
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 2 and all(field.isdigit() for field in fields):
            children.setdefault(int(fields[1]), []).append(int(fields[0]))
    found, queue = [], [pid]
    while queue:
        below = children.get(queue.pop(), [])
        found += below
        queue += below
    return found


class StageProcess:
    """The runner running one stage, in a session of its own so that only this program signals it.

    With a logger, the runner's output (and the stage's, which it inherits) goes
    to the logger line by line; without one, it goes to this program's stdout and stderr.
    """

    def __init__(self, name: str, command: Sequence[str], env: dict[str, str], logger: Logger | None) -> None:
        self.name = name
        self._process = subprocess.Popen(
            list(command),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if logger else None,
            stderr=subprocess.STDOUT if logger else None,
            start_new_session=True,
        )
        self._reader: threading.Thread | None = None
        if logger is not None:
            self._reader = threading.Thread(target=self._forward, args=(logger,), daemon=True)
            self._reader.start()

    def _forward(self, logger: Logger) -> None:
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            logger(self.name, raw.decode("utf-8", errors="replace").rstrip("\r\n"))

    def poll(self) -> int | None:
        """The exit code once the runner has ended, else None."""
        return self.wait(0)

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds (None: for ever) for the runner to end; its exit code, or None."""
        try:
            returncode = self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        if self._reader is not None:
            # A process the stage started and left running may hold the pipe open: do not wait for it.
            self._reader.join(timeout=1)
        return _exit_code(returncode)

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the runner, which passes it on to the stage."""
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signum)

    def kill(self) -> None:
        """Kill the runner and everything it started, as the kubelet does after the grace period."""
        # The runner starts each child in a session of its own: killing the runner's group would miss them.
        for pid in [*descendants(self._process.pid), self._process.pid]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> int:
        """SIGTERM, then SIGKILL for everything left after ``grace`` seconds; the exit code."""
        self.signal(signal.SIGTERM)
        code = self.wait(grace)
        if code is None:
            self.kill()
            code = self.wait()
        assert code is not None
        return code


def stop_all(processes: Sequence[StageProcess], logger: Logger, grace: float = STOP_GRACE_SECONDS) -> None:
    """Stop every process at once: SIGTERM to all, then SIGKILL to those still running after ``grace`` seconds."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        logger(OWN, f"stopping {process.name}")
        process.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in running:
        code = process.wait(max(0.0, deadline - time.monotonic()))
        if code is None:
            logger(OWN, f"{process.name} did not stop within {grace:g} s: killing it")
            process.kill()
            code = process.wait()
        logger(OWN, f"{process.name} stopped (exit code {code})")


def runner_commands(
    stage: Stage, commit: str, workspace: Path, module: str | None = None, python: str = sys.executable
) -> list[list[str]]:
    """The runner's ``install`` and ``run`` command lines for ``stage``, as the pod template passes them, in a local
    workspace and with the interpreter ``python``. ``module`` replaces the stage's module path (a project in a
    folder of its repository)."""
    runner = [python, str(runner_file())]
    module = module or stage.module
    return [
        [*runner, "install", *plan.install_arguments(stage, commit, str(workspace), module)],
        [*runner, "run", *plan.run_arguments(stage, commit, str(workspace), module)],
    ]


def _with_home(workspace: Path) -> dict[str, str]:
    """This machine's environment with HOME in the workspace: a pod's HOME is an empty folder of its own."""
    home = workspace / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "HOME": str(home)}


def stage_environment(pipeline: Pipeline, stage: Stage, workspace: Path, shared_dir: Path | None) -> dict[str, str]:
    """This machine's environment plus what the pod template sets: HOME (in the workspace), PYTHONUNBUFFERED,
    BODYWORK_LOG_LEVEL, and BODYWORK_SHARED_DIR for a stage with shared storage (``shared_dir``, else ``shared`` in
    the workspace; created)."""
    env = {**_with_home(workspace), "PYTHONUNBUFFERED": "1", "BODYWORK_LOG_LEVEL": pipeline.log_level}
    if stage.shared_storage:
        folder = (shared_dir or workspace / "shared").resolve()
        folder.mkdir(parents=True, exist_ok=True)
        env[SHARED_DIR_ENV] = str(folder)
    return env


def missing_secrets(pipeline: Pipeline, stage: Stage) -> list[str]:
    """A line for each secret environment variable of ``stage`` that is not set on this machine."""
    return [
        f"{stage.source_name} reads {secret.env} from the Secret"
        f" {names.secret_name(secret.name, pipeline.secrets_group)!r}"
        f" in a cluster; here it is not set: export {secret.env}=... before running"
        for secret in stage.secrets
        if secret.env not in os.environ
    ]


def find_stage(pipeline: Pipeline, name: str) -> Stage:
    """The stage called ``name`` as written in bodywork.yaml or normalised; BodyworkError naming the stages."""
    stage = pipeline.stages.get(names.normalise(name))
    if stage is None:
        known = ", ".join(sorted(s.source_name for s in pipeline.stages.values()))
        raise BodyworkError(f"no stage {name!r} in the pipeline {pipeline.name!r} (its stages: {known})")
    return stage


def resolve_commit(repo: str, ref: str) -> str:
    """The full commit SHA of ``ref`` in ``repo``: ``ref`` itself when it is one, else a branch, tag or HEAD by
    ``git ls-remote``."""
    if FULL_SHA.match(ref.lower()):
        return ref.lower()
    from bodywork_render.gitops.git import GitError, Workspace

    try:
        with Workspace(repo) as workspace:
            refs = workspace.ls_remote()
    except GitError as error:
        raise BodyworkError(f"cannot resolve --ref {ref!r}: {error}") from None
    # git's own order when a name is both: tags before branches; an annotated tag by the commit it points to.
    wanted = [ref] if ref.startswith("refs/") or ref == "HEAD" else []
    wanted += [f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}", f"refs/heads/{ref}"]
    for name in wanted:
        if name in refs:
            return refs[name]
    raise BodyworkError(
        f"--ref {ref!r} is neither a full commit SHA nor a branch or tag of {redact_url(repo)}"
        " (an abbreviated SHA cannot be looked up remotely: give all 40 hex digits)"
    )


def _project_folder(project_path: str) -> PurePosixPath:
    """``--project-path`` as a relative folder inside the repository; BodyworkError when it would leave it."""
    pure = PurePosixPath(project_path)
    if pure.is_absolute() or ".." in pure.parts:
        raise BodyworkError(
            f"--project-path {project_path!r}: expected a folder inside the repository (relative, without '..')"
        )
    return pure


@contextlib.contextmanager
def workspace_folder(workdir: Path | None) -> Iterator[Path]:
    """``workdir`` (created if missing, kept), or a temporary folder removed on exit; absolute."""
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir.resolve()
        return
    folder = Path(tempfile.mkdtemp(prefix="bodywork-run-"))
    try:
        yield folder
    finally:
        link = folder / "src"
        if link.is_symlink():
            # Only the link goes: the project it points to is the user's.
            link.unlink()
        shutil.rmtree(folder, ignore_errors=True)


def _wait(process: StageProcess, interrupts: Interrupts, logger: Logger, grace: float) -> int:
    """Wait for ``process`` to end, passing signals on to it; kill it ``grace`` seconds after the first."""
    deadline: float | None = None
    while (code := process.wait(POLL_SECONDS)) is None:
        signum = interrupts.take()
        if signum is not None:
            logger(OWN, f"{signal.Signals(signum).name} received: passing it on to {process.name}")
            process.signal(signum)
            deadline = deadline or time.monotonic() + grace
        if deadline is not None and time.monotonic() > deadline:
            logger(OWN, f"{process.name} did not stop within {grace:g} s: killing it")
            process.kill()
            deadline = None
    return code


def python_interpreter(python: str | None) -> str:
    """The interpreter that runs the runner and the stages: ``python`` (a path or a name on PATH, Python 3.8 or
    later, as the runner needs) or this one; BodyworkError naming --python when it is not one."""
    if python is None:
        return sys.executable
    found = shutil.which(python)
    if found is None:
        raise BodyworkError(f"--python {python!r}: no such executable (expected a path, or a name on PATH)")
    try:
        check = subprocess.run(
            [found, "-c", "import sys; sys.exit(sys.version_info < (3, 8))"], capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BodyworkError(f"--python {python!r}: cannot run it ({exc})") from None
    if check.returncode != 0:
        raise BodyworkError(f"--python {python!r}: not a Python 3.8 or later (the stage runner needs one)")
    return found


def run_stage(
    stage_name: str,
    repo: str,
    ref: str,
    *,
    logger: Logger,
    interrupts: Interrupts,
    workdir: Path | None = None,
    shared_dir: Path | None = None,
    project_path: str = ".",
    grace: float = STOP_GRACE_SECONDS,
    python: str = sys.executable,
) -> int:
    """Fetch ``repo`` at ``ref`` and run one stage of the project in it as its pod would; the stage's exit code.

    The runner's output goes straight to this program's stdout and stderr, as it
    would to the pod's log. A signal is passed on to the stage; everything is
    killed ``grace`` seconds later if it is still running.
    """
    folder = _project_folder(project_path)
    if repo.lower().startswith("git://"):
        # git:// has no authentication, and git would print a user and password given there.
        repo = redact_url(repo)
    commit = resolve_commit(repo, ref)
    if commit != ref:
        logger(OWN, f"--ref {ref} is commit {commit}")
    with workspace_folder(workdir) as workspace:
        from bodywork_render.spec.project import load_project

        if (workspace / "src").is_symlink():
            raise BodyworkError(
                f"{workspace / 'src'} links to a project folder (a `bodywork run` workspace): give another --workdir"
            )
        fetch = [
            python,
            str(runner_file()),
            "fetch",
            "--repo",
            repo,
            "--commit",
            commit,
            "--workspace",
            str(workspace),
        ]
        code = _wait(StageProcess("fetch", fetch, _with_home(workspace), None), interrupts, logger, grace)
        if code != 0:
            raise BodyworkError(f"cannot fetch commit {commit} of {redact_url(repo)}: the runner's error is above")
        pipeline = load_project(workspace / "src" / folder).pipeline
        stage = find_stage(pipeline, stage_name)
        for line in missing_secrets(pipeline, stage):
            logger(OWN, line)
        env = stage_environment(pipeline, stage, workspace, shared_dir)
        for command in runner_commands(stage, commit, workspace, (folder / stage.module).as_posix(), python):
            code = _wait(StageProcess(stage.source_name, command, env, None), interrupts, logger, grace)
            if code != 0:
                break
        return code


def service_port_conflicts(pipeline: Pipeline) -> list[str]:
    """A line for each port that two or more service stages listen on: on one machine only one of them can."""
    by_port: dict[int, list[str]] = {}
    for stage in pipeline.stages.values():
        if isinstance(stage, ServiceStage):
            by_port.setdefault(stage.port, []).append(stage.source_name)
    return [
        f"service stages {', '.join(repr(name) for name in stages)} all listen on port {port}: in a cluster each has"
        " its own pod, on this machine only one can; give the others another port to run them locally"
        for port, stages in sorted(by_port.items())
        if len(stages) > 1
    ]


def listening(port: int) -> bool:
    """Whether something on this machine accepts TCP connections on ``port``."""
    try:
        with socket.create_connection(("localhost", port), timeout=0.5):
            return True
    except OSError:
        return False


class PipelineRun:
    """One run of a pipeline's stages from a workspace whose ``src`` holds the project."""

    def __init__(
        self,
        pipeline: Pipeline,
        workspace: Path,
        logger: Logger,
        interrupts: Interrupts,
        grace: float = STOP_GRACE_SECONDS,
        shared_dir: Path | None = None,
        python: str = sys.executable,
    ) -> None:
        self.python = python
        self.pipeline = pipeline
        self.workspace = workspace
        self.logger = logger
        self.interrupts = interrupts
        self.grace = grace
        self.shared_dir = shared_dir
        self.services: list[StageProcess] = []

    def _start(self, stage: Stage) -> StageProcess:
        """Install the stage's requirements (as its init container does, before its clock), then start it.

        A failed install gives a process that ends with the install's exit code, so it is retried as a pod is.
        """
        for line in missing_secrets(self.pipeline, stage):
            self.logger(OWN, line)
        env = stage_environment(self.pipeline, stage, self.workspace, self.shared_dir)
        install, run = runner_commands(stage, LOCAL_COMMIT, self.workspace, python=self.python)
        code = _wait(
            StageProcess(stage.source_name, install, env, self.logger), self.interrupts, self.logger, self.grace
        )
        if code != 0:
            run = [sys.executable, "-c", f"raise SystemExit({code})"]
        return StageProcess(stage.source_name, run, env, self.logger)

    def _interrupted(self) -> bool:
        signum = self.interrupts.take()
        if signum is not None:
            self.logger(OWN, f"{signal.Signals(signum).name} received: stopping every stage")
        return signum is not None

    def _failed_service(self) -> str | None:
        """Why a service that was up has ended, if one has."""
        for process in self.services:
            code = process.poll()
            if code is not None:
                return f"service {process.name} ended with exit code {code}"
        return None

    def run_step(self, step: Sequence[str]) -> str | None:
        """Run the stages of one step together: batch stages to their end, services until they listen.

        None when every stage did; else why not ("" when interrupted). The
        batch stages still running when one fails are stopped.
        """
        stages = [self.pipeline.stages[name] for name in step]
        # Every line a user reads names a stage as bodywork.yaml does (its source name).
        attempts = {stage.source_name: 1 for stage in stages}
        started_at = time.monotonic()
        pending: dict[str, tuple[Stage, StageProcess]] = {
            stage.source_name: (stage, self._start(stage)) for stage in stages
        }
        failure: str | None = None
        while pending and failure is None:
            time.sleep(POLL_SECONDS)
            if self._interrupted():
                failure = ""
                break
            failure = self._failed_service()
            for name, (stage, process) in list(pending.items()):
                if failure is not None:
                    break
                code = process.poll()
                if isinstance(stage, ServiceStage):
                    if code is not None:
                        failure = f"service {name} ended with exit code {code} before it listened on port {stage.port}"
                    elif listening(stage.port):
                        self.logger(OWN, f"{name} is up: listening on port {stage.port}")
                        self.services.append(process)
                        del pending[name]
                    elif time.monotonic() - started_at > stage.max_startup_time_seconds:
                        failure = (
                            f"service {name} did not listen on port {stage.port}"
                            f" within {stage.max_startup_time_seconds} s"
                        )
                elif code == 0:
                    del pending[name]
                elif code is not None and attempts[name] <= stage.retries:
                    attempts[name] += 1
                    self.logger(
                        OWN, f"{name} failed with exit code {code}: retry {attempts[name] - 1} of {stage.retries}"
                    )
                    pending[name] = (stage, self._start(stage))
                elif code is not None:
                    failure = f"stage {name} failed with exit code {code}"
        stop_all([process for _, process in pending.values()], self.logger, self.grace)
        return failure

    def serve(self) -> str | None:
        """Keep the services running until a signal (None) or until one of them ends (why)."""
        for stage in self.pipeline.stages.values():
            if isinstance(stage, ServiceStage):
                self.logger(OWN, f"{stage.source_name} serves on http://localhost:{stage.port}")
        self.logger(OWN, "press Ctrl-C to stop")
        while not self._interrupted():
            failure = self._failed_service()
            if failure is not None:
                return failure
            time.sleep(POLL_SECONDS)
        return None

    def on_failure(self) -> None:
        """Run the pipeline's run_on_failure stage, if it has one, to its end."""
        if self.pipeline.run_on_failure is None:
            return
        stage = self.pipeline.stages[self.pipeline.run_on_failure]
        name = stage.source_name
        self.logger(OWN, f"running the run_on_failure stage {name}")
        code = _wait(self._start(stage), self.interrupts, self.logger, self.grace)
        self.logger(OWN, f"run_on_failure stage {name} ended with exit code {code}")

    def run(self, keep_serving: bool) -> int:
        """Every step in DAG order, then stop the services (or keep them until a signal); the exit code."""
        failure: str | None = None
        try:
            for number, step in enumerate(self.pipeline.dag.steps, start=1):
                shown = ", ".join(self.pipeline.stages[name].source_name for name in step)
                self.logger(OWN, f"step {number} of {len(self.pipeline.dag.steps)}: {shown}")
                failure = self.run_step(step)
                if failure is not None:
                    break
            if failure is None and keep_serving and self.services:
                failure = self.serve()
        finally:
            stop_all(self.services, self.logger, self.grace)
        if failure == "":
            self.logger(OWN, "interrupted")
            return EXIT_INTERRUPTED
        if failure is not None:
            self.logger(OWN, f"error: {failure}")
            self.on_failure()
            self.logger(OWN, f"the pipeline {self.pipeline.name} failed: {failure}")
            return EXIT_FAILED
        self.logger(OWN, f"the pipeline {self.pipeline.name} finished")
        return 0


def run_pipeline(
    path: Path,
    *,
    logger: Logger,
    interrupts: Interrupts,
    keep_serving: bool = False,
    workdir: Path | None = None,
    shared_dir: Path | None = None,
    grace: float = STOP_GRACE_SECONDS,
    python: str = sys.executable,
    scheduled: bool = False,
    now: datetime | None = None,
) -> int:
    """Run the project at ``path`` (a folder, or its bodywork.yaml) on this machine in DAG order; the exit code.

    ``scheduled``: one scheduled run, as the cluster runs it at the pipeline's latest scheduled time at or before
    ``now`` (default: the current time): the batch stages alone, in DAG order (see ``scheduled_part``).

    0 when every stage succeeded, 1 when one failed (after the run_on_failure
    stage ran), 130 when interrupted. BodyworkError for an invalid project, two
    services on one port, or a port that something on this machine already uses.
    """
    from bodywork_render.spec.project import config_file, load_project

    project = load_project(path)
    folder = (project.folder or config_file(path)[0].parent).resolve()
    pipeline = project.pipeline
    if scheduled:
        pipeline = scheduled_part(pipeline, now or datetime.now(timezone.utc), logger)
    problems = service_port_conflicts(pipeline)
    problems += [
        f"port {stage.port} of service stage {stage.source_name!r} is already in use on this machine:"
        " stop what listens there"
        for stage in pipeline.stages.values()
        if isinstance(stage, ServiceStage) and listening(stage.port)
    ]
    if problems:
        raise BodyworkError(problems[0] if len(problems) == 1 else "; ".join(problems))
    with workspace_folder(workdir) as workspace:
        src = workspace / "src"
        if src.is_symlink():
            src.unlink()
        elif src.exists():
            raise BodyworkError(f"{src} exists and is not a link to a project: give another --workdir")
        src.symlink_to(folder, target_is_directory=True)
        logger(OWN, f"running {folder} (its current files, linked as {src})")
        return PipelineRun(pipeline, workspace, logger, interrupts, grace, shared_dir, python).run(keep_serving)


def scheduled_part(pipeline: Pipeline, now: datetime, logger: Logger) -> Pipeline:
    """The pipeline as one scheduled run runs it: its batch stages alone, in DAG order (the cluster rolls the
    services after them, which a local run does not start); logs the scheduled time it stands for.

    BodyworkError when the pipeline has no schedule or no batch stage.
    """
    from bodywork_render.spec.schedule import late, latest_due, latest_tick, run_id

    schedule = pipeline.schedule
    if schedule is None:
        raise BodyworkError(f"--scheduled: pipeline {pipeline.name!r} has no schedule (expected pipeline.schedule)")
    steps = tuple(
        batch
        for step in pipeline.dag.steps
        if (batch := tuple(name for name in step if isinstance(pipeline.stages[name], BatchStage)))
    )
    if not steps:
        raise BodyworkError(f"--scheduled: pipeline {pipeline.name!r} has no batch stage to run on its schedule")
    tick = latest_tick(schedule, now)
    if tick is None:
        raise BodyworkError(f"--scheduled: {schedule.cron!r} matched no time in the last 50 years")
    logger(
        OWN,
        f"scheduled run of {tick.isoformat()} ({schedule.cron} in {schedule.time_zone}; run {run_id(tick)}),"
        f" the latest scheduled time at or before {now.astimezone(tick.tzinfo).isoformat(timespec='seconds')}",
    )
    if latest_due(schedule, now) is None:
        logger(
            OWN,
            f"note: it is {int(late(tick, now).total_seconds())} s old, past starting_deadline_seconds"
            f" ({schedule.starting_deadline_seconds}): a cluster starting now would skip it",
        )
    if schedule.suspend:
        logger(OWN, "note: the schedule is suspended: a cluster starts no run")
    skipped = [stage.source_name for stage in pipeline.stages.values() if isinstance(stage, ServiceStage)]
    if skipped:
        logger(OWN, f"not started: the service stages {', '.join(skipped)} (the cluster rolls them after the run)")
    return pipeline._replace(dag=Dag(steps))
