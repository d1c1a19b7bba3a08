"""Stage pins, with real git repositories: what a commit changes in the render is what it changes in the stages.

The project is tests/projects/parallel-secrets-ingress (prepare >> train_a, train_b >> serve, report; train_a and
train_b share the folder train/), committed into a fresh repository; every render pins the checkout's HEAD.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.render.manifests import render_project
from bodywork_render.render.options import RenderOptions
from tests.renderkit import PROJECTS, REPO_URL, checkout, git, objects_in

PARALLEL = PROJECTS / "parallel-secrets-ingress"

# The kind and stage of each workload, for comparing renders whose Job names differ.
Objects = dict[tuple[str, str], dict[str, Any]]


def objects(project: Path, **options: Any) -> Objects:
    """The render's objects at the checkout's HEAD, keyed by kind and name (a Job by its stage)."""
    rendered = render_project(project, RenderOptions(**options), repo_url=REPO_URL)
    return {
        (o["kind"], o["metadata"]["labels"].get("bodywork-render/stage", o["metadata"]["name"])): o
        for o in objects_in(rendered.files)
    }


def commit(project: Path, message: str, changes: dict[str, str]) -> str:
    """Write ``changes`` (path: text) into the project and commit them; the new commit."""
    for relative, text in changes.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", message)
    return git(project, "rev-parse", "HEAD")


def changed(before: Objects, after: Objects) -> set[tuple[str, str]]:
    """The objects that differ between two renders."""
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return checkout(PARALLEL, tmp_path / "repo")


def test_a_commit_that_touches_no_stage_leaves_every_object_byte_identical(project: Path) -> None:
    first = git(project, "rev-parse", "HEAD")
    before = objects(project)
    commit(project, "docs", {"README.md": "# the project\n", "notes/plan.txt": "later\n"})
    after = objects(project)
    assert after == before
    assert {o["spec"]["template"]["metadata"]["annotations"]["bodywork-render/source-commit"]
            for (kind, _), o in after.items() if kind in ("Job", "Deployment")} == {first}  # fmt: skip


def test_a_commit_to_one_stage_changes_it_and_the_stages_after_it_only(project: Path) -> None:
    before = objects(project)
    second = commit(project, "serve better", {"serve/serve.py": "print('v2')\n"})
    after = objects(project)
    # serve's own objects: the Deployment rolls; its Service, Ingress, NetworkPolicy and PodDisruptionBudget (3
    # replicas) carry the new version label.
    assert changed(before, after) == {
        *(("Deployment", "serve"), ("Service", "serve"), ("Ingress", "serve")),
        *(("NetworkPolicy", "serve"), ("PodDisruptionBudget", "serve")),
    }
    pod = after[("Deployment", "serve")]["spec"]["template"]
    assert pod["metadata"]["annotations"]["bodywork-render/source-commit"] == second
    assert second in pod["spec"]["initContainers"][0]["args"]

    third = commit(project, "train better", {"train/train.py": "print('v2')\n"})
    retrained = objects(project)
    # train_a and train_b run train/; serve and report come after them and roll; prepare comes before; the
    # Services and the Ingress of serve and report do not change (their stages' code did not).
    assert changed(after, retrained) == {
        ("Job", "train-a"), ("Job", "train-b"), ("Deployment", "serve"), ("Deployment", "report")
    }  # fmt: skip
    for stage in ("train-a", "train-b"):
        job = retrained[("Job", stage)]
        assert job["metadata"]["name"] != after[("Job", stage)]["metadata"]["name"], "a new Job: the stage runs again"
        assert job["spec"]["template"]["metadata"]["annotations"]["bodywork-render/source-commit"] == third
    serve = retrained[("Deployment", "serve")]["spec"]["template"]["metadata"]["annotations"]
    assert serve["bodywork-render/source-commit"] == second, "serve's code did not change: still fetched at its pin"
    assert serve["bodywork-render/inputs"] != pod["metadata"]["annotations"]["bodywork-render/inputs"], (
        "but it rolls, to load what the re-run upstream stages made"
    )


def test_a_widened_input_reruns_its_stage_when_it_changes(project: Path) -> None:
    config = project / "bodywork.yaml"
    text = config.read_text()
    assert "    executable_module_path: prepare/prepare.py\n" in text
    config.write_text(
        text.replace(
            "    executable_module_path: prepare/prepare.py\n",
            "    executable_module_path: prepare/prepare.py\n    inputs: [lib/features.py]\n",
        )
    )
    commit(project, "prepare reads lib/", {"lib/features.py": "FEATURES = 1\n", "lib/other.py": "X = 1\n"})
    before = objects(project)
    commit(project, "another helper", {"lib/other.py": "X = 2\n"})
    assert objects(project) == before, "lib/other.py is no stage's input"
    commit(project, "new features", {"lib/features.py": "FEATURES = 2\n"})
    after = objects(project)
    assert ("Job", "prepare") in changed(before, after)
    assert after[("Job", "prepare")]["metadata"]["name"] != before[("Job", "prepare")]["metadata"]["name"]


def test_a_module_at_the_repository_root_depends_on_the_whole_commit(tmp_path: Path) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    shutil.copy(PARALLEL / "bodywork.yaml", project / "bodywork.yaml")
    config = project / "bodywork.yaml"
    config.write_text(config.read_text().replace("prepare/prepare.py", "prepare.py"))
    for folder in ("train", "serve", "report"):
        shutil.copytree(PARALLEL / folder, project / folder)
    (project / "prepare.py").write_text("print('prepare')\n")
    checkout(project, tmp_path / "checkout")
    before = objects(tmp_path / "checkout")
    commit(tmp_path / "checkout", "docs", {"README.md": "# docs\n"})
    after = objects(tmp_path / "checkout")
    assert ("Job", "prepare") in changed(before, after)
    assert ("Job", "train-a") in changed(before, after), "downstream of prepare"


def test_an_input_missing_at_the_commit_is_an_error(project: Path) -> None:
    config = project / "bodywork.yaml"
    config.write_text(
        config.read_text().replace(
            "    executable_module_path: prepare/prepare.py\n",
            "    executable_module_path: prepare/prepare.py\n    inputs: [lib/missing.py]\n",
        )
    )
    commit(project, "a missing input", {})
    with pytest.raises(BodyworkError, match=r"stage 'prepare': lib/missing\.py/? is not in commit [0-9a-f]{7}"):
        objects(project)


@pytest.mark.slow  # the Helm SDK
def test_the_chart_pins_each_stage_as_the_manifests_do(project: Path, tmp_path: Path) -> None:
    from bodywork_render.render.chart import render_chart
    from bodywork_render.render.write import write_tree
    from tests.test_chart import by_identity, helm_objects

    commit(project, "serve better", {"serve/serve.py": "print('v2')\n"})
    rendered = render_chart(project, RenderOptions(format="helm"), repo_url=REPO_URL)
    write_tree(tmp_path / "chart", rendered.files)
    manifests = render_project(project, RenderOptions(), repo_url=REPO_URL).objects
    expected = [o for o in manifests if o["kind"] != "Namespace" and "argocd.argoproj.io/hook" not in str(o)]
    assert by_identity(helm_objects(tmp_path / "chart", namespace="ml-prod"), from_helm=True) == by_identity(expected)


# --- what the render reads: the pinned commit's files, never the working tree ---------------------------------


def replicas(project: Path, **kwargs: Any) -> tuple[int, tuple[str, ...]]:
    """serve's replicas in a render of the project at HEAD (or ``ref``), and the render's warnings."""
    rendered = render_project(project, RenderOptions(), repo_url=REPO_URL, **kwargs)
    (deployment,) = [
        o for o in rendered.objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "churn-model-serve"
    ]
    return deployment["spec"]["replicas"], rendered.warnings


def test_a_dirty_working_tree_is_warned_about_and_never_rendered(project: Path) -> None:
    config = project / "bodywork.yaml"
    assert "      replicas: 3\n" in config.read_text()
    config.write_text(config.read_text().replace("      replicas: 3\n", "      replicas: 5\n"))
    (project / "serve" / "new.py").write_text("print('untracked')\n")
    count, warnings = replicas(project)
    assert count == 3, "HEAD holds 3"
    assert any(
        w.startswith("warning: rendered commit ") and "the working tree differs in bodywork.yaml, serve/new.py" in w
        for w in warnings
    ), warnings


def test_render_ref_old_renders_the_old_bodywork_yaml(project: Path) -> None:
    old = git(project, "rev-parse", "HEAD")
    config = project / "bodywork.yaml"
    commit(project, "more replicas", {"bodywork.yaml": config.read_text().replace("replicas: 3", "replicas: 4")})
    assert replicas(project)[0] == 4
    assert replicas(project, ref=old) == (3, ()), "the old commit's file, and a clean tree for it is no warning"


def test_a_module_missing_at_the_commit_is_an_error_naming_the_difference(project: Path) -> None:
    config = project / "bodywork.yaml"
    config.write_text(config.read_text().replace("serve/serve.py", "serve/api.py"))
    (project / "serve" / "api.py").write_text("print('new, untracked')\n")
    git(project, "add", "bodywork.yaml")
    git(project, "commit", "-q", "-m", "serve runs api.py, which is not committed")
    with pytest.raises(BodyworkError) as raised:
        render_project(project, RenderOptions(), repo_url=REPO_URL)
    message = str(raised.value)
    assert "'serve/api.py' does not exist in the project folder" in message
    assert "the working tree differs from it in serve/api.py: commit them, or give --ref" in message


def test_an_error_unrelated_to_the_working_tree_does_not_blame_it(project: Path) -> None:
    (project / "serve" / "notes.txt").write_text("untracked, and no stage's module\n")
    with pytest.raises(BodyworkError) as raised:
        render_project(project, RenderOptions(), repo_url=REPO_URL, env="no-such-env")
    assert [d.message for d in raised.value.diagnostics] == [
        "no overlay for environment 'no-such-env' (expected this file beside bodywork.yaml at commit "
        + git(project, "rev-parse", "--short", "HEAD")
        + ")"
    ]


# --- a render committed beside the code: --track ---------------------------------------------------------------


def test_a_tracked_render_pins_each_stage_by_the_content_the_index_holds(project: Path) -> None:
    out = project / "deploy"
    rendered = render_project(project, RenderOptions(), repo_url=REPO_URL, track="main", out=out)
    (job,) = [o for o in objects_in(rendered.files) if o["kind"] == "Job" and "train-a" in o["metadata"]["name"]]
    fetch, install = job["spec"]["template"]["spec"]["initContainers"]
    train_tree = git(project, "rev-parse", "HEAD:train")
    assert fetch["args"] == ["--repo", REPO_URL, "--branch", "main", "--match", f"train={train_tree}",
                             "--workspace", "/workspace"]  # fmt: skip
    assert (
        "--commit" not in install["args"] and "--commit" not in job["spec"]["template"]["spec"]["containers"][0]["args"]
    )
    assert "bodywork-render/source-commit" not in job["spec"]["template"]["metadata"]["annotations"]
    metadata = json.loads(rendered.files["hydrator.metadata"])
    assert (metadata["drySha"], metadata["track"]) == ("", "main")
    assert "--track main" in rendered.files["README.md"] and "--ref" not in rendered.files["README.md"]
    # Staged, not committed: the render follows the index, which the commit being made will hold.
    (project / "train" / "train.py").write_text("print('v2')\n")
    git(project, "add", "train/train.py")
    staged = render_project(project, RenderOptions(), repo_url=REPO_URL, track="main", out=out)
    staged_tree = git(project, "write-tree", "--prefix=train/")
    assert f"train={staged_tree}" in staged.files["02-train-a-job.yaml"]
    assert staged.files["01-prepare-job.yaml"] == rendered.files["01-prepare-job.yaml"], "prepare/ did not change"


def test_a_tracked_render_refuses_what_cannot_be_pinned_by_content(project: Path) -> None:
    with pytest.raises(BodyworkError, match="--track and --ref: give one"):
        render_project(project, RenderOptions(), repo_url=REPO_URL, ref="HEAD", track="main")
    for branch in ("", "-main", "main..x", "@{-1}", "feature/", "a b"):  # git check-ref-format refuses each
        with pytest.raises(BodyworkError, match="--track: expected a git branch name"):
            render_project(project, RenderOptions(), repo_url=REPO_URL, track=branch)
    with pytest.raises(BodyworkError, match="its input train/ holds the output folder train/rendered/"):
        render_project(project, RenderOptions(), repo_url=REPO_URL, track="main", out=project / "train" / "rendered")
    (project / "lib").mkdir()
    (project / "lib" / "x.py").write_text("X = 1\n")
    config = project / "bodywork.yaml"
    config.write_text(
        config.read_text().replace(
            "    executable_module_path: prepare/prepare.py\n",
            "    executable_module_path: prepare/prepare.py\n    inputs: [lib]\n",
        )
    )
    git(project, "add", "bodywork.yaml")
    with pytest.raises(BodyworkError, match=r"not in the index \(git add them, or they are no stage's\): lib"):
        render_project(project, RenderOptions(), repo_url=REPO_URL, track="main", out=project / "deploy")


def test_an_input_outside_the_repository_and_a_dotted_module_path_are_handled(project: Path) -> None:
    config = project / "bodywork.yaml"
    text = config.read_text()
    config.write_text(
        text.replace("executable_module_path: serve/serve.py", "executable_module_path: ./serve/serve.py")
    )
    commit(project, "a dotted module path", {})
    served = objects(project)[("Deployment", "serve")]
    assert served["spec"]["template"]["metadata"]["annotations"]["bodywork-render/source-commit"]
    config.write_text(
        text.replace(
            "    executable_module_path: prepare/prepare.py\n",
            "    executable_module_path: prepare/prepare.py\n    inputs: [../../elsewhere]\n",
        )
    )
    commit(project, "an input outside the repository", {})
    for track in (None, "main"):
        with pytest.raises(BodyworkError, match="stage 'prepare': input '../../elsewhere' leaves the repository"):
            render_project(project, RenderOptions(), repo_url=REPO_URL, track=track, out=project / "deploy")
