"""git: the one module that runs git; nothing else in the package builds a git command line.

git runs as a plain subprocess, in English (its messages are parsed), with the caller's
environment cleaned of the ``GIT_*`` variables that would point it at another repository
(a pre-commit hook runs with ``GIT_INDEX_FILE`` set, for one). Two kinds of use:

- the project's own checkout, read only: its origin URL and the commit a ref names
  (``origin_url``, ``commit_of``) and the project's folder in it (``path_in_work_tree``);
- a ``Workspace``: a temporary work tree talking to one remote URL, for publish, refresh
  and ``bodywork run`` (ls-remote). Credentials come from the environment only:
  ``BODYWORK_GIT_TOKEN`` (HTTPS, answered by a credential helper given in git's environment,
  so it is in no file and on no command line; user name ``BODYWORK_GIT_USERNAME``, default
  ``x-access-token``), or ``BODYWORK_GIT_SSH_KEY_FILE`` and ``BODYWORK_GIT_KNOWN_HOSTS_FILE``
  (paths, for SSH URLs). Every message it returns or raises is redacted (redact.py).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.redact import redact_text, redact_url, url_secrets

TOKEN_ENV = "BODYWORK_GIT_TOKEN"
USERNAME_ENV = "BODYWORK_GIT_USERNAME"
SSH_KEY_ENV = "BODYWORK_GIT_SSH_KEY_FILE"
KNOWN_HOSTS_ENV = "BODYWORK_GIT_KNOWN_HOSTS_FILE"
GIT_TIMEOUT_SECONDS = 300.0
GIT_MISSING = "git is not installed or not on PATH"

# The caller's GIT_* variables git still gets (pre-commit's list): configuration and transport, nothing that
# names a repository, index or work tree.
_KEPT_GIT_VARIABLES = frozenset(
    ("GIT_EXEC_PATH", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY", "GIT_CONFIG_COUNT",
     "GIT_HTTP_PROXY_AUTHMETHOD", "GIT_ALLOW_PROTOCOL", "GIT_ASKPASS")
)  # fmt: skip
# Words of git's (LC_ALL=C) messages when a push lost a race with another writer.
_LOST_RACE = (
    "[rejected]", "non-fast-forward", "fetch first", "stale info", "failed to update ref", "incorrect old value",
    "cannot lock ref", "failed to lock", "unable to lock", ".lock'",
)  # fmt: skip
_NO_SUCH_REF = "couldn't find remote ref"
# The helper answers git's "get" with the token from the environment; the other actions (store, erase) do nothing.
_TOKEN_HELPER = (
    f'!f() {{ test "$1" = get || exit 0; echo "username=${{{USERNAME_ENV}:-x-access-token}}";'
    f' echo "password=${TOKEN_ENV}"; }}; f'
)


class GitError(Exception):
    """git is missing, failed or did not answer in time; the message is already redacted."""


class PushRejected(GitError):
    """A push was rejected because another writer was first; the message is git's redacted reason."""


def clean_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` for git: without the GIT_* variables that name a repository, index or work tree; in English."""
    env = {
        key: value
        for key, value in environ.items()
        if not key.startswith("GIT_")
        or key in _KEPT_GIT_VARIABLES
        or key.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))
    }
    env.update(LC_ALL="C", LANGUAGE="C")
    return env


def _git(args: Iterable[str], cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """git ``args`` in ``cwd`` with exactly ``env``, its output as text; GitError when git is not on PATH or does not
    answer in time."""
    done = _git_bytes(list(args), cwd, env)
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    )


def _git_bytes(
    args: list[str], cwd: Path, env: Mapping[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """git ``args`` in ``cwd`` with exactly ``env`` (default: this process's, cleaned) and ``stdin`` (default:
    none), its output as bytes."""
    executable = shutil.which("git")
    if executable is None:
        raise GitError(GIT_MISSING)
    try:
        return subprocess.run(
            [executable, *args],
            cwd=cwd,
            env=clean_environment(os.environ) if env is None else env,
            input=stdin if stdin is not None else b"",
            capture_output=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]}: no answer after {GIT_TIMEOUT_SECONDS:.0f} s") from None


def is_branch_name(name: str) -> bool:
    """Whether ``name`` is a valid git branch name, as ``git check-ref-format`` checks ``refs/heads/<name>`` (no
    repository needed; a leading '-' is refused as git branch does)."""
    return (
        not name.startswith("-") and _git_bytes(["check-ref-format", f"refs/heads/{name}"], Path("/")).returncode == 0
    )


# --- the project's own checkout ---------------------------------------------------------------------------


def work_tree(folder: Path) -> Path | None:
    """The root of the git work tree holding ``folder`` (the nearest with a ``.git``), or None outside any."""
    folder = folder.absolute()
    return next((parent for parent in [folder, *folder.parents] if (parent / ".git").exists()), None)


def path_in_work_tree(folder: Path) -> str:
    """The folder's path inside its git work tree ('' at the root, or outside any work tree)."""
    root = work_tree(folder)
    relative = folder.absolute().relative_to(root).as_posix() if root is not None else "."
    return "" if relative == "." else relative


class Checkout(NamedTuple):
    """A git work tree as seen from a folder in it: its root, and the full SHA of the commit a ref names (or None)."""

    root: Path
    commit: str | None


def checkout(folder: Path, ref: str = "HEAD") -> Checkout | None:
    """The work tree holding ``folder`` and the commit ``ref`` names in it; None outside any. GitError without git."""
    if not folder.is_dir():
        return None
    found = _git(
        ["rev-parse", "--show-toplevel", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
        folder,
        clean_environment(os.environ),
    )
    lines = found.stdout.splitlines()
    if not lines or found.returncode not in (0, 1):  # 128: not in a work tree
        return None
    return Checkout(Path(lines[0]), lines[1] if found.returncode == 0 and len(lines) > 1 else None)


class HeadStatus(NamedTuple):
    """What one ``git status`` tells of a work tree: HEAD's commit (None before the first), and the paths (from the
    root) under the folder it ran in whose work tree content differs from HEAD's, untracked ones included."""

    checkout: Checkout
    changed: tuple[str, ...]


def head_status(folder: Path) -> HeadStatus | None:
    """HEAD's commit and the changes under ``folder`` in one git call (a render of HEAD needs both); None outside a
    work tree. GitError without git."""
    root = work_tree(folder)
    if root is None or not folder.is_dir():
        return None
    done = _git(
        ["status", "--porcelain=v2", "-z", "--branch", "--untracked-files=all", "--", "."],
        folder,
        clean_environment(os.environ),
    )
    if done.returncode:
        return None
    commit: str | None = None
    changed: list[str] = []
    records = iter(done.stdout.split("\0"))
    for record in records:
        kind = record[:2]
        if record.startswith("# branch.oid "):
            oid = record[len("# branch.oid ") :]
            commit = oid if oid != "(initial)" else None
        elif kind == "1 ":  # 1 XY sub mH mI mW hH hI path
            changed.append(record.split(" ", 8)[8])
        elif kind == "2 ":  # 2 XY sub mH mI mW hH hI Xscore path, then the old path as a record of its own
            changed.append(record.split(" ", 9)[9])
            next(records, None)  # the old path: not a file of the work tree (as with --porcelain=v1)
        elif kind == "u ":  # u XY sub m1 m2 m3 mW h1 h2 h3 path
            changed.append(record.split(" ", 10)[10])
        elif kind == "? ":
            changed.append(record[2:])
    return HeadStatus(Checkout(root, commit), tuple(changed))


class CommitFiles:
    """The files of one commit (or of the index: ``commit`` '') under a folder of its work tree, read from git's
    objects, never from the work tree.

    Paths are given as paths on disk inside ``folder``, as the project loader knows them.
    """

    def __init__(self, root: Path, commit: str, folder: Path) -> None:
        self.root = root
        self.commit = commit
        self.folder = folder.absolute()
        self.where = f"at commit {commit[:7]}" if commit else "in the index (git add it)"
        self._files: set[str] | None = None

    def _relative(self, path: Path) -> str | None:
        """``path`` relative to the work tree's root; None outside ``folder``."""
        path = path.absolute()
        if path != self.folder and self.folder not in path.parents:
            return None
        return path.relative_to(self.root).as_posix()

    def files(self) -> set[str]:
        """Every file under ``folder`` at the commit, relative to the work tree's root (listed once)."""
        if self._files is None:
            prefix = self.folder.relative_to(self.root).as_posix()
            if self.commit:
                args = ["ls-tree", "-r", "-z", "--name-only", "--full-tree", self.commit, "--", prefix]
            else:
                args = ["ls-files", "-z", "--full-name", "--", prefix]
            done = _git_bytes(args, self.root)
            if done.returncode:
                raise GitError(f"git {args[0]}: {done.stderr.decode(errors='replace').strip()}")
            self._files = {name for name in done.stdout.decode("utf-8", "surrogateescape").split("\0") if name}
        return self._files

    def is_file(self, path: Path) -> bool:
        """Whether the commit has a file at ``path``."""
        relative = self._relative(path)
        return relative is not None and relative in self.files()

    def read(self, path: Path) -> bytes | None:
        """The content of ``path`` at the commit; None when the commit has no such file."""
        relative = self._relative(path)
        if relative is None:
            return None
        done = _git_bytes(["cat-file", "blob", f"{self.commit}:{relative}"], self.root)
        return done.stdout if done.returncode == 0 else None

    def differences(self, exclude: Path | None = None, status: HeadStatus | None = None) -> list[str]:
        """The files under ``folder`` whose work tree content differs from the commit's (or the index's), untracked
        ones included, but for those under ``exclude`` (a render's output folder); relative to ``folder``, sorted.

        ``status`` is ``head_status(folder)`` when the caller has it already (the commit is then HEAD)."""
        env = clean_environment(os.environ)
        if self.commit:
            # git status compares with HEAD, which is the commit: callers ask only when the render pins HEAD.
            if status is None:
                status = head_status(self.folder)
            prefix = self.folder.relative_to(self.root).as_posix()
            prefix = "" if prefix == "." else prefix + "/"
            names = [path.removeprefix(prefix) for path in (status.changed if status is not None else ())]
        else:
            unstaged = _git(["diff", "--name-only", "-z", "--relative", "--", "."], self.folder, env)
            untracked = _git(["ls-files", "-z", "--others", "--exclude-standard", "--", "."], self.folder, env)
            names = unstaged.stdout.split("\0") + untracked.stdout.split("\0")
        skipped = None
        if exclude is not None and exclude.absolute().is_relative_to(self.folder):
            skipped = exclude.absolute().relative_to(self.folder).as_posix()
        return sorted(
            {name for name in names if name and not (skipped and (name == skipped or name.startswith(skipped + "/")))}
        )


def has_commit(root: Path, commit: str) -> bool:
    """Whether the repository of the work tree at ``root`` holds ``commit``."""
    done = _git(["cat-file", "-e", f"{commit}^{{commit}}"], root, clean_environment(os.environ))
    return done.returncode == 0


def path_objects(root: Path, commit: str, paths: Iterable[str]) -> dict[str, str]:
    """The object id (a tree or a blob) of each of ``paths`` (relative to the work tree's root) that ``commit`` has."""
    wanted = sorted(set(paths))
    if not wanted:
        return {}
    asked = "".join(f"{commit}:{path}\n" for path in wanted).encode("utf-8", "surrogateescape")
    done = _git_bytes(["cat-file", "--batch-check=%(objectname)"], root, stdin=asked)
    if done.returncode:
        raise GitError(f"git cat-file {commit}: {done.stderr.decode(errors='replace').strip()}")
    answers = done.stdout.decode("utf-8", "surrogateescape").splitlines()
    return {path: answer for path, answer in zip(wanted, answers, strict=True) if not answer.endswith(" missing")}


def index_tree(root: Path) -> str:
    """The id of the tree the index of the work tree at ``root`` holds (written into git's objects): what the
    commit being made will hold."""
    done = _git(["write-tree"], root, clean_environment(os.environ))
    if done.returncode:
        raise GitError(f"git write-tree: {done.stderr.strip()} (resolve the conflicts first)")
    return done.stdout.strip()


def is_shallow(root: Path) -> bool:
    """Whether the work tree's repository is a shallow clone (its history cut short): git keeps the cut in the file
    ``shallow`` of its folder (asked of git itself when ``.git`` is a link to another folder)."""
    if (root / ".git").is_dir():
        return (root / ".git" / "shallow").is_file()
    done = _git(["rev-parse", "--is-shallow-repository"], root, clean_environment(os.environ))
    return done.stdout.strip() == "true"


def last_changes(root: Path, commit: str, groups: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """For each group of paths (relative to the work tree's root), the newest commit on ``commit``'s first-parent
    line that changed any of them: the commit from which they are as ``commit`` has them.

    One ``git log`` walks the history, and stops as soon as every group has its commit. A merge counts with
    what it changed against its first parent; renames count as a deletion and an addition. A group holding
    the root ('' or '.') is the whole tree: its commit is ``commit``. Paths are literal (a folder named ``a[1]``
    is that folder, not a pattern). A group without a commit in the history (a shallow clone's) is left out;
    GitError when git cannot walk it.
    """
    prefixes = {key: [p.strip("/") for p in paths] for key, paths in groups.items()}
    found = {key: commit for key, paths in prefixes.items() if any(p in ("", ".") for p in paths)}
    prefixes = {key: paths for key, paths in prefixes.items() if key not in found}
    everything = sorted({p for paths in prefixes.values() for p in paths})
    if not everything:
        return found
    executable = shutil.which("git")
    if executable is None:
        raise GitError(GIT_MISSING)
    marker = "commit "
    command = [executable, "--literal-pathspecs", "log", "--first-parent", "--diff-merges=first-parent",
               "--no-renames", f"--format=%x00{marker}%H", "--name-only", "-z", commit, "--", *everything]  # fmt: skip
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(
            command, cwd=root, env=clean_environment(os.environ), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=errors,
        ) as walk,
    ):  # fmt: skip
        assert walk.stdout is not None
        current, pending = "", b""
        while len(found) < len(groups):
            chunk = os.read(walk.stdout.fileno(), 65536)
            tokens = (pending + chunk).split(b"\0")
            pending = tokens.pop() if chunk else b""
            for token in tokens:
                text = token.decode("utf-8", "surrogateescape").lstrip("\n")
                if text.startswith(marker):
                    current = text[len(marker) :]
                    continue
                for key, paths in prefixes.items():
                    if text and key not in found and any(text == p or text.startswith(p + "/") for p in paths):
                        found[key] = current
            if not chunk:
                break
        if len(found) == len(groups):
            walk.kill()  # the rest of the history is not needed
        elif walk.wait() != 0:
            errors.seek(0)
            message = errors.read().decode("utf-8", "replace").strip()
            raise GitError(f"git log {commit} failed to find what changed the stages' inputs: {message}")
    return found


def origin_url(root: Path) -> str | None:
    """The URL of the work tree's ``origin`` remote as configured (None without one); GitError without git."""
    found = _git(["config", "--get", "remote.origin.url"], root, clean_environment(os.environ))
    return (found.stdout.strip() or None) if found.returncode == 0 else None


# --- a temporary work tree talking to one remote ----------------------------------------------------------


class Workspace:
    """A temporary git work tree that talks to one remote URL; removed on ``close``.

    git runs pinned to this tree (whatever GIT_DIR and the like the caller has), never
    prompts, runs no hooks, and gets credentials from the environment only. A git:// URL
    loses any user and password: that protocol has no authentication.
    """

    def __init__(self, url: str) -> None:
        self._secrets = url_secrets([url], os.environ)
        self.url = _usable(url)
        self.shown_url = redact_url(url)
        self._root = Path(tempfile.mkdtemp(prefix="bodywork-git-"))
        self.folder = self._root / "tree"
        self.tip: str | None = None
        self.start: str | None = None
        try:
            self.folder.mkdir()
            key = _private_key_copy(os.environ[SSH_KEY_ENV], self._root) if os.environ.get(SSH_KEY_ENV) else None
            self._env = {**clean_environment(os.environ), **git_environment(self.folder, [url], os.environ, key)}
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
        done = _git(args, self.folder, {**self._env, **(env or {})})
        return done.returncode, done.stdout.rstrip("\n"), done.stderr

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """git's output for ``args``; GitError with git's redacted message when it fails."""
        status, out, err = self._call(*args, env=env)
        if status:
            raise GitError(self._failure(args[0], err or out))
        return out

    def _failure(self, command: str, text: str) -> str:
        # One line: git's message may span several (an address, then errno), and its hints are for git's own users.
        reason = " ".join(
            line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("hint:")
        )
        return f"git {command} ({self.shown_url}) failed: {self.redact(reason)}"

    def ls_remote(self, *refs: str) -> dict[str, str]:
        """The remote's refs (those named ``refs``, or all) and the commit each names."""
        listing = self.run("ls-remote", self.url, *refs)
        return {name: commit for commit, _, name in (line.partition("\t") for line in listing.splitlines())}

    def remote_tip(self, ref: str) -> str | None:
        """The commit ``ref`` (``HEAD`` or ``refs/heads/B``) names in the remote; None when it has no such ref."""
        return self.ls_remote(ref).get(ref)

    def fetch(self, ref: str, history: bool = False) -> str | None:
        """Fetch the commit ``ref`` names in the remote (alone, or with its ``history``) and return it; None when the
        remote lacks that ref."""
        local = f"refs/bodywork/{ref}"
        depth = [] if history else ["--depth=1"]
        status, out, err = self._call("fetch", "--quiet", *depth, "--no-tags", self.url, f"+{ref}:{local}")
        if status:
            if _NO_SUCH_REF in err:
                return None
            raise GitError(self._failure("fetch", err or out))
        return self.run("rev-parse", "--verify", f"{local}^{{commit}}")

    def checkout(self, commit: str) -> None:
        """Put ``commit`` in the work tree (detached)."""
        self.run("checkout", "--quiet", "--force", "--detach", commit)

    def sync(self, branch: str, fallback: str | None = None) -> None:
        """Reset the work tree to the remote tip of ``branch``, with ``branch`` checked out.

        ``tip`` becomes that commit (None: no such branch). A branch that does not exist yet
        starts from the tip of ``fallback`` when given and it exists, else from an empty tree
        (a new branch, even in a repository without any commit); ``start`` is where it starts.
        """
        self.tip = self.fetch(f"refs/heads/{branch}")
        self.start = self.tip
        if self.start is None and fallback is not None:
            self.start = self.fetch(f"refs/heads/{fallback}")
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

    def stage(self, folder: str) -> bool:
        """Stage everything in ``folder`` (deletions too); whether that changed anything."""
        self.run("add", "--all", "--force", "--", folder)
        status, out, err = self._call("diff", "--cached", "--quiet", "--", folder)
        if status not in (0, 1):
            raise GitError(self._failure("diff", err or out))
        return status == 1

    def commit(self, message: str, name: str | None = None, email: str | None = None) -> str:
        """Commit what is staged with ``message`` as ``name`` and ``email`` (None: git's own); the new commit."""
        for key, default in (("user.name", "bodywork-render"), ("user.email", "bodywork-render@localhost")):
            if self._call("config", "--get", key)[0] != 0:  # none in the caller's config: ours, in this tree only
                self.run("config", "--local", key, default)
        env: dict[str, str] = {}
        if name:
            env.update(GIT_AUTHOR_NAME=name, GIT_COMMITTER_NAME=name)
        if email:
            env.update(GIT_AUTHOR_EMAIL=email, GIT_COMMITTER_EMAIL=email)
        self.run("commit", "--quiet", "--cleanup=whitespace", "--message", message, env=env)
        return self.run("rev-parse", "HEAD")

    def push(self, branch: str) -> Literal["pushed", "up to date"]:
        """Push HEAD to ``branch``; "up to date" when the remote had that very commit already.

        PushRejected when another writer was first; GitError for any other failure (unreachable, denied, hook refused).
        """
        status, out, err = self._call("push", "--porcelain", self.url, f"HEAD:refs/heads/{branch}")
        if status == 0:
            return "up to date" if any(line.startswith("=\t") for line in out.splitlines()) else "pushed"
        text = f"{out}\n{err}"
        if not any(word in text.lower() for word in _LOST_RACE):
            raise GitError(self._failure("push", text))
        lines = [
            line.strip() for line in text.splitlines() if line.strip() and not line.startswith(("To ", "Done", "hint:"))
        ]
        raise PushRejected(self.redact("; ".join(lines)))


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
