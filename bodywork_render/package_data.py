"""Resources shipped with the package: templates/, schemas/ and runner/.

In a wheel they live inside the package; in a source checkout, beside it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent
RUNNER_FILE = "bodywork_runner.py"
KNOWN_HOSTS_FILE = "known_hosts"


def resource_dir(name: str) -> Path:
    """The folder of a shipped resource kind: 'templates', 'schemas' or 'runner'."""
    inside = _PACKAGE / name
    return inside if inside.is_dir() else _PACKAGE.parent / name


def runner_file() -> Path:
    """The stage runner script (standard library only; it travels into every stage's pod)."""
    return resource_dir("runner") / RUNNER_FILE


@cache
def runner_files() -> dict[str, str]:
    """What the runner ConfigMap of every pipeline holds: the runner script and the ssh host keys it trusts."""
    folder = resource_dir("runner")
    return {name: (folder / name).read_text(encoding="utf-8") for name in (RUNNER_FILE, KNOWN_HOSTS_FILE)}


@cache
def load_json(relative: str) -> Any:
    """A JSON file under schemas/, parsed once per process."""
    return json.loads((resource_dir("schemas") / relative).read_text(encoding="utf-8"))


def schema_text() -> str:
    """The JSON Schema of bodywork.yaml, as shipped."""
    return (resource_dir("schemas") / "bodywork.schema.json").read_text(encoding="utf-8")
