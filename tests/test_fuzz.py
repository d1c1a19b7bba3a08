"""Property tests (hypothesis) of the loader, the validator and the renderer against arbitrary input.

For any input the tool either renders valid output (every object passes the Kubernetes
schemas and the restricted pod profile, and every user string arrives unchanged) or
reports BodyworkError diagnostics; never another exception, never a hang (a deadline
per example). The development loop runs the same examples every time; CI runs four times as many
from a new seed, printed in the header (tests/conftest.py).
"""

from __future__ import annotations

import json
import re
import string
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from bodywork_render.diagnostics import BodyworkError, Diagnostic
from bodywork_render.render.chart import render_chart
from bodywork_render.render.manifests import Rendered, render_project
from bodywork_render.render.options import RenderOptions
from bodywork_render.render.write import write_tree
from bodywork_render.spec.load import parse_yaml
from bodywork_render.spec.validate import validate_document
from bodywork_render.verify.kubernetes import schema_problems
from bodywork_render.verify.podsecurity import hardening_violations, restricted_violations
from tests import helmsdk
from tests.ci import examples
from tests.renderkit import COMMIT, REPO_URL

# Derandomized or not, and the seed, come from the profile tests/conftest.py loads.
FUZZ = settings(max_examples=examples(150), deadline=3000, suppress_health_check=[HealthCheck.too_slow])
CLI = settings(max_examples=examples(12), deadline=20000, suppress_health_check=[HealthCheck.too_slow])

# Fuzzing: many generated documents, some through the CLI in fresh interpreters.
pytestmark = pytest.mark.slow

# Pieces of YAML syntax, so random text reaches deep into the parser instead of failing at byte 1.
YAML_TOKENS = [
    "\n", "  ", "- ", ": ", "? ", "&a ", "*a", "!!str ", "!!python/object:os.system ", "!x ", "{", "}", "[", "]",
    ", ", "#", "|\n", ">-\n",
    '"', "'", "\\u00e9", "\\ud800", "\t", "---\n", "...\n", "%YAML 1.1\n", "<<: ",
    "~", "null", "yes", "0x1F", "1e999", ".nan", "2001-01-01",
    "version: ", '"1.1"', "pipeline:", "project:", "stages:", "name: ", "docker_image: ", "DAG: ", "a >> b",
    "executable_module_path: ",
    "a.py", "batch:", "service:", "retries: ", "port: ", "args: ", "secrets:", "\u2028", "\x85", "\ufeff", "\x00",
]  # fmt: skip


def diagnostics_of(raw: bytes) -> list[Diagnostic]:
    """What `bodywork validate` of a lone file finds in these bytes; any exception but BodyworkError fails the test."""
    try:
        document = parse_yaml(raw, "bodywork.yaml")
    except BodyworkError as exc:
        assert exc.diagnostics and all(d.severity == "error" for d in exc.diagnostics)
        return exc.diagnostics
    return validate_document(document)


def assert_clean(diagnostics: list[Diagnostic]) -> None:
    """Diagnostics a user can read: printable as UTF-8 text and as JSON, each with a message."""
    for diagnostic in diagnostics:
        assert diagnostic.message and diagnostic.line >= 0 and diagnostic.column >= 0
        str(diagnostic).encode("utf-8", "backslashreplace")
        json.dumps(diagnostic.as_dict())


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_give_diagnostics_or_a_document(raw: bytes) -> None:
    assert_clean(diagnostics_of(raw))


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(YAML_TOKENS), st.text(max_size=8)), max_size=60).map("".join))
@example("&a !!python/object:os.system version: ")  # a tagged key once crashed the validator
def test_random_yaml_ish_text_gives_diagnostics_or_a_document(text: str) -> None:
    assert_clean(diagnostics_of(text.encode("utf-8", "surrogatepass")))


# --- structured input: bodywork.yaml-like documents with random strings in every user field -------------

# The chart writes strings with Go's toJson, which leaves DEL and C1 controls raw: YAML refuses or folds them.
C1_CONTROLS = re.compile("[\x7f-\x9f]")

# Any text (including control characters, quotes, template syntax), or text that looks like a valid name.
NAME_CHARS = string.ascii_letters + string.digits + "_.-"
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
NAMEISH = st.text(NAME_CHARS, min_size=1, max_size=70)
TRICKY = st.sampled_from(
    ["{{ .Release.Name }}", "[[ x ]]", "x\n---\nkind: Secret", "no", "0644", "~", "", "null", "yes"]
)
USER_TEXT = st.one_of(ANY_TEXT, NAMEISH, TRICKY)
VALID_NAME = st.from_regex(r"\A[a-z][a-z0-9]{0,6}([-_.][a-z0-9]{1,6}){0,2}\Z")
K8S_NAME = st.from_regex(r"\A[a-z][a-z0-9]{0,6}([-.][a-z0-9]{1,6}){0,2}\Z")
NUMBER = st.one_of(
    st.integers(-5, 70000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["1", "yes", None]),
)


def mostly(valid: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` 19 times in 20, else ``hostile``: enough documents pass validation to exercise the renderer."""
    return st.sampled_from([True] * 19 + [False]).flatmap(lambda ok: valid if ok else hostile)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A bodywork.yaml-like mapping: mostly well-formed, with random strings everywhere any string is allowed
    (args, requirements, the image), and now and then a random string or type where it is not."""
    stage_names = draw(
        st.lists(
            mostly(VALID_NAME, st.one_of(NAMEISH, USER_TEXT)),
            min_size=1,
            max_size=4,
            unique_by=lambda n: n.lower().replace("_", "-").replace(".", "-"),
        )
    )
    stages: dict[str, Any] = {}
    for name in stage_names:
        module = draw(
            mostly(
                st.sampled_from(["a.py", "./a.py", "b/../a.py"]),
                st.one_of(st.sampled_from(["../a.py", "/a.py", "C:\\a.py", "a\\..\\..\\a.py"]), USER_TEXT),
            )
        )
        spec: dict[str, Any] = {"executable_module_path": module}
        if draw(st.booleans()):
            spec["batch"] = {
                "max_completion_time_seconds": draw(mostly(st.integers(0, 10**6), NUMBER)),
                "retries": draw(mostly(st.integers(0, 100), NUMBER)),
            }
        else:
            spec["service"] = {
                "max_startup_time_seconds": draw(mostly(st.integers(0, 86400), NUMBER)),
                "replicas": draw(mostly(st.integers(0, 5), NUMBER)),
                "port": draw(mostly(st.integers(1, 65535), NUMBER)),
                "ingress": draw(mostly(st.booleans(), st.sampled_from(["yes", "on"]))),
            }
        if draw(st.booleans()):
            spec["args"] = draw(st.lists(USER_TEXT, max_size=4))
        if draw(st.booleans()):
            spec["requirements"] = draw(st.lists(mostly(USER_TEXT.filter(bool), USER_TEXT), max_size=3))
        if draw(st.booleans()):
            env = mostly(st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,10}\Z"), USER_TEXT)
            spec["secrets"] = draw(st.dictionaries(env, mostly(K8S_NAME, USER_TEXT), max_size=3))
        if draw(st.booleans()):
            spec["cpu_request"] = draw(mostly(st.floats(0.001, 64), NUMBER))
            spec["memory_request_mb"] = draw(mostly(st.integers(1, 10**5), NUMBER))
        if draw(mostly(st.just(False), st.just(True))):
            spec[draw(USER_TEXT)] = draw(USER_TEXT)  # an unknown field
        stages[name] = spec
    order = draw(st.permutations(stage_names))
    split = draw(st.integers(1, len(order)))
    dag = " >> ".join(filter(None, [", ".join(order[:split]), ", ".join(order[split:])]))
    section: dict[str, Any] = {
        "name": draw(mostly(K8S_NAME, USER_TEXT)),
        "docker_image": draw(
            mostly(
                st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc", "Zl", "Zp")), min_size=1, max_size=30),
                USER_TEXT,
            )
        ),
        "DAG": draw(mostly(st.just(dag), st.one_of(st.just(dag + " >> " + order[0]), USER_TEXT))),
    }
    for field in ("namespace", "secrets_group"):
        if draw(st.integers(0, 3)) == 0:
            section[field] = draw(mostly(K8S_NAME, USER_TEXT))
    version = draw(mostly(st.sampled_from(["1.1", "1.0"]), st.sampled_from([1.1, "2.0", None])))
    return {"version": version, "project" if version == "1.0" else "pipeline": section, "stages": stages}


def render_any(folder: Path, layout: str, options: dict[str, Any]) -> Rendered:
    """Render the project in a folder in one of the three formats."""
    if layout == "helm":
        return render_chart(folder, RenderOptions(format="helm", **options), repo_url=REPO_URL, ref=COMMIT)
    engine = "flux" if layout == "kustomize" else "argocd"
    return render_project(folder, RenderOptions(format=layout, engine=engine, **options), repo_url=REPO_URL, ref=COMMIT)  # type: ignore[arg-type]


def user_args(data: dict[str, Any]) -> dict[str, list[str]]:
    """The args of each stage, as written."""
    return {str(name): list(spec.get("args", [])) for name, spec in data["stages"].items()}


@settings(FUZZ, max_examples=examples(200), deadline=10000)  # a first Helm render starts the Go runtime
@given(
    documents(),
    st.sampled_from(["manifests", "kustomize", "helm"]),
    st.fixed_dictionaries(
        {},
        optional={
            "namespace": mostly(VALID_NAME, USER_TEXT),
            "ingress_host": mostly(st.just("ml.example.com"), USER_TEXT),
            "ingress_class": mostly(K8S_NAME, USER_TEXT),
            "git_secret": mostly(K8S_NAME, USER_TEXT),
            "runner_image": mostly(st.just("registry.example.com:5000/runner:1"), USER_TEXT),
        },
    ),
)
def test_any_document_renders_valid_objects_or_reports_errors(
    data: dict[str, Any], layout: str, options: dict[str, Any]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        (project / "bodywork.yaml").write_text(text, encoding="utf-8")
        (project / "a.py").write_text("")
        try:
            rendered = render_any(project, layout, options)
        except BodyworkError as exc:
            event("refused")
            assert exc.diagnostics
            assert_clean(exc.diagnostics)
            return
        event(f"rendered {layout}")
        objects = list(rendered.objects)
        if layout == "helm" and C1_CONTROLS.search(json.dumps(data, ensure_ascii=False)):
            event("helm: not templated, a C1 control character (a known limit, see test_hostile)")
        elif layout == "helm":  # what Helm itself renders from the chart, not only the objects it was checked through
            write_tree(project / "chart", rendered.files)
            name = yaml.safe_load(rendered.files["Chart.yaml"])["name"]
            objects = helmsdk.template_objects(project / "chart", release=name, namespace=name)
    assert objects and schema_problems(objects) == []
    for obj in objects:
        assert restricted_violations(obj) == [] and hardening_violations(obj) == []
    # What the file says, read by PyYAML: it writes a lone NEL (U+0085) as a line break, which reads back as a space.
    expected_args = user_args(yaml.safe_load(text))
    for obj in objects:
        if obj["kind"] in ("Job", "Deployment"):
            stage = obj["metadata"]["labels"]["bodywork-render/stage"]
            args = obj["spec"]["template"]["spec"]["containers"][0]["args"]
            written = next(
                v for k, v in expected_args.items() if k.lower().replace("_", "-").replace(".", "-") == stage
            )
            assert args[args.index("--") + 1 :] == written


@CLI
@given(
    st.one_of(
        st.binary(max_size=200),
        st.lists(st.sampled_from(YAML_TOKENS), max_size=30).map(lambda t: "".join(t).encode("utf-8", "surrogatepass")),
    )
)
def test_the_cli_answers_any_file_with_exit_0_or_1_and_no_traceback(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "bodywork.yaml"
        config.write_bytes(raw)
        for command in (
            ["validate", "--format", "json", str(config)],
            ["render", str(config), "--out", str(Path(folder) / "out"), "--repo-url", REPO_URL, "--ref", COMMIT],
        ):
            result = subprocess.run(
                [sys.executable, "-m", "bodywork_render", *command], capture_output=True, timeout=60
            )
            assert result.returncode in (0, 1), result.stderr
            assert b"Traceback" not in result.stderr and b"unexpected error" not in result.stderr


# --- the loader's two paths agree ---------------------------------------------------------------------

# Plain scalars that YAML 1.1 and 1.2 read differently, or that look like numbers, dates or nulls.
SCALARS = st.sampled_from([
    "yes", "No", "on", "OFF", "y", "~", "null", "Null", "NULL", "true", "True", "FALSE", "0", "-0", "+1", "007", "0o17",
    "0x1F", "0b11",
    "1_000", "1e3", "1E3", "-1.5e-3", ".5", "5.", "+.inf", "-.Inf", ".NaN", ".nan", "1:20", "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "=", "<<", "a b", "'q'", '"d"', "", "1.0", "1.1", "12e", "0.", "-", ".",
])  # fmt: skip


@st.composite
def plain_yaml(draw: st.DrawFn, depth: int = 0) -> str:
    """Block and flow YAML built from tricky plain scalars, as a hand-written bodywork.yaml might hold them."""
    kind = draw(st.sampled_from(["scalar", "map", "list", "flow"] if depth < 3 else ["scalar"]))
    if kind == "scalar":
        return draw(SCALARS)
    if kind == "flow":
        items = draw(st.lists(SCALARS.filter(lambda s: s and s not in ("=", "-", ".", "<<")), max_size=4))
        return "[" + ", ".join(items) + "]"
    pad = "  " * (depth + 1)
    if kind == "list":
        items = draw(st.lists(plain_yaml(depth + 1), min_size=1, max_size=3))
        return "".join(
            f"\n{pad}- {item.strip() if not item.startswith(chr(10)) else item.replace(chr(10), chr(10) + '  ')}"
            for item in items
        )
    keys = draw(
        st.lists(
            st.from_regex(r"\A[a-z][a-z0-9_]{0,5}\Z")
            | SCALARS.filter(lambda s: s and s[0] not in "-?:'\"[{&*!|>%@`#,=."),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    return "".join(f"\n{pad}{key}: {draw(plain_yaml(depth + 1)).lstrip(' ')}" for key in keys)


@FUZZ
@given(plain_yaml())
def test_the_fast_loader_reads_what_the_positioned_loader_reads(text: str) -> None:
    """load.py reads plain files with libyaml and YAML 1.2 resolvers for speed; whatever it accepts, ruamel reads
    the same."""
    from bodywork_render.spec import load

    text = "root:" + text + "\n" if text.startswith("\n") else f"root: {text}\n"
    fast = load._plain_fast(text)
    if fast is load._NOT_PLAIN:
        return
    try:
        slow = load._plain(load._yaml().load(text))
    except Exception as exc:  # noqa: BLE001 - ruamel refusing what the fast path accepted is the failure reported
        raise AssertionError(f"the fast path accepted what ruamel refuses: {exc}") from None
    assert json.dumps(fast, sort_keys=True) == json.dumps(slow, sort_keys=True)


# --- environment overlays ---------------------------------------------------------------------------------


@st.composite
def overlays(draw: st.DrawFn) -> dict[str, Any]:
    """A bodywork.<env>.yaml-like mapping for the minimal project (stages train and serve), random where it may be."""
    pipeline = draw(st.fixed_dictionaries({}, optional={
        "docker_image": mostly(st.just("python:3.13-slim"), USER_TEXT),
        "namespace": mostly(VALID_NAME, USER_TEXT),
        "secrets_group": mostly(K8S_NAME, USER_TEXT),
        "ingress_host": mostly(st.just("ml.example.com"), USER_TEXT),
        "ingress_class": mostly(K8S_NAME, USER_TEXT),
    }))  # fmt: skip
    stage = st.fixed_dictionaries({}, optional={
        "cpu_request": mostly(st.floats(0.001, 64), NUMBER),
        "memory_request_mb": mostly(st.integers(1, 10**5), NUMBER),
        "cpu_limit": mostly(st.floats(0.001, 64), NUMBER),
        "memory_limit_mb": mostly(st.integers(1, 10**5), NUMBER),
        "replicas": mostly(st.integers(0, 1000), NUMBER),
    })  # fmt: skip
    stages = draw(st.dictionaries(mostly(st.sampled_from(["train", "serve"]), USER_TEXT), stage, max_size=2))
    return {key: value for key, value in (("pipeline", pipeline), ("stages", stages)) if value or draw(st.booleans())}


@settings(FUZZ, max_examples=examples(100), deadline=10000)
@given(overlays(), st.sampled_from(["manifests", "kustomize", "helm"]))
def test_any_overlay_renders_valid_objects_or_reports_errors(overlay: dict[str, Any], layout: str) -> None:
    from tests.test_validate import CASES

    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "bodywork.yaml").write_text((CASES / "valid" / "minimal-1.1.yaml").read_text())
        (project / "bodywork.fuzz.yaml").write_text(
            yaml.safe_dump(overlay, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
        for module in ("train.py", "serve.py"):
            (project / module).write_text("")
        options = RenderOptions(format=layout, engine="flux" if layout == "kustomize" else "argocd")  # type: ignore[arg-type]
        try:
            if layout == "helm":
                rendered = render_chart(project, options, env="fuzz", repo_url=REPO_URL, ref=COMMIT)
            else:
                rendered = render_project(project, options, env="fuzz", repo_url=REPO_URL, ref=COMMIT)
        except BodyworkError as exc:
            event("refused")
            assert_clean(exc.diagnostics)
            return
    event(f"rendered {layout}")
    objects = list(rendered.objects)
    assert objects and schema_problems(objects) == []
    for obj in objects:
        assert restricted_violations(obj) == [] and hardening_violations(obj) == []
