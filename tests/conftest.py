"""Shared pytest set-up: isolated HOME and git config, the shared fixtures, golden files, hypothesis profiles.

Options: ``--update-golden`` rewrites the golden files that differ and fails the run listing them
(refused when ``CI`` is set). In CI, hypothesis runs more examples from a fresh seed printed in
the header (``--hypothesis-seed=N`` replays a run).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.ci import in_ci, unavailable
from tests.gitdaemon import GitDaemon, free_port, listening
from tests.goldenfiles import REWRITTEN, Golden
from tests.repos import Repos, source_and_deploy

SSHD = "/usr/sbin/sshd"

settings.register_profile("dev", derandomize=True, database=None)
settings.register_profile("ci", derandomize=False, database=None, print_blob=True)
settings.load_profile("ci" if in_ci() else "dev")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the golden files that differ from the output, then fail listing them (refused when CI is set)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("update_golden") and in_ci():
        raise pytest.UsageError("--update-golden rewrites expected files; it is refused when CI is set")
    # Before hypothesis' own plugin reads it: CI tries new cases for each commit, the same ones for one commit (a
    # re-run of CI gives the same verdict), and the header shows how to replay them.
    if in_ci() and config.getoption("hypothesis_seed", None) is None:
        config.option.hypothesis_seed = _commit_seed(Path(str(config.rootpath)))


def _commit_seed(root: Path) -> str:
    """A seed from the commit under test; a random one outside a git checkout."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=False)
    if head.returncode == 0 and head.stdout.strip():
        return str(int(head.stdout.strip()[:8], 16))
    return str(random.SystemRandom().randrange(2**32))


# Tests that take one of these fixtures start a daemon: they are slow wherever they are written.
SLOW_FIXTURES = frozenset({"git_daemon", "repos", "sshd"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def pytest_report_header(config: pytest.Config) -> str:
    profile = settings.get_current_profile_name()
    seed = config.getoption("hypothesis_seed", None)
    return f"hypothesis: profile {profile!r}" + (f", seed {seed} (replay: --hypothesis-seed={seed})" if seed else "")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    rewritten: list[str] = terminalreporter.config.stash.get(REWRITTEN, [])
    if rewritten:
        terminalreporter.section("golden files rewritten: review `git diff tests/golden`")
        for path in rewritten:
            terminalreporter.write_line(path)


@pytest.fixture
def golden(pytestconfig: pytest.Config) -> Golden:
    """The one way a test compares with golden files (see ``Golden``)."""
    return Golden(bool(pytestconfig.getoption("update_golden")), pytestconfig.stash.setdefault(REWRITTEN, []))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and git's global config at a temporary folder, so no test reads or writes the real ones."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Committer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "committer@example.invalid")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    return home


@pytest.fixture
def new_york_local_time() -> Iterator[None]:
    """The process's local time zone (TZ) set to America/New_York for a test, then restored: code that must not
    follow the machine's zone (run ids, scheduled times) is tested away from UTC."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.fixture
def git_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitDaemon]:
    """A running git daemon with an empty base folder, stopped after the test."""
    with GitDaemon(tmp_path_factory.mktemp("git-daemon")) as daemon:
        yield daemon


@pytest.fixture
def repos(git_daemon: GitDaemon, tmp_path: Path) -> Repos:
    """An empty deployment repository and a source repository holding a valid two-stage project."""
    return source_and_deploy(git_daemon, tmp_path / "project")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, Path]]:
    """A real sshd on 127.0.0.1 that lets this user in with a fresh key: (port, private key, known_hosts)."""
    if not Path(SSHD).is_file():
        unavailable(f"needs OpenSSH's server at {SSHD} (Debian: apt-get install openssh-server)")
    if not Path("/run/sshd").is_dir():
        unavailable("sshd needs its privilege separation folder /run/sshd (mkdir -p /run/sshd)")
    folder = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
    shutil.copy(folder / "user_key.pub", folder / "authorized_keys")
    # As a Kubernetes Secret volume mounts it by default: readable by others, which ssh refuses.
    (folder / "user_key").chmod(0o644)
    port = free_port()
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nStrictModes no\nPasswordAuthentication no\n"
        f"PidFile {folder / 'sshd.pid'}\n"
    )
    host_key = (folder / "host_key.pub").read_text().split()[:2]
    known_hosts = folder / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {' '.join(host_key)}\n")
    with (folder / "sshd.log").open("w") as log:
        process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=log)
    try:
        deadline = time.monotonic() + 10
        while not listening(port):
            assert process.poll() is None and time.monotonic() < deadline, "sshd did not start"
            time.sleep(0.02)
        yield port, folder / "user_key", known_hosts
    finally:
        process.terminate()
        process.wait(timeout=10)
