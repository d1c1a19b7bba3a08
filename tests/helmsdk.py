"""Small wrappers over the real Helm SDK (helm-python-sdk, Helm's Go code in-process): lint and template a chart
folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

ICON_RECOMMENDED = "icon is recommended"
SEVERITY = {0: "unknown", 1: "info", 2: "warning", 3: "error"}
LOADED_BY = os.getpid()
"""The process that loaded Helm's Go library (``import helm_python`` loads it). Go's runtime does not survive
fork(): a forked child that calls into it hangs for good, as each of mutmut's workers would (they are forked from
the process that ran the tests once), until a timeout counts the mutant killed. There, Helm's tests are skipped."""


def _same_process() -> None:
    if os.getpid() != LOADED_BY:
        pytest.skip("Helm's Go runtime was loaded by the parent of this forked process, where a call would hang")


def lint(chart: Path, values: dict[str, Any] | None = None) -> list[str]:
    """`helm lint --strict` findings as 'severity path: message', except the icon recommendation."""
    _same_process()
    report = helm_python.lint(chart, values, strict=True)
    return [
        f"{SEVERITY.get(m['severity'], m['severity'])} {m['path']}: {m['error'].strip()}"
        for m in report["messages"]
        if m["error"].strip() != ICON_RECOMMENDED
    ] + [e.strip() for e in report["errors"] if e.strip() not in {m["error"].strip() for m in report["messages"]}]


def template(chart: Path, values: dict[str, Any] | None = None, *, release: str, namespace: str) -> dict[str, str]:
    """`helm template` of a chart folder: template path (without the chart name) -> rendered text."""
    _same_process()
    with helm_python.Chart.load(chart) as loaded:
        rendered = loaded.render(values, name=release, namespace=namespace, is_install=True)
    return {path.split("/", 1)[1]: text for path, text in rendered.items()}


def template_objects(
    chart: Path, values: dict[str, Any] | None = None, *, release: str, namespace: str
) -> list[dict[str, Any]]:
    """The Kubernetes objects `helm template` renders (NOTES.txt left out), parsed as Helm's YAML reader would."""
    objects: list[dict[str, Any]] = []
    for path, text in sorted(template(chart, values, release=release, namespace=namespace).items()):
        if path.endswith("NOTES.txt"):
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc is not None]
    return objects


def validate_values(chart: Path, values: dict[str, Any]) -> None:
    """Check values against the chart's values.schema.json; helm_python.HelmValuesError when they break it."""
    _same_process()
    with helm_python.Chart.load(chart) as loaded:
        loaded.validate_schema(loaded.merge_values(values))
