"""The on-disk cache of compiled Jinja templates, so a render does not compile every template again.

Jinja keys each entry by the template's name and file and checks it against a digest of the
source, so an edited template (shipped or a user's --templates) is compiled afresh. The
cache lives in ``$XDG_CACHE_HOME/bodywork-render/jinja`` (default ``~/.cache``), a folder
that must belong to the user and be closed to others, since its contents are executed;
``BODYWORK_NO_CACHE=1`` turns it off. A cache that cannot be used never fails a render:
templates are then compiled in memory.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import jinja2

CACHE_ENV = "XDG_CACHE_HOME"
OFF_ENV = "BODYWORK_NO_CACHE"


class _QuietCache(jinja2.FileSystemBytecodeCache):
    """Jinja's file cache, with a failed write (full disk, read-only folder) ignored."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def cache_folder() -> Path | None:
    """The folder of compiled templates, created if needed; None when it is off, unusable or not private."""
    if os.environ.get(OFF_ENV):
        return None
    try:
        base = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache")
        folder = base / "bodywork-render" / "jinja"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.lstat()
    except (OSError, RuntimeError):  # RuntimeError: no home folder to be found
        return None
    private = (
        stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    )
    return folder if private and os.access(folder, os.W_OK) else None


def bytecode_cache() -> jinja2.BytecodeCache | None:
    """Jinja's bytecode cache in ``cache_folder()``, or None to compile in memory."""
    folder = cache_folder()
    return _QuietCache(str(folder)) if folder is not None else None
