"""Faults: `bodywork render` and `bodywork publish` killed with SIGKILL at every step, and git that cannot be reached.

The kill is real: a sitecustomize module put on the child's PYTHONPATH adds an audit hook
(sys.addaudithook) that counts the steps that change the disk or start git (a file opened
for writing, a folder made, a rename, a chmod, renameat2 looked up, a tree removed, a git
process started) and, at step N, sends SIGKILL to the child's whole process group (the CLI
and the git processes it runs), at once or after a short delay so that git dies mid-way.
A first run counts the steps; then one run is killed at each of them.

After every kill the output folder is exactly the previous tree or exactly the new one,
and the deployment repository (a bare repository on a real git daemon) holds the previous
commit or a complete new one; a clean run afterwards always succeeds.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bodywork_render.render.write import read_tree, write_tree
from tests.gitdaemon import GitDaemon, free_port
from tests.renderkit import COMMIT, EXAMPLE, PROJECTS, REPO_URL

# Fault injection: every step of a render or publish killed in turn, daemons cut mid-talk.
pytestmark = pytest.mark.slow

PARALLEL = PROJECTS / "parallel-secrets-ingress"
OTHER_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"
SECRET = "t0ken-N3ver-Sh0wn"

KILLER = '''
"""Test-only: SIGKILL this process group at the N-th step that writes under BODYWORK_KILL_DIR or starts a process."""
import os, signal, sys, threading

_DIR = os.environ["BODYWORK_KILL_DIR"]
_AT = int(os.environ.get("BODYWORK_KILL_AT", "0"))
_DELAY = float(os.environ.get("BODYWORK_KILL_DELAY", "0"))
_LOG = os.open(os.environ["BODYWORK_KILL_LOG"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT
_PATH_EVENTS = {
    "open", "os.mkdir", "os.rename", "os.chmod", "os.remove", "os.rmdir", "shutil.rmtree", "tempfile.mkdtemp"
}
_count = 0


def _inside(path):
    try:
        return _DIR in os.fsdecode(path)
    except TypeError:
        return False


def _step(event, args):
    if event == "subprocess.Popen" or (event == "ctypes.dlsym" and len(args) > 1 and args[1] == "renameat2"):
        return True
    if event not in _PATH_EVENTS or not args or not _inside(args[0]):
        return False
    if event == "open":
        mode, flags = args[1], args[2]
        return (isinstance(mode, str) and any(m in mode for m in "wax+")) or bool(flags & _WRITING)
    return True


def _kill():
    os.killpg(0, signal.SIGKILL)


def _hook(event, args):
    global _count
    if not _step(event, args):
        return
    _count += 1
    os.write(_LOG, f"{_count} {event}\\n".encode())
    if _count == _AT:
        if _DELAY:
            threading.Timer(_DELAY, _kill).start()
        else:
            _kill()


sys.addaudithook(_hook)
'''


def killable(tmp: Path, watch: Path, at: int, delay: float = 0.0) -> dict[str, str]:
    """The environment of a child that SIGKILLs its process group at step ``at`` (0: never) of those under ``watch``."""
    hooks = tmp / "killer"
    hooks.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(KILLER)
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(hooks), *filter(None, [env.get("PYTHONPATH")])]),
        BODYWORK_KILL_DIR=str(watch),
        BODYWORK_KILL_AT=str(at),
        BODYWORK_KILL_DELAY=str(delay),
        BODYWORK_KILL_LOG=str(tmp / f"steps-{at}-{delay}.log"),
        TMPDIR=str(watch),
    )
    return env


def run(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in its own session (so a kill of its group spares pytest)."""
    return subprocess.run(
        [sys.executable, "-m", "bodywork_render", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )


def steps_of(log: Path) -> list[str]:
    """The steps a child counted, in order."""
    return log.read_text().splitlines() if log.is_file() else []


# --- render ---------------------------------------------------------------------------------------------


def render_args(project: Path, out: Path, commit: str = COMMIT) -> list[str]:
    """`bodywork render` of a project into ``out`` with a fixed source."""
    return ["render", str(project), "--out", str(out), "--repo-url", REPO_URL, "--ref", commit]


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], dict[str, str]]:
    """The previous output (the parallel project) and the new one (the example), each rendered cleanly."""
    base = tmp_path_factory.mktemp("trees")
    for name, project in (("old", PARALLEL), ("new", EXAMPLE)):
        assert run(render_args(project, base / name), dict(os.environ)).returncode == 0
    return read_tree(base / "old"), read_tree(base / "new")


@pytest.mark.parametrize("previous", [True, False], ids=["over-a-previous-render", "first-render"])
def test_a_render_killed_at_any_step_leaves_the_previous_or_the_new_tree(
    previous: bool, trees: tuple[dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    old, new = trees

    def attempt(at: int) -> tuple[Path, subprocess.CompletedProcess[str]]:
        folder = tmp_path / f"run-{at}"
        out = folder / "out"
        folder.mkdir()
        if previous:
            write_tree(out, old)
        return out, run(render_args(EXAMPLE, out), killable(tmp_path, folder, at))

    out, counted = attempt(0)
    assert counted.returncode == 0 and read_tree(out) == new
    steps = steps_of(tmp_path / "steps-0-0.0.log")
    assert len(steps) >= len(new) + 3, steps  # every file, the staging folder, its mode, the swap
    outcomes = {"previous": 0, "new": 0}
    for at in range(1, len(steps) + 1):
        out, killed = attempt(at)
        assert killed.returncode == -signal.SIGKILL, (at, killed.stderr)
        found = read_tree(out)
        if found == new:
            outcomes["new"] += 1
        else:
            assert found == (old if previous else {}), f"killed at {steps[at - 1]}: a mix of trees"
            assert out.is_dir() == previous
            outcomes["previous"] += 1
        leftovers = [p.name for p in out.parent.iterdir() if p.name != "out"]
        assert all(name.startswith(".out.new-") for name in leftovers), leftovers
        write_tree(out, new)  # the next render recovers
        assert read_tree(out) == new
    assert outcomes["previous"] >= len(new) and outcomes["new"] >= 1, outcomes
    again = run(render_args(PARALLEL, out), dict(os.environ))
    assert again.returncode == 0 and read_tree(out) == old, again.stderr


# --- publish --------------------------------------------------------------------------------------------


def bare(daemon: GitDaemon, *args: str) -> str:
    """git in the daemon's bare deployment repository."""
    return subprocess.run(
        ["git", "--git-dir", str(daemon.path("deploy")), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def receive_packs_done(seconds: float = 10.0) -> None:
    """Wait for the daemon's receive-pack processes to end: the server finishes (or rolls back) a push whose client
    was killed a moment later, and fsck must judge the repository it leaves, not one it is still writing."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        running = []
        for path in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                argv = path.read_bytes().split(b"\0")
            except OSError:
                continue
            # git-receive-pack, or `git receive-pack`; not the daemon, which names it in --enable=receive-pack.
            if argv[0].endswith(b"receive-pack") or argv[1:2] == [b"receive-pack"]:
                running.append(argv)
        if not running:
            return
        time.sleep(0.05)


def publish_args(url: str, commit: str) -> list[str]:
    """`bodywork publish` of the example at a pinned source commit."""
    return ["publish", str(EXAMPLE), "--to", url, "--repo-url", REPO_URL, "--ref", commit]


def test_a_publish_killed_at_any_step_leaves_the_previous_or_a_complete_new_commit(
    git_daemon: GitDaemon, tmp_path: Path
) -> None:
    git_daemon.create_bare("deploy")
    url = git_daemon.url("deploy")
    assert run(publish_args(url, COMMIT), dict(os.environ)).returncode == 0
    old = bare(git_daemon, "rev-parse", "main")
    counting = tmp_path / "count"
    counting.mkdir()
    published = run(publish_args(url, OTHER_COMMIT), killable(tmp_path, counting, 0))
    assert published.returncode == 0, published.stderr
    new_tree = bare(git_daemon, "rev-parse", "main^{tree}")
    steps = steps_of(tmp_path / "steps-0-0.0.log")
    assert sum("subprocess.Popen" in s for s in steps) >= 5, steps  # fetch, checkout, add, commit, push at least

    # Every git process; one in four of the writes into the temporary work tree (they differ only in which file is
    # half-written there); the last three git processes (commit, rev-parse, push) also killed while they run.
    popens = [at for at, step in enumerate(steps, start=1) if "subprocess.Popen" in step]
    kills = [(at, 0.0) for at in range(1, len(steps) + 1) if at in popens or at % 4 == 0]
    kills += [(at, delay) for at in popens[-3:] for delay in (0.01, 0.05, 0.15)]
    outcomes = {"previous": 0, "new": 0}
    for at, delay in kills:
        bare(git_daemon, "update-ref", "refs/heads/main", old)
        folder = tmp_path / f"run-{at}-{delay}"
        folder.mkdir()
        killed = run(publish_args(url, OTHER_COMMIT), killable(tmp_path, folder, at, delay))
        assert killed.returncode in (-signal.SIGKILL, 0), (at, delay, killed.stderr)
        receive_packs_done()
        bare(git_daemon, "fsck", "--no-dangling", "--no-progress")
        if bare(git_daemon, "rev-parse", "main") == old:
            outcomes["previous"] += 1
        else:
            assert (bare(git_daemon, "rev-parse", "main^{tree}"), bare(git_daemon, "rev-parse", "main^")) == (
                new_tree,
                old,
            ), steps[at - 1]
            outcomes["new"] += 1
    assert outcomes["previous"] >= 5 and outcomes["new"] >= 1, outcomes
    bare(git_daemon, "update-ref", "refs/heads/main", old)
    again = run(publish_args(url, OTHER_COMMIT), dict(os.environ))
    assert again.returncode == 0, again.stderr
    assert bare(git_daemon, "rev-parse", "main^{tree}") == new_tree


# --- git that cannot be reached ----------------------------------------------------------------------


class _Closer:
    """A TCP server on 127.0.0.1 that accepts each connection, reads a little, and closes it: a daemon that dies
    mid-talk."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                try:
                    connection.recv(64)
                except OSError:
                    pass

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def closer() -> Iterator[_Closer]:
    """A server that hangs up."""
    server = _Closer()
    yield server
    server.close()


def one_line_failure(result: subprocess.CompletedProcess[str], command: str, shown_url: str) -> None:
    """Exit 3, one line naming the git command and the redacted URL, no traceback, no credential."""
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"bodywork: git {command} ({shown_url}) failed: "), result.stderr
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    assert SECRET not in result.stderr


@pytest.mark.parametrize("kind", ["refused", "hangs-up", "no-such-host"])
def test_publish_to_unreachable_git_is_one_clear_line_with_exit_3(kind: str, closer: _Closer, tmp_path: Path) -> None:
    host = {
        "refused": f"127.0.0.1:{free_port()}",
        "hangs-up": f"127.0.0.1:{closer.port}",
        "no-such-host": "deploy.bodywork.invalid",
    }[kind]
    env = dict(os.environ, BODYWORK_GIT_TOKEN=SECRET, TMPDIR=str(tmp_path))
    for scheme in ("git", "https"):
        url = f"{scheme}://ci:{SECRET}@{host}/deploy.git"
        result = run(publish_args(url, COMMIT), env)
        one_line_failure(result, "fetch", f"{scheme}://{host}/deploy.git")
    assert list(tmp_path.iterdir()) == []  # the work tree is removed


def test_a_daemon_stopped_between_runs_is_one_clear_line_and_leaves_the_repository_intact(
    git_daemon: GitDaemon, tmp_path: Path
) -> None:
    git_daemon.create_bare("deploy")
    url = git_daemon.url("deploy")
    assert run(publish_args(url, COMMIT), dict(os.environ)).returncode == 0
    tip = bare(git_daemon, "rev-parse", "main")
    port = git_daemon.port
    git_daemon.stop()
    one_line_failure(
        run(publish_args(url, OTHER_COMMIT), dict(os.environ)), "fetch", f"git://127.0.0.1:{port}/deploy.git"
    )
    missing = f"git://127.0.0.1:{port}/nothing-here.git"
    git_daemon.start()
    shown = git_daemon.url("nothing-here")
    one_line_failure(run(publish_args(shown, OTHER_COMMIT), dict(os.environ)), "fetch", shown)
    assert missing and bare(git_daemon, "rev-parse", "main") == tip
    bare(git_daemon, "fsck", "--no-dangling", "--no-progress")


def test_refresh_from_an_unreachable_source_is_one_clear_line_with_exit_3(
    git_daemon: GitDaemon, tmp_path: Path
) -> None:
    git_daemon.create_bare("deploy")
    source = f"https://ci:{SECRET}@127.0.0.1:{free_port()}/source.git"
    result = run(
        ["refresh", "--source", source, "--to", git_daemon.url("deploy")], dict(os.environ, TMPDIR=str(tmp_path))
    )
    assert result.returncode == 3, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr and SECRET not in result.stderr
    assert "127.0.0.1" in result.stderr and "failed" in result.stderr
    assert shutil.which("git") and list(tmp_path.iterdir()) == []


def _first_pkt_line(client: socket.socket) -> bytes:
    """The first pkt-line a git client sends (4 hex digits of length, then the rest), read in full."""
    data = b""
    while len(data) < 4 or len(data) < int(data[:4], 16):
        chunk = client.recv(65536 if len(data) < 4 else int(data[:4], 16) - len(data))
        if not chunk:
            break
        data += chunk
    return data


class _CuttingProxy:
    """A TCP proxy to a git daemon that cuts every push (git-receive-pack) after ``limit`` bytes from the client:
    the network failing in the middle of a pack. Fetches pass through untouched."""

    def __init__(self, upstream: int, limit: int) -> None:
        self.upstream, self.limit = upstream, limit
        self.cut = 0
        self.pushed = 0  # bytes the client sent on push connections
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.socket.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", self.upstream)) as server:
            first = _first_pkt_line(client)  # whole, even when TCP splits it: it names the service
            pushing = b"git-receive-pack" in first
            server.sendall(first)
            threading.Thread(target=self._pipe, args=(server, client, None), daemon=True).start()
            if pushing:
                self.pushed += len(first)
            self._pipe(client, server, self.limit - len(first) if pushing else None)

    def _pipe(self, source: socket.socket, target: socket.socket, budget: int | None) -> None:
        """Copy until the source closes, or until ``budget`` bytes of a push went through: then cut both sides.

        The counts change before the bytes go on, so they are final by the time the client hears back.
        """
        sent = 0
        try:
            while budget is None or sent < budget:
                data = source.recv(4096 if budget is None else min(4096, budget - sent))
                if not data:
                    return
                sent += len(data)
                if budget is not None:
                    self.pushed += len(data)
                target.sendall(data)
            self.cut += 1
            source.shutdown(socket.SHUT_RDWR)
            target.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        self.socket.close()


@pytest.mark.parametrize("part", [0.1, 0.6, 0.95], ids=["in-the-commands", "in-the-pack", "at-the-end"])
def test_a_push_cut_part_way_is_reported_and_lands_nothing(part: float, git_daemon: GitDaemon, tmp_path: Path) -> None:
    git_daemon.create_bare("deploy")
    assert run(publish_args(git_daemon.url("deploy"), COMMIT), dict(os.environ)).returncode == 0
    old = bare(git_daemon, "rev-parse", "main")
    measure = _CuttingProxy(git_daemon.port, 1 << 30)  # the same push, uncut, into a copy: how many bytes it sends
    try:
        shutil.copytree(git_daemon.path("deploy"), git_daemon.path("measure"))
        assert (
            run(publish_args(f"git://127.0.0.1:{measure.port}/measure.git", OTHER_COMMIT), dict(os.environ)).returncode
            == 0
        )
    finally:
        measure.close()
    assert measure.pushed > 200, measure.pushed
    proxy = _CuttingProxy(git_daemon.port, int(measure.pushed * part))
    try:
        url = f"git://127.0.0.1:{proxy.port}/deploy.git"
        result = run(publish_args(url, OTHER_COMMIT), dict(os.environ, TMPDIR=str(tmp_path)))
    finally:
        proxy.close()
    assert proxy.cut == 1
    one_line_failure(result, "push", url)
    assert bare(git_daemon, "rev-parse", "main") == old
    bare(git_daemon, "fsck", "--no-dangling", "--no-progress")
    assert list(tmp_path.iterdir()) == []
    assert run(publish_args(git_daemon.url("deploy"), OTHER_COMMIT), dict(os.environ)).returncode == 0
