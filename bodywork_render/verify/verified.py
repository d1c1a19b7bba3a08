"""The cache of objects already found valid against the Kubernetes schemas, so an unchanged render skips the check.

pre-commit runs `bodywork render --check` on every commit, and most commits render the very
objects of the last run; checking them again costs importing jsonschema_rs and validating,
about as long as the rest of the render. An object's entry is the SHA-256 of its canonical
JSON, in a folder named after what decides the verdict: this tool's version, the Kubernetes
release, the backend (offline schemas or kubeconform) and the size and modification time of
the shipped schema files. Only valid objects are recorded; an object that changed in any
way, or has no JSON form, is checked again. The folder is the private cache folder
``verified`` (bodywork_render/cache.py): ``BODYWORK_NO_CACHE=1`` turns it off.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from bodywork_render import __version__
from bodywork_render.cache import cache_folder

VERIFIED_CACHE = "verified"


class Verified:
    """Objects known valid under one set of schemas; every method is a no-op when there is no usable cache."""

    def __init__(self, verdict_inputs: str) -> None:
        folder = cache_folder(VERIFIED_CACHE)
        self.folder: Path | None = None
        if folder is not None:
            key = hashlib.sha256(f"{__version__}\n{verdict_inputs}\n{_schema_files()}".encode()).hexdigest()[:32]
            self.folder = folder / key
            try:
                self.folder.mkdir(mode=0o700, exist_ok=True)
            except OSError:
                self.folder = None

    def known(self, obj: Any) -> bool:
        """Whether ``obj`` was found valid before."""
        entry = self._entry(obj)
        return entry is not None and entry.is_file()

    def record(self, obj: Any) -> None:
        """Remember that ``obj`` is valid; a cache that cannot be written is ignored."""
        entry = self._entry(obj)
        if entry is not None:
            try:
                entry.touch(mode=0o600)
            except OSError:
                pass

    def _entry(self, obj: Any) -> Path | None:
        if self.folder is None:
            return None
        try:
            text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):  # no JSON form (a date, a tuple key, NaN): always checked
            return None
        return self.folder / hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _schema_files() -> str:
    """Size and modification time of each shipped schema file, so an edited extract or CRD schema starts afresh."""
    from bodywork_render.package_data import resource_dir

    stamps = []
    for path in sorted(
        [*(resource_dir("schemas") / "k8s").glob("*.json"), *(resource_dir("schemas") / "crds").glob("*.json")]
    ):
        info = path.stat()
        stamps.append(f"{path.name}:{info.st_size}:{info.st_mtime_ns}")
    return " ".join(stamps)
