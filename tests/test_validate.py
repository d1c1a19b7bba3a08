"""bodywork validate: every error class, with its exact file:line:col, field path and message.

Each tests/cases/<kind>/NAME.yaml is paired with NAME.expected, the exact report.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from bodywork_render.diagnostics import errors_in
from bodywork_render.spec.load import parse_yaml
from bodywork_render.spec.model import BatchStage, ServiceStage
from bodywork_render.spec.project import load_project, validate_project
from bodywork_render.spec.validate import validate_document

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "cases"


def _cases(kind: str) -> list[str]:
    return sorted(p.name for p in (CASES / kind).glob("*.yaml"))


@pytest.mark.parametrize(
    "kind,name", [("invalid", n) for n in _cases("invalid")] + [("valid", n) for n in _cases("valid")]
)
def test_case_reports_exactly_the_expected_diagnostics(kind: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES)
    _, diagnostics = validate_project(Path(kind, name))
    expected = (CASES / kind / name).with_suffix(".expected").read_text()
    assert "".join(f"{d}\n" for d in diagnostics) == expected
    assert bool(errors_in(diagnostics)) == (kind == "invalid")


def test_every_invalid_case_is_paired_with_an_expectation() -> None:
    for kind in ("invalid", "valid"):
        for case in (CASES / kind).glob("*.yaml"):
            assert case.with_suffix(".expected").is_file(), case


@pytest.mark.parametrize(
    "requirement",
    ["numpy", "scikit-learn==1.5.2", "./w.whl", "/w.whl", "git+https://x/y.git", "-e .", "--index-url=http://x",
     "  ", "", " numpy", "\tnumpy", "\u3000numpy", "\x1cnumpy", "\x85-e", "~/w.whl", "{{ x }}", "- item", "é"],
)  # fmt: skip
def test_validate_refuses_exactly_the_requirements_the_runner_refuses(requirement: str) -> None:
    spec = importlib.util.spec_from_file_location("bodywork_runner", ROOT / "runner" / "bodywork_runner.py")
    assert spec is not None and spec.loader is not None
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    stage = {"executable_module_path": "s.py", "batch": {}, "requirements": [requirement]}
    pipeline = {"name": "demo", "docker_image": "python:3.12-slim", "DAG": "s"}
    text = json.dumps({"version": "1.1", "pipeline": pipeline, "stages": {"s": stage}})  # JSON is YAML
    doc = parse_yaml(text.encode(), "bodywork.yaml")
    refused = [d.message for d in errors_in(validate_document(doc)) if d.path == "stages.s.requirements[0]"]
    schema = json.loads((ROOT / "schemas" / "bodywork.schema.json").read_text())
    items = schema["$defs"]["stage"]["properties"]["requirements"]["items"]
    assert items["pattern"] == "^" + runner.REQUIREMENT.pattern
    assert bool(refused) == (runner.REQUIREMENT.match(requirement) is None)
    assert not refused or runner.REQUIREMENT_EXPECTED in refused[0]


def test_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "bodywork.yaml"
    big.write_text('version: "1.1"\n# ' + "x" * (1 << 20) + "\n")
    _, diagnostics = validate_project(big)
    assert [str(d) for d in diagnostics] == [
        f"{big}: error: file is larger than 1024 KiB; a bodywork.yaml is a few KiB"
    ]


def test_alias_bomb_is_refused_at_its_first_alias() -> None:
    # Refused at the first alias, it is never expanded (10**9 strings); speed belongs in benchmarks/.
    layers = ['a: &a ["lol"' + ', "lol"' * 9 + "]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=False):
        layers.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    _, diagnostics = check_project_text("\n".join(layers))
    assert [(d.line, d.column, d.message) for d in diagnostics] == [
        (2, 8, "invalid YAML: aliases (*a) are not supported: write the value out in full")
    ]


def check_project_text(text: str) -> tuple[object, list]:
    from bodywork_render.diagnostics import BodyworkError

    try:
        doc = parse_yaml(text.encode(), "bodywork.yaml")
    except BodyworkError as exc:
        return None, exc.diagnostics
    return doc, validate_document(doc)


def test_module_existence_is_checked_for_a_project_folder(tmp_path: Path) -> None:
    (tmp_path / "bodywork.yaml").write_text((CASES / "valid" / "minimal-1.1.yaml").read_text())
    (tmp_path / "train.py").write_text("")
    _, diagnostics = validate_project(tmp_path)
    assert [(d.line, d.column, d.path, d.message) for d in diagnostics] == [
        (13, 29, "stages.serve.executable_module_path", "'serve.py' does not exist in the project folder")
    ]


def test_a_folder_without_bodywork_yaml_is_a_clear_error(tmp_path: Path) -> None:
    _, diagnostics = validate_project(tmp_path)
    assert [str(d) for d in diagnostics] == [
        f"{tmp_path}: error: no bodywork.yaml in this folder (expected a project folder or a bodywork.yaml file)"
    ]


def test_valid_project_loads_into_the_model(tmp_path: Path) -> None:
    project = load_project(CASES / "valid" / "version-1.0-parallel.yaml")
    pipeline = project.pipeline
    assert pipeline.name == "demo" and pipeline.namespace == "demo" and pipeline.version == "1.0"
    assert pipeline.dag.steps == (("stage-1",), ("stage-2", "stage-3"))
    batch, notebook, service = (pipeline.stages[n] for n in ("stage-1", "stage-2", "stage-3"))
    assert isinstance(batch, BatchStage) and isinstance(service, ServiceStage)
    assert (batch.source_name, batch.cpu_request, batch.memory_request_mb, batch.retries) == ("stage_1", 0.5, 100, 0)
    assert notebook.module == "b.ipynb" and notebook.cpu_request == 0.25 and notebook.memory_request_mb == 256
    assert service.args == ("--n", "10") and service.port == 1 and service.replicas == 0
    assert [(s.env, s.name) for s in service.secrets] == [("KEY", "creds")]


def test_versions_1_0_and_1_1_load_into_the_same_model(tmp_path: Path) -> None:
    text = (CASES / "valid" / "minimal-1.1.yaml").read_text()
    old = tmp_path / "old.yaml"
    old.write_text(text.replace('version: "1.1"', 'version: "1.0"').replace("pipeline:", "project:"))
    new = load_project(CASES / "valid" / "minimal-1.1.yaml").pipeline
    assert load_project(old).pipeline == new._replace(version="1.0")


def test_secrets_group_prefixes_secret_names(tmp_path: Path) -> None:
    text = (
        (CASES / "valid" / "version-1.0-parallel.yaml").read_text().replace("  DAG:", "  secrets_group: Prod\n  DAG:")
    )
    (tmp_path / "secrets.yaml").write_text(text)  # a file checked alone: its modules need not exist
    pipeline = load_project(tmp_path / "secrets.yaml").pipeline
    from bodywork_render.spec.names import secret_name

    assert pipeline.secrets_group == "Prod"
    assert secret_name(pipeline.stages["stage-3"].secrets[0].name, pipeline.secrets_group) == "prod-creds"


PLAIN_AND_NOT = [
    "0644",
    "1e3",
    "1.5",
    ".5",
    "-3",
    "+3",
    "-.inf",
    "true",
    "True",
    "yes",
    "no",
    "on",
    "null",
    "~",
    "",
    "00",
    "3.",
    "+.5",
    '"1"',
    "'x'",
    "!!str 1",
    "a b",
    "[1, 2]",
    "{a: 1}",
    "0o17",
    "0x1F",
    "1_000",
    "0b11",
    "2001-12-14",
    "12:30",
    "!foo x",
]


@pytest.mark.parametrize("scalar", PLAIN_AND_NOT)
def test_fast_path_reads_every_value_as_ruamel_does(scalar: str) -> None:
    from bodywork_render.spec.load import _plain, _yaml

    text = f"version: {scalar}\nlist: [{scalar or '~'}]\n"
    assert parse_yaml(text.encode(), "f.yaml").data == _plain(_yaml().load(text))


@pytest.mark.parametrize(
    "text", ["a: &x [1]\nb: *x\n", "a: 1\na: 2\n", "<<: {a: 1}\n", "? [a]\n: b\n", "1: x\n", "a: 2001-12-14\n"]
)
def test_what_the_fast_path_cannot_read_plainly_takes_the_positioned_path(text: str) -> None:
    from bodywork_render.spec.load import _NOT_PLAIN, _plain_fast

    assert _plain_fast(text) is _NOT_PLAIN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1: a\ntrue: b\n", '1:1: error: [1]: expected a string key, got the number 1: YAML reads 1 as a number; quote'
         ' it: "1"'),
        ("~: a\nnull: b\n", "1:1: error: [null]: expected a string key, got nothing (null)"),
        ("1: a\n1: b\n", "2:1: error: invalid YAML: duplicate key '1' (first defined on line 1); each key may"
         " appear once"),
    ],
)  # fmt: skip
def test_keys_are_duplicates_only_as_yaml_compares_them(text: str, expected: str) -> None:
    _, diagnostics = check_project_text(text)
    assert [str(d) for d in diagnostics] == [f"bodywork.yaml:{expected}"]


def test_duplicate_key_names_the_line_of_its_first_definition() -> None:
    # The first key of the mapping is on line 3; the first DAG on line 5.
    text = 'version: "1.1"\npipeline:\n  name: bw\n  docker_image: x\n  DAG: a\n  DAG: b\n'
    _, diagnostics = check_project_text(text)
    assert [str(d) for d in diagnostics] == [
        "bodywork.yaml:6:3: error: invalid YAML: duplicate key 'DAG' (first defined on line 5);"
        " each key may appear once"
    ]


@pytest.mark.parametrize(
    ("scalar", "plain"),
    [("10Gi", True), ("500Mi", True), ("3.12-slim", True), ("0x1F", False), ("2024-01-01", False), ("1_000", False)],
)
def test_quantities_and_versions_take_the_fast_path_and_number_like_scalars_do_not(scalar: str, plain: bool) -> None:
    """A bodywork.yaml with `size: 10Gi` (shared storage) must not pay for ruamel on every pre-commit run."""
    from bodywork_render.spec.load import _NOT_PLAIN, _plain_fast

    fast = _plain_fast(f"a: {scalar}\n")
    assert (fast is not _NOT_PLAIN) == plain
    if plain:
        assert fast == {"a": scalar}


def test_a_claim_to_create_that_only_the_run_on_failure_stage_mounts_is_an_error(tmp_path: Path) -> None:
    from bodywork_render.spec.project import validate_project

    (tmp_path / "score.py").write_text("")
    (tmp_path / "alert.py").write_text("")
    config = tmp_path / "bodywork.yaml"
    config.write_text(
        'version: "1.1"\npipeline:\n  name: p\n  docker_image: python:3.12-slim\n  DAG: score\n'
        "  run_on_failure: alert\n  shared_storage: {size: 1Gi}\nstages:\n"
        "  score:\n    executable_module_path: score.py\n    batch: {max_completion_time_seconds: 0, retries: 0}\n"
        "  alert:\n    executable_module_path: alert.py\n    shared_storage: true\n"
        "    batch: {max_completion_time_seconds: 0, retries: 0}\n"
    )
    _, diagnostics = validate_project(tmp_path)
    (error,) = [d for d in diagnostics if d.severity == "error"]
    assert (error.line, error.path) == (14, "stages.alert.shared_storage")
    assert "runs only when a sync fails" in error.message and "claim_name" in error.message
    config.write_text(config.read_text().replace("{size: 1Gi}", "{claim_name: models}"))
    assert [d for d in validate_project(tmp_path)[1] if d.severity == "error"] == []
