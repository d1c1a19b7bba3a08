#!/usr/bin/env python3
"""The bodywork stage runner: what every stage's pod runs, one subcommand per container.

``fetch`` (first init container, any image with git)
    Clone the project's git repository at one pinned commit, shallowly, into
    ``WORKSPACE/src``.

``install`` (second init container, the pipeline's own image)
    Install the stage's requirements into ``WORKSPACE/.deps/STAGE``, and what
    executing a notebook needs when the stage is one, before the stage's clock starts.

``run`` (stage container, the pipeline's own image)
    Run the stage's module (``.py``) or execute its notebook (``.ipynb``) with the
    installed requirements, forwarding SIGTERM and SIGINT, enforcing an optional
    time limit on the module alone, and exiting with the module's exit code.

Pods read this file from a ConfigMap mounted at /opt/bodywork, so no image of
bodywork's is needed. Standard library only: it runs inside any image with
Python 3.8 or later (the tests run it in 3.8 to 3.13 where those are installed).
Every log line names the stage, the short commit and the step; URLs are
printed without user info, and the git token never appears in any output.
Exit codes: the module's own; 124 when the time limit stopped it; 128+N when
signal N ended it; 78 for an error that a retry cannot change (a missing
module, no notebook executor); 1 for another error reported on one line; 2 for
bad usage; 3 for an unexpected failure.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib.machinery
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType

EXIT_ERROR = 1
# sysexits EX_CONFIG: the Job's podFailurePolicy fails the Job at once on it instead of retrying.
EXIT_PERMANENT = 78
EXIT_UNEXPECTED = 3
EXIT_TIMEOUT = 124
SIGNAL_EXIT_BASE = 128
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Seconds a stage past its time limit gets between SIGTERM and SIGKILL.
KILL_GRACE_SECONDS = 5.0

TOKEN_ENV = "BODYWORK_GIT_TOKEN"
TOKEN_USERNAME_ENV = "BODYWORK_GIT_USERNAME"
SSH_KEY_ENV = "BODYWORK_GIT_SSH_KEY_FILE"
KNOWN_HOSTS_ENV = "BODYWORK_GIT_KNOWN_HOSTS_FILE"
# GitHub reads the password as the token whatever the user name; other hosts may want their own.
DEFAULT_TOKEN_USERNAME = "x-access-token"
DEFAULT_KNOWN_HOSTS = Path(__file__).resolve().with_name("known_hosts")

SRC_DIR = "src"
RUNNER_DIR = ".bodywork"
DEPS_DIR = ".deps"
DEPS_MARKER = ".bodywork-requirements.json"

# A requirement given on the command line: a package specifier, URL or path, never a pip option (a leading '-',
# which argparse would also take for a flag) or blank. bodywork.schema.json's stages.*.requirements pattern is
# "^" + this pattern (plain ASCII: Python's and ECMA-262's \s differ), so `bodywork validate` refuses exactly
# what the runner would.
REQUIREMENT = re.compile(r"[^-\t\n\v\f\r ]")
REQUIREMENT_EXPECTED = "a package specifier, URL or path, not starting with '-' or a space"
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_STAGE = re.compile(r"[A-Za-z0-9_.-]+")
_SCP_LIKE = re.compile(r"[^/:]+:(?!//)")
# A requirement the running interpreter can be checked against: `name` or `name==version`.
_PLAIN_REQUIREMENT = re.compile(
    r"\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:==\s*(?P<version>[A-Za-z0-9.+!_-]+))?\s*"
)


class RunnerError(Exception):
    """A failure reported to the user as one line, without a traceback."""

    exit_code = EXIT_ERROR


class PermanentError(RunnerError):
    """A failure that no retry can change: the wrong code or image, not a flaky network."""

    exit_code = EXIT_PERMANENT


class Interrupted(Exception):
    """SIGTERM or SIGINT arrived while no child process was there to receive it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# --- output -------------------------------------------------------------------------------------


# The one definition of redaction: bodywork_render/gitops/redact.py loads these from this file.
# A URL's user info: everything from "scheme://" to the last "@" before the host's end (a password may hold "@").
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s'\"]*@")
# user:password@host without a scheme, as git prints it in some errors ("unable to look up u:p@host")
_BARE_USERINFO = re.compile(r"[^\s/@'\"]+:[^\s/@'\"]*@(?=[\w\[])")


def url_secrets(urls: Iterable[str], environ: Mapping[str, str]) -> list[str]:
    """What must never be shown, longest first: the git token of ``environ`` and its HTTP header form, and
    each URL's user info and password (or its user name alone over http, https and git: a token given as user)."""
    token = environ.get(TOKEN_ENV, "")
    found = {token, _basic_auth(token, environ)} if token else set()
    for url in urls:
        parts = urllib.parse.urlsplit(url) if "://" in url else None
        if parts is None or not parts.username:
            continue
        userinfo = parts.netloc.rsplit("@", 1)[0]
        if parts.password:
            found |= {userinfo, parts.password}
        elif parts.scheme.lower() in ("http", "https", "git"):
            found.add(userinfo)
    return sorted((s for s in found if s), key=len, reverse=True)


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` without the user info of any URL (or a bare ``user:password@host``), each secret masked as ``***``."""
    text = _BARE_USERINFO.sub("", _URL_USERINFO.sub(r"\1", text))
    for secret in secrets:
        text = text.replace(secret + "@", "").replace(secret, "***")
    return text


def redact(text: str) -> str:
    """``text`` as this runner may print it: ``redact_text`` with the secrets of its environment."""
    return redact_text(text, url_secrets([], os.environ))


class Log:
    """Writes the runner's log lines to stderr, each prefixed with stage, short commit (or the branch a tracked
    fetch searches) and step."""

    def __init__(self, commit: str | None, stage: str | None = None, branch: str | None = None) -> None:
        fields = [f"stage={stage}"] if stage else []
        fields.append(f"commit={commit[:7]}" if commit else f"branch={branch}")
        self._prefix = "[bodywork] " + " ".join(fields)

    def __call__(self, step: str, message: str) -> None:
        """Write one line; ``message`` is redacted."""
        print(f"{self._prefix} step={step}: {redact(message)}", file=sys.stderr, flush=True)


# --- fetch --------------------------------------------------------------------------------------


def _basic_auth(token: str, environ: Mapping[str, str]) -> str:
    """The value of an HTTP ``Authorization`` header carrying the git token (user name from ``environ``)."""
    username = environ.get(TOKEN_USERNAME_ENV) or DEFAULT_TOKEN_USERNAME
    return "Basic " + base64.b64encode(f"{username}:{token}".encode()).decode("ascii")


def _is_ssh(repo: str) -> bool:
    """Whether git reaches ``repo`` over ssh: an ``ssh://`` URL or the scp-like ``user@host:path``."""
    if "://" in repo:
        return urllib.parse.urlsplit(repo).scheme in {"ssh", "git+ssh", "ssh+git"}
    return bool(_SCP_LIKE.match(repo))


def _with_git_config(env: dict[str, str], key: str, value: str) -> None:
    """Add one git configuration entry through the environment, after any already there."""
    count = int(env.get("GIT_CONFIG_COUNT", "0") or "0")
    env[f"GIT_CONFIG_KEY_{count}"] = key
    env[f"GIT_CONFIG_VALUE_{count}"] = value
    env["GIT_CONFIG_COUNT"] = str(count + 1)


def _private_key_copy(key_file: str, folder: Path) -> Path:
    """Copy the ssh key into ``folder`` readable by its owner only, as ssh demands.

    A key mounted from a Kubernetes Secret is often group- or world-readable, and
    may lack the final newline that OpenSSH needs.
    """
    source = Path(key_file)
    try:
        key = source.read_bytes()
    except OSError as error:
        raise RunnerError(f"cannot read the ssh key {SSH_KEY_ENV}={key_file}: {error.strerror}") from None
    copy = folder / "id"
    descriptor = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key if key.endswith(b"\n") else key + b"\n")
    return copy


def known_hosts_file() -> str:
    """The known_hosts file that ssh checks the server's host key against.

    The first that exists of: the file named by ``BODYWORK_GIT_KNOWN_HOSTS_FILE``;
    ``known_hosts`` in the folder of the key named by ``BODYWORK_GIT_SSH_KEY_FILE``
    (a ``known_hosts`` key of the git Secret mounts there); the GitHub host keys
    shipped beside this runner. RunnerError when none does.
    """
    candidates = [os.environ.get(KNOWN_HOSTS_ENV, "")]
    key_file = os.environ.get(SSH_KEY_ENV, "")
    if key_file:
        candidates.append(str(Path(key_file).with_name("known_hosts")))
    candidates.append(str(DEFAULT_KNOWN_HOSTS))
    for candidate in filter(None, candidates):
        if Path(candidate).is_file():
            return candidate
    raise RunnerError(f"no known_hosts file at {', '.join(filter(None, candidates))}: set {KNOWN_HOSTS_ENV}")


@contextlib.contextmanager
def git_environment(repo: str) -> Iterator[dict[str, str]]:
    """The environment for git commands that reach ``repo``, with its credentials.

    The https token travels as an ``http.<url>.extraHeader`` set through
    ``GIT_CONFIG_*`` variables, scoped to the repository's host, so it is on no
    command line and in no file. Over ssh, host keys are checked strictly against
    the known_hosts file; a private key copy lives in a temporary folder that is
    removed on exit.
    """
    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"
    token = os.environ.get(TOKEN_ENV, "")
    parts = urllib.parse.urlsplit(repo) if "://" in repo else None
    if token and parts is not None and parts.scheme in {"http", "https"}:
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port else ""
        _with_git_config(
            env, f"http.{parts.scheme}://{host}{port}/.extraHeader", f"Authorization: {_basic_auth(token, os.environ)}"
        )
    if not _is_ssh(repo):
        yield env
        return
    known_hosts = known_hosts_file()
    ssh = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}"]
    key_file = os.environ.get(SSH_KEY_ENV, "")
    with tempfile.TemporaryDirectory(prefix="bodywork-ssh-") as folder:
        if key_file:
            ssh += ["-o", "IdentitiesOnly=yes", "-i", str(_private_key_copy(key_file, Path(folder)))]
        env["GIT_SSH_COMMAND"] = shlex.join(ssh)
        yield env


def _git(args: Sequence[str], cwd: Path, env: dict[str, str]) -> str:
    """Run one git command quietly; return its stdout, or raise RunnerError with its last error line."""
    try:
        result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise RunnerError("git is not installed in this image") from None
    if result.returncode != 0:
        raise RunnerError(redact(_git_error(result.stderr) or f"git exited with code {result.returncode}"))
    return result.stdout


def _git_error(stderr: str) -> str:
    """git's first error line, after the line that explains it when there is one (ssh writes its own)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if line.startswith(("fatal:", "error:")):
            return " ".join([*lines[max(0, index - 1) : index], line])
    return lines[-1] if lines else ""


def _check_sha(commit: str) -> None:
    """Refuse anything but a full, lower-case commit SHA: only that pins the code."""
    if not _SHA.fullmatch(commit):
        raise RunnerError(f"--commit must be a full commit SHA (40 or 64 hex digits), got {commit!r}")


def fetch(repo: str, commit: str, workspace: Path) -> None:
    """Check out ``repo`` at ``commit`` in ``workspace/src``.

    Fetches only that commit (depth 1) when the server allows fetching by SHA,
    otherwise every branch and tag, then verifies that HEAD is the commit.
    An existing ``src`` folder is replaced.
    """
    log = Log(commit)
    _check_sha(commit)
    if repo.startswith("-"):
        raise RunnerError(f"--repo must be a URL or a path, got {repo!r}")
    if "://" not in repo and not _is_ssh(repo):
        # git runs inside the checkout: a relative path must not be read from there.
        repo = str(Path(repo).resolve())
    src = workspace / SRC_DIR
    if src.exists():
        log("fetch", f"replacing the existing checkout in {src}")
        shutil.rmtree(src)
    src.mkdir(parents=True)
    log("fetch", f"fetching {repo} at {commit}")
    try:
        _checkout(repo, commit, src, log)
    except BaseException:
        # A failed fetch leaves no half-made checkout behind.
        shutil.rmtree(src, ignore_errors=True)
        raise
    log("fetch", f"checked out {commit} in {src}")


def fetch_tracked(repo: str, branch: str, matches: Mapping[str, str], workspace: Path) -> str:
    """Check out, in ``workspace/src``, the newest commit on ``branch``'s first-parent line whose objects at the
    paths of ``matches`` (path -> git object id) are those ids; return it.

    A render committed beside the code (pre-commit) cannot name the commit it is part of: it pins each stage by
    the content of its inputs instead, and this finds a commit holding that content. Trees and commits are fetched
    without file contents when the server can filter (a partial clone), and the found commit is then checked out.
    """
    log = Log(None, branch=branch)
    if repo.startswith("-") or branch.startswith("-"):
        raise RunnerError(f"--repo and --branch must not start with '-', got {repo!r} and {branch!r}")
    bad = [f"{path}={oid}" for path, oid in matches.items() if not _SHA.fullmatch(oid)]
    if not matches or bad:
        raise PermanentError(f"--match needs PATH=OBJECT-ID pairs with full ids, got {bad or 'none'}")
    if "://" not in repo and not _is_ssh(repo):
        repo = str(Path(repo).resolve())
    src = workspace / SRC_DIR
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    shown = redact(repo)
    log("fetch", f"looking on branch {branch} of {repo} for the commit that holds {', '.join(sorted(matches))}")
    try:
        with git_environment(repo) as env:
            _git(["init", "--quiet"], src, env)
            _git(["remote", "add", "origin", repo], src, env)
            tracking = f"refs/remotes/origin/{branch}"
            try:
                _git(
                    [
                        "fetch",
                        "--quiet",
                        "--no-tags",
                        "--filter=blob:none",
                        "origin",
                        f"+refs/heads/{branch}:{tracking}",
                    ],
                    src,
                    env,
                )
            except RunnerError as error:
                raise RunnerError(f"cannot fetch branch {branch} of {shown}: {error}") from None
            commits = _git(["rev-list", "--first-parent", tracking], src, env).split()
            paths = sorted(matches)
            asked = "".join(f"{commit}:{path}\n" for commit in commits for path in paths)
            found = subprocess.run(
                ["git", "cat-file", "--batch-check=%(objectname)"], cwd=src, env=env, input=asked,
                capture_output=True, text=True, check=False,
            ).stdout.splitlines()  # fmt: skip
            wanted = [matches[path] for path in paths]
            for index, commit in enumerate(commits):
                if found[index * len(paths) : (index + 1) * len(paths)] == wanted:
                    _git(["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit], src, env)
                    log("fetch", f"checked out {commit} in {src}")
                    return commit
    except BaseException:
        shutil.rmtree(src, ignore_errors=True)
        raise
    shutil.rmtree(src, ignore_errors=True)
    raise RunnerError(
        f"no commit of branch {branch} of {shown} holds {', '.join(f'{p}={o[:7]}' for p, o in sorted(matches.items()))}"
        " (not pushed yet, or pushed to another branch than the render tracks)"
    )


def checked_out_commit(workspace: Path) -> str:
    """The commit the fetch step checked out in ``workspace/src`` (read from git's HEAD file: the stage's image
    may have no git); ``unknown`` when there is none."""
    try:
        head = (workspace / SRC_DIR / ".git" / "HEAD").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return "unknown"
    return head if _SHA.fullmatch(head) else "unknown"


def _checkout(repo: str, commit: str, src: Path, log: Log) -> None:
    """Fetch ``commit`` from ``repo`` into the empty folder ``src``, check it out and verify HEAD."""
    shown = redact(repo)
    if _is_ssh(repo):
        known_hosts, configured = known_hosts_file(), os.environ.get(KNOWN_HOSTS_ENV, "")
        missing = (
            f" ({KNOWN_HOSTS_ENV}={configured} does not exist)" if configured and configured != known_hosts else ""
        )
        log("fetch", f"checking the ssh host key against {known_hosts}{missing}")
    with git_environment(repo) as env:
        _git(["init", "--quiet"], src, env)
        try:
            _git(["fetch", "--quiet", "--no-tags", "--depth", "1", repo, commit], src, env)
        except RunnerError as error:
            log("fetch", f"fetching the commit alone failed ({error}); fetching all branches and tags")
            try:
                _git(
                    ["fetch", "--quiet", repo, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"],
                    src,
                    env,
                )
            except RunnerError as full_error:
                raise RunnerError(f"cannot fetch {shown}: {full_error}") from None
        try:
            _git(["cat-file", "-e", f"{commit}^{{commit}}"], src, env)
        except RunnerError:
            raise RunnerError(f"commit {commit} not found in {shown}") from None
        _git(["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit], src, env)
        head = _git(["rev-parse", "HEAD"], src, env).strip()
    if head != commit:
        raise RunnerError(f"checked out {head} instead of {commit}")


# --- run: child processes -----------------------------------------------------------------------


def _exit_code(returncode: int) -> int:
    """A child's exit code as a shell reports it: 128+N for death by signal N."""
    return SIGNAL_EXIT_BASE - returncode if returncode < 0 else returncode


def _kill_group(pgid: int, signum: int) -> None:
    """Send ``signum`` to a process group, which may already be gone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


class Supervisor:
    """Runs the runner's children one at a time, each in its own process group.

    While installed (a context manager), SIGTERM and SIGINT go to the running
    child; one that arrives between children stops the next from starting.
    """

    def __init__(self, log: Log, deadline: float | None, timeout: float) -> None:
        self._log = log
        self._deadline = deadline
        self._timeout = timeout
        self._child: subprocess.Popen[bytes] | None = None
        self.received: int | None = None

    def __enter__(self) -> Supervisor:
        self._previous = {signum: signal.signal(signum, self._on_signal) for signum in FORWARDED_SIGNALS}
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.received = signum
        child = self._child
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signum)

    def _remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def run(
        self, step: str, command: Sequence[str], cwd: Path, env: dict[str, str], *, output_to_stderr: bool = False
    ) -> int:
        """Run ``command`` to its end, or until the time limit; return the runner's exit code for it.

        ``output_to_stderr`` sends the child's stdout to stderr, where the runner's own lines go.
        """
        if self.received is not None:
            return SIGNAL_EXIT_BASE + self.received
        stdout = sys.stderr if output_to_stderr else None
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=stdout, start_new_session=True)
        self._child = child
        if self.received is not None:
            self._on_signal(self.received, None)
        try:
            child.wait(timeout=self._remaining())
        except subprocess.TimeoutExpired:
            self._log(step, f"time limit of {self._timeout:g} s reached: stopping the stage and its processes")
            _kill_group(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=KILL_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _kill_group(child.pid, signal.SIGKILL)
                child.wait()
            return EXIT_TIMEOUT
        finally:
            # Whatever the child left behind dies with it, as in a pod whose main process ended.
            _kill_group(child.pid, signal.SIGKILL)
            self._child = None
        return _exit_code(child.returncode)


# --- run: requirements --------------------------------------------------------------------------


def _requirement_lines(requirements_txt: Path) -> list[str]:
    """The requirement lines of a requirements file, without comments and blank lines."""
    lines = (
        re.sub(r"(^|\s)#.*$", "", line).strip() for line in requirements_txt.read_text(encoding="utf-8").splitlines()
    )
    return [line for line in lines if line]


def _satisfied(spec: str) -> bool:
    """Whether the running interpreter already has ``spec``; only `name` and `name==version` are checked."""
    match = _PLAIN_REQUIREMENT.fullmatch(spec)
    if match is None:
        return False
    try:
        installed = importlib.metadata.version(match["name"])
    except importlib.metadata.PackageNotFoundError:
        return False
    return match["version"] is None or installed == match["version"]


def _fingerprint(specs: Sequence[str], requirements_txt: Path | None) -> str:
    """What was asked to be installed, to recognise a folder that already holds it."""
    text = requirements_txt.read_text(encoding="utf-8") if requirements_txt else None
    return json.dumps({"python": sys.version, "requirements": list(specs), "requirements.txt": text}, sort_keys=True)


def install(supervisor: Supervisor, log: Log, specs: Sequence[str], requirements_txt: Path | None, deps: Path) -> int:
    """Install ``specs`` and ``requirements_txt`` into ``deps`` with pip; return pip's exit code, or 0 if skipped.

    pip is skipped when there is nothing to install, when every requirement is a
    plain ``name`` or ``name==version`` the image's Python already has, and when
    ``deps`` already holds the same requirements (a restarted container).
    """
    wanted = [*specs, *(_requirement_lines(requirements_txt) if requirements_txt else [])]
    if not wanted:
        log("install", "no requirements: nothing to install")
        return 0
    if all(_satisfied(spec) for spec in wanted):
        log("install", f"skipping pip: the image's Python already has {', '.join(wanted)}")
        return 0
    fingerprint = _fingerprint(specs, requirements_txt)
    marker = deps / DEPS_MARKER
    if marker.is_file() and marker.read_text(encoding="utf-8") == fingerprint:
        log("install", f"skipping pip: {deps} already holds these requirements")
        return 0
    if importlib.machinery.PathFinder.find_spec("pip") is None:
        raise PermanentError(
            f"pip is not installed in this image ({sys.executable}); it is needed to install {', '.join(wanted)}"
        )
    if deps.exists():
        shutil.rmtree(deps)
    deps.mkdir(parents=True)
    command = [
        sys.executable, "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check",
        "--no-input", "--progress-bar", "off", "--target", str(deps), *specs,
    ]  # fmt: skip
    cwd = deps
    if requirements_txt is not None:
        command += ["--requirement", str(requirements_txt)]
        # pip reads a relative path in requirements.txt from its working folder.
        cwd = requirements_txt.parent
    log("install", f"installing {', '.join(wanted)} into {deps}")
    # pip's output belongs to the runner's log, not to the stage's stdout.
    code = supervisor.run("install", command, cwd, os.environ.copy(), output_to_stderr=True)
    if code == 0:
        marker.write_text(fingerprint, encoding="utf-8")
    else:
        log("install", f"pip failed with exit code {code}")
    return code


def notebook_requirements(specs: Sequence[str]) -> list[str]:
    """What executing a notebook needs besides ``specs``: nbconvert and ipykernel, unless ``specs`` or the image
    already name an executor (papermill or nbconvert)."""
    named = {match["name"].lower().replace("_", "-") for match in map(_PLAIN_REQUIREMENT.match, specs) if match}
    if named & {"papermill", "nbconvert"} or _has_module("papermill") or _has_module("nbconvert"):
        return []
    return ["nbconvert", "ipykernel"]


# --- run: the module ----------------------------------------------------------------------------


def _module_path(repo_root: Path, module: str) -> Path:
    """The stage's module inside the checkout, refusing one outside it."""
    if not repo_root.is_dir():
        raise RunnerError(f"no checkout in {repo_root}: run the fetch step first")
    root = repo_root.resolve()
    path = (root / module).resolve()
    if path != root and root not in path.parents:
        raise PermanentError(f"--module {module} is outside the repository")
    if path.suffix not in {".py", ".ipynb"}:
        raise PermanentError(f"--module {module} is neither a .py module nor an .ipynb notebook")
    if not path.is_file():
        raise PermanentError(f"--module {module} does not exist at this commit")
    return path


def _has_module(name: str, deps: Path | None = None) -> bool:
    """Whether the stage's Python can import ``name``, from the image or from ``deps``."""
    path = [str(deps), *sys.path] if deps else sys.path
    return importlib.machinery.PathFinder.find_spec(name, path) is not None


def _notebook_command(notebook: Path, args: Sequence[str], deps: Path, output_dir: Path) -> list[str]:
    """The command that executes ``notebook``: papermill (which takes parameters) or nbconvert."""
    executed = output_dir / notebook.name
    if _has_module("papermill", deps):
        return [sys.executable, "-m", "papermill", "--cwd", str(notebook.parent), str(notebook), str(executed), *args]
    if _has_module("nbconvert", deps):
        if args:
            raise PermanentError("a notebook with args needs papermill (add `papermill` to the stage's requirements)")
        return [
            sys.executable, "-c", "from nbconvert.nbconvertapp import main; main()",
            "--to", "notebook", "--execute", "--output-dir", str(output_dir), str(notebook),
        ]  # fmt: skip
    raise PermanentError(
        f"cannot execute the notebook {notebook.name}: neither nbconvert nor papermill is installed; "
        "add `nbconvert` and `ipykernel` (or `papermill`) to the stage's requirements"
    )


def _stage_env(stage: str, commit: str, repo_root: Path, deps: Path) -> dict[str, str]:
    """The stage's environment: the runner's, plus the installed requirements and the repository importable."""
    env = os.environ.copy()
    python_path = [str(deps), str(repo_root)]
    if env.get("PYTHONPATH"):
        python_path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(python_path)
    env["PATH"] = os.pathsep.join(filter(None, [str(deps / "bin"), env.get("PATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env["BODYWORK_STAGE"] = stage
    env["BODYWORK_COMMIT"] = commit
    return env


def _notebook_folders(workspace: Path, stage: str, env: dict[str, str]) -> Path:
    """Create the folders a notebook run writes to, point Jupyter at them in ``env``; return the output folder.

    Jupyter and IPython keep state under HOME, which may be read-only.
    """
    jupyter = workspace / RUNNER_DIR / "jupyter"
    output_dir = workspace / RUNNER_DIR / "notebooks" / stage
    for folder in (jupyter, output_dir):
        folder.mkdir(parents=True, exist_ok=True)
    env.setdefault("JUPYTER_RUNTIME_DIR", str(jupyter / "runtime"))
    env.setdefault("IPYTHONDIR", str(jupyter / "ipython"))
    return output_dir


def _stage_paths(workspace: Path, stage: str, module: str) -> tuple[Path, Path, Path]:
    """The checkout, the module and the requirements folder of ``stage``, all absolute; RunnerError for a bad name."""
    if stage in {".", ".."} or not _STAGE.fullmatch(stage):
        raise RunnerError(f"--stage must hold only letters, digits, '_', '-' and '.', got {stage!r}")
    # The children run in other folders: every path handed to them must be absolute.
    workspace = workspace.resolve()
    repo_root = workspace / SRC_DIR
    return repo_root, _module_path(repo_root, module), workspace / DEPS_DIR / stage


def install_stage(workspace: Path, stage: str, module: str, commit: str, requirements: Sequence[str] = ()) -> int:
    """Install what the stage needs into the workspace: ``requirements``, then a requirements.txt beside its module,
    then, for a notebook, an executor when none is named. pip's exit code (0 when nothing was needed)."""
    log = Log(commit, stage)
    bad = [spec for spec in requirements if not REQUIREMENT.match(spec)]
    if bad:
        raise RunnerError(f"--requirement must be a package specifier ({REQUIREMENT_EXPECTED}), got {bad[0]!r}")
    _repo_root, path, deps = _stage_paths(workspace, stage, module)
    requirements_txt = path.parent / "requirements.txt"
    txt = requirements_txt if requirements_txt.is_file() else None
    specs = list(requirements)
    if path.suffix == ".ipynb":
        extra = notebook_requirements([*specs, *(_requirement_lines(txt) if txt else [])])
        if extra:
            log("install", f"{module} is a notebook: adding {' and '.join(extra)} to execute it")
        specs += extra
    with Supervisor(log, None, 0) as supervisor:
        return install(supervisor, log, specs, txt, deps)


def run(workspace: Path, stage: str, module: str, commit: str, *, timeout: float = 0, args: Sequence[str] = ()) -> int:
    """Run the stage's module with its installed requirements; return the exit code for the runner.

    ``timeout`` (seconds, 0 for none) bounds this one run of the module: the
    install step before it is not counted, and each retry gets the whole time again.
    """
    log = Log(commit, stage)
    if timeout < 0:
        raise RunnerError(f"--timeout must be 0 (no limit) or more seconds, got {timeout:g}")
    repo_root, path, deps = _stage_paths(workspace, stage, module)
    deadline = time.monotonic() + timeout if timeout > 0 else None
    with Supervisor(log, deadline, timeout) as supervisor:
        env = _stage_env(stage, commit, repo_root, deps)
        if path.suffix == ".ipynb":
            command = _notebook_command(path, args, deps, _notebook_folders(repo_root.parent, stage, env))
        else:
            command = [sys.executable, str(path), *args]
        log("run", f"running {module}" + (f" with args {shlex.join(args)}" if args else ""))
        code = supervisor.run("run", command, path.parent, env)
    if code == 0:
        log("run", f"{module} finished")
    elif code > SIGNAL_EXIT_BASE and code - SIGNAL_EXIT_BASE in {s.value for s in signal.Signals}:
        log("run", f"{module} stopped by {signal.Signals(code - SIGNAL_EXIT_BASE).name} (exit code {code})")
    else:
        log("run", f"{module} failed with exit code {code}")
    return code


# --- command line -------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bodywork_runner.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_parser = commands.add_parser("fetch", help="clone the repository at a pinned commit into WORKSPACE/src")
    fetch_parser.add_argument("--repo", required=True, help="git URL (https, ssh, git, file) or path")
    pin = fetch_parser.add_mutually_exclusive_group(required=True)
    pin.add_argument("--commit", help="full commit SHA")
    pin.add_argument("--branch", help="branch whose newest commit holding every --match is checked out")
    fetch_parser.add_argument(
        "--match", action="append", default=[], metavar="PATH=ID", help="with --branch: a path and its git object id"
    )
    fetch_parser.add_argument("--workspace", required=True, type=Path, help="workspace folder")
    stage_parsers = {
        "install": commands.add_parser("install", help="install one stage's requirements into WORKSPACE/.deps"),
        "run": commands.add_parser("run", help="run one stage's module: run [options] [-- ARGS...]"),
    }
    for stage_parser in stage_parsers.values():
        stage_parser.add_argument("--workspace", required=True, type=Path, help="workspace folder holding src/")
        stage_parser.add_argument("--stage", required=True, help="stage name")
        stage_parser.add_argument("--module", required=True, help="module or notebook path relative to the repository")
        stage_parser.add_argument(
            "--commit", help="commit SHA, for the log lines [default: the one the fetch step checked out]"
        )
    stage_parsers["install"].add_argument(
        "--requirement", action="append", default=[], metavar="SPEC", help="pip requirement; repeatable"
    )
    stage_parsers["run"].add_argument(
        "--timeout", type=float, default=0, help="seconds one run of the module may take; 0: no limit"
    )
    return parser


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the subcommand, and map failures to exit codes."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after the first `--` belongs to the stage's module, even what looks like an option.
    own, stage_args = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = _parser()
    options = parser.parse_args(own)
    if options.command != "run" and stage_args:
        parser.error(f"{options.command} takes no arguments after --")
    if options.command != "fetch" and options.commit is None:
        options.commit = checked_out_commit(options.workspace)
    log = Log(options.commit, getattr(options, "stage", None), getattr(options, "branch", None))
    if options.command == "fetch" and bool(options.match) != bool(options.branch):
        parser.error("--match goes with --branch, and --branch needs at least one --match")
    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, _raise_interrupted)
    try:
        if options.command == "fetch" and options.branch:
            # A path may hold '=', an object id never does.
            matches = dict(item.rpartition("=")[::2] for item in options.match)
            fetch_tracked(options.repo, options.branch, matches, options.workspace)
            return 0
        if options.command == "fetch":
            fetch(options.repo, options.commit, options.workspace)
            return 0
        stage = (options.workspace, options.stage, options.module, options.commit)
        if options.command == "install":
            return install_stage(*stage, options.requirement)
        return run(*stage, timeout=options.timeout, args=stage_args)
    except RunnerError as error:
        log(options.command, f"error: {error}")
        return error.exit_code
    except Interrupted as interrupt:
        log(options.command, f"interrupted by {interrupt}")
        return SIGNAL_EXIT_BASE + interrupt.signum
    except Exception as error:  # noqa: BLE001 - the promise is one line, never a traceback
        log(options.command, f"unexpected error: {type(error).__name__}: {error}")
        return EXIT_UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())
