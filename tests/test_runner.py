"""The stage runner (runner/bodywork_runner.py), run as the pods run it: real git, real pip, real processes.

The example project is pushed to a bare repository served by `git daemon`,
fetched at its pinned commit, trained, and served; the prediction it answers is
checked over HTTP. Other tests install and run small modules written into a
workspace. The tests that run the runner as the pods' uid need root, and skip
without it (fail in CI).
"""

from __future__ import annotations

import ast
import base64
import contextlib
import getpass
import hashlib
import importlib.util
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.ci import unavailable
from tests.gitdaemon import GitDaemon, free_port, listening
from tests.pythons import interpreter

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "runner" / "bodywork_runner.py"
EXAMPLE = ROOT / "examples" / "train-and-serve"
ZERO_SHA = "0" * 40
# The exit code of an error no retry can change, on which the Job's podFailurePolicy fails the Job at once.
EXIT_PERMANENT = 78
# The range of the diabetes data set's target: a sane prediction stays near it.
TARGET_RANGE = (25.0, 346.0)


def _load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bodywork_runner", RUNNER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _env(home: Path, **extra: str) -> dict[str, str]:
    """An environment with an isolated HOME and git configuration, plus ``extra``."""
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Test Author",
        GIT_AUTHOR_EMAIL="author@example.invalid",
        GIT_COMMITTER_NAME="Test Committer",
        GIT_COMMITTER_EMAIL="committer@example.invalid",
    )
    env.update(extra)
    return env


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid``, read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


@contextlib.contextmanager
def started(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Iterator[subprocess.Popen[str]]:
    """The runner started with piped output; on exit it and every process below it are gone.

    The runner puts its child in a session of its own, so a test that fails
    half-way must kill that child by its id, or it outlives the test.
    """
    process = subprocess.Popen(
        [sys.executable, str(RUNNER), *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            for pid in [*_descendants(process.pid), process.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        process.communicate()


def runner(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the runner to its end, as a pod's container would."""
    with started(*args, env=env, cwd=cwd) as process:
        stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _git(*args: str, cwd: Path, env: dict[str, str]) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def _assert_one_clear_error(result: subprocess.CompletedProcess[str], *expected: str, code: int = 1) -> None:
    """The runner exited with ``code`` after exactly one error line, holding every ``expected`` text, and no
    traceback."""
    assert result.returncode == code, result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    errors = [line for line in result.stderr.splitlines() if re.match(r"\[bodywork\] .* step=\w+: error: ", line)]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0]


# --- the example project, pushed, fetched and trained once for the module --------------------------


class Example:
    """The example project in a bare repository behind a git daemon."""

    def __init__(self, daemon: GitDaemon, pinned: str, home: Path) -> None:
        self.daemon = daemon
        self.url = daemon.url("train-and-serve")
        self.pinned = pinned
        self.home = home


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    """The example pushed to a served bare repository: the pinned commit, then a newer one on top of it."""
    home = tmp_path_factory.mktemp("example-home")
    env = _env(home)
    work = tmp_path_factory.mktemp("example-work") / "train-and-serve"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    with GitDaemon(tmp_path_factory.mktemp("repos")) as daemon:
        daemon.create_bare("train-and-serve")
        _git("init", "--quiet", "--initial-branch=main", cwd=work, env=env)
        _git("add", ".", cwd=work, env=env)
        _git("commit", "--quiet", "-m", "example project", cwd=work, env=env)
        pinned = _git("rev-parse", "HEAD", cwd=work, env=env)
        (work / "NEWER").write_text("a commit after the pinned one\n")
        _git("add", "NEWER", cwd=work, env=env)
        _git("commit", "--quiet", "-m", "newer", cwd=work, env=env)
        _git("push", "--quiet", daemon.url("train-and-serve"), "main", cwd=work, env=env)
        yield Example(daemon, pinned, home)


@pytest.fixture(scope="module")
def fetched(
    example: Example, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A workspace with the example checked out at the pinned commit by `fetch`."""
    workspace = tmp_path_factory.mktemp("workspace")
    result = runner(
        "fetch", "--repo", example.url, "--commit", example.pinned, "--workspace", str(workspace),
        env=_env(example.home),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return workspace, result


@pytest.fixture(scope="module")
def trained(
    example: Example, fetched: tuple[Path, subprocess.CompletedProcess[str]]
) -> tuple[Path, subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """The artifact folder after the example's train stage was installed and run as its pod does, and both steps."""
    workspace, _ = fetched
    artifacts = workspace / "artifacts"
    stage = (
        "--workspace",
        str(workspace),
        "--stage",
        "train",
        "--module",
        "train/train.py",
        "--commit",
        example.pinned,
    )
    env = _env(example.home, BODYWORK_SHARED_DIR=str(artifacts))
    installed = runner(
        "install", *stage, "--requirement", "scikit-learn==1.9.1", "--requirement", "joblib==1.6.0", env=env
    )
    assert installed.returncode == 0, installed.stderr
    result = runner("run", *stage, "--timeout", "300", env=env)
    assert result.returncode == 0, result.stderr
    return artifacts, installed, result


@pytest.mark.slow
def test_fetch_checks_out_exactly_the_pinned_commit_shallowly(
    example: Example, fetched: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    workspace, result = fetched
    src = workspace / "src"
    env = _env(example.home)
    assert _git("rev-parse", "HEAD", cwd=src, env=env) == example.pinned
    assert _git("rev-parse", "--is-shallow-repository", cwd=src, env=env) == "true"
    assert (src / "bodywork.yaml").is_file()
    assert not (src / "NEWER").exists(), "the branch tip was checked out instead of the pinned commit"
    # The pods mount the runner from a ConfigMap: fetch leaves the checkout alone in the workspace.
    assert sorted(path.name for path in workspace.iterdir()) == ["src"]
    assert f"[bodywork] commit={example.pinned[:7]} step=fetch: checked out {example.pinned}" in result.stderr
    assert "fetching all branches" not in result.stderr


@pytest.mark.slow
def test_fetch_falls_back_to_a_full_fetch_when_the_server_refuses_a_commit(example: Example, tmp_path: Path) -> None:
    # Protocol v0 servers refuse to send a commit that is not a branch tip unless configured to.
    env = _env(example.home, GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="protocol.version", GIT_CONFIG_VALUE_0="0")
    stale = tmp_path / "src" / "stale.txt"
    stale.parent.mkdir()
    stale.write_text("left by an earlier attempt\n")
    result = runner("fetch", "--repo", example.url, "--commit", example.pinned, "--workspace", str(tmp_path), env=env)
    assert result.returncode == 0, result.stderr
    assert "fetching all branches and tags" in result.stderr
    assert _git("rev-parse", "HEAD", cwd=tmp_path / "src", env=env) == example.pinned
    assert not stale.exists()


@pytest.mark.slow
def test_fetch_from_a_relative_path_reads_it_from_the_current_folder(example: Example, tmp_path: Path) -> None:
    repo = os.path.relpath(example.daemon.path("train-and-serve"))
    result = runner(
        "fetch", "--repo", repo, "--commit", example.pinned, "--workspace", str(tmp_path), env=_env(example.home)
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "src" / "train" / "train.py").is_file()


@pytest.mark.slow
def test_fetch_of_a_commit_the_repository_lacks_is_one_clear_error(example: Example, tmp_path: Path) -> None:
    result = runner(
        "fetch", "--repo", example.url, "--commit", ZERO_SHA, "--workspace", str(tmp_path), env=_env(example.home)
    )
    _assert_one_clear_error(result, f"commit {ZERO_SHA} not found in {example.url}")
    assert not (tmp_path / "src").exists(), "a failed fetch left a checkout behind"


@pytest.mark.slow
def test_fetch_of_a_repository_the_server_lacks_is_one_clear_error(example: Example, tmp_path: Path) -> None:
    url = example.daemon.url("no-such-project")
    result = runner(
        "fetch", "--repo", url, "--commit", example.pinned, "--workspace", str(tmp_path), env=_env(example.home)
    )
    _assert_one_clear_error(result, f"cannot fetch {url}", "no such repository")


def test_fetch_of_an_unreachable_url_names_it_without_credentials(tmp_path: Path) -> None:
    token = "tok3n-that-must-not-leak"
    result = runner(
        "fetch", "--repo", "http://user:s3cr3t@127.0.0.1:1/x.git", "--commit", ZERO_SHA,
        "--workspace", str(tmp_path), env=_env(tmp_path, BODYWORK_GIT_TOKEN=token),
    )  # fmt: skip
    _assert_one_clear_error(result, "cannot fetch http://127.0.0.1:1/x.git")
    output = result.stdout + result.stderr
    for secret in ("s3cr3t", "user:", token, base64.b64encode(f"x-access-token:{token}".encode()).decode()):
        assert secret not in output


def test_fetch_sends_the_token_in_a_header_and_prints_it_nowhere(tmp_path: Path) -> None:
    seen: list[str | None] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.headers.get("Authorization"))
            self.send_error(404)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    token = "ghp_examp1e"
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/org/project.git"
        env = _env(tmp_path, BODYWORK_GIT_TOKEN=token, BODYWORK_GIT_USERNAME="bot")
        result = runner("fetch", "--repo", url, "--commit", ZERO_SHA, "--workspace", str(tmp_path), env=env)
    finally:
        server.shutdown()
        server.server_close()
    header = "Basic " + base64.b64encode(f"bot:{token}".encode()).decode()
    assert seen and all(value == header for value in seen), seen
    _assert_one_clear_error(result, f"cannot fetch {url}")
    assert token not in result.stderr and header.split()[1] not in result.stderr


def test_fetch_over_ssh_with_an_unreadable_key_is_one_clear_error(tmp_path: Path) -> None:
    env = _env(tmp_path, BODYWORK_GIT_SSH_KEY_FILE=str(tmp_path / "missing-key"))
    result = runner(
        "fetch", "--repo", "ssh://git@127.0.0.1:1/x.git", "--commit", ZERO_SHA, "--workspace", str(tmp_path), env=env
    )
    _assert_one_clear_error(result, "cannot read the ssh key", "missing-key")


def test_fetch_over_ssh_without_a_server_is_one_clear_error_naming_the_known_hosts(tmp_path: Path) -> None:
    key = tmp_path / "id_test"
    key.write_text("not really a key")
    absent = tmp_path / "absent"
    env = _env(tmp_path, BODYWORK_GIT_SSH_KEY_FILE=str(key), BODYWORK_GIT_KNOWN_HOSTS_FILE=str(absent))
    result = runner(
        "fetch", "--repo", "ssh://git@127.0.0.1:1/x.git", "--commit", ZERO_SHA, "--workspace", str(tmp_path), env=env
    )
    _assert_one_clear_error(result, "cannot fetch ssh://127.0.0.1:1/x.git", "Connection refused")
    shipped = ROOT / "runner" / "known_hosts"
    assert f"checking the ssh host key against {shipped} (BODYWORK_GIT_KNOWN_HOSTS_FILE={absent} does not exist)" in (
        result.stderr
    )


def test_known_hosts_come_from_the_variable_then_beside_the_key_then_the_shipped_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _load_runner()
    secret = tmp_path / "secret"
    secret.mkdir()
    key, beside, configured = secret / "ssh-privatekey", secret / "known_hosts", tmp_path / "configured"
    monkeypatch.delenv(module.KNOWN_HOSTS_ENV, raising=False)
    monkeypatch.delenv(module.SSH_KEY_ENV, raising=False)
    assert module.known_hosts_file() == str(module.DEFAULT_KNOWN_HOSTS)
    monkeypatch.setenv(module.SSH_KEY_ENV, str(key))
    assert module.known_hosts_file() == str(module.DEFAULT_KNOWN_HOSTS), "no known_hosts beside the key"
    beside.write_text("")
    assert module.known_hosts_file() == str(beside)
    monkeypatch.setenv(module.KNOWN_HOSTS_ENV, str(configured))
    assert module.known_hosts_file() == str(beside), "the configured file does not exist"
    configured.write_text("")
    assert module.known_hosts_file() == str(configured)
    monkeypatch.setattr(module, "DEFAULT_KNOWN_HOSTS", tmp_path / "not-shipped")
    monkeypatch.setenv(module.KNOWN_HOSTS_ENV, str(tmp_path / "absent"))
    beside.unlink()
    with pytest.raises(module.RunnerError, match="no known_hosts file at .*absent, .*known_hosts, .*not-shipped"):
        module.known_hosts_file()


def test_fetch_over_ssh_with_a_key_from_a_secret(
    example: Example, sshd: tuple[int, Path, Path], tmp_path: Path
) -> None:
    port, key, known_hosts = sshd
    url = f"ssh://{getpass.getuser()}@127.0.0.1:{port}{example.daemon.path('train-and-serve')}"
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = _env(
        example.home,
        BODYWORK_GIT_SSH_KEY_FILE=str(key),
        BODYWORK_GIT_KNOWN_HOSTS_FILE=str(known_hosts),
        TMPDIR=str(temporary),
    )
    workspace = tmp_path / "workspace"
    result = runner("fetch", "--repo", url, "--commit", example.pinned, "--workspace", str(workspace), env=env)
    assert result.returncode == 0, result.stderr
    assert _git("rev-parse", "HEAD", cwd=workspace / "src", env=env) == example.pinned
    assert list(temporary.iterdir()) == [], "the copy of the private key was left behind"


def test_fetch_over_ssh_finds_known_hosts_beside_the_key_of_a_secret(
    example: Example, sshd: tuple[int, Path, Path], tmp_path: Path
) -> None:
    port, key, known_hosts = sshd
    # As the pod mounts a git Secret holding the keys ssh-privatekey and known_hosts.
    secret = tmp_path / "secret"
    secret.mkdir()
    shutil.copy(key, secret / "ssh-privatekey")
    shutil.copy(known_hosts, secret / "known_hosts")
    url = f"ssh://{getpass.getuser()}@127.0.0.1:{port}{example.daemon.path('train-and-serve')}"
    env = _env(example.home, BODYWORK_GIT_SSH_KEY_FILE=str(secret / "ssh-privatekey"))
    result = runner("fetch", "--repo", url, "--commit", example.pinned, "--workspace", str(tmp_path / "ws"), env=env)
    assert result.returncode == 0, result.stderr
    assert f"checking the ssh host key against {secret / 'known_hosts'}" in result.stderr


def test_fetch_over_ssh_refuses_a_host_whose_key_is_not_known(
    example: Example, sshd: tuple[int, Path, Path], tmp_path: Path
) -> None:
    port, key, _ = sshd
    url = f"ssh://{getpass.getuser()}@127.0.0.1:{port}{example.daemon.path('train-and-serve')}"
    # No known_hosts beside this copy of the key: the shipped one holds GitHub's keys only.
    lone_key = tmp_path / "secret" / "ssh-privatekey"
    lone_key.parent.mkdir()
    shutil.copy(key, lone_key)
    env = _env(example.home, BODYWORK_GIT_SSH_KEY_FILE=str(lone_key))
    result = runner("fetch", "--repo", url, "--commit", example.pinned, "--workspace", str(tmp_path), env=env)
    _assert_one_clear_error(result, "Host key verification failed")


# The uid the pods run as: `nobody`, which Debian-based Python images list in /etc/passwd (ssh refuses a uid
# that has no passwd entry).
POD_UID = 65534
# The usual "nonroot" uid (of distroless images, and of runner/Dockerfile), which Python images do not list.
NONROOT_UID = 65532
# Where a pod finds git, ssh and python3.
POD_PATH = "/usr/local/bin:/usr/bin:/bin"


def _python_for(uid: int) -> str:
    """A Python that ``uid`` can execute, or skip (fail in CI).

    The interpreter running the tests may live under /root (pyenv, this venv), which is often 0700 and so
    out of reach of other users; the runner needs only the standard library, so any python3 does: the system's
    (/usr/bin/python3) when the one running the tests is not reachable.
    """
    for candidate in dict.fromkeys([sys.executable, "/usr/local/bin/python3", "/usr/bin/python3"]):
        try:
            probe = subprocess.run(
                [candidate, "-c", ""], user=uid, group=uid, extra_groups=[], env={"PATH": POD_PATH}, cwd="/",
                capture_output=True, check=False,
            )  # fmt: skip
        except OSError:  # not found, or a folder on its path is closed to uid
            continue
        if probe.returncode == 0:
            return candidate
    unavailable(f"no Python here that uid {uid} can execute")


def _fetch_over_ssh_as(
    uid: int, example: Example, sshd: tuple[int, Path, Path], folder: Path
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``fetch`` over ssh run as ``uid`` (and group ``uid``, no others) as a pod would run it; the result and the
    workspace.

    ``folder`` must be reachable by ``uid``. It receives what the pod mounts: the runner (read-only, as from a
    ConfigMap), the key as a Secret with defaultMode 0440 and fsGroup mounts it (owned by root, readable by the
    group), a known_hosts file, and writable HOME, TMPDIR and workspace folders owned by ``uid``.
    """
    if os.geteuid() != 0:
        unavailable("running the runner as another uid needs root")
    port, key, known_hosts = sshd
    python = _python_for(uid)
    opt, secret = folder / "opt", folder / "secret"
    for read_only in (opt, secret):
        read_only.mkdir(mode=0o755)
    shutil.copy(RUNNER, opt / RUNNER.name)
    shutil.copy(known_hosts, opt / "known_hosts")
    shutil.copy(key, secret / "ssh-privatekey")
    os.chown(secret / "ssh-privatekey", 0, uid)
    (secret / "ssh-privatekey").chmod(0o440)
    for copy in (opt / RUNNER.name, opt / "known_hosts"):
        copy.chmod(0o444)
    home, temporary, workspace = folder / "home", folder / "tmp", folder / "workspace"
    for writable in (home, temporary, workspace):
        writable.mkdir()
        os.chown(writable, uid, uid)
    env = {
        "PATH": POD_PATH,
        "HOME": str(home),
        "TMPDIR": str(temporary),
        "BODYWORK_GIT_SSH_KEY_FILE": str(secret / "ssh-privatekey"),
        "BODYWORK_GIT_KNOWN_HOSTS_FILE": str(opt / "known_hosts"),
    }
    # The sshd lets the user running the tests in; the repository is read on the server's side, as that user.
    url = f"ssh://{getpass.getuser()}@127.0.0.1:{port}{example.daemon.path('train-and-serve')}"
    result = subprocess.run(
        [python, str(opt / RUNNER.name), "fetch", "--repo", url, "--commit", example.pinned,
         "--workspace", str(workspace)],
        user=uid, group=uid, extra_groups=[], env=env, cwd=folder, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert list(temporary.iterdir()) == [], "the copy of the private key was left behind"
    return result, workspace


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """An empty folder that every uid can reach (pytest's tmp_path is private to its user), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="bodywork-runner-test-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def test_fetch_over_ssh_as_the_pods_uid_nobody(
    example: Example, sshd: tuple[int, Path, Path], shared_folder: Path
) -> None:
    result, workspace = _fetch_over_ssh_as(POD_UID, example, sshd, shared_folder)
    assert result.returncode == 0, result.stderr
    src = workspace / "src"
    # Read without git, which refuses a repository owned by another user.
    assert (src / ".git" / "HEAD").read_text().strip() == example.pinned
    assert (src / "bodywork.yaml").stat().st_uid == POD_UID
    assert f"step=fetch: checked out {example.pinned}" in result.stderr


def test_fetch_over_ssh_as_a_uid_without_a_passwd_entry_names_the_cause(
    example: Example, sshd: tuple[int, Path, Path], shared_folder: Path
) -> None:
    # Why the pods run as 65534 and not as 65532: a pod's image lists no 65532 in /etc/passwd, nor does this host.
    listed = {entry.pw_uid for entry in pwd.getpwall()}
    unlisted = next(uid for uid in range(NONROOT_UID, 0, -1) if uid not in listed)
    result, workspace = _fetch_over_ssh_as(unlisted, example, sshd, shared_folder)
    _assert_one_clear_error(result, "cannot fetch ssh://127.0.0.1:", f"No user exists for uid {unlisted}")
    assert not (workspace / "src").exists()


def test_fetch_refuses_an_abbreviated_commit(tmp_path: Path) -> None:
    result = runner("fetch", "--repo", "git://127.0.0.1:1/x.git", "--commit", "1a2b3c4", "--workspace", str(tmp_path))
    _assert_one_clear_error(result, "full commit SHA", "'1a2b3c4'")


def test_shipped_known_hosts_hold_githubs_current_keys() -> None:
    # The SHA256 fingerprints GitHub publishes; the RSA key is the one that replaced the old key in March 2023.
    published = {
        "ssh-ed25519": "+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU",
        "ecdsa-sha2-nistp256": "p2QAMXNIC1TJYWeIOttrVc98/R1BUFWu3/LiyKgUfQM",
        "ssh-rsa": "uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
    }
    found = {}
    for line in (ROOT / "runner" / "known_hosts").read_text().splitlines():
        if line and not line.startswith("#"):
            host, key_type, key = line.split()
            assert host == "github.com"
            digest = hashlib.sha256(base64.b64decode(key)).digest()
            found[key_type] = base64.b64encode(digest).decode().rstrip("=")
    assert found == published


# --- the example's stages -------------------------------------------------------------------------


@pytest.mark.slow
def test_train_stage_saves_a_model_using_the_images_packages(
    example: Example, trained: tuple[Path, subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]
) -> None:
    artifacts, installed, result = trained
    assert (artifacts / "model.joblib").is_file()
    metrics = json.loads((artifacts / "metrics.json").read_text())
    assert metrics["r2"] >= 0.3
    assert metrics["commit"] == example.pinned
    prefix = f"[bodywork] stage=train commit={example.pinned[:7]}"
    assert f"{prefix} step=install: skipping pip: the image's Python already has scikit-learn==1.9.1" in (
        installed.stderr
    )
    assert f"{prefix} step=run: train/train.py finished" in result.stderr
    assert "step=install" not in result.stderr, "run installs nothing: the install init container did"


def _wait_for_health(url: str, process: subprocess.Popen[str], seconds: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the service exited before it answered"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return dict(json.load(response))
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in {seconds} s")


def _post_json(url: str, document: object) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(document).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(json.load(response))
    except urllib.error.HTTPError as error:
        return error.code, dict(json.load(error))


@pytest.mark.slow
def test_serve_stage_answers_predictions_and_stops_on_sigterm(
    example: Example, fetched: tuple[Path, subprocess.CompletedProcess[str]], trained: tuple[Path, Any, Any]
) -> None:
    from sklearn.datasets import load_diabetes

    workspace, _ = fetched
    artifacts, _, _ = trained
    port = free_port()
    with started(
        "run", "--workspace", str(workspace), "--stage", "serve", "--module", "serve/serve.py",
        "--commit", example.pinned, "--", "--host", "127.0.0.1", "--port", str(port),
        env=_env(example.home, BODYWORK_SHARED_DIR=str(artifacts), BODYWORK_ROUTE_PREFIX="/train-and-serve/serve"),
    ) as process:  # fmt: skip
        health = _wait_for_health(f"http://127.0.0.1:{port}/health", process)
        assert health["status"] == "ok" and health["model"]["n_features"] == 10
        rows = load_diabetes().data[:3].tolist()
        status, answer = _post_json(f"http://127.0.0.1:{port}/predict", {"features": rows})
        assert status == 200, answer
        assert len(answer["predictions"]) == 3
        for prediction in answer["predictions"]:
            assert isinstance(prediction, float)
            assert TARGET_RANGE[0] <= prediction <= TARGET_RANGE[1]
        through_ingress = _post_json(f"http://127.0.0.1:{port}/train-and-serve/serve/predict", {"features": rows})
        assert through_ingress == (200, answer), "the Ingress prefix (BODYWORK_ROUTE_PREFIX) is stripped"
        status, answer = _post_json(f"http://127.0.0.1:{port}/predict", {"features": [[1.0, 2.0]]})
        assert status == 400 and "10 numbers" in answer["error"]
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert "SIGTERM received: stopping" in stderr
    assert f"stage=serve commit={example.pinned[:7]} step=run: serve/serve.py finished" in stderr


# --- run: process handling, on small modules -------------------------------------------------------


def _workspace(root: Path, files: dict[str, str]) -> Path:
    """A workspace whose checkout holds ``files`` (path: text)."""
    for name, text in files.items():
        path = root / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def _step(
    command: str, workspace: Path, module: str, *extra: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """The runner's ``command`` (install or run) for the stage ``job`` of ``workspace``, with ``env`` added."""
    return runner(
        command, "--workspace", str(workspace), "--stage", "job", "--module", module, "--commit", "1a2b3c4d5e", *extra,
        env=_env(workspace, **env), timeout=timeout,
    )  # fmt: skip


def _install(workspace: Path, module: str, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The install init container of the stage ``job`` (given 5 minutes: pip may download)."""
    return _step("install", workspace, module, *extra, timeout=300, **env)


def _run(workspace: Path, module: str, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The stage container of the stage ``job``."""
    return _step("run", workspace, module, *extra, timeout=timeout)


def test_module_runs_in_its_folder_with_its_args_and_the_repository_importable(tmp_path: Path) -> None:
    workspace = _workspace(
        tmp_path,
        {
            "shared/constants.py": "ANSWER = 42\n",
            "jobs/show.py": """
                import json, os, sys
                from shared.constants import ANSWER
                print(json.dumps({"args": sys.argv[1:], "cwd": os.getcwd(), "answer": ANSWER,
                                  "stage": os.environ["BODYWORK_STAGE"], "commit": os.environ["BODYWORK_COMMIT"]}))
            """,
        },
    )
    result = _run(workspace, "jobs/show.py", "--", "--flag", "two words", "--")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown == {
        "args": ["--flag", "two words", "--"],
        "cwd": str((workspace / "src" / "jobs").resolve()),
        "answer": 42,
        "stage": "job",
        "commit": "1a2b3c4d5e",
    }
    assert "step=run: running jobs/show.py with args --flag 'two words' --" in result.stderr
    assert "step=install" not in result.stderr


def test_install_of_a_stage_without_requirements_installs_nothing(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path, {"jobs/show.py": "open('ran', 'w').close()\n"})
    result = _install(workspace, "jobs/show.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "[bodywork] stage=job commit=1a2b3c4 step=install: no requirements: nothing to install" in result.stderr
    assert not (workspace / ".deps").exists()
    assert not (workspace / "src" / "jobs" / "ran").exists(), "install ran the module"


def test_a_relative_workspace_reaches_the_module_as_absolute_paths(tmp_path: Path) -> None:
    _workspace(tmp_path / "ws", {"jobs/paths.py": "import os\nprint(os.environ['PYTHONPATH'])\n"})
    result = runner(
        "run", "--workspace", "ws", "--stage", "job", "--module", "jobs/paths.py", "--commit", "1a2b3c4",
        env=_env(tmp_path), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    deps, repo_root = result.stdout.strip().split(os.pathsep)[:2]
    assert deps == str((tmp_path / "ws" / ".deps" / "job").resolve())
    assert repo_root == str((tmp_path / "ws" / "src").resolve())


@pytest.mark.parametrize(
    ("code", "expected"),
    [("sys.exit(3)", 3), ("os.kill(os.getpid(), signal.SIGKILL)", 128 + signal.SIGKILL)],
    ids=["exit-code", "killed-by-signal"],
)
def test_runner_exits_with_the_modules_exit_code(tmp_path: Path, code: str, expected: int) -> None:
    workspace = _workspace(tmp_path, {"end.py": f"import os, signal, sys\n{code}\n"})
    result = _run(workspace, "end.py")
    assert result.returncode == expected, result.stderr


def _assert_stopped(pid: int, seconds: float = 2) -> None:
    """``pid`` stops within ``seconds`` (a zombie waiting to be reaped counts as stopped); else kill it and fail."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state == "Z":
            return
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError(f"process {pid}, started by the stage, outlived it")


@pytest.mark.slow
@pytest.mark.parametrize("ignores_sigterm", [False, True], ids=["stops-on-sigterm", "needs-sigkill"])
def test_stage_past_its_time_limit_is_killed_with_its_processes(tmp_path: Path, ignores_sigterm: bool) -> None:
    workspace = _workspace(
        tmp_path,
        {
            "slow.py": f"""
                import signal, subprocess, sys, time
                if {ignores_sigterm}:
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
                helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                open("helper.pid", "w").write(str(helper.pid))
                time.sleep(60)
            """,
        },
    )
    # The module sleeps 60 s: a stage not stopped at its time limit would time out here.
    result = _run(workspace, "slow.py", "--timeout", "1", timeout=40)
    assert result.returncode == 124, result.stderr
    assert "step=run: time limit of 1 s reached: stopping the stage and its processes" in result.stderr
    _assert_stopped(int((workspace / "src" / "helper.pid").read_text()))


def test_processes_a_finished_stage_leaves_behind_are_stopped(tmp_path: Path) -> None:
    workspace = _workspace(
        tmp_path,
        {
            "quick.py": """
                import subprocess, sys
                helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                open("helper.pid", "w").write(str(helper.pid))
            """,
        },
    )
    result = _run(workspace, "quick.py")
    assert result.returncode == 0, result.stderr
    _assert_stopped(int((workspace / "src" / "helper.pid").read_text()))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signals_reach_the_module(tmp_path: Path, signum: int) -> None:
    workspace = _workspace(
        tmp_path,
        {
            "wait.py": f"""
                import signal, sys, time
                signal.signal({int(signum)}, lambda *_: sys.exit(7))
                print("ready", flush=True)
                time.sleep(60)
            """,
        },
    )
    with started(
        "run", "--workspace", str(workspace), "--stage", "job", "--module", "wait.py", "--commit", "1a2b3c4",
        env=_env(workspace),
    ) as process:  # fmt: skip
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 7, stderr
    assert "step=run: wait.py failed with exit code 7" in stderr


def _wheel(folder: Path, name: str, value: str) -> Path:
    """A pure-Python wheel of a package ``name`` whose ``VALUE`` is ``value``, built by hand."""
    files = {
        f"{name}/__init__.py": f"VALUE = {value!r}\n",
        f"{name}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{name}-1.0.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).decode().rstrip('=')},"
        f"{len(text.encode())}"
        for path, text in files.items()
    ]
    files[f"{name}-1.0.dist-info/RECORD"] = "\n".join([*record, f"{name}-1.0.dist-info/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.mark.slow
def test_requirements_are_installed_into_the_workspace_once(tmp_path: Path) -> None:
    workspace = _workspace(
        tmp_path,
        {
            "jobs/requirements.txt": "# beside the module\n./bwtxt-1.0-py3-none-any.whl\n",
            "jobs/use.py": "import bwarg, bwtxt\nprint(bwarg.VALUE, bwtxt.VALUE)\n",
        },
    )
    _wheel(workspace / "src" / "jobs", "bwtxt", "from requirements.txt")
    from_argument = _wheel(tmp_path, "bwarg", "from --requirement")
    installed = _install(workspace, "jobs/use.py", "--requirement", str(from_argument))
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout == "", "pip's output belongs to the runner's log, on stderr"
    assert "step=install: installing" in installed.stderr
    assert (workspace / ".deps" / "job" / "bwtxt" / "__init__.py").is_file()
    result = _run(workspace, "jobs/use.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "from --requirement from requirements.txt\n"
    # A restarted init container finds the same requirements installed.
    again = _install(workspace, "jobs/use.py", "--requirement", str(from_argument))
    assert again.returncode == 0, again.stderr
    assert "step=install: skipping pip:" in again.stderr and "already holds these requirements" in again.stderr


def test_run_installs_nothing_itself(tmp_path: Path) -> None:
    workspace = _workspace(
        tmp_path, {"jobs/requirements.txt": "./bwtxt-1.0-py3-none-any.whl\n", "jobs/use.py": "import bwtxt\n"}
    )
    _wheel(workspace / "src" / "jobs", "bwtxt", "never installed")
    result = _run(workspace, "jobs/use.py")
    assert result.returncode == 1, result.stderr
    assert "ModuleNotFoundError: No module named 'bwtxt'" in result.stderr
    assert "step=install" not in result.stderr
    assert not (workspace / ".deps").exists()


def test_run_refuses_requirements_and_install_refuses_a_time_limit_and_args(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path, {"job.py": "open('ran', 'w').close()\n"})
    for command, extra, refused in (
        ("run", ["--requirement", "pip"], "unrecognized arguments: --requirement pip"),
        ("install", ["--timeout", "5"], "unrecognized arguments: --timeout 5"),
        ("install", ["--", "--flag"], "install takes no arguments after --"),
    ):
        result = _step(command, workspace, "job.py", *extra)
        assert result.returncode == 2, result.stderr
        assert refused in result.stderr
    assert not (workspace / "src" / "ran").exists()


def test_install_refuses_a_pip_option_given_as_a_requirement(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path, {"job.py": ""})
    result = _install(workspace, "job.py", "--requirement=--index-url=http://127.0.0.1:1/simple")
    _assert_one_clear_error(
        result, "--requirement must be a package specifier", "'--index-url=http://127.0.0.1:1/simple'"
    )
    assert not (workspace / ".deps").exists()


@pytest.mark.slow
def test_run_time_limit_does_not_count_the_install(tmp_path: Path) -> None:
    # The wheel is served slowly: the install takes longer than the module's time limit.
    wheel = _wheel(tmp_path, "bwslow", "downloaded slowly")
    delay = 3.0

    class SlowWheel(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            time.sleep(delay)
            body = wheel.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowWheel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{wheel.name}"
    workspace = _workspace(
        tmp_path / "ws",
        {
            "jobs/requirements.txt": f"bwslow @ {url}\n",
            "jobs/use.py": "import time, bwslow\ntime.sleep(1)\nprint(bwslow.VALUE)\n",
        },
    )
    try:
        begun = time.monotonic()
        installed = _install(workspace, "jobs/use.py")
        install_seconds = time.monotonic() - begun
    finally:
        # Stopped before the run: a run that installed again would fail.
        server.shutdown()
        server.server_close()
    assert installed.returncode == 0, installed.stderr
    assert install_seconds > delay
    result = _run(workspace, "jobs/use.py", "--timeout", "2")
    assert (result.returncode, result.stdout) == (0, "downloaded slowly\n"), result.stderr


@pytest.mark.slow
def test_fetch_and_run_need_no_writable_home(example: Example, tmp_path: Path) -> None:
    # In a pod HOME may be read-only: a HOME below a file can be neither created nor written.
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = _env(tmp_path, HOME=f"{os.devnull}/home", TMPDIR=str(temporary))
    workspace = tmp_path / "workspace"
    fetched = runner("fetch", "--repo", example.url, "--commit", example.pinned, "--workspace", str(workspace), env=env)
    assert fetched.returncode == 0, fetched.stderr
    (workspace / "src" / "use.py").write_text("import bwarg\nprint(bwarg.VALUE)\n")
    wheel = _wheel(tmp_path, "bwarg", "installed")
    stage = ("--workspace", str(workspace), "--stage", "job", "--module", "use.py", "--commit", example.pinned)
    installed = runner("install", *stage, "--requirement", str(wheel), env=env, timeout=300)
    assert installed.returncode == 0, installed.stderr
    result = runner("run", *stage, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "installed\n"


@pytest.mark.slow
def test_a_failing_install_exits_with_pips_code_and_a_retry_installs_again(tmp_path: Path) -> None:
    # pip may fail for a reason a retry can change (the network, an index): its exit code 1 lets the Job retry.
    workspace = _workspace(tmp_path, {"use.py": "import bwlate\nprint(bwlate.VALUE)\n"})
    wheel = tmp_path / "bwlate-1.0-py3-none-any.whl"
    failed = _install(workspace, "use.py", "--requirement", str(wheel))
    assert failed.returncode == 1, failed.stderr
    assert "step=install: pip failed with exit code 1" in failed.stderr
    assert not (workspace / ".deps" / "job" / ".bodywork-requirements.json").exists()
    _wheel(tmp_path, "bwlate", "there at the retry")
    retried = _install(workspace, "use.py", "--requirement", str(wheel))
    assert retried.returncode == 0, retried.stderr
    assert "step=install: installing" in retried.stderr
    result = _run(workspace, "use.py")
    assert (result.returncode, result.stdout) == (0, "there at the retry\n"), result.stderr


def _notebook(*sources: str) -> str:
    """An nbformat 4 notebook with one code cell per source, for the python3 kernel."""
    cells: list[dict[str, Any]] = [
        {"cell_type": "code", "execution_count": None, "id": f"cell{i}", "metadata": {}, "outputs": [], "source": text}
        for i, text in enumerate(sources)
    ]
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return json.dumps({"cells": cells, "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5})


def _without_executor() -> None:
    """Skip unless the Python running the runner lacks nbconvert and papermill, as the notebook tests need."""
    if any(importlib.util.find_spec(name) for name in ("nbconvert", "papermill")):
        pytest.skip("this test needs a Python without nbconvert and papermill")


def _offline_pip(folder: Path) -> dict[str, str]:
    """An environment in which pip fails at once: no configuration file, no index, an empty folder of wheels."""
    wheels = folder / "no-wheels"
    wheels.mkdir(exist_ok=True)
    return {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}


def test_install_of_a_notebook_adds_an_executor(tmp_path: Path) -> None:
    _without_executor()
    workspace = _workspace(tmp_path, {"notebooks/train.ipynb": _notebook("print(42)")})
    # Offline, pip fails at once: what matters is what it was asked for.
    result = _install(workspace, "notebooks/train.ipynb", "--requirement", "bwnone==1.0", **_offline_pip(tmp_path))
    assert "step=install: notebooks/train.ipynb is a notebook: adding nbconvert and ipykernel to execute it" in (
        result.stderr
    )
    assert "step=install: installing bwnone==1.0, nbconvert, ipykernel into " in result.stderr
    assert result.returncode == 1, result.stderr


@pytest.mark.parametrize(
    ("requirements", "requirements_txt", "asked"),
    [
        (["papermill==2.6.0"], None, "papermill==2.6.0"),
        (["pandas", "nbconvert[webpdf]>=7"], None, "pandas, nbconvert[webpdf]>=7"),
        ([], "Papermill  # executes the notebook\n", "Papermill"),
    ],
    ids=["papermill-required", "nbconvert-required", "papermill-in-requirements-txt"],
)
def test_install_of_a_notebook_naming_its_executor_adds_nothing(
    tmp_path: Path, requirements: list[str], requirements_txt: str | None, asked: str
) -> None:
    _without_executor()
    files = {"notebooks/train.ipynb": _notebook("print(42)")}
    if requirements_txt is not None:
        files["notebooks/requirements.txt"] = requirements_txt
    workspace = _workspace(tmp_path, files)
    extra = [argument for spec in requirements for argument in ("--requirement", spec)]
    result = _install(workspace, "notebooks/train.ipynb", *extra, **_offline_pip(tmp_path))
    assert f"step=install: installing {asked} into " in result.stderr
    assert "is a notebook" not in result.stderr
    assert result.returncode == 1, result.stderr


def _require_pypi() -> None:
    """Skip (fail in CI) unless PyPI answers."""
    try:
        with urllib.request.urlopen("https://pypi.org/simple/nbconvert/", timeout=10):
            pass
    except OSError as error:
        unavailable(f"needs PyPI to install nbconvert and ipykernel: {error}")


@pytest.mark.slow
def test_a_notebook_stage_installs_its_executor_then_runs_to_completion(tmp_path: Path) -> None:
    _without_executor()
    _require_pypi()
    notebook = _notebook("import os\nanswer = 6 * 7", "print(answer, os.environ['BODYWORK_STAGE'])")
    workspace = _workspace(tmp_path, {"notebooks/train.ipynb": notebook})
    installed = _install(workspace, "notebooks/train.ipynb")
    assert installed.returncode == 0, installed.stderr
    assert "notebooks/train.ipynb is a notebook: adding nbconvert and ipykernel to execute it" in installed.stderr
    result = _run(workspace, "notebooks/train.ipynb", "--timeout", "120", timeout=180)
    assert result.returncode == 0, result.stderr
    executed = json.loads((workspace / ".bodywork" / "notebooks" / "job" / "train.ipynb").read_text())
    printed = ["".join(output.get("text", "")) for cell in executed["cells"] for output in cell["outputs"]]
    assert printed == ["42 job\n"], executed["cells"]
    assert "step=run: notebooks/train.ipynb finished" in result.stderr


def test_run_of_a_notebook_without_an_executor_is_not_retried(tmp_path: Path) -> None:
    _without_executor()
    workspace = _workspace(tmp_path, {"notebooks/train.ipynb": _notebook("print(42)")})
    result = _run(workspace, "notebooks/train.ipynb")
    _assert_one_clear_error(
        result, "cannot execute the notebook train.ipynb", "nbconvert", "papermill", code=EXIT_PERMANENT
    )


@pytest.mark.parametrize("command", ["install", "run"])
@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("../outside.py", "is outside the repository"),
        ("missing.py", "does not exist at this commit"),
        ("data.csv", "neither a .py module nor an .ipynb notebook"),
    ],
)
def test_a_bad_module_path_is_one_clear_error_not_retried(
    tmp_path: Path, command: str, module: str, expected: str
) -> None:
    workspace = _workspace(tmp_path, {"data.csv": "a,b\n"})
    (tmp_path / "outside.py").write_text("print('escaped')\n")
    result = _step(command, workspace, module, *(["--requirement", "pip"] if command == "install" else []))
    _assert_one_clear_error(result, expected, code=EXIT_PERMANENT)
    assert not (workspace / ".deps").exists()


@pytest.mark.parametrize("command", ["install", "run"])
def test_a_stage_without_a_checkout_is_one_clear_error(tmp_path: Path, command: str) -> None:
    # Exit code 1, not 78: a retry of the pod fetches again.
    result = _step(command, tmp_path, "train.py")
    _assert_one_clear_error(result, "no checkout in", "run the fetch step first")


def test_install_in_an_image_without_pip_is_one_clear_error_not_retried(tmp_path: Path) -> None:
    # A real interpreter without pip: a virtual environment made without it.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "image")], check=True)
    python = tmp_path / "image" / "bin" / "python"
    workspace = _workspace(tmp_path / "ws", {"job.py": "print('ran')\n"})
    result = subprocess.run(
        [str(python), str(RUNNER), "install", "--workspace", str(workspace), "--stage", "job", "--module", "job.py",
         "--commit", "1a2b3c4", "--requirement", "bwnone==1.0"],
        capture_output=True, text=True, env=_env(tmp_path), timeout=60, check=False,
    )  # fmt: skip
    _assert_one_clear_error(result, "pip is not installed in this image", str(python), code=EXIT_PERMANENT)


# --- the git daemon fixture ---------------------------------------------------------------------------


@pytest.mark.slow
def test_git_daemon_serves_fetches_and_pushes_and_stops(tmp_path: Path) -> None:
    env = _env(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    _git("init", "--quiet", "--initial-branch=main", cwd=work, env=env)
    _git("commit", "--quiet", "--allow-empty", "-m", "first", cwd=work, env=env)
    with GitDaemon(tmp_path / "repos") as daemon:
        daemon.create_bare("project")
        port = daemon.port
        _git("push", "--quiet", daemon.url("project"), "main", cwd=work, env=env)
        listed = _git("ls-remote", daemon.url("project"), "refs/heads/main", cwd=work, env=env)
        assert listed.split()[0] == _git("rev-parse", "HEAD", cwd=work, env=env)
        assert daemon.url("project") == f"git://127.0.0.1:{port}/project.git"
    assert not listening(port)
    with pytest.raises(RuntimeError, match="not running"):
        daemon.url("project")


# --- the runner's own code --------------------------------------------------------------------------


def test_runner_image_holds_the_runner_where_the_pods_start_it() -> None:
    lines = [line.strip() for line in (ROOT / "runner" / "Dockerfile").read_text().splitlines()]
    assert "FROM python:3.12-slim" in lines
    assert "COPY bodywork_runner.py known_hosts /opt/bodywork/" in lines
    assert "USER 65534:65534" in lines, "nobody: the uid the rendered pods run as, with a passwd entry for ssh"
    assert 'ENTRYPOINT ["python3", "/opt/bodywork/bodywork_runner.py"]' in lines
    install = next(line for line in lines if "apt-get install" in line)
    assert {"git", "openssh-client", "ca-certificates"} <= set(install.split())
    # The runner finds its known_hosts beside itself.
    assert _load_runner().DEFAULT_KNOWN_HOSTS == ROOT / "runner" / "known_hosts"


@pytest.mark.slow
@pytest.mark.parametrize("version", ["3.8", "3.9", "3.10", "3.12", "3.13"])
def test_runner_runs_in_older_and_newer_pythons(tmp_path: Path, version: str) -> None:
    # Users bring their own image: its Python may be older or newer than the one running the tests.
    python = interpreter(version)
    if python is None:
        unavailable(f"no python{version} here (pyenv install {version}, or the distribution's package)")
    workspace = _workspace(tmp_path, {"show.py": "import sys\nprint(sys.version_info[:2], sys.argv[1:])\n"})
    stage = ["--workspace", str(workspace), "--stage", "job", "--module", "show.py", "--commit", "1a2b3c4"]
    results = [
        subprocess.run(
            [python, str(RUNNER), *arguments],
            capture_output=True,
            text=True,
            env=_env(tmp_path),
            timeout=60,
            check=False,
        )
        for arguments in (
            ["install", *stage, "--requirement", "pip"],
            ["run", *stage, "--timeout", "30", "--", "--flag"],
        )
    ]
    installed, result = results
    assert installed.returncode == 0, installed.stderr
    assert "step=install: skipping pip: the image's Python already has pip" in installed.stderr
    assert result.returncode == 0, result.stderr
    major, minor = version.split(".")
    assert result.stdout == f"({major}, {minor}) ['--flag']\n"


def test_runner_imports_only_the_standard_library() -> None:
    tree = ast.parse(RUNNER.read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module is not None
            imported.add(node.module.split(".")[0])
    assert imported, "no import found: the check is broken"
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported - set(sys.stdlib_module_names)


# --- fetch by content on a tracked branch (render --track) -------------------------------------------------------


@pytest.mark.slow  # a git daemon
def test_a_tracked_fetch_checks_out_the_newest_commit_that_holds_the_content(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home)
    work = tmp_path / "work"
    work.mkdir()
    _git("init", "-q", "-b", "main", cwd=work, env=env)
    (work / "train").mkdir()
    (work / "train" / "train.py").write_text("print('v1')\n")
    _git("add", "-A", cwd=work, env=env)
    _git("commit", "-q", "-m", "v1", cwd=work, env=env)
    v1_tree = _git("rev-parse", "HEAD:train", cwd=work, env=env)
    (work / "train" / "train.py").write_text("print('v2')\n")
    _git("commit", "-q", "-am", "v2", cwd=work, env=env)
    (work / "README.md").write_text("docs\n")
    _git("add", "-A", cwd=work, env=env)
    _git("commit", "-q", "-m", "docs", cwd=work, env=env)
    v2_tree = _git("rev-parse", "HEAD:train", cwd=work, env=env)
    docs = _git("rev-parse", "HEAD", cwd=work, env=env)
    with GitDaemon(tmp_path / "served") as daemon:
        daemon.create_bare("ml")
        _git("push", "-q", daemon.url("ml"), "main", cwd=work, env=env)

        def fetch(workspace: Path, *matches: str) -> subprocess.CompletedProcess[str]:
            args = [arg for match in matches for arg in ("--match", match)]
            return runner(
                "fetch", "--repo", daemon.url("ml"), "--branch", "main", *args, "--workspace", str(workspace), env=env
            )

        newest = fetch(tmp_path / "a", f"train={v2_tree}")
        assert newest.returncode == 0, newest.stderr
        assert f"[bodywork] branch=main step=fetch: checked out {docs} in " in newest.stderr
        assert _git("rev-parse", "HEAD", cwd=tmp_path / "a" / "src", env=env) == docs, "the newest holding v2"
        older = fetch(tmp_path / "b", f"train={v1_tree}")
        assert older.returncode == 0, older.stderr
        assert (tmp_path / "b" / "src" / "train" / "train.py").read_text() == "print('v1')\n"
        # install and run read the commit the fetch checked out when none is given (the stage's image may lack git)
        ran = runner(
            "run", "--workspace", str(tmp_path / "b"), "--stage", "train", "--module", "train/train.py", env=env
        )
        v1 = _git("rev-parse", "HEAD~2", cwd=work, env=env)
        assert ran.returncode == 0 and ran.stdout == "v1\n", ran.stderr
        assert f"commit={v1[:7]} step=run" in ran.stderr
        missing = fetch(tmp_path / "c", "train=" + "0" * 40)
        assert missing.returncode == 1
        assert "no commit of branch main of git://" in missing.stderr and "holds train=0000000" in missing.stderr
        assert not (tmp_path / "c" / "src").exists(), "no half-made checkout"
    usage = runner("fetch", "--repo", "x", "--commit", "0" * 40, "--match", "a=b", "--workspace", str(tmp_path / "d"))
    assert usage.returncode == 2 and "--match goes with --branch" in usage.stderr
