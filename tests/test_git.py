"""git.py on real repositories: the project's own checkout, whatever GIT_* variables the caller (a hook) has."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bodywork_render.gitops import git
from bodywork_render.gitops.source import resolve_source
from bodywork_render.render.options import RenderOptions


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
    source = resolve_source(tmp_path / "project" / "sub", None, None, RenderOptions())
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


def test_head_status_is_heads_commit_and_what_porcelain_v1_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "project"
    head = repository(root, "https://example.com/project.git")
    for name in ("kept", "renamed", "deleted", "staged", "spaced name"):
        (root / "sub" / name).write_text(name)
    (root / "top").write_text("outside the folder")
    run("add", "-A", cwd=root)
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "two", cwd=root)
    head = run("rev-parse", "HEAD", cwd=root)
    (root / "sub" / "file").write_text("changed")
    (root / "sub" / "spaced name").write_text("changed")
    run("mv", "sub/renamed", "sub/moved", cwd=root)
    (root / "sub" / "deleted").unlink()
    (root / "sub" / "staged").write_text("staged change")
    run("add", "sub/staged", cwd=root)
    (root / "sub" / "new" / "deep").mkdir(parents=True)
    (root / "sub" / "new" / "deep" / "untracked").write_text("new")
    (root / "top").write_text("changed, but outside the folder")
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "another-index"))  # as a hook has it: ignored

    status = git.head_status(root / "sub")
    assert status is not None and status.checkout == (root, head)
    v1 = subprocess.run(
        ["git", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", "."],
        cwd=root / "sub",
        check=True,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "GIT_INDEX_FILE"},
    ).stdout
    expected = {entry[3:] for entry in v1.split("\0") if entry[2:3] == " "}
    assert set(status.changed) == expected == {
        "sub/file", "sub/spaced name", "sub/moved", "sub/deleted", "sub/staged", "sub/new/deep/untracked",
    }  # fmt: skip
    files = git.CommitFiles(root, head, root / "sub")
    assert files.differences(status=status) == files.differences() == sorted(p[4:] for p in expected)
    assert files.differences(exclude=root / "sub" / "new", status=status) == sorted(
        p[4:] for p in expected if not p.startswith("sub/new/")
    )


def test_head_status_before_the_first_commit_and_outside_a_work_tree(tmp_path: Path) -> None:
    run("init", "-q", cwd=tmp_path)
    (tmp_path / "file").write_text("x")
    status = git.head_status(tmp_path)
    assert status == ((tmp_path, None), ("file",))
    assert git.head_status(tmp_path / "missing") is None


def commit_files(folder: Path, files: dict[str, str]) -> str:
    for relative, text in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    run("add", "-A", cwd=folder)
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "change", cwd=folder)
    return run("rev-parse", "HEAD", cwd=folder)


def test_last_changes_of_folders_named_like_patterns_are_those_folders(tmp_path: Path) -> None:
    repository(tmp_path, "https://example.com/p.git")
    bracketed = commit_files(tmp_path, {"m[1]/train.py": "1"})
    starred = commit_files(tmp_path, {"a*/train.py": "1"})
    # As patterns, m[1] would match m1 and a* would match ab/...: commits to those alone do not count.
    head = commit_files(tmp_path, {"m1/train.py": "2", "ab/train.py": "2"})
    groups = {"bracketed": ["m[1]"], "starred": ["a*"], "plain": ["m1"]}
    assert git.last_changes(tmp_path, head, groups) == {"bracketed": bracketed, "starred": starred, "plain": head}


def test_last_changes_of_a_commit_git_cannot_walk_is_an_error(tmp_path: Path) -> None:
    repository(tmp_path, "https://example.com/p.git")
    with pytest.raises(git.GitError, match="git log 0{40} failed to find what changed the stages' inputs: fatal: "):
        git.last_changes(tmp_path, "0" * 40, {"stage": ["sub"]})
