"""Hostile input: each case has an exact expected error, and what is accepted renders literally in every format.

tests/cases/hostile/NAME.yaml is paired with NAME.expected, the exact report of
`bodywork validate` (like tests/cases/invalid, which holds the first hostile cases:
alias bombs, deep nesting, invalid UTF-8, duplicate keys, tabs, YAML 1.1 booleans).
The tables below cover what a file cannot: render flags, long names, and user
strings that try to inject YAML, Jinja or Helm template syntax into each format.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bodywork_render.diagnostics import BodyworkError, errors_in
from bodywork_render.render.argo_workflows import template_pods
from bodywork_render.render.chart import render_chart
from bodywork_render.render.manifests import Rendered, render_project
from bodywork_render.render.options import Format, RenderOptions, default_engine
from bodywork_render.render.write import write_tree
from bodywork_render.spec import names
from bodywork_render.spec.load import parse_yaml
from bodywork_render.spec.project import validate_project
from bodywork_render.verify.kubernetes import schema_problems
from bodywork_render.verify.podsecurity import hardening_violations, restricted_violations
from tests import helmsdk
from tests.argoschema import argo_problems
from tests.renderkit import COMMIT, REPO_URL, objects_in

CASES = Path(__file__).parent / "cases"
FORMATS = ("manifests", "kustomize", "helm", "argo-workflows")


def hostile_cases() -> list[str]:
    """The file names of tests/cases/hostile."""
    return sorted(p.name for p in (CASES / "hostile").glob("*.yaml"))


def write_project(folder: Path, config: str, modules: tuple[str, ...] = ("train.py", "serve.py")) -> Path:
    """A project folder with this bodywork.yaml and empty modules."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bodywork.yaml").write_text(config, encoding="utf-8")
    for module in modules:
        (folder / module).parent.mkdir(parents=True, exist_ok=True)
        (folder / module).write_text("")
    return folder


def render_as(project: Path, layout: Format, **options: Any) -> Rendered:
    """Render a project in one of the formats, with the fixed source of the golden files."""
    if layout == "helm":
        return render_chart(project, RenderOptions(format="helm", **options), repo_url=REPO_URL, ref=COMMIT)
    options = {"format": layout, "engine": default_engine(layout), **options}
    return render_project(project, RenderOptions(**options), repo_url=REPO_URL, ref=COMMIT)


def bodywork(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "bodywork_render", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


MINIMAL = (CASES / "valid" / "minimal-1.1.yaml").read_text()


# --- the case files --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", hostile_cases())
def test_hostile_case_reports_exactly_the_expected_diagnostics(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES)
    _, diagnostics = validate_project(Path("hostile", name))
    report = (
        "".join(f"{d}\n" for d in diagnostics).encode("utf-8", "backslashreplace").decode()
    )  # as stderr shows a lone surrogate
    assert report == (CASES / "hostile" / name).with_suffix(".expected").read_text()
    assert errors_in(diagnostics)


def test_every_hostile_case_is_paired_with_an_expectation() -> None:
    assert hostile_cases()
    for case in (CASES / "hostile").glob("*.yaml"):
        assert case.with_suffix(".expected").is_file(), case


@pytest.mark.parametrize("name", ["non-string-keys.yaml", "surrogates.yaml", "python-tags.yaml"])
def test_the_cli_reports_hostile_cases_in_both_report_formats_without_a_traceback(name: str, tmp_path: Path) -> None:
    """These three crashed the CLI with exit 3 before: jsonschema_rs refuses non-string keys, UTF-8 refuses surrogates,
    ruamel gives tagged nodes no position."""
    case = CASES / "hostile" / name
    text = bodywork("validate", str(case))
    assert (text.returncode, text.stdout) == (1, "")
    assert text.stderr == (CASES / "hostile" / name).with_suffix(".expected").read_text().replace(
        "hostile/", f"{CASES}/hostile/"
    )
    report = bodywork("validate", "--format", "json", str(case))
    assert report.returncode == 1 and "Traceback" not in report.stderr
    assert len(json.loads(report.stdout)) == text.stderr.count("\n")
    rendered = bodywork("render", str(case), "--out", str(tmp_path / "out"), "--repo-url", REPO_URL, "--ref", COMMIT)
    assert (rendered.returncode, rendered.stderr) == (1, text.stderr)
    assert not (tmp_path / "out").exists()


def test_python_tags_run_no_code(tmp_path: Path) -> None:
    (tmp_path / "bodywork.yaml").write_bytes((CASES / "hostile" / "python-tags.yaml").read_bytes())
    for command in (["validate", "."], ["render", ".", "--out", "out", "--repo-url", REPO_URL, "--ref", COMMIT]):
        assert bodywork(*command, cwd=tmp_path).returncode == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bodywork.yaml"]


@pytest.mark.parametrize(
    "text, expected",
    [
        (b"\xff\xfev\x00e\x00", "1:1: error: invalid UTF-8 (byte 0xff); save the file as UTF-8"),
        (b'version: "1.1"\x00\n', "1:15: error: invalid YAML: character U+0000 is not allowed in YAML; remove it"),
        (b"a: 1\nb: x\x7fy\n", "2:5: error: invalid YAML: character U+007F is not allowed in YAML; remove it"),
        (b"a: 1\n\nb: \x1b[31m\n", "3:4: error: invalid YAML: character U+001B is not allowed in YAML; remove it"),
        (b"a: &x 1\nb: <<: *x\n", "2:6: error: invalid YAML: mapping values are not allowed here"),
        (
            b"base: &b {x: 1}\nother:\n  <<: *b\n",
            "3:7: error: invalid YAML: aliases (*b) are not supported: write the value out in full",
        ),
        (b"- " * 60 + b"x\n", "1:101: error: invalid YAML: nesting deeper than 50 levels is not supported"),
        (
            b'version: "1.1"\n---\nversion: "1.0"\n',
            "2:1: error: invalid YAML: expected a single document in the stream: but found another document",
        ),
        (
            b'"unterminated\n',
            "2:1: error: invalid YAML: while scanning a quoted scalar: found unexpected end of stream",
        ),
    ],
    ids=[
        "utf-16",
        "nul",
        "del",
        "esc",
        "merge-inline",
        "merge-key",
        "deep-block-list",
        "two-documents",
        "unterminated",
    ],
)
def test_unreadable_bytes_give_one_positioned_error(text: bytes, expected: str) -> None:
    with pytest.raises(BodyworkError) as caught:
        parse_yaml(text, "bodywork.yaml")
    separator = "" if expected[0].isdigit() else " "
    assert str(caught.value) == f"bodywork.yaml:{separator}{expected}"


def test_an_overlay_is_read_as_warily_as_bodywork_yaml(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", MINIMAL)
    layers = ['a: &a ["x", "x"]'] + [f"{n}: &{n} [*{p}, *{p}]" for p, n in zip("abcdefgh", "bcdefghi", strict=False)]
    (project / "bodywork.prod.yaml").write_text("\n".join(layers) + "\n")
    (project / "bodywork.huge.yaml").write_text("# " + "x" * (1 << 20) + "\n")
    (project / "bodywork.keys.yaml").write_text("pipeline:\n  1: x\n")
    with pytest.raises(BodyworkError) as alias:
        render_project(project, RenderOptions(), env="prod", repo_url=REPO_URL, ref=COMMIT)
    assert str(alias.value) == (
        f"{project}/bodywork.prod.yaml:2:8: error: invalid YAML: aliases (*a) are not supported: "
        "write the value out in full"
    )
    with pytest.raises(BodyworkError, match="file is larger than 1024 KiB"):
        render_project(project, RenderOptions(), env="huge", repo_url=REPO_URL, ref=COMMIT)
    with pytest.raises(BodyworkError) as keys:
        render_project(project, RenderOptions(), env="keys", repo_url=REPO_URL, ref=COMMIT)
    assert (
        str(keys.value)
        == f"{project}/bodywork.keys.yaml:2:3: error: pipeline[1]: expected a string key, got the number 1: "
        'YAML reads 1 as a number; quote it: "1"'
    )


# --- render flags ---------------------------------------------------------------------------------

FLAG_CASES = [
    (
        {"namespace": "x\n---\nkind: Secret"},
        "--namespace 'x\\n---\\nkind: Secret' becomes 'x\\n---\\nkind: secret', not a valid Kubernetes name "
        "(expected a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters)",
    ),
    (
        {"namespace": "n" * 64},
        f"--namespace '{'n' * 64}' becomes '{'n' * 64}', not a valid Kubernetes name "
        "(expected a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters)",
    ),
    (
        {"ingress_host": "x\n---\nkind: Secret"},
        "--ingress-host 'x\\n---\\nkind: Secret' is not a valid host name "
        "(expected a DNS name such as ml.example.com, optionally starting with '*.')",
    ),
    (
        {"ingress_host": "{{ .Release.Name }}"},
        "--ingress-host '{{ .Release.Name }}' is not a valid host name "
        "(expected a DNS name such as ml.example.com, optionally starting with '*.')",
    ),
    (
        {"ingress_host": "a.*.example.com"},
        "--ingress-host 'a.*.example.com' is not a valid host name "
        "(expected a DNS name such as ml.example.com, optionally starting with '*.')",
    ),
    (
        {"ingress_class": "[[ x ]]"},
        "--ingress-class '[[ x ]]' is not a valid Kubernetes name (expected lower-case letters, digits, '-' and '.')",
    ),
    (
        {"git_secret": "creds\n  extra: key"},
        "--git-secret 'creds\\n  extra: key' is not a valid Kubernetes name "
        "(expected lower-case letters, digits, '-' and '.')",
    ),
    (
        {"flux_source": "{% raw %}"},
        "--flux-source '{% raw %}' is not a valid Kubernetes name (expected lower-case letters, digits, '-' and '.')",
    ),
    (
        {"runner_image": "runner:1 --privileged"},
        "--runner-image 'runner:1 --privileged' is not an image reference "
        "(expected printable ASCII, no spaces, e.g. python:3.12-bookworm)",
    ),
    (
        {"runner_image": "runner\udcff"},
        "--runner-image 'runner\\udcff' is not an image reference "
        "(expected printable ASCII, no spaces, e.g. python:3.12-bookworm)",
    ),
    (
        {"runner_image": "runner\u00e9"},
        "--runner-image 'runneré' is not an image reference "
        "(expected printable ASCII, no spaces, e.g. python:3.12-bookworm)",
    ),
    ({"k8s_version": "9.99"}, "--k8s-version: no schemas for Kubernetes '9.99'; supported releases: "),
]


@pytest.mark.parametrize("layout", FORMATS)
@pytest.mark.parametrize(
    "options, message", FLAG_CASES, ids=[next(iter(o)) + f"-{i}" for i, (o, _) in enumerate(FLAG_CASES)]
)
def test_a_hostile_flag_value_is_refused_in_every_format(
    options: dict[str, str], message: str, layout: Format, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "p", MINIMAL)
    with pytest.raises(BodyworkError) as caught:
        render_as(project, layout, **options)
    assert str(caught.value).startswith(f"error: {message}")


def test_the_cli_refuses_hostile_flags_with_exit_1_and_leaves_the_output_alone(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", MINIMAL)
    out = tmp_path / "out"
    common = [str(project), "--out", str(out), "--repo-url", REPO_URL, "--ref", COMMIT]
    assert bodywork("render", *common).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    for flags, message in [
        (["--namespace", "a\nb"], "error: --namespace 'a\\nb' becomes 'a\\nb', not a valid Kubernetes name"),
        (["--ingress-host", "{{ x }}", "--format", "helm"], "error: --ingress-host '{{ x }}' is not a valid host name"),
        (["--k8s-version", "1.0"], "error: --k8s-version: no schemas for Kubernetes '1.0'; supported releases: 1."),
        (["--templates", str(tmp_path / "missing")], f"error: --templates '{tmp_path / 'missing'}': no such folder"),
        # bytes the locale cannot decode reach Python as lone surrogates, which no YAML reader accepts
        (
            ["--format", "kustomize", "--deploy-path", "a\udcff"],
            "error: --deploy-path 'a\\udcff' must be a path inside the deployment repository",
        ),
        (
            ["--repo-url", "https://git.example/\udcff"],
            "error: --repo-url 'https://git.example/\\udcff' is not a URL the stages can fetch",
        ),
        (["--runner-image", "runner\udcff"], "error: --runner-image 'runner\\udcff' is not an image reference"),
    ]:
        result = bodywork("render", *common, *flags)
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_flag_values_kubernetes_accepts_are_accepted(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", MINIMAL)
    options = dict(
        namespace="ML_Prod.eu",
        ingress_host="*.ml.example.com",
        ingress_class="nginx.internal",
        git_secret="git.creds",
        runner_image="registry:5000/runner@sha256:" + "a" * 64,
        k8s_version="v1.30.2",
    )
    objects = {o["kind"]: o for o in render_as(project, "manifests", **options).objects}
    assert objects["Namespace"]["metadata"]["name"] == "ml-prod-eu"
    assert objects["Ingress"]["spec"]["rules"][0]["host"] == "*.ml.example.com"


# --- names at and beyond the Kubernetes limits ---------------------------------------------------


def long_names_project(folder: Path, batch: str, service: str, pipeline: str) -> Path:
    """A two-stage project with these (long) names."""
    return write_project(
        folder,
        f"""version: "1.1"
pipeline:
  name: {pipeline}
  docker_image: python:3.12-slim
  DAG: {batch} >> {service}
stages:
  {batch}:
    executable_module_path: train.py
    batch: {{max_completion_time_seconds: 0, retries: 0}}
  {service}:
    executable_module_path: serve.py
    service: {{max_startup_time_seconds: 30, replicas: 1, port: 8000, ingress: true}}
""",
    )


def test_a_63_character_stage_gets_a_shortened_job_name_that_is_valid_and_stable(tmp_path: Path) -> None:
    batch_a, batch_b = "b" * 54 + "_" + "x" * 8, "b" * 54 + "_" + "y" * 8
    service = "S" + "s" * 62
    pipeline = "P" * 63
    first = render_as(
        long_names_project(tmp_path / "a", batch_a, service, pipeline), "manifests", ingress_host="ml.example.com"
    )
    again = render_as(
        long_names_project(tmp_path / "a2", batch_a, service, pipeline), "manifests", ingress_host="ml.example.com"
    )
    other = render_as(
        long_names_project(tmp_path / "b", batch_b, service, pipeline), "manifests", ingress_host="ml.example.com"
    )
    assert first.files == again.files
    jobs = [next(o for o in r.objects if o["kind"] == "Job") for r in (first, other)]
    job_names = [job["metadata"]["name"] for job in jobs]
    for name in job_names:
        assert len(name) <= names.LABEL_MAX and names.is_label(name), name
        assert name.startswith("p" * 45)  # the pipeline's name first, then a hash of the whole and the digest
    assert job_names[0] != job_names[1]
    assert jobs[0]["metadata"]["labels"]["app.kubernetes.io/name"] == "b" * 54 + "-" + "x" * 8
    for obj in first.objects:
        name = obj["metadata"]["name"]
        assert len(name) <= names.LABEL_MAX and names.is_subdomain(name), (obj["kind"], name)
        assert all(len(v) <= names.LABEL_MAX for v in obj["metadata"].get("labels", {}).values())
    assert schema_problems(list(first.objects)) == []
    for layout in ("kustomize", "helm"):
        rendered = render_as(tmp_path / "a", layout, ingress_host="ml.example.com")
        assert rendered.files == render_as(tmp_path / "a", layout, ingress_host="ml.example.com").files
        assert {o["metadata"]["name"] for o in rendered.objects if o["kind"] == "Job"} == {job_names[0]}


def test_long_names_stay_within_63_characters_when_helm_renders_them(tmp_path: Path) -> None:
    project = long_names_project(tmp_path / "p", "b" * 63, "s" * 63, "p" * 63)
    rendered = render_as(project, "helm")
    write_tree(tmp_path / "chart", rendered.files)
    objects = helmsdk.template_objects(tmp_path / "chart", release="r" * 53, namespace="n" * 63)
    kinds = {"Job", "Deployment", "Service", "Ingress", "ServiceAccount", "ConfigMap", "NetworkPolicy"}
    assert {o["kind"] for o in objects} == kinds
    for obj in objects:
        assert len(obj["metadata"]["name"]) <= names.LABEL_MAX and names.is_label(obj["metadata"]["name"]), obj[
            "metadata"
        ]["name"]
    assert schema_problems(objects) == []
    assert helmsdk.lint(tmp_path / "chart") == []


# --- injection into every user string, in every format ---------------------------------------------

# Strings a YAML 1.1 reader (kubectl, kustomize, Flux) would turn into another type, another key or another
# document, and strings Jinja, Helm (Go templates) or a shell would expand.
PAYLOADS = [
    "x\n---\nkind: Secret\nmetadata: {name: pwned}",
    "a: b",
    "- item",
    "#comment",
    "&anchor",
    "*alias",
    "!!binary aGVsbG8=",
    "{{ .Release.Name }}",
    '{{ fail "injected" }}',
    "{{- /* comment */ -}}",
    "[[ namespace ]]",
    "[% if true %]",
    "{% raw %}",
    "${HOME}",
    "$(id)",
    "`id`",
    "no",
    "on",
    "~",
    "null",
    "0644",
    "0x1F",
    "1e3",
    ".inf",
    "2001-12-14",
    "'single'",
    '"double"',
    "back\\slash",
    "tab\there",
    "line\u2028separators\u2029",
    "emoji \U0001f600 and \u00e9",
    "\u202eright-to-left",
    "",
    " ",
]
# The payloads as requirements, which the runner refuses blank or starting with '-' or a space (a pip option).
REQUIREMENTS = [f"x{p}" if p[:1] in ("", "-", " ") else p for p in PAYLOADS]
# Spaceless payloads for the image, which must hold no whitespace.
IMAGES = ["{{.Release.Name}}", "[[image]]", "$(id)", "a:b#c", "no", "0644", "*x", "&x", "!x", "%x", "@x", "'x'"]
# Valid names that a YAML 1.1 reader would read as booleans, nulls or numbers if they were not quoted.
TRICKY_NAMES = {
    "stage": "yes",
    "service": "null",
    "pipeline": "on",
    "namespace": "off",
    "secret": "no",
    "group": "true",
    "number_stage": "1e3",
}


def injection_project(folder: Path, image: str) -> Path:
    """A project with every payload in args and requirements, the image given, and YAML 1.1-looking names everywhere."""
    payloads, requirements = (
        "".join(f"\n      - {json.dumps(p, ensure_ascii=False)}" for p in strings)  # YAML does not pair \\ud83d\\ude00
        for strings in (PAYLOADS, REQUIREMENTS)
    )
    n = TRICKY_NAMES
    return write_project(
        folder,
        f"""version: "1.1"
pipeline:
  name: "{n["pipeline"]}"
  namespace: "{n["namespace"]}"
  secrets_group: "{n["group"]}"
  docker_image: {json.dumps(image)}
  DAG: "{n["stage"]}, {n["number_stage"]} >> {n["service"]}"
stages:
  "{n["stage"]}":
    executable_module_path: train.py
    args:{payloads}
    requirements:{requirements}
    secrets:
      "NO": "{n["secret"]}"
    batch: {{max_completion_time_seconds: 0, retries: 0}}
  "{n["number_stage"]}":
    executable_module_path: train.py
    batch: {{max_completion_time_seconds: 0, retries: 0}}
  "{n["service"]}":
    executable_module_path: serve.py
    args:{payloads}
    service: {{max_startup_time_seconds: 30, replicas: 1, port: 8000, ingress: true}}
""",
    )


def container(objects: list[dict[str, Any]], kind: str, stage: str, init: str | None = None) -> dict[str, Any]:
    """The main container of the stage's object of a kind, or its init container called ``init``."""
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["labels"]["app.kubernetes.io/name"] == stage]
    assert len(found) == 1, (kind, stage)
    pod = found[0]["spec"]["template"]["spec"]
    if init is not None:
        return next(c for c in pod["initContainers"] if c["name"] == init)
    return pod["containers"][0]


def assert_literal(objects: list[dict[str, Any]], image: str, namespace: str | None) -> None:
    """Every payload arrives as the very string the user wrote, and nothing else was added."""
    job, deployment = (
        container(objects, "Job", TRICKY_NAMES["stage"]),
        container(objects, "Deployment", TRICKY_NAMES["service"]),
    )
    assert job["args"][job["args"].index("--") + 1 :] == PAYLOADS
    assert deployment["args"][deployment["args"].index("--") + 1 :] == PAYLOADS
    install = container(objects, "Job", TRICKY_NAMES["stage"], init="install")
    assert [install["args"][i + 1] for i, a in enumerate(install["args"]) if a == "--requirement"] == REQUIREMENTS
    assert "--requirement" not in job["args"]
    assert job["image"] == deployment["image"] == install["image"] == image
    assert {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in job["env"] if "valueFrom" in e} == {
        "NO": "true-no"
    }
    kinds = sorted(o["kind"] for o in objects)
    assert kinds.count("Secret") == 0 and kinds.count("Job") == 2
    for obj in objects:
        assert all(isinstance(v, str) for v in obj["metadata"].get("labels", {}).values())
        if namespace is not None and obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == namespace
    names_of = {o["metadata"]["name"] for o in objects}
    assert {"on-null", "on"} <= names_of  # the service stage's Deployment and Service, the ServiceAccount
    assert schema_problems(objects) == []
    for obj in objects:
        assert restricted_violations(obj) == [] and hardening_violations(obj) == []


@pytest.mark.parametrize("image", IMAGES)
def test_user_strings_stay_literal_in_manifests_and_kustomize(image: str, tmp_path: Path) -> None:
    project = injection_project(tmp_path / "p", image)
    for layout in ("manifests", "kustomize"):
        rendered = render_as(project, layout, ingress_host="null.example.com")
        objects = objects_in(rendered.files)  # read back as kubectl does: YAML 1.1
        assert_literal([o for o in objects if o["kind"] not in ("Kustomization", "GitRepository")], image, "off")


@pytest.mark.parametrize("image", IMAGES[:4])
def test_user_strings_stay_literal_on_argo_workflows(image: str, tmp_path: Path) -> None:
    project = injection_project(tmp_path / "p", image)
    objects = objects_in(render_as(project, "argo-workflows", ingress_host="null.example.com").files)
    (template,) = [o for o in objects if o["kind"] == "WorkflowTemplate"]
    assert all(argo_problems(o) == [] for o in objects if o["apiVersion"] == "argoproj.io/v1alpha1")
    pods = {pod["metadata"]["name"]: pod["spec"] for pod in template_pods(template)}
    stage = pods[f"on-run-{TRICKY_NAMES['stage']}"]
    (main,) = stage["containers"]
    install = next(c for c in stage["initContainers"] if c["name"] == "install")
    assert main["args"][main["args"].index("--") + 1 :] == PAYLOADS
    requirements = [install["args"][i + 1] for i, a in enumerate(install["args"]) if a == "--requirement"]
    assert requirements == REQUIREMENTS
    assert main["image"] == install["image"] == image
    assert {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in main["env"] if "valueFrom" in e} == {
        "NO": "true-no"
    }
    # The one Secret is the executor's token, which Kubernetes fills: it holds no value.
    (token,) = [o for o in objects if o["kind"] == "Secret"]
    assert token["type"] == "kubernetes.io/service-account-token" and not {"data", "stringData"} & token.keys()
    tasks = {t["name"]: t.get("depends") for t in template["spec"]["templates"][0]["dag"]["tasks"]}
    assert tasks == {"yes": None, "S1e3": None, "null": "yes && S1e3"}
    assert all(o["metadata"]["namespace"] == "off" for o in objects if o["kind"] not in ("Namespace", "Kustomization"))


@pytest.mark.parametrize("image", IMAGES[:4])
def test_user_strings_stay_literal_through_helm(image: str, tmp_path: Path) -> None:
    project = injection_project(tmp_path / "p", image)
    rendered = render_as(project, "helm", ingress_host="null.example.com")
    write_tree(tmp_path / "chart", rendered.files)
    objects = helmsdk.template_objects(tmp_path / "chart", release="on", namespace="off")
    assert_literal(objects, image, "off")
    assert helmsdk.lint(tmp_path / "chart") == []
    values = yaml.safe_load((tmp_path / "chart" / "values.yaml").read_text())
    assert isinstance(values, dict)


def test_yaml_1_1_looking_names_reach_kubernetes_as_strings(tmp_path: Path) -> None:
    project = injection_project(tmp_path / "p", "python:3.12-slim")
    rendered = render_as(project, "manifests")
    namespace = next(o for o in objects_in(rendered.files) if o["kind"] == "Namespace")
    assert namespace["metadata"]["name"] == "off"
    assert os.path.basename(sorted(rendered.files)[0]) == "00-namespace.yaml"


@pytest.mark.xfail(
    strict=True,
    reason=(
        "the chart writes args with Go's toJson, which leaves DEL and C1 controls raw: YAML refuses DEL and folds NEL "
        "into a space; --format manifests escapes them"
    ),
)
@pytest.mark.parametrize("character", ["\x85", "\x7f", "\x9b"], ids=["NEL", "DEL", "CSI"])
def test_a_c1_control_character_in_an_arg_survives_helm(character: str, tmp_path: Path) -> None:
    arg = f"a{character}b"
    project = write_project(
        tmp_path / "p",
        MINIMAL.replace(
            "    executable_module_path: train.py",
            f"    executable_module_path: train.py\n    args: [{json.dumps(arg)}]",
        ),
    )
    assert container(list(render_as(project, "manifests").objects), "Job", "train")["args"][-1] == arg
    write_tree(tmp_path / "chart", render_as(project, "helm").files)
    objects = helmsdk.template_objects(tmp_path / "chart", release="demo", namespace="demo")
    assert container(objects, "Job", "train")["args"][-1] == arg


def test_a_crash_log_shows_no_credential(tmp_path: Path) -> None:
    """An unexpected error (here: the Kubernetes schemas made unreadable by monkey-patching in the child) writes a
    crash log; the token in --to and --repo-url, and the one in the environment, appear nowhere."""
    secret = "crash-T0ken-xyz"
    crash = (
        "import sys, bodywork_render.verify.kubernetes as check\n"
        "def broken(*args, **kwargs):\n"
        f"    raise RuntimeError('schemas gone while talking to https://ci:{secret}@git.example.com/x.git')\n"
        "check.schema_problems = broken\n"
        "from bodywork_render.cli.main import main\n"
        "sys.argv = ['bodywork'] + sys.argv[1:]\n"
        "main()\n"
    )
    args = [
        "publish",
        str(CASES / "valid" / "minimal-1.1.yaml"),
        "--to",
        f"https://deployer:{secret}@127.0.0.1:1/d.git",
        "--repo-url",
        f"https://ci:{secret}@example.com/p.git",
        "--ref",
        COMMIT,
    ]
    env = dict(os.environ, TMPDIR=str(tmp_path), BODYWORK_GIT_TOKEN=secret)
    result = subprocess.run([sys.executable, "-c", crash, *args], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 3, result.stderr
    (log,) = tmp_path.glob("bodywork-crash-*.log")
    text = log.read_text()
    assert "RuntimeError: schemas gone while talking to https://git.example.com/x.git" in text
    assert "--to https://127.0.0.1:1/d.git" in text and "--repo-url https://example.com/p.git" in text
    assert secret not in text + result.stderr + result.stdout


@pytest.mark.parametrize("image", ["@", ":1.0", "python@latest", "python:3.12@sha256:xyz"])
def test_an_image_a_chart_cannot_split_is_an_error_for_helm(image: str, tmp_path: Path) -> None:
    """Kubernetes takes any image text without spaces, so manifests render; a chart's values need a repository and a
    real digest."""
    project = write_project(tmp_path / "p", MINIMAL.replace("python:3.12-slim", json.dumps(image)))
    assert render_as(project, "manifests").objects
    with pytest.raises(BodyworkError) as caught:
        render_as(project, "helm")
    assert str(caught.value) == (
        f"error: image {image!r}: a chart holds an image as repository[:tag][@digest] "
        "(e.g. python:3.12-slim or registry.example.com/name@sha256:<hex>)"
    )
    with pytest.raises(BodyworkError, match="a chart holds an image as"):
        render_as(write_project(tmp_path / "q", MINIMAL), "helm", runner_image=image)


# --- a hostile deployment repository -----------------------------------------------------------------------


def seeded_repository(tmp_path: Path, links: dict[str, str]) -> str:
    """A bare repository whose main branch holds these symbolic links (path -> target); its file:// URL."""
    seed = tmp_path / "seed"
    seed.mkdir()
    for path, target in links.items():
        (seed / path).parent.mkdir(parents=True, exist_ok=True)
        (seed / path).symlink_to(target)
    commands = [
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=a", "-c", "user.email=a@example.invalid", "commit", "-qm", "seed"],
        ["push", "-q", str(tmp_path / "deploy.git"), "HEAD:main"],
    ]
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "deploy.git")], check=True)
    for command in commands:
        subprocess.run(["git", *command], cwd=seed, check=True)
    return f"file://{tmp_path / 'deploy.git'}"


@pytest.mark.parametrize("links", [
    {"envs/default": "VICTIM"},
    {"envs": "../../victim-relative"},
    {"envs/default/demo": "../../.git"},
    {"envs/default": "../.GIT/hooks"},
], ids=["absolute-outside", "relative-outside", "into-git", "into-git-hooks"])  # fmt: skip
def test_a_deployment_repository_cannot_redirect_the_write_through_symbolic_links(
    links: dict[str, str], tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    url = seeded_repository(tmp_path, {path: target.replace("VICTIM", str(victim)) for path, target in links.items()})
    before = subprocess.run(
        ["git", "--git-dir", str(tmp_path / "deploy.git"), "rev-parse", "main"], capture_output=True, text=True
    ).stdout
    project = write_project(tmp_path / "p", MINIMAL)
    result = bodywork("publish", str(project), "--to", url, "--repo-url", REPO_URL, "--ref", COMMIT)
    assert result.returncode == 1, result.stderr
    assert (
        result.stderr
        == "error: --path 'envs/default/demo' leads outside the deployment repository (through a symbolic link)\n"
    )
    assert [p.name for p in victim.iterdir()] == ["keep.txt"]
    assert (
        subprocess.run(
            ["git", "--git-dir", str(tmp_path / "deploy.git"), "rev-parse", "main"], capture_output=True, text=True
        ).stdout
        == before
    )


@pytest.mark.parametrize("layout", ["config-file", "project-folder", "overlay"])
def test_refresh_reads_nothing_a_hostile_source_repository_links_out_of_itself(layout: str, tmp_path: Path) -> None:
    """A bodywork.yaml (or the project folder, or an overlay) linked to a file of the machine, such as the mounted SSH
    key of the refresher, is refused before it is read: its content would otherwise be quoted in error messages."""
    secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nS3cretKeyMaterial0123456789\n-----END OPENSSH PRIVATE KEY-----\n"
    outside = tmp_path / "mounted"
    outside.mkdir()
    (outside / "bodywork.yaml").write_text(secret)
    (outside / "bodywork.prod.yaml").write_text(secret)
    source = tmp_path / "source"
    source.mkdir()
    files = {
        "config-file": {"bodywork.yaml": outside / "bodywork.yaml"},
        "project-folder": {"proj": outside},
        "overlay": {"bodywork.prod.yaml": outside / "bodywork.prod.yaml"},
    }[layout]
    if layout == "overlay":
        write_project(source, MINIMAL)
    for name, target in files.items():
        (source / name).symlink_to(target)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(tmp_path / "source.git")], check=True)
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "deploy.git")], check=True)
    for command in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=a", "-c", "user.email=a@example.invalid", "commit", "-qm", "x"],
        ["push", "-q", str(tmp_path / "source.git"), "HEAD:main"],
    ):
        subprocess.run(["git", *command], cwd=source, check=True)
    project_path = "proj" if layout == "project-folder" else "."
    relative = {"config-file": "./bodywork.yaml", "project-folder": "proj", "overlay": "./bodywork.prod.yaml"}[layout]
    extra = ["--env", "prod"] if layout == "overlay" else []
    result = bodywork(
        "refresh",
        "--source",
        f"file://{tmp_path / 'source.git'}",
        "--project-path",
        project_path,
        "--to",
        f"file://{tmp_path / 'deploy.git'}",
        "--allow-local-repo",  # the pods never run: the symbolic links are refused first
        *extra,
    )
    assert result.returncode == 1, result.stderr
    assert (
        result.stderr
        == f"error: file://{tmp_path / 'source.git'}: {relative} is a symbolic link that leads out of the repository; "
        "refusing to read it\n"
    )
    assert "S3cret" not in result.stderr + result.stdout
