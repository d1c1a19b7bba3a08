"""Validation rules, diagnostic by diagnostic: each input with its exact report (position, path, severity, message).

Complements tests/cases (one file per error class) with the rules those files leave out: the Kubernetes names a
valid-looking value becomes, module paths, run_on_failure, keys YAML reads as numbers, half UTF-16 pairs, the range
and length messages, and overlays.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bodywork_render.spec.load import parse_yaml
from bodywork_render.spec.project import validate_project
from bodywork_render.spec.validate import format_path, validate_document, validate_overlay

BASE = """version: "1.1"
pipeline:
  name: {name}
  docker_image: python:3.12-slim
  DAG: {dag}
{extra}stages:
  train:
    executable_module_path: {module}
{train}    batch:
      max_completion_time_seconds: 60
      retries: {retries}
  serve:
    executable_module_path: serve.py
    service:
      max_startup_time_seconds: 30
      replicas: 1
      port: {port}
      ingress: {ingress}
{more}"""

EXTRA_STAGE = "    executable_module_path: t.py\n    batch: {max_completion_time_seconds: 1, retries: 0}\n"


def document(**fields: str) -> str:
    values = {"name": "demo", "dag": "train >> serve", "module": "train.py", "retries": "1", "port": "8000"}
    values |= {"ingress": "true", "extra": "", "train": "", "more": ""} | fields
    return BASE.format(**values)


def report(text: str, exists: Callable[[str], bool] | None = None) -> list[str]:
    return [str(d) for d in validate_document(parse_yaml(text.encode(), "bodywork.yaml"), exists)]


def overlay_report(text: str) -> list[str]:
    base: dict[str, Any] = {"stages": {"train": {"batch": {}}, "serve": {"service": {}}}}
    return [str(d) for d in validate_overlay(parse_yaml(text.encode(), "bodywork.prod.yaml"), base)]


DNS1123 = (
    "(expected a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit,"
    " at most 63 characters)"
)


def test_the_base_document_is_valid() -> None:
    assert report(document()) == []


def test_a_pipeline_name_the_schema_allows_but_kubernetes_does_not() -> None:
    assert report(document(name="demo.")) == [
        f"bodywork.yaml:3:9: error: pipeline.name: 'demo.' becomes 'demo-', not a valid Kubernetes name {DNS1123}"
    ]


def test_a_namespace_that_is_no_dns_label() -> None:
    assert report(document(extra="  namespace: -ns\n")) == [
        f"bodywork.yaml:6:14: error: pipeline.namespace: '-ns' becomes '-ns', not a valid Kubernetes name {DNS1123}"
    ]


def test_a_name_over_63_characters_is_too_long_for_the_schema_and_for_kubernetes() -> None:
    name = "a" * 64
    assert report(document(name=name)) == [
        f"bodywork.yaml:3:9: error: pipeline.name: {name!r} becomes {name!r}, not a valid Kubernetes name {DNS1123}",
        "bodywork.yaml:3:9: error: pipeline.name: is 64 characters long (expected at most 63)",
    ]


def test_a_secret_whose_group_prefixed_name_is_no_subdomain() -> None:
    text = document(extra="  secrets_group: grp\n", train="    secrets:\n      PASS: creds.\n")
    assert report(text) == [
        "bodywork.yaml:11:13: error: stages.train.secrets.PASS: "
        "secret 'creds.' becomes the Secret name 'grp-creds-', not a valid Kubernetes name"
    ]


def test_a_stage_name_that_normalises_to_a_trailing_dash() -> None:
    assert report(document(more="  train_:\n" + EXTRA_STAGE)) == [
        "bodywork.yaml:19:3: error: stages.train_: "
        "stage name 'train_' becomes 'train-', not a valid Kubernetes name (expected letters or digits at both ends)",
        "bodywork.yaml:19:3: warning: stages.train_: stage 'train_' is not in the DAG and will not be rendered",
    ]


def test_a_stage_name_over_63_characters() -> None:
    name = "s" * 64
    assert report(document(more=f"  {name}:\n" + EXTRA_STAGE)) == [
        f'bodywork.yaml:19:3: error: stages.{name}: name {name!r}: "{name}" is longer than 63 characters',
        f"bodywork.yaml:19:3: error: stages.{name}: "
        f"stage name {name!r} becomes {name!r}, not a valid Kubernetes name (expected letters or digits at both ends)",
        f"bodywork.yaml:19:3: warning: stages.{name}: stage {name!r} is not in the DAG and will not be rendered",
    ]


def test_a_batch_stage_outside_the_dag_may_run_on_failure() -> None:
    assert report(document(extra="  run_on_failure: alert\n", more="  alert:\n" + EXTRA_STAGE)) == []


def test_the_stage_run_on_failure_stays_out_of_the_dag() -> None:
    assert report(document(extra="  run_on_failure: train\n")) == [
        "bodywork.yaml:6:19: error: pipeline.run_on_failure: "
        "stage 'train' is in the DAG; the stage run on failure must stay out of it"
    ]


def test_an_undefined_dag_stage_suggests_the_name_differing_only_in_case() -> None:
    assert report(document(dag="TRAIN >> serve")) == [
        "bodywork.yaml:5:8: error: pipeline.DAG: stage 'TRAIN' is not defined under 'stages' (did you mean 'train'?)",
        "bodywork.yaml:7:3: warning: stages.train: stage 'train' is not in the DAG and will not be rendered",
    ]


@pytest.mark.parametrize("module", ["/abs/train.py", "\\win\\train.py", "C:/train.py", "c:train.py"])
def test_an_absolute_module_path(module: str) -> None:
    assert report(document(module=module)) == [
        f"bodywork.yaml:8:29: error: stages.train.executable_module_path: {module!r} is an absolute path "
        "(expected a path relative to the project folder)"
    ]


@pytest.mark.parametrize("module", ["../up.py", "sub/../../up.py", "sub\\..\\..\\up.py"])
def test_a_module_path_that_leaves_the_project(module: str) -> None:
    assert report(document(module=module)) == [
        f"bodywork.yaml:8:29: error: stages.train.executable_module_path: {module!r} leaves the project folder "
        "(expected a path inside it)"
    ]


def test_a_drive_letter_alone_is_absolute_and_a_one_letter_path_is_not() -> None:
    assert (
        "bodywork.yaml:8:29: error: stages.train.executable_module_path: 'C:' is an absolute path "
        "(expected a path relative to the project folder)"
    ) in report(document(module="'C:'"))
    assert (
        "bodywork.yaml:8:29: error: stages.train.executable_module_path: "
        "'x' is not allowed (expected a path ending in .py or .ipynb)"
    ) in report(document(module="x"))
    assert not [line for line in report(document(module="x")) if "absolute" in line]


def test_modules_are_looked_up_by_their_normalised_path() -> None:
    asked: list[str] = []

    def exists(path: str) -> bool:
        asked.append(path)
        return path == "serve.py"

    assert report(document(module="sub\\x\\..\\nb.ipynb"), exists) == [
        "bodywork.yaml:8:29: error: stages.train.executable_module_path: "
        "'sub\\\\x\\\\..\\\\nb.ipynb' does not exist in the project folder"
    ]
    assert asked == ["sub/nb.ipynb", "serve.py"]


def test_a_string_key_stage_that_looks_like_a_number_keeps_its_path() -> None:
    text = document(
        more="  '0':\n    executable_module_path: t.py\n    batch: {max_completion_time_seconds: 1, retries: -1}\n"
    )
    assert report(text) == [
        "bodywork.yaml:19:3: warning: stages.0: stage '0' is not in the DAG and will not be rendered",
        "bodywork.yaml:21:54: error: stages.0.batch.retries: -1 is out of range (expected at least 0)",
    ]


def test_an_empty_stage_key_keeps_its_path() -> None:
    text = document(
        more="  '':\n    executable_module_path: t.py\n    batch: {max_completion_time_seconds: 1, retries: -1}\n"
    )
    assert report(text) == [
        "bodywork.yaml:19:3: error: stages.: name '' is not allowed (expected letters, digits, '_', '-' and '.' only)",
        "bodywork.yaml:19:3: error: stages.: "
        "stage name '' becomes '', not a valid Kubernetes name (expected letters or digits at both ends)",
        "bodywork.yaml:19:3: warning: stages.: stage '' is not in the DAG and will not be rendered",
        "bodywork.yaml:21:54: error: stages..batch.retries: -1 is out of range (expected at least 0)",
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"retries": "101"}, "11:16: error: stages.train.batch.retries: 101 is out of range (expected at most 100)"),
        ({"port": "0"}, "17:13: error: stages.serve.service.port: 0 is out of range (expected at least 1)"),
        (
            {"train": "    cpu_request: 0\n"},
            "9:18: error: stages.train.cpu_request: 0 is out of range (expected more than 0)",
        ),
        (
            {"retries": '"5"'},
            "11:16: error: stages.train.batch.retries: expected a whole number, got the string '5': remove the quotes",
        ),
        (
            {"retries": '"-5"'},
            "11:16: error: stages.train.batch.retries: expected a whole number, got the string '-5': remove the quotes",
        ),
        (
            {"retries": "1.5"},
            "11:16: error: stages.train.batch.retries: "
            "expected a whole number, got the number 1.5: write a whole number such as 1",
        ),
        ({"port": "null"}, "17:13: error: stages.serve.service.port: expected a whole number, got nothing (null)"),
        ({"port": "{a: 1}"}, "17:13: error: stages.serve.service.port: expected a whole number, got a mapping"),
        ({"port": "[1]"}, "17:13: error: stages.serve.service.port: expected a whole number, got a list"),
        (
            {"name": "true"},
            "3:9: error: pipeline.name: expected a string, got the boolean true: "
            'YAML reads true as a boolean; quote it: "true"',
        ),
        (
            {"name": "12"},
            "3:9: error: pipeline.name: expected a string, got the number 12: "
            'YAML reads 12 as a number; quote it: "12"',
        ),
        ({"name": "''"}, "3:9: error: pipeline.name: must not be empty"),
        (
            {"more": "logging:\n  log_level: trace\n"},
            "20:14: error: logging.log_level: "
            "expected one of 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL', got the string 'trace'",
        ),
    ],
)
def test_schema_errors_are_explained(fields: dict[str, str], expected: str) -> None:
    assert f"bodywork.yaml:{expected}" in report(document(**fields))


@pytest.mark.parametrize(
    ("word", "fix"), [('"no"', "false"), ('"Off"', "false"), ('"On"', "true"), ('"y"', "true"), ('"True"', "true")]
)
def test_a_quoted_yaml_11_boolean_is_explained_with_its_fix(word: str, fix: str) -> None:
    value = word.strip('"')
    assert report(document(ingress=word)) == [
        "bodywork.yaml:18:16: error: stages.serve.service.ingress: expected a boolean (true or false), "
        f"got the string {value!r}: {value!r} is a YAML 1.1 boolean, which YAML 1.2 and bodywork-render read as a "
        f"string; write {fix}"
    ]


def test_an_empty_stages_mapping() -> None:
    text = 'version: "1.1"\npipeline:\n  name: demo\n  docker_image: python:3.12-slim\n  DAG: train\nstages: {}\n'
    assert report(text) == [
        "bodywork.yaml:5:8: error: pipeline.DAG: stage 'train' is not defined under 'stages'",
        "bodywork.yaml:6:9: error: stages: must hold at least one entry",
    ]


@pytest.mark.parametrize(
    ("version", "section", "message"),
    [
        (
            "1.1",
            "project",
            "project: 'project' is the section of version \"1.0\"; this file declares version '1.1': "
            "rename it to 'pipeline' or set version: \"1.0\"",
        ),
        (
            "1.0",
            "pipeline",
            "pipeline: 'pipeline' is the section of version \"1.1\"; this file declares version '1.0': "
            "rename it to 'project' or set version: \"1.1\"",
        ),
    ],
)
def test_the_other_versions_section_is_one_error_not_a_missing_one(version: str, section: str, message: str) -> None:
    text = (
        f'version: "{version}"\n{section}:\n  name: demo\n  docker_image: python:3.12-slim\n  DAG: train\n'
        "stages:\n  train:\n    executable_module_path: train.py\n"
        "    batch: {max_completion_time_seconds: 1, retries: 0}\n"
    )
    assert report(text) == [f"bodywork.yaml:2:1: error: {message}"]


def test_a_key_yaml_reads_as_a_number_is_reported_alone() -> None:
    assert report(document(more="1: x\n")) == [
        "bodywork.yaml:19:1: error: [1]: expected a string key, got the number 1: "
        'YAML reads 1 as a number; quote it: "1"'
    ]


SURROGATE = "an escape such as \\ud800 (half a UTF-16 pair) names no character; write the character itself"


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"name": '"\\ud800"'}, "3:9: error: pipeline.name"),
        ({"more": '"\\ud800": x\n'}, "19:1: error: \ud800"),
        ({"train": '    args: ["ok", "\\ud800"]\n'}, "9:18: error: stages.train.args[1]"),
    ],
)
def test_half_a_utf16_pair_is_reported_alone(fields: dict[str, str], where: str) -> None:
    assert report(document(**fields)) == [f"bodywork.yaml:{where}: {SURROGATE}"]


def test_the_top_level_must_be_a_mapping() -> None:
    assert report("") == [
        "bodywork.yaml:1:1: error: the file is empty (expected a mapping with version, pipeline and stages)"
    ]
    assert report("- a\n") == ["bodywork.yaml:1:1: error: expected a mapping at the top level, got a list"]


def test_paths_print_keys_dotted_and_indexes_in_brackets() -> None:
    assert format_path(("stages", "train", "args", 0)) == "stages.train.args[0]"
    assert format_path((3, "a")) == "[3].a"
    assert format_path(()) == ""


def test_an_empty_overlay_is_valid_and_a_list_is_not() -> None:
    assert overlay_report("") == []
    assert overlay_report("- a\n") == ["bodywork.prod.yaml:1:1: error: expected a mapping at the top level, got a list"]


def test_an_overlay_namespace_that_is_no_dns_label() -> None:
    assert overlay_report("pipeline:\n  namespace: -ns\n") == [
        "bodywork.prod.yaml:2:14: error: pipeline.namespace: '-ns' becomes '-ns', not a valid Kubernetes name"
    ]


def test_overlay_stages_must_exist_and_replicas_apply_to_services_only() -> None:
    text = "stages:\n  trian:\n    replicas: 2\n  train:\n    replicas: 2\n  serve:\n    replicas: 3\n"
    assert overlay_report(text) == [
        "bodywork.prod.yaml:2:3: error: stages.trian: "
        "stage 'trian' is not defined in bodywork.yaml (did you mean 'train'?)",
        "bodywork.prod.yaml:5:5: error: stages.train.replicas: "
        "stage 'train' is a batch stage; replicas apply to service stages only",
    ]


def test_an_overlay_with_half_a_utf16_pair_or_the_wrong_types() -> None:
    assert overlay_report('pipeline:\n  namespace: "\\ud800"\n') == [
        f"bodywork.prod.yaml:2:14: error: pipeline.namespace: {SURROGATE}"
    ]
    assert overlay_report("pipeline: {}\nstages: []\n") == [
        "bodywork.prod.yaml:2:9: error: stages: expected a mapping, got a list"
    ]


STAGE_X = "    executable_module_path: t.py\n    batch: {max_completion_time_seconds: 1, retries: %s}\n"


def test_a_missing_stages_section() -> None:
    text = 'version: "1.1"\npipeline:\n  name: demo\n  docker_image: python:3.12-slim\n  DAG: train\n'
    assert report(text) == ["bodywork.yaml:1:1: error: missing required field 'stages'"]


def test_version_10_files_get_the_semantic_checks_under_project() -> None:
    text = (
        'version: "1.0"\nproject:\n  name: demo\n  docker_image: python:3.12-slim\n  DAG: train >> nope\n'
        "stages:\n  train:\n    executable_module_path: train.py\n"
        "    batch: {max_completion_time_seconds: 1, retries: 0}\n"
    )
    assert report(text) == ["bodywork.yaml:5:8: error: project.DAG: stage 'nope' is not defined under 'stages'"]


def test_stages_that_are_not_a_mapping_are_a_type_error_only() -> None:
    text = 'version: "1.1"\npipeline:\n  name: demo\n  docker_image: python:3.12-slim\n  DAG: train\nstages: [train]\n'
    assert report(text) == ["bodywork.yaml:6:9: error: stages: expected a mapping, got a list"]


def test_a_stage_that_is_not_a_mapping_does_not_stop_the_checks() -> None:
    assert "bodywork.yaml:19:10: error: stages.other: expected a mapping, got the string 'oops'" in report(
        document(more="  other: oops\n")
    )
    assert report(document(module="5")) == [
        "bodywork.yaml:8:29: error: stages.train.executable_module_path: "
        'expected a string, got the number 5: YAML reads 5 as a number; quote it: "5"'
    ]
    assert report(document(train="    secrets: [a]\n")) == [
        "bodywork.yaml:9:14: error: stages.train.secrets: expected a mapping, got a list"
    ]


def test_every_stage_is_checked_after_one_without_a_module_or_after_a_name_collision() -> None:
    text = document(
        dag="train >> serve >> alpha >> beta",
        more="  alpha:\n    batch: {max_completion_time_seconds: 1, retries: 0}\n"
        "  beta:\n    executable_module_path: /abs/b.py\n    batch: {max_completion_time_seconds: 1, retries: 0}\n",
    )
    assert report(text) == [
        "bodywork.yaml:19:3: error: stages.alpha: missing required field 'executable_module_path'",
        "bodywork.yaml:22:29: error: stages.beta.executable_module_path: '/abs/b.py' is an absolute path "
        "(expected a path relative to the project folder)",
    ]
    collided = report(document(more="  Train:\n" + STAGE_X % 0 + "  bad_:\n" + STAGE_X % 0))
    assert (
        "bodywork.yaml:19:3: error: stages.Train: "
        "stage 'Train' and stage 'train' both become the Kubernetes name 'train'; rename one"
    ) in collided
    assert (
        "bodywork.yaml:22:3: error: stages.bad_: "
        "stage name 'bad_' becomes 'bad-', not a valid Kubernetes name (expected letters or digits at both ends)"
    ) in collided


def test_the_parent_folder_itself_leaves_the_project() -> None:
    assert (
        "bodywork.yaml:8:29: error: stages.train.executable_module_path: '..' leaves the project folder "
        "(expected a path inside it)"
    ) in report(document(module="'..'"))


def test_the_secret_name_check_uses_the_group_only_when_it_is_a_string() -> None:
    assert report(document(extra="  secrets_group: -grp\n", train="    secrets:\n      PASS: creds\n")) == [
        "bodywork.yaml:11:13: error: stages.train.secrets.PASS: "
        "secret 'creds' becomes the Secret name '-grp-creds', not a valid Kubernetes name"
    ]
    assert report(document(extra="  secrets_group: 5\n", train="    secrets:\n      PASS: creds.\n")) == [
        "bodywork.yaml:6:18: error: pipeline.secrets_group: "
        'expected a string, got the number 5: YAML reads 5 as a number; quote it: "5"',
        "bodywork.yaml:11:13: error: stages.train.secrets.PASS: "
        "secret 'creds.' becomes the Secret name 'creds-', not a valid Kubernetes name",
    ]


@pytest.mark.parametrize(
    ("retries", "got"),
    [('"on"', "the string 'on'"), ('"X5"', "the string 'X5'"), ("true", "the boolean true")],
)
def test_hints_are_only_given_where_they_apply(retries: str, got: str) -> None:
    assert report(document(retries=retries)) == [
        f"bodywork.yaml:11:16: error: stages.train.batch.retries: expected a whole number, got {got}"
    ]


def test_each_unreadable_list_item_is_reported() -> None:
    assert report(document(train='    args: ["\\ud800", "\\ud800"]\n')) == [
        f"bodywork.yaml:9:12: error: stages.train.args[0]: {SURROGATE}",
        f"bodywork.yaml:9:22: error: stages.train.args[1]: {SURROGATE}",
    ]


def test_a_number_like_key_beside_an_empty_key_keeps_its_own_path() -> None:
    assert report(document(more="  '':\n" + STAGE_X % 0 + "  '0':\n" + STAGE_X % -1)) == [
        "bodywork.yaml:19:3: error: stages.: name '' is not allowed (expected letters, digits, '_', '-' and '.' only)",
        "bodywork.yaml:19:3: error: stages.: "
        "stage name '' becomes '', not a valid Kubernetes name (expected letters or digits at both ends)",
        "bodywork.yaml:19:3: warning: stages.: stage '' is not in the DAG and will not be rendered",
        "bodywork.yaml:22:3: warning: stages.0: stage '0' is not in the DAG and will not be rendered",
        "bodywork.yaml:24:54: error: stages.0.batch.retries: -1 is out of range (expected at least 0)",
    ]


def test_an_overlay_pattern_without_a_plain_explanation_shows_the_pattern() -> None:
    assert overlay_report("pipeline:\n  ingress_host: ML.example\n") == [
        "bodywork.prod.yaml:2:17: error: pipeline.ingress_host: 'ML.example' is not allowed (expected to match "
        "^[a-z0-9.*-]+$)"
    ]


def test_an_overlay_pipeline_that_is_not_a_mapping() -> None:
    assert overlay_report("pipeline: [a]\n") == [
        "bodywork.prod.yaml:1:11: error: pipeline: expected a mapping, got a list"
    ]


def test_a_too_short_module_path_says_how_short_not_empty(tmp_path: Path) -> None:
    """executable_module_path has a minimum length of 4 ('a.py'): a shorter one is not called empty."""
    config = tmp_path / "bodywork.yaml"
    config.write_text(
        'version: "1.1"\npipeline:\n  name: demo\n  docker_image: python:3.11\n  DAG: train\nstages:\n  train:\n'
        "    executable_module_path: x\n    batch:\n      max_completion_time_seconds: 30\n      retries: 1\n"
        "    cpu_request: 0.5\n    memory_request_mb: 100\n"
    )
    messages = [d.message for d in validate_project(config)[1]]
    assert "is 1 character long (expected at least 4)" in messages
    assert "must not be empty" not in messages


def test_an_anchor_defined_twice_is_one_clear_error_not_a_warning(tmp_path: Path) -> None:
    """ruamel only warns about a reused anchor (on stderr, or as an exception under -W error)."""
    config = tmp_path / "bodywork.yaml"
    config.write_text('version: "1.1"\npipeline: &a\n  name: x\nstages: &a {}\n')
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "bodywork_render", "validate", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"{config}:4:9: error: invalid YAML: the anchor &a is defined twice: give each anchor once, or write the"
        " values out\n"
    )


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e400"])
def test_an_infinite_or_undefined_number_is_an_error_not_a_crash(value: str) -> None:
    shown = {".inf": "inf", "-.inf": "-inf", ".nan": "nan", "1e400": "inf"}[value]
    assert report(document(retries=value)) == [
        f"bodywork.yaml:11:16: error: stages.train.batch.retries: expected a whole number, got {shown}, which is not"
        " a finite number"
    ]


def test_a_try_may_last_at_most_a_year() -> None:
    text = document().replace("max_completion_time_seconds: 60", "max_completion_time_seconds: 31536001")
    assert report(text) == [
        "bodywork.yaml:10:36: error: stages.train.batch.max_completion_time_seconds: 31536001 is out of range"
        " (expected at most 31536000)"
    ]
