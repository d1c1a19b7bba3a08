"""A real `git daemon` on 127.0.0.1 serving bare repositories, for tests that fetch or push over git://.

Use the ``git_daemon`` fixture (tests/conftest.py), or the ``GitDaemon`` class as a context manager::

    with GitDaemon(tmp_path / "repos") as daemon:
        daemon.create_bare("project")
        subprocess.run(["git", "push", daemon.url("project"), "HEAD:main"], check=True)

The daemon exports every repository under its base folder, accepts pushes
(receive-pack is enabled), and ignores the user's and the system's git
configuration.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["GitDaemon", "free_port", "listening"]

STARTUP_SECONDS = 10.0
STOP_SECONDS = 5.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _signal_group(pgid: int, signum: int) -> None:
    """Send ``signum`` to a process group that may be gone already."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


class GitDaemon:
    """`git daemon` serving the bare repositories under ``base`` at ``git://127.0.0.1:PORT/NAME.git``."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """An environment in which git ignores every configuration file but the repository's own."""
        env = dict(os.environ)
        env.update(
            HOME=str(self.base),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_TERMINAL_PROMPT="0",
        )
        return env

    def path(self, name: str) -> Path:
        """The folder of the bare repository ``name``."""
        return self.base / f"{name}.git"

    def url(self, name: str) -> str:
        """The git:// URL of the repository ``name``."""
        if not self.port:
            raise RuntimeError("the git daemon is not running")
        return f"git://127.0.0.1:{self.port}/{name}.git"

    def create_bare(self, name: str, default_branch: str = "main") -> Path:
        """Create an empty bare repository ``name`` and return its folder."""
        path = self.path(name)
        subprocess.run(
            ["git", "init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path)],
            check=True,
            env=self.env,
        )
        return path

    def start(self) -> None:
        """Start the daemon on a free port and wait until it accepts connections."""
        self.base.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):
            port = free_port()
            with (self.base / "daemon.log").open("ab") as log:
                self._process = subprocess.Popen(
                    [
                        "git",
                        "daemon",
                        "--export-all",
                        f"--base-path={self.base}",
                        "--reuseaddr",
                        "--listen=127.0.0.1",
                        f"--port={port}",
                        "--enable=receive-pack",
                        "--informative-errors",
                    ],
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            if self._wait_for(port):
                self.port = port
                return
            self.stop()
        raise RuntimeError(f"git daemon did not start; see {self.base / 'daemon.log'}")

    def _wait_for(self, port: int) -> bool:
        """Wait for the daemon to listen on ``port``; False if it died (e.g. the port was taken)."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            if listening(port):
                return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        """Stop the daemon and every connection process it forked."""
        process, self._process, self.port = self._process, None, 0
        if process is None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_SECONDS)
        # The processes the daemon forked for connections share its process group.
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()

    def __enter__(self) -> GitDaemon:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
