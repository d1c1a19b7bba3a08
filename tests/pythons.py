"""Other Pythons on this machine, for the tests that run the runner or the stages under them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# The environment the test run started with: tests change HOME and the like for their subprocesses.
STARTING_ENV = dict(os.environ)


def interpreter(version: str) -> str | None:
    """A working ``python<version>``: on PATH, or installed by pyenv (whose shims answer only for its chosen
    versions); None when there is none."""
    pyenv_root = Path(STARTING_ENV.get("PYENV_ROOT") or Path(STARTING_ENV.get("HOME", "/")) / ".pyenv")
    candidates = [
        shutil.which(f"python{version}"),
        *sorted(map(str, pyenv_root.glob(f"versions/{version}.*/bin/python{version}"))),
    ]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", ""], capture_output=True, env=STARTING_ENV, check=False).returncode == 0:
            return candidate
    return None
