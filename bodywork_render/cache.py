"""The user's private cache folders: ``$XDG_CACHE_HOME/bodywork-render/<name>`` (default ``~/.cache``).

What is kept there is trusted on the next run (compiled templates are executed, a verified
object is not checked again), so a folder is used only when it belongs to the user and is
closed to others. ``BODYWORK_NO_CACHE=1`` turns every cache off. A cache that cannot be
used never fails a command: its work is then done afresh.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

CACHE_ENV = "XDG_CACHE_HOME"
OFF_ENV = "BODYWORK_NO_CACHE"


def cache_folder(name: str) -> Path | None:
    """The cache folder ``name``, created if needed; None when caching is off, or the folder unusable or not private."""
    if os.environ.get(OFF_ENV):
        return None
    try:
        base = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache")
        folder = base / "bodywork-render" / name
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.lstat()
    except (OSError, RuntimeError):  # RuntimeError: no home folder to be found
        return None
    private = (
        stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    )
    return folder if private and os.access(folder, os.W_OK) else None
