"""Publish: commit a checked render into one folder of a deployment repository and push it.

The deployment branch is fetched shallow (depth 1) into a temporary work tree that is
removed when the call ends; no URL is ever stored in that tree's config. Only the target
folder is written (by ``write.write_tree``: stale files of its own vanish, a folder this
tool did not write is refused, everything else in the repository stays as it is). An
unchanged render makes no commit. A push rejected because another writer was first
(non-fast-forward, "fetch first", a ref lock) leads to fetch, reset to the remote tip,
re-write, re-commit and another push after an exponential pause with full jitter, a
bounded number of times; then ``PublishError``.

Credentials come from the environment only: ``BODYWORK_GIT_TOKEN`` (HTTPS; handed to
git by a credential helper given in git's environment, so it is in no file and no
command line; user name ``BODYWORK_GIT_USERNAME``, default ``x-access-token``), or
``BODYWORK_GIT_SSH_KEY_FILE`` and ``BODYWORK_GIT_KNOWN_HOSTS_FILE`` (paths, for SSH URLs). Every
text this module returns or raises (results, errors, commit messages) shows URLs
redacted and secrets masked. Nothing here prints.
"""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.source import Source, redact_url
from bodywork_render.render.options import RenderOptions
from bodywork_render.render.write import MARKER, write_tree

TOKEN_ENV = "BODYWORK_GIT_TOKEN"
USERNAME_ENV = "BODYWORK_GIT_USERNAME"
SSH_KEY_ENV = "BODYWORK_GIT_SSH_KEY_FILE"
KNOWN_HOSTS_ENV = "BODYWORK_GIT_KNOWN_HOSTS_FILE"
DEFAULT_ENV = "default"
GIT_TIMEOUT_SECONDS = 300.0

# Words of git's (LC_ALL=C) messages when a push lost a race with another writer.
_LOST_RACE = (
    "[rejected]", "non-fast-forward", "fetch first", "stale info", "failed to update ref", "incorrect old value",
    "cannot lock ref", "failed to lock", "unable to lock", ".lock'",
)  # fmt: skip
_NO_SUCH_REF = "couldn't find remote ref"
# The helper answers git's "get" with the token from the environment; the other actions (store, erase) do nothing.
_TOKEN_HELPER = f'!f() {{ test "$1" = get || exit 0; echo "username=${{{USERNAME_ENV}:-x-access-token}}"; echo "password=${TOKEN_ENV}"; }}; f'
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"]+@")


class PublishError(Exception):
    """Publishing could not finish: git failed, or every push was rejected. The message is already redacted."""


class _LostRace(Exception):
    """A push was rejected because another writer was first; the message is git's redacted reason."""


@dataclass(frozen=True)
class Target:
    """Where a render goes: the deployment repository URL (it may carry credentials; it is shown redacted),
    the branch, the folder (None: ``envs/<env>/<pipeline>``), the environment (None: no overlay, folders of
    ``default``) and an optional branch suffix."""

    url: str
    branch: str = "main"
    path: str | None = None
    env: str | None = None
    branch_suffix: str = ""

    @property
    def env_folder(self) -> str:
        """The folder of this environment's renders: ``envs/<env>``."""
        return f"envs/{self.env or DEFAULT_ENV}"

    @property
    def push_branch(self) -> str:
        """The branch that receives the commits: ``branch`` plus ``branch_suffix``."""
        return self.branch + self.branch_suffix

    def folder(self, pipeline: str) -> str:
        """The folder of the pipeline's render inside the repository; BodyworkError when it would leave it."""
        if self.path is not None:
            return repository_folder(self.path, "--path")
        if self.env is not None and (not self.env or "/" in self.env):
            raise BodyworkError(f"--env {self.env!r}: expected a name without '/'")
        return repository_folder(f"{self.env_folder}/{pipeline}", "--env")


@dataclass(frozen=True)
class CommitSettings:
    """What a publish commit says besides the render: an extra paragraph, and the author and committer (None: git's own)."""

    message: str | None = None
    author_name: str | None = None
    author_email: str | None = None


@dataclass(frozen=True)
class Retry:
    """How often a rejected push is tried again: ``attempts`` in all, pausing a random time up to an exponential ceiling."""

    attempts: int = 8
    base_seconds: float = 0.25
    cap_seconds: float = 8.0

    def pause(self, failed: int) -> float:
        """Seconds to wait after the ``failed``-th rejected attempt (full jitter: uniform below the ceiling)."""
        return random.uniform(0.0, min(self.cap_seconds, self.base_seconds * 2 ** (failed - 1)))


@dataclass(frozen=True)
class Publication:
    """A checked render ready to land: the pipeline, its folder in the repository, the files, the source it records, warnings."""

    pipeline: str
    folder: str
    files: dict[str, str]
    source: Source
    warnings: tuple[str, ...]

    def commit_message(self, extra: str | None = None) -> str:
        """Subject naming the pipeline and short source commit, ``extra`` as a paragraph, then the Bodywork-Source trailers."""
        parts = [f"Publish {self.pipeline} at {self.source.short_commit} to {self.folder}"]
        if extra and extra.strip():
            parts.append(extra.strip())
        parts.append(
            f"Bodywork-Source-Commit: {self.source.commit}\nBodywork-Source-Repo: {redact_url(self.source.repo_url)}"
        )
        return "\n\n".join(parts) + "\n"


@dataclass(frozen=True)
class Published:
    """What a publish did: ``pushed`` a new commit, or found the branch ``up to date``; ``commit`` now holds the render."""

    status: Literal["pushed", "up to date"]
    url: str
    branch: str
    commit: str
    attempts: int
    publication: Publication


def repository_folder(path: str, flag: str) -> str:
    """``path`` as a normalised folder inside a repository ('a/b'); BodyworkError for '', '.', absolute, '..' or '.git'."""
    parts = PurePosixPath(path).parts
    if not parts or PurePosixPath(path).is_absolute() or ".." in parts or any(p.lower() == ".git" for p in parts):
        raise BodyworkError(
            f"{flag} {path!r}: expected a folder inside the repository (relative, not '.', without '..' or '.git')"
        )
    return "/".join(parts)


def read_metadata(text: str | None) -> dict[str, Any]:
    """The fields of a hydrator.metadata file ({} when it is missing or not a JSON object)."""
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def check_layout(options: RenderOptions) -> None:
    """BodyworkError unless the options render a layout that is published: manifests or kustomize."""
    if options.layout not in ("manifests", "kustomize"):
        raise BodyworkError(f"--format {options.layout}: publish and refresh write the manifests or kustomize format")


def prepare(
    path: Path,
    options: RenderOptions,
    target: Target,
    *,
    repo_url: str | None = None,
    ref: str | None = None,
    templates: Path | None = None,
) -> Publication:
    """Render the project at ``path`` for its folder in ``target``; BodyworkError, before any git work, when input or output is invalid.

    The overlay of ``target.env`` applies, and the kustomize layout's Flux paths point at that folder.
    """
    from bodywork_render.render.manifests import render_project
    from bodywork_render.spec.project import load_project

    check_layout(options)
    pipeline = load_project(path).pipeline.name
    folder = target.folder(pipeline)
    if options.layout == "kustomize":
        options = options._replace(deploy_path=f"./{folder}")
    rendered = render_project(path, options, env=target.env, repo_url=repo_url, ref=ref, templates=templates)
    metadata = read_metadata(rendered.files[MARKER])
    return Publication(
        pipeline, folder, rendered.files, Source(metadata["repoURL"], metadata["drySha"]), rendered.warnings
    )


def land(
    publication: Publication,
    target: Target,
    *,
    settings: CommitSettings = CommitSettings(),
    retry: Retry = Retry(),
    workspace: Workspace | None = None,
) -> Published:
    """Commit the publication into ``target`` unless it is there already, and push, retrying when another writer was first.

    A ``workspace`` given must be one of ``target.url`` already synced with ``sync(target)``.
    """
    if workspace is None:
        with Workspace(target.url) as own:
            own.sync(target)
            return land(publication, target, settings=settings, retry=retry, workspace=own)
    message = workspace.redact(publication.commit_message(settings.message))
    reason = ""
    for attempt in range(1, retry.attempts + 1):
        if attempt > 1:
            time.sleep(retry.pause(attempt - 1))
            workspace.sync(target)
        if not workspace.stage(publication.folder, publication.files):
            assert workspace.start is not None  # an empty tree always differs from a render
            return Published(
                "up to date", workspace.shown_url, target.push_branch, workspace.start, attempt, publication
            )
        commit = workspace.commit(message, settings)
        try:
            # "up to date": an identical commit (same tree, parent, message, second) landed already.
            status = workspace.push(target.push_branch)
        except _LostRace as exc:
            reason = str(exc)
            continue
        return Published(status, workspace.shown_url, target.push_branch, commit, attempt, publication)
    raise PublishError(
        f"gave up publishing to {workspace.shown_url} branch {target.push_branch} after {retry.attempts} attempts:"
        f" another writer was first each time (last: {reason})"
    )


class Workspace:
    """A temporary git work tree that talks to one remote URL; removed on ``close``.

    git runs pinned to this tree (whatever GIT_DIR and the like the caller has), never
    prompts, runs no hooks, and gets credentials from the environment only. A git:// URL
    loses any user and password: that protocol has no authentication.
    """

    def __init__(self, url: str) -> None:
        try:
            import git
        except ImportError:  # GitPython refuses to load without a working git executable
            raise PublishError("publishing needs git: none on PATH (or at GIT_PYTHON_GIT_EXECUTABLE)") from None

        self._secrets = url_secrets([url], os.environ)
        self.url = _usable(url)
        self.shown_url = redact_url(url)
        self._root = Path(tempfile.mkdtemp(prefix="bodywork-git-"))
        self.folder = self._root / "tree"
        self.tip: str | None = None
        self.start: str | None = None
        self._git = git.Git(self.folder)
        try:
            self.folder.mkdir()
            key = _private_key_copy(os.environ[SSH_KEY_ENV], self._root) if os.environ.get(SSH_KEY_ENV) else None
            self._git.update_environment(**git_environment(self.folder, [url], os.environ, key))
            self.run("init", "--quiet")
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the work tree (and the copy of the SSH key)."""
        shutil.rmtree(self._root, ignore_errors=True)

    def redact(self, text: str) -> str:
        """``text`` with URL credentials removed and this workspace's secrets masked."""
        return redact_text(text, self._secrets)

    def _call(self, *args: str, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
        import git

        try:
            status, out, err = self._git.execute(
                [self._git.GIT_PYTHON_GIT_EXECUTABLE or "git", *args],
                with_extended_output=True,
                with_exceptions=False,
                kill_after_timeout=GIT_TIMEOUT_SECONDS,
                env=env,
            )
        except git.GitCommandNotFound:
            raise PublishError("publishing needs git: none on PATH (or at GIT_PYTHON_GIT_EXECUTABLE)") from None
        return int(status or 0), str(out), str(err)

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """git's output for ``args``; PublishError with git's redacted message when it fails."""
        status, out, err = self._call(*args, env=env)
        if status:
            raise PublishError(self._failure(args[0], err or out))
        return out

    def _failure(self, command: str, text: str) -> str:
        # One line: git's message may span several (an address, then errno), and its hints are for git's own users.
        reason = " ".join(
            line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("hint:")
        )
        return f"git {command} ({self.shown_url}) failed: {self.redact(reason)}"

    def check_branch(self, branch: str) -> None:
        """BodyworkError unless ``branch`` is a valid branch name."""
        if self._call("check-ref-format", "--branch", branch)[0] != 0 or branch.startswith("-"):
            raise BodyworkError(f"--branch {branch!r} is not a valid git branch name")

    def remote_tip(self, ref: str) -> str | None:
        """The commit ``ref`` (``HEAD`` or ``refs/heads/B``) names in the remote, by ls-remote; None when it has no such ref."""
        for line in self.run("ls-remote", self.url, ref).splitlines():
            commit, _, name = line.partition("\t")
            if name == ref:
                return commit
        return None

    def fetch(self, ref: str) -> str | None:
        """Fetch the commit ``ref`` names in the remote (depth 1) and return it; None when the remote has no such ref."""
        local = f"refs/bodywork/{ref}"
        status, out, err = self._call("fetch", "--quiet", "--depth=1", "--no-tags", self.url, f"+{ref}:{local}")
        if status:
            if _NO_SUCH_REF in err:
                return None
            raise PublishError(self._failure("fetch", err or out))
        return self.run("rev-parse", "--verify", f"{local}^{{commit}}")

    def checkout(self, commit: str) -> None:
        """Put ``commit`` in the work tree (detached)."""
        self.run("checkout", "--quiet", "--force", "--detach", commit)

    def sync(self, target: Target) -> None:
        """Reset the work tree to the remote tip of ``target``'s push branch.

        A push branch that does not exist yet starts from ``target.branch`` when a suffix
        is used and that branch exists, else from an empty tree (a new branch, even in a
        repository without any commit).
        """
        branch = target.push_branch
        self.check_branch(branch)
        self.tip = self.fetch(f"refs/heads/{branch}")
        self.start = self.tip
        if self.start is None and target.branch_suffix:
            self.start = self.fetch(f"refs/heads/{target.branch}")
        self.run("symbolic-ref", "HEAD", f"refs/heads/{branch}")
        if self.start is None:
            self.run("update-ref", "-d", f"refs/heads/{branch}")
            self.run("read-tree", "--empty")
        else:
            self.run("reset", "--quiet", "--hard", self.start)
        self.run("clean", "-q", "-d", "-x", "--force")

    def file(self, relative: str) -> str | None:
        """The text of a file of the work tree (None when missing or outside it)."""
        path = self.inside(relative)
        return path.read_text(encoding="utf-8", errors="replace") if path is not None and path.is_file() else None

    def inside(self, relative: str) -> Path | None:
        """The path of ``relative`` in the work tree, None when it (through a symlink) lies outside or in .git."""
        path = self.folder / relative
        root = self.folder.resolve()
        resolved = path.resolve()
        if resolved != root and root not in resolved.parents:
            return None
        return None if any(part.lower() == ".git" for part in resolved.relative_to(root).parts) else path

    def stage(self, folder: str, files: dict[str, str]) -> bool:
        """Make ``folder`` hold exactly ``files`` and stage it; whether that changed anything."""
        path = self.inside(folder)
        if path is None:
            raise BodyworkError(f"--path {folder!r} leads outside the deployment repository (through a symbolic link)")
        write_tree(path, files)
        self.run("add", "--all", "--force", "--", folder)
        status, out, err = self._call("diff", "--cached", "--quiet", "--", folder)
        if status not in (0, 1):
            raise PublishError(self._failure("diff", err or out))
        return status == 1

    def commit(self, message: str, settings: CommitSettings) -> str:
        """Commit what is staged with ``message``; the new commit."""
        for key, default in (("user.name", "bodywork-render"), ("user.email", "bodywork-render@localhost")):
            if self._call("config", "--get", key)[0] != 0:  # none in the caller's config: ours, in this tree only
                self.run("config", "--local", key, default)
        env: dict[str, str] = {}
        if settings.author_name:
            env.update(GIT_AUTHOR_NAME=settings.author_name, GIT_COMMITTER_NAME=settings.author_name)
        if settings.author_email:
            env.update(GIT_AUTHOR_EMAIL=settings.author_email, GIT_COMMITTER_EMAIL=settings.author_email)
        self.run("commit", "--quiet", "--cleanup=whitespace", "--message", message, env=env)
        return self.run("rev-parse", "HEAD")

    def push(self, branch: str) -> Literal["pushed", "up to date"]:
        """Push HEAD to ``branch``; "up to date" when the remote had that very commit already.

        _LostRace when another writer was first; PublishError for any other failure (unreachable, denied, a hook refused).
        """
        status, out, err = self._call("push", "--porcelain", self.url, f"HEAD:refs/heads/{branch}")
        if status == 0:
            return "up to date" if any(line.startswith("=\t") for line in out.splitlines()) else "pushed"
        text = f"{out}\n{err}"
        if not any(word in text.lower() for word in _LOST_RACE):
            raise PublishError(self._failure("push", text))
        lines = [
            line.strip() for line in text.splitlines() if line.strip() and not line.startswith(("To ", "Done", "hint:"))
        ]
        raise _LostRace(self.redact("; ".join(lines)))


def git_environment(
    folder: Path, urls: Iterable[str], environ: Mapping[str, str], ssh_key: Path | None = None
) -> dict[str, str]:
    """The variables git runs with for a work tree at ``folder`` talking to ``urls``, given the caller's ``environ``.

    Configuration goes through GIT_CONFIG_COUNT (after any the caller set), never into a file.
    ``ssh_key`` is the private key file ssh uses (host keys checked against BODYWORK_GIT_KNOWN_HOSTS_FILE when set).
    """
    git_dir = folder / ".git"
    env = {
        "GIT_DIR": str(git_dir),
        "GIT_WORK_TREE": str(folder),
        "GIT_INDEX_FILE": str(git_dir / "index"),
        "GIT_OBJECT_DIRECTORY": str(git_dir / "objects"),
        "GIT_COMMON_DIR": str(git_dir),
        "GIT_TERMINAL_PROMPT": "0",
    }
    config = [
        ("core.autocrlf", "false"),
        ("core.hooksPath", os.devnull),
        ("gc.auto", "0"),
        ("maintenance.auto", "false"),
        ("advice.detachedHead", "false"),
        ("init.defaultBranch", "main"),
    ]
    if environ.get(TOKEN_ENV) or any(urlsplit(url).username for url in urls if "://" in url):
        # The caller's helpers could store a URL's credentials in a file: only ours answers.
        config.append(("credential.helper", ""))
        if environ.get(TOKEN_ENV):
            config.append(("credential.helper", _TOKEN_HELPER))
    first = int(environ.get("GIT_CONFIG_COUNT", "0")) if environ.get("GIT_CONFIG_COUNT", "").isdigit() else 0
    for index, (key, value) in enumerate(config, start=first):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    env["GIT_CONFIG_COUNT"] = str(first + len(config))
    if ssh_key is not None:
        ssh = ["ssh", "-i", str(ssh_key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
        if environ.get(KNOWN_HOSTS_ENV):
            ssh += ["-o", f"UserKnownHostsFile={environ[KNOWN_HOSTS_ENV]}", "-o", "StrictHostKeyChecking=yes"]
        env["GIT_SSH_COMMAND"] = shlex.join(ssh)
    return env


def url_secrets(urls: Iterable[str], environ: Mapping[str, str]) -> list[str]:
    """What must never be shown: the token from the environment, and each URL's password (or token-as-user name), longest first."""
    found = {environ.get(TOKEN_ENV, "")}
    for url in urls:
        parts = urlsplit(url) if "://" in url else None
        if parts is None or not parts.username:
            continue
        userinfo = parts.netloc.rsplit("@", 1)[0]
        if parts.password:
            found |= {userinfo, parts.password}
        elif parts.scheme.lower() in ("http", "https", "git"):
            found.add(userinfo)
    return sorted((s for s in found if s), key=len, reverse=True)


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with the credentials of every URL removed and each secret masked as ``***``."""
    text = _URL_USERINFO.sub(r"\1", text)
    for secret in secrets:
        text = text.replace(secret + "@", "").replace(secret, "***")
    return text


def _private_key_copy(key_file: str, folder: Path) -> Path:
    """A copy of the SSH key that only its owner can read, ending in a newline: ssh refuses a key that others can
    read (a Secret volume's default mode) and OpenSSH needs the final newline a Secret value may lack."""
    try:
        key = Path(key_file).read_bytes()
    except OSError as exc:
        raise BodyworkError(f"{SSH_KEY_ENV}={key_file}: cannot read the SSH key: {exc.strerror}") from None
    copy = folder / "ssh-key"
    with os.fdopen(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as stream:
        stream.write(key.rstrip(b"\n") + b"\n")
    return copy


def _usable(url: str) -> str:
    """The URL git is given: a git:// URL without user and password (git cannot even parse them there)."""
    return redact_url(url) if url.lower().startswith("git://") else url
