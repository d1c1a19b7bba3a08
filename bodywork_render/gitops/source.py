"""Source: the git repository and pinned commit that every workload runs.

Defaults come from the project's own git checkout (origin URL, HEAD); a branch or
tag given as ``ref`` is resolved to the full commit SHA when the checkout has it.
URLs are redacted (no user or password) wherever they are shown or written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

from bodywork_render.diagnostics import BodyworkError

FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


class Source(NamedTuple):
    """Where the stage code comes from: a repository URL (credential-free), a full commit SHA, and the
    project's folder inside the repository ('' at its root), which module paths are relative to."""

    repo_url: str
    commit: str
    project_path: str = ""

    @property
    def short_commit(self) -> str:
        """The first 7 characters of the commit, as git shows it."""
        return self.commit[:7]


def redact_url(url: str) -> str:
    """The URL without any user name or password (``https://tok@host/x`` becomes ``https://host/x``)."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url


def resolve_source(project_dir: Path | None, repo_url: str | None, ref: str | None) -> Source:
    """The Source for a render: flags win, the project's git checkout fills the gaps."""
    repo = (
        _checkout(project_dir)
        if project_dir is not None and (repo_url is None or ref is None or not FULL_SHA.match(ref))
        else None
    )
    if repo_url is None and repo is not None:
        repo_url = _origin_url(repo)
    commit = _commit(repo, ref)
    if not repo_url or not commit:
        missing = " and ".join(
            flag for flag, value in (("--repo-url URL", repo_url), ("--ref SHA", commit)) if not value
        )
        raise BodyworkError(
            f"cannot tell which repository and commit the stages run: give {missing}"
            " (or render from a git checkout with an 'origin' remote)"
        )
    if not repo_url.isprintable():
        raise BodyworkError(
            f"--repo-url {redact_url(repo_url)!r} is not a URL the stages can fetch (expected printable characters only)"
        )
    return Source(
        redact_url(repo_url), commit, project_path_in_checkout(project_dir) if project_dir is not None else ""
    )


def project_path_in_checkout(folder: Path) -> str:
    """The folder's path inside its git work tree ('' at the root, or outside any work tree)."""
    folder = folder.absolute()
    for parent in [folder, *folder.parents]:
        if (parent / ".git").exists():
            relative = folder.relative_to(parent).as_posix()
            return "" if relative == "." else relative
    return ""


def _git_module():  # type: ignore[no-untyped-def]
    try:
        import git
    except ImportError:  # gitpython refuses to import without a git executable
        raise BodyworkError(
            "git is not installed or not on PATH: install it, or give --repo-url URL and a full commit SHA as --ref"
        ) from None
    return git


def _checkout(project_dir: Path):  # type: ignore[no-untyped-def]
    git = _git_module()

    try:
        return git.Repo(project_dir, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def _origin_url(repo) -> str | None:  # type: ignore[no-untyped-def]
    try:
        return repo.remotes.origin.url
    except (AttributeError, ValueError):
        return None


def _commit(repo, ref: str | None) -> str | None:  # type: ignore[no-untyped-def]
    if ref is not None and FULL_SHA.match(ref.lower()):
        return ref.lower()
    if repo is None:
        if ref is not None:
            raise BodyworkError(f"--ref {ref!r} is not a full commit SHA and there is no git checkout to resolve it in")
        return None
    git = _git_module()

    try:
        return repo.commit(ref or "HEAD").hexsha
    except (git.BadName, ValueError, git.GitCommandError):
        raise BodyworkError(f"--ref {ref or 'HEAD'!r} does not name a commit in {repo.working_dir}") from None


def path_in_repository(folder: Path) -> str:
    """``./<folder relative to its git work tree>``, as Flux names paths; the folder itself outside any checkout."""
    folder = folder.absolute()
    if not any((parent / ".git").exists() for parent in [folder, *folder.parents]):
        return f"./{folder.name}"
    return f"./{project_path_in_checkout(folder)}".rstrip("/") or "./"
