"""The pre-commit story, with real pre-commit and the hooks exactly as .pre-commit-hooks.yaml declares them.

A throwaway repository holds the example project and its render in `deploy/`, rendered with `--track main`:
each stage pinned by the content of its inputs as the index holds them, which the commit being made will hold.
Through render, commit, a change to a stage, a commit the hook refuses, a re-render, a commit it accepts, and
`pre-commit run --all-files`, the hook agrees with itself, and the committed render pins the committed code.

pre-commit installs the hook repository (a git repository of this working tree) into its own virtual
environment with pip, from PyPI: the first run takes a minute; PRE_COMMIT_HOME under build/ keeps it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.renderkit import EXAMPLE, ROOT

pytestmark = pytest.mark.slow

REPO_URL = "https://github.com/acme/ml.git"
HOOK_ARGS = [".", "--out", "deploy", "--track", "main", "--repo-url", REPO_URL]


def run(*args: str, cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """A command in ``cwd``; fails the test with its output when ``check`` and it fails."""
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    if check:
        assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def hook_repository(into: Path, env: dict[str, str]) -> str:
    """A git repository of this working tree (committed or not), as pre-commit clones a hook repository; its commit."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True,
        text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    run("git", "init", "-q", "-b", "main", cwd=into, env=env)
    run("git", "add", "-A", cwd=into, env=env)
    run("git", "commit", "-q", "-m", "bodywork-render under test", cwd=into, env=env)
    return run("git", "rev-parse", "HEAD", cwd=into, env=env).stdout.strip()


def train_pin(project: Path) -> list[str]:
    """The --match arguments of the committed render's train Job."""
    (job,) = [p for p in (project / "deploy").glob("*-train-job.yaml")]
    fetch = yaml.safe_load(job.read_text())["spec"]["template"]["spec"]["initContainers"][0]
    return [arg for arg in fetch["args"] if arg.startswith("examples/") or "=" in arg]


def test_the_render_check_hook_agrees_with_itself_and_pins_the_committed_code(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(ROOT / "build" / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }  # fmt: skip
    for key in [
        k
        for k in env
        if k.startswith("GIT_")
        and k not in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
    ]:
        del env[key]  # fmt: skip
    hooks = tmp_path / "hooks"
    rev = hook_repository(hooks, env)
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    config = {
        "repos": [{"repo": str(hooks), "rev": rev, "hooks": [{"id": "bodywork-render-check", "args": HOOK_ARGS}]}]
    }
    (project / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    run("git", "init", "-q", "-b", "main", cwd=project, env=env)
    pre_commit = [sys.executable, "-m", "pre_commit"]
    run(*pre_commit, "install", cwd=project, env=env)
    bodywork = [sys.executable, "-m", "bodywork_render", "render", *HOOK_ARGS]

    run("git", "add", "-A", cwd=project, env=env)
    run(*bodywork, cwd=project, env=env)
    run("git", "add", "-A", cwd=project, env=env)
    run("git", "commit", "-q", "-m", "the project and its render", cwd=project, env=env)

    train = project / "train" / "train.py"
    train.write_text(train.read_text() + "\n# a better model\n")
    run("git", "add", "train/train.py", cwd=project, env=env)
    refused = run("git", "commit", "-q", "-m", "train better", cwd=project, env=env, check=False)
    assert refused.returncode != 0, "the render no longer holds the staged train/"
    assert "rendered manifests are up to date" in refused.stdout + refused.stderr

    run(*bodywork, cwd=project, env=env)
    run("git", "add", "-A", cwd=project, env=env)
    run("git", "commit", "-q", "-m", "train better, rendered", cwd=project, env=env)
    head_train = run("git", "rev-parse", "HEAD:train", cwd=project, env=env).stdout.strip()
    assert f"train={head_train}" in train_pin(project), "the committed render pins the committed train/"

    again = run(*pre_commit, "run", "--all-files", cwd=project, env=env, check=False)
    assert again.returncode == 0, again.stdout + again.stderr

    # A file that is no Python module, beside one, is a stage input too: the runner installs a requirements.txt.
    (project / "train" / "requirements.txt").write_text("numpy\n")
    run("git", "add", "train/requirements.txt", cwd=project, env=env)
    refused = run("git", "commit", "-q", "-m", "train needs numpy", cwd=project, env=env, check=False)
    assert refused.returncode != 0, "train/ changed: its render must change with it"
