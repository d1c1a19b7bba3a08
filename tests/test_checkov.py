"""Security review of the rendered output with checkov (PyPI): no failed check but the justified skips below.

checkov runs from its own virtual environment (its dependencies conflict with ours),
created once under build/checkov-venv and reused; the tests are skipped, saying why,
when it cannot be installed (no network), and fail so in CI. One checkov run scans everything: the
manifests of the example, of tests/projects and of every valid corpus file, and the
objects Helm renders from the example's chart (checkov's helm framework needs a helm
binary; tests/helmsdk.py renders the chart in-process instead).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bodywork_render.render.chart import render_chart
from bodywork_render.render.options import RenderOptions
from bodywork_render.render.write import write_tree
from tests import helmsdk
from tests.ci import unavailable
from tests.corpus import corpus_files, corpus_params
from tests.renderkit import COMMIT, EXAMPLE, PROJECTS, REPO_URL, render

# pip installs checkov into its own venv, then one scan reads everything.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "build" / "checkov-venv"
# Pinned: a new release adds checks, so an unpinned scan fails on unchanged output. Raise it on purpose.
CHECKOV_REQUIREMENT = "checkov==3.3.30"
INSTALL_SECONDS = 600
SCAN_SECONDS = 300

Object = dict[str, Any]


def _pod_spec(obj: Object) -> Object:
    spec = obj["spec"].get("jobTemplate", obj)["spec"]  # a CronJob's pods are its Job's
    return dict(spec["template"]["spec"])


def _main_image(obj: Object) -> str:
    return str(_pod_spec(obj)["containers"][0]["image"])


def _untagged_or_latest(image: str) -> bool:
    """An image reference without a tag or digest, or tagged latest."""
    name = image.rsplit("/", 1)[-1]
    return "@" not in name and (":" not in name or name.endswith(":latest"))


def _reads_secrets_from_env(obj: Object) -> bool:
    containers = _pod_spec(obj)["containers"]
    return any("secretKeyRef" in env.get("valueFrom", {}) for c in containers for env in c.get("env", []))


@dataclass(frozen=True)
class Skip:
    """A checkov check that may fail, why, and on which objects (``applies`` is given the failing object)."""

    why: str
    applies: Callable[[Object], bool] = lambda obj: True


# The justified skips. Every other failed check fails the test.
SKIPS: dict[str, Skip] = {
    "CKV_K8S_11": Skip(
        "CPU limits: bodywork.yaml sets CPU requests (cpu_request) and a CPU limit only when cpu_limit is given; "
        "a default CPU limit throttles training jobs for no safety gain (memory limits are always set)."
    ),
    "CKV_K8S_15": Skip(
        "imagePullPolicy Always: images are pinned (the runner by version or digest, the project's image by the tag "
        "the user chose) and the policy is IfNotPresent, so pods start in air-gapped clusters and without a registry "
        "round-trip."
    ),
    "CKV_K8S_43": Skip(
        "image digests: the project's image is the user's docker_image as written; the runner image takes a digest "
        "through --runner-image (tested in test_hostile), and the code itself is pinned by commit SHA."
    ),
    "CKV_K8S_14": Skip(
        "image tag latest or blank: allowed only where the user's docker_image in bodywork.yaml has no tag or :latest "
        "(several corpus projects do); the runner image is always tagged.",
        lambda obj: _untagged_or_latest(_main_image(obj)),
    ),
    "CKV_K8S_35": Skip(
        "secrets as environment variables: bodywork.yaml's secrets map is defined as environment variables read from "
        "Secrets (a stage reads os.environ); allowed only on stages that declare secrets.",
        _reads_secrets_from_env,
    ),
}


# --- checkov in its own venv ------------------------------------------------------------------


def _usable(checkov: Path) -> bool:
    try:
        return subprocess.run([str(checkov), "--version"], capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def install_checkov(venv: Path) -> Path:
    """checkov's executable in ``venv``, created and installed there unless a finished install is present.

    Concurrent sessions take turns through a lock file; an install that did not finish is started again.
    """
    checkov = venv / "bin" / "checkov"
    done = venv / ".installed"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_file() and _usable(checkov):
            return checkov
        shutil.rmtree(venv, ignore_errors=True)
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--timeout",
                "30",
                "--retries",
                "2",
                CHECKOV_REQUIREMENT,
            ],
        ]
        for step in steps:
            try:
                result = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_SECONDS)
            except subprocess.TimeoutExpired:
                unavailable(f"checkov could not be installed within {INSTALL_SECONDS} s (no network?)")
            if result.returncode != 0:
                last = (result.stderr.strip().splitlines() or ["no output"])[-1]
                unavailable(f"checkov could not be installed into {venv} (no network?): {last}")
        if not _usable(checkov):
            unavailable(f"checkov was installed into {venv} but does not run")
        done.write_text(CHECKOV_REQUIREMENT + "\n")
        return checkov


# --- what is scanned ----------------------------------------------------------------------------------


def scanned_projects() -> dict[str, Path]:
    """Folder name in the scanned tree -> project: the example, tests/projects, the valid corpus."""
    projects = {"example": EXAMPLE, **{f"project-{p.name}": p for p in sorted(PROJECTS.iterdir()) if p.is_dir()}}
    projects.update({f"corpus-{p.name.removesuffix('__bodywork.yaml')}": p for p in corpus_files(valid=True)})
    return projects


def write_objects(folder: Path, objects: list[Object]) -> None:
    """One YAML file per object, as checkov reports per file."""
    folder.mkdir(parents=True)
    for number, obj in enumerate(objects):
        (folder / f"{number:02d}-{obj['kind'].lower()}.yaml").write_text(yaml.safe_dump(obj, sort_keys=False))


@dataclass(frozen=True)
class Failure:
    """One failed checkov check on one object."""

    check: str
    name: str
    resource: str
    obj: Object

    def __str__(self) -> str:
        return f"{self.check} ({self.name}) on {self.resource}"


@dataclass(frozen=True)
class Scan:
    """The outcome of one checkov run: failures by scanned folder, and the totals."""

    failures: dict[str, list[Failure]]
    passed: int
    failed: int
    resources: int

    def unjustified(self, folder: str) -> list[str]:
        """The failures in a folder that no skip allows."""
        return [
            str(f) for f in self.failures.get(folder, []) if f.check not in SKIPS or not SKIPS[f.check].applies(f.obj)
        ]


def run_checkov(checkov: Path, tree: Path) -> Scan:
    """checkov's kubernetes framework over the tree, offline (no download of external checks or guidelines)."""
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_CREATE_GRAPH": "True", "LOG_LEVEL": "ERROR"}
    command = [
        str(checkov),
        "-d",
        str(tree),
        "--framework",
        "kubernetes",
        "-o",
        "json",
        "--skip-download",
        "--soft-fail",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=SCAN_SECONDS, env=env, cwd=tree)
    assert result.returncode == 0, result.stderr[-2000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failures: dict[str, list[Failure]] = {}
    passed = failed = resources = 0
    for report in reports:
        summary = report["summary"]
        passed, failed, resources = (
            passed + summary["passed"],
            failed + summary["failed"],
            resources + summary["resource_count"],
        )
        for check in report["results"]["failed_checks"]:
            path = Path(check["file_abs_path"])
            folder = path.relative_to(tree).parts[0]
            failures.setdefault(folder, []).append(
                Failure(check["check_id"], check["check_name"], check["resource"], yaml.safe_load(path.read_text()))
            )
    return Scan(failures, passed, failed, resources)


@pytest.fixture(scope="session")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scan]:
    """One checkov run over the manifests of every scanned project and the example's chart as Helm renders it."""
    checkov = install_checkov(VENV)
    tree = tmp_path_factory.mktemp("checkov")
    for folder, project in scanned_projects().items():
        write_tree(tree / folder, render(project, ingress_host="ml.example.com").files)
    chart = tmp_path_factory.mktemp("chart") / "chart"
    rendered = render_chart(EXAMPLE, RenderOptions(format="helm"), repo_url=REPO_URL, ref=COMMIT)
    write_tree(chart, rendered.files)
    values = {"ingress": {"host": "ml.example.com"}, "stages": {"serve": {"ingress": {"enabled": True}}}}
    write_objects(
        tree / "helm-example", helmsdk.template_objects(chart, values, release="train-and-serve", namespace="ml")
    )
    yield run_checkov(checkov, tree)


def test_checkov_scanned_every_object(scan: Scan) -> None:
    """At least a Namespace, a ServiceAccount and a workload per project, each passing many checks."""
    assert scan.resources >= 3 * (len(scanned_projects()) + 1) and scan.passed >= 10 * scan.resources, scan


@pytest.mark.parametrize(
    "project", [EXAMPLE, *sorted(p for p in PROJECTS.iterdir() if p.is_dir())], ids=lambda p: p.name
)
def test_no_unjustified_checkov_failure_in_the_manifests(project: Path, scan: Scan) -> None:
    folder = "example" if project == EXAMPLE else f"project-{project.name}"
    assert scan.unjustified(folder) == []


@pytest.mark.parametrize("path", corpus_params(valid=True))
def test_no_unjustified_checkov_failure_in_a_corpus_render(path: Path, scan: Scan) -> None:
    assert scan.unjustified(f"corpus-{path.name.removesuffix('__bodywork.yaml')}") == []


def test_no_unjustified_checkov_failure_in_the_helm_chart(scan: Scan) -> None:
    assert scan.failures.get("helm-example"), "the chart's objects were not scanned"
    assert scan.unjustified("helm-example") == []


def test_every_skip_is_needed(scan: Scan) -> None:
    """A skip that nothing needs any more is dropped from SKIPS, so the list stays short and true."""
    if not corpus_files(valid=True):
        pytest.skip("the corpus holds the projects with untagged images")
    used = {f.check for failures in scan.failures.values() for f in failures}
    assert set(SKIPS) <= used, f"skips no check needs: {sorted(set(SKIPS) - used)}"


def test_every_pod_is_selected_by_a_network_policy(scan: Scan) -> None:
    """CKV2_K8S_6 (pods without a NetworkPolicy) fails nowhere: every format renders one for every pod."""
    assert [str(f) for failures in scan.failures.values() for f in failures if f.check == "CKV2_K8S_6"] == []
