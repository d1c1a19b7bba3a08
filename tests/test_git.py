"""git.py on real repositories: the project's own checkout, whatever GIT_* variables the caller (a hook) has."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bodywork_render.gitops import git
from bodywork_render.gitops.source import resolve_source


def run(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def repository(folder: Path, origin: str) -> str:
    """A repository at ``folder`` with one commit and ``origin``; that commit."""
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "file").write_text(origin)
    run("init", "-q", cwd=folder)
    run("remote", "add", "origin", origin, cwd=folder)
    run("add", "-A", cwd=folder)
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one", cwd=folder)
    return run("rev-parse", "HEAD", cwd=folder)


def test_the_checkout_is_the_folders_own_whatever_git_variables_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = repository(tmp_path / "project", "https://user:pw@example.com/project.git")
    other = tmp_path / "other"
    repository(other, "https://example.com/other.git")
    # What `git commit` sets for a pre-commit hook (and a worktree's hook sees GIT_DIR too).
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    source = resolve_source(tmp_path / "project" / "sub", None, None)
    assert source == ("https://example.com/project.git", head, "sub")
    assert git.checkout(tmp_path / "project", "no-such-ref") == (tmp_path / "project", None)
    assert git.checkout(tmp_path / "project", "-h") == (tmp_path / "project", None)  # an option is no ref


def test_outside_a_work_tree_there_is_no_checkout(tmp_path: Path) -> None:
    assert git.checkout(tmp_path) is None and git.checkout(tmp_path / "missing") is None
    assert git.path_in_work_tree(tmp_path) == ""


def test_without_git_every_use_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(git.GitError, match=f"^{git.GIT_MISSING}$"):
        git.checkout(tmp_path)
    with pytest.raises(git.GitError, match=f"^{git.GIT_MISSING}$"):
        git.Workspace("https://example.com/x.git")
