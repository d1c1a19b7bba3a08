"""A source checkout and a deployment repository on a git daemon, shared by the publish and refresh tests.

The ``repos`` fixture (tests/conftest.py) builds them; the helpers here drive git and the CLI.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bodywork_render.gitops.publish import Retry
from tests.gitdaemon import GitDaemon

CASES = Path(__file__).parent / "cases"
MINIMAL = (CASES / "valid" / "minimal-1.1.yaml").read_text()
FAST = Retry(base_seconds=0.05, cap_seconds=0.5)


def git(*args: str, cwd: Path | None = None) -> str:
    """git's stdout for ``args`` (failing the test when git fails)."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def bodywork(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "bodywork_render", *args], capture_output=True, text=True, timeout=120, env=env
    )


@dataclass
class Repos:
    """A source checkout (origin on the daemon) and a bare deployment repository on the daemon."""

    daemon: GitDaemon
    project: Path

    @property
    def deploy_url(self) -> str:
        """The deployment repository's git:// URL."""
        return self.daemon.url("deploy")

    def deploy_git(self, *args: str) -> str:
        """git in the bare deployment repository."""
        return git("--git-dir", str(self.daemon.path("deploy")), *args)

    def commits(self, branch: str = "main") -> list[str]:
        """Full messages of the branch's commits, newest first ([] when it does not exist)."""
        if not self.deploy_git("for-each-ref", f"refs/heads/{branch}"):
            return []
        return [m.strip() for m in self.deploy_git("log", "--format=%B%x00", branch).split("\0") if m.strip()]

    def tree(self, branch: str = "main") -> dict[str, str]:
        """path -> 'mode sha' of every file at the branch tip."""
        lines = self.deploy_git("ls-tree", "-r", "--full-tree", branch).splitlines()
        return {line.split("\t", 1)[1]: line.split("\t", 1)[0] for line in lines}

    def show(self, path: str, branch: str = "main") -> str:
        """A file's text at the branch tip."""
        return self.deploy_git("show", f"{branch}:{path}")

    def commit_source(self, files: dict[str, str], message: str) -> str:
        """Write ``files`` into the project, commit, push to the daemon; the new commit."""
        for name, text in files.items():
            (self.project / name).parent.mkdir(parents=True, exist_ok=True)
            (self.project / name).write_text(text)
        git("add", "-A", cwd=self.project)
        git("commit", "-q", "-m", message, cwd=self.project)
        git("push", "-q", "origin", "HEAD:main", cwd=self.project)
        return git("rev-parse", "HEAD", cwd=self.project)


def source_and_deploy(daemon: GitDaemon, project: Path) -> Repos:
    """An empty deployment repository and a source repository holding a valid two-stage project."""
    daemon.create_bare("deploy")
    daemon.create_bare("source")
    project.mkdir()
    git("init", "-q", "--initial-branch=main", cwd=project)
    git("remote", "add", "origin", daemon.url("source"), cwd=project)
    result = Repos(daemon, project)
    result.commit_source(
        {"bodywork.yaml": MINIMAL, "train.py": "print('train')\n", "serve.py": "print('serve')\n"}, "project"
    )
    return result
