"""Helpers for render tests: project checkouts in git, renders through the core, objects of a folder."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from bodywork_render.render.manifests import Rendered, render_project
from bodywork_render.render.options import RenderOptions

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = ROOT / "tests" / "projects"
EXAMPLE = ROOT / "examples" / "train-and-serve"
REPO_URL = "https://github.com/acme/ml-pipelines.git"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
NOT_IN_CHECKOUT = (
    f"warning: commit {COMMIT[:7]} is not in this checkout: rendered the folder's files as that commit's, every stage"
    " pinned to it; fetch the commit to render what it holds"
)
"""The warning of a render of a project in this repository at COMMIT, which no checkout holds."""


def own_warnings(warnings: tuple[str, ...]) -> tuple[str, ...]:
    """A render's warnings but NOT_IN_CHECKOUT, which every render of a project of this repository at COMMIT gets."""
    return tuple(w for w in warnings if w != NOT_IN_CHECKOUT)


def own_stderr(stderr: str) -> str:
    """A command's stderr without the NOT_IN_CHECKOUT line (see ``own_warnings``)."""
    return "".join(line for line in stderr.splitlines(keepends=True) if line.rstrip("\n") != NOT_IN_CHECKOUT)


def render(path: Path, **options: Any) -> Rendered:
    """Render a project with a fixed source, as the golden files and most tests want it."""
    return render_project(path, RenderOptions(**options), repo_url=REPO_URL, ref=COMMIT)


def git(cwd: Path, *args: str) -> str:
    """Run git in cwd and return its stdout."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def checkout(project: Path, into: Path, origin: str = REPO_URL) -> Path:
    """A git checkout of a copy of the project, with one commit and an origin remote."""
    shutil.copytree(project, into)
    git(into, "init", "-q", "-b", "main")
    git(into, "add", "-A")
    git(into, "commit", "-q", "-m", "project")
    git(into, "remote", "add", "origin", origin)
    return into


def objects_in(files: dict[str, str]) -> list[dict[str, Any]]:
    """The Kubernetes objects of a rendered tree (YAML 1.1, as kubectl reads them), without kustomize config."""
    found: list[dict[str, Any]] = []
    for path, text in sorted(files.items()):
        if path.endswith(".yaml") and not path.endswith("kustomization.yaml"):
            found.extend(d for d in yaml.safe_load_all(text) if d)
    return found


def identity(obj: dict[str, Any]) -> tuple[str, str, str]:
    """kind, namespace, name."""
    meta = obj.get("metadata", {})
    return obj["kind"], meta.get("namespace", ""), meta["name"]


SERVICE_PROJECT = """\
version: "1.1"
pipeline:
  name: probe
  docker_image: python:3.12-slim
  DAG: train >> serve
stages:
  train:
    executable_module_path: train.py
    args: ["--epochs", "3"]
    batch:
      max_completion_time_seconds: 60
      retries: 1
  serve:
    executable_module_path: serve.py
    service:
      max_startup_time_seconds: 12
      replicas: 1
      port: 8123
      ingress: false
"""


def service_project(folder: Path, text: str = SERVICE_PROJECT) -> Path:
    """A project folder whose bodywork.yaml is ``text`` (by default: a Job, then a service on port 8123)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bodywork.yaml").write_text(text)
    for module in ("train.py", "serve.py"):
        (folder / module).write_text("")
    return folder


def of_kind(objects: list[dict[str, Any]] | tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def target_port(service: dict[str, Any], objects: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> int:
    """The container port a Service sends its traffic to, resolved as kube-proxy does: a number, or a named port of
    the pods its selector matches."""
    (port,) = service["spec"]["ports"]
    target = port["targetPort"]
    if isinstance(target, int):
        return target
    selector = service["spec"]["selector"].items()
    (pod,) = [
        o["spec"]["template"]
        for o in objects
        if o["kind"] == "Deployment" and selector <= o["spec"]["template"]["metadata"]["labels"].items()
    ]
    (container,) = pod["spec"]["containers"]
    (named,) = [p for p in container["ports"] if p["name"] == target]
    return int(named["containerPort"])
