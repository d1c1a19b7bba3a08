"""The `bodywork` command as a user runs it: a real process, exit codes, output, never a traceback."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from bodywork_render import __version__
from bodywork_render.cli.app import add
from bodywork_render.cli.params import Command, Param, parse
from bodywork_render.flags import UNSET
from tests.renderkit import COMMIT, EXAMPLE, PROJECTS, REPO_URL, ROOT, own_stderr

CASES = Path(__file__).parent / "cases"
SOURCE = ["--repo-url", REPO_URL, "--ref", COMMIT]


def bodywork(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh interpreter, as the console script does."""
    return subprocess.run(
        [sys.executable, "-m", "bodywork_render", *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_version() -> None:
    result = bodywork("--version")
    assert (result.returncode, result.stdout) == (0, f"bodywork-render {__version__}\n")


def test_validate_prints_one_line_per_valid_project_unless_quiet() -> None:
    files = ["valid/minimal-1.1.yaml", "valid/version-1.0-parallel.yaml"]
    result = bodywork("validate", *files, cwd=CASES)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "",
        "valid/minimal-1.1.yaml: valid: pipeline demo, 2 stages in 2 DAG steps (train >> serve)\n"
        "valid/version-1.0-parallel.yaml: valid: pipeline demo, 3 stages in 2 DAG steps"
        " (stage_1 >> stage_2,stage_3)\n",
    )
    quiet = bodywork("validate", "--quiet", *files, cwd=CASES)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    report = bodywork("validate", "--format", "json", *files, cwd=CASES)
    assert (report.returncode, report.stdout, report.stderr) == (0, "[]\n", "")


def test_the_validate_line_counts_the_stages_the_dag_renders() -> None:
    result = bodywork("validate", "valid/stage-not-in-dag-warning.yaml", cwd=CASES)
    assert (result.returncode, result.stderr.splitlines()[-1]) == (
        0,
        "valid/stage-not-in-dag-warning.yaml: valid: pipeline demo, 1 stage in 1 DAG step (serve), 1 not in the DAG",
    )


def test_validate_reports_every_file_and_exits_1() -> None:
    result = bodywork(
        "validate", "invalid/out-of-range.yaml", "invalid/alias.yaml", "valid/minimal-1.1.yaml", cwd=CASES
    )
    assert result.returncode == 1
    assert (
        result.stderr
        == (CASES / "invalid" / "out-of-range.expected").read_text()
        + (CASES / "invalid" / "alias.expected").read_text()
        + "valid/minimal-1.1.yaml: valid: pipeline demo, 2 stages in 2 DAG steps (train >> serve)\n"
    )


def test_validate_json_report() -> None:
    result = bodywork("validate", "--format", "json", "invalid/run-on-failure-service.yaml", cwd=CASES)
    assert result.returncode == 1
    assert json.loads(result.stdout) == [
        {
            "file": "invalid/run-on-failure-service.yaml",
            "line": 6,
            "column": 19,
            "path": "pipeline.run_on_failure",
            "severity": "error",
            "message": "stage 'serve' must be a batch stage to run on failure",
        }
    ]


def test_validate_defaults_to_the_current_folder(tmp_path: Path) -> None:
    result = bodywork("validate", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        result.stderr
        == ".: error: no bodywork.yaml in this folder (expected a project folder or a bodywork.yaml file)\n"
    )


def test_usage_error_exits_2() -> None:
    result = bodywork("validate", "--no-such-flag")
    assert result.returncode == 2 and "No such option" in result.stderr


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xff\xfe",
        b"{",
        b"[[[[",
        b"- - - -",
        b"!!python/object:os.system ls",
        b"? [a]\n: b",
        b"&a !!python/object:os.system version: ",  # a tagged key: found by the fuzz test in CI
    ],
)
def test_garbage_never_gives_a_traceback(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "bodywork.yaml").write_bytes(content)
    result = bodywork("validate", str(tmp_path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stderr.startswith(str(tmp_path / "bodywork.yaml"))


def test_schema_command_prints_the_shipped_schema() -> None:
    result = bodywork("schema")
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "no telemetry" in schema["$defs"]["pipeline"]["properties"]["usage_stats"]["description"]


def test_validate_takes_the_fast_path_without_typer() -> None:
    probe = (
        "import sys\n"
        "from bodywork_render.cli.main import main\n"
        f"sys.argv = ['bodywork', 'validate', {str(CASES / 'valid' / 'minimal-1.1.yaml')!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n"
        "    print(exit.code, 'typer' in sys.modules, 'pydantic' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stdout == "0 False False\n"


def test_validate_help_goes_through_typer() -> None:
    result = bodywork("validate", "--help")
    assert result.returncode == 0 and "--format" in result.stdout


# -- one declaration: the start-up parser and typer read the same flags ---------------------------------------------


def _commands() -> list[Command]:
    from bodywork_render.cli import publish, refresh, render, validate

    return [validate.COMMAND, render.COMMAND, publish.COMMAND, refresh.COMMAND, *_gitops_commands()]


def _gitops_commands() -> list[Command]:
    from bodywork_render.cli import gitops

    return list(gitops.COMMANDS)


def _words(param: Param) -> list[str]:
    """Command-line words that give ``param`` a value other than its default (twice when it repeats)."""
    if param.kind is bool:
        assert param.flag is not None
        return [param.flag.negative or "--no-such-form"] if param.default else [param.flag.name]
    if param.choices:
        texts = [next(c for c in param.choices if c != param.default)]
    elif param.kind is int:
        texts = [str(param.default + 7)]
    elif param.flag is not None and param.flag.parse is not None:
        texts = ["team=ml", "tier=gold"]
    else:
        texts = [f"given/{param.name}"] * (2 if param.many else 1)
    if param.flag is None:
        return texts
    return [word for text in texts for word in (param.flag.name, text)]


def _required(command: Command) -> list[str]:
    return [w for p in command.params() if p.default is UNSET for w in _words(p)]


def _via_typer(command: Command, argv: list[str]) -> tuple[int, dict[str, Any], str]:
    """Exit code, the values typer gave the command, and its output."""
    seen: dict[str, Any] = {}

    def record(values: dict[str, Any]) -> int:
        seen.update(values)
        return 0

    app = typer.Typer()
    app.callback()(lambda: None)
    add(app, command._replace(run=record))
    result = CliRunner().invoke(app, [command.name, *argv])
    return result.exit_code, seen, result.output


def _via_fast_path(command: Command, argv: list[str]) -> dict[str, Any] | None:
    values = parse(argv, command)
    if values is None:
        return None
    seen: dict[str, Any] = {}
    command._replace(run=lambda v: seen.update(v) or 0).invoke(values)
    return seen


@pytest.mark.parametrize("command", _commands(), ids=lambda c: c.name)
def test_every_flag_gives_the_same_values_through_typer_and_the_fast_path(command: Command) -> None:
    required = _required(command)
    lines = [required] + [[*required, *_words(p)] for p in command.params() if p.default is not UNSET]
    if command.check is not None:  # render: --package with the format it needs
        lines.append([*required, "--format", "helm", "--package", "dist"])
    for argv in lines:
        fast = _via_fast_path(command, argv)
        code, typed, output = _via_typer(command, argv)
        if argv == [*required, "--package", "given/package"]:
            assert fast is None and code == 2 and "needs --format helm" in output
            continue
        assert code == 0, (argv, output)
        assert fast == typed, argv
        assert fast != _via_fast_path(command, required) or argv == required, f"{argv} changed nothing"


@pytest.mark.parametrize(
    "argv,message",
    [
        (["render", "--out", "o", "--format", "xml"], "Invalid value for '--format'"),
        (["render", "--out", "o", "--engine", "spinnaker"], "Invalid value for '--engine'"),
        (["render", "--out", "o", "--no-such-flag"], "No such option: --no-such-flag"),
        (["render", "p"], "Missing option '--out'"),
        (["render", "--out", "o", "--check=yes"], "Option '--check' does not take a value"),
        (["render", "--out", "o", "--package", "d"], "Invalid value for --package: needs --format helm"),
        (["render", "a", "b", "--out", "o"], "Got unexpected extra argument(s) (b)"),
        (["validate", "--format", "xml"], "Invalid value for '--format'"),
        (["validate", "--no-such-flag"], "No such option: --no-such-flag"),
        (["publish", "--to", "x", "--max-attempts", "0"], "Invalid value for '--max-attempts'"),
        (
            ["publish", "--to", "x", "--format", "helm"],
            "'helm' is not one of 'manifests', 'kustomize', 'argo-workflows'",
        ),
        (
            ["refresh", "--source", "s", "--to", "x", "--format", "helm"],
            "'helm' is not one of 'manifests', 'kustomize', 'argo-workflows'",
        ),
    ],
)
def test_what_the_fast_path_refuses_reaches_typers_usage_error(argv: list[str], message: str) -> None:
    from bodywork_render.cli.main import fast_path

    assert fast_path(argv) is None
    result = bodywork(*argv)
    assert result.returncode == 2 and message in " ".join(result.stderr.replace("│", " ").split()), result.stderr


@pytest.mark.parametrize(
    "command,offered",
    [
        (
            "render",
            "<manifests|kustomize|helm|argo-workflows>  What to write. manifests: one file per object. kustomize: a"
            " folder per DAG step plus Flux Kustomizations. helm: a Helm chart. argo-workflows: the batch stages as an"
            " Argo Workflows WorkflowTemplate and its runs. [default: manifests]",
        ),
        (
            "publish",
            "<manifests|kustomize|argo-workflows>  What to write. manifests: one file per object. kustomize: a folder"
            " per DAG step plus Flux Kustomizations. argo-workflows: the batch stages as an Argo Workflows"
            " WorkflowTemplate and its runs. [default: manifests]",
        ),
        (
            "refresh",
            "<manifests|kustomize|argo-workflows>  What to write. manifests: one file per object. kustomize: a folder"
            " per DAG step plus Flux Kustomizations. argo-workflows: the batch stages as an Argo Workflows"
            " WorkflowTemplate and its runs. [default: manifests]",
        ),
    ],
)
def test_help_offers_only_the_formats_a_command_writes(command: str, offered: str) -> None:
    text = " ".join(help_at(80, command).split())
    assert f"--format {' '.join(offered.split())} --" in text
    assert text.count("--format ") == 1


def help_at(columns: int, *argv: str) -> str:
    """The help of a command as a terminal of this width shows it; hyphenated words broken at a line end are whole."""
    result = subprocess.run(
        [sys.executable, "-m", "bodywork_render", *argv, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": str(columns)},
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert max(len(line) for line in result.stdout.splitlines()) <= columns
    return re.sub(r"(?<=\w)-\n +(?=\w)", "-", result.stdout)


def _all_commands() -> list[Command]:
    from bodywork_render.cli import run, schema

    return [*_commands(), schema.COMMAND, *run.COMMANDS]


@pytest.mark.parametrize("command", _all_commands(), ids=lambda c: c.name)
def test_help_reads_whole_at_80_columns(command: Command) -> None:
    argv = ["gitops", command.name] if command in _gitops_commands() else [command.name]
    text = " ".join(help_at(80, *argv).split())
    assert "…" not in text
    for param in command.params():
        assert " ".join(param.help.split()) in text, param.name
        if param.flag is not None:
            assert param.flag.spelling.replace("/", " / ") in text
    if command.name == "render":
        assert "[default: python:3.12-bookworm]" in text
        assert "--namespace-object / --no-namespace-object Render the Namespace object." in text


def test_the_lists_of_commands_read_whole_at_80_columns() -> None:
    text = " ".join(help_at(80).split())
    assert "…" not in text
    assert (
        "run-stage Run one stage on this machine exactly as its pod would: fetch the commit, then run the stage"
        " with the runner. run Run the whole pipeline on this machine in DAG order, from the project folder's"
        " current files. init Create a new project from the example pipeline (train a scikit-learn model, serve"
        " it over HTTP). gitops Print the objects that put a deployment repository to work: the in-cluster"
        " refresher, a Flux or an Argo CD bootstrap." in text
    )
    assert (
        "flux A Flux GitRepository and the Kustomization that applies the per-step Kustomizations of <path>/flux."
        " argocd" in " ".join(help_at(80, "gitops").split())
    )


@pytest.mark.parametrize("command", ["validate", "render", "publish", "refresh"])
def test_help_is_typers(command: str) -> None:
    result = bodywork(command, "--help")
    assert result.returncode == 0 and f" {command} [OPTIONS]" in result.stdout.splitlines()[0]
    assert "--format" in result.stdout


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["validate"], {"paths": (), "report": "text"}),
        (["validate", "a", "--format", "json", "b"], {"paths": (Path("a"), Path("b")), "report": "json"}),
        (["validate", "--format=json", "--", "-odd"], {"paths": (Path("-odd"),), "report": "json"}),
        (["render", "--out", "o", "--namespace", "a", "--namespace", "b"], {"out": Path("o"), "namespace": "b"}),
        (["render", "--out", "--check"], None),  # a flag where a value belongs: typer decides
        (["render", "--out"], None),
        (["render", "--out", "o", "--help"], None),
    ],
)
def test_the_fast_path_takes_plain_command_lines(argv: list[str], expected: dict[str, Any] | None) -> None:
    from bodywork_render.cli import render, validate

    command = validate.COMMAND if argv[0] == "validate" else render.COMMAND
    values = parse(argv[1:], command)
    if expected is None:
        assert values is None
    else:
        assert values is not None and {name: values[name] for name in expected} == expected


def test_render_takes_the_fast_path_without_typer(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from bodywork_render.cli.main import main\n"
        f"sys.argv = ['bodywork', 'render', {str(EXAMPLE)!r}, '--out', {str(tmp_path / 'out')!r}, *{SOURCE!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    print(exit.code, 'typer' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert (result.stdout, own_stderr(result.stderr)) == ("0 False\n", f"rendered 11 objects into {tmp_path / 'out'}\n")


@pytest.mark.parametrize(
    "extra", [[], ["--format", "kustomize", "--engine", "flux"], ["--format", "helm", "--no-namespace-object"]]
)
def test_fast_path_and_typer_write_the_same_tree(tmp_path: Path, extra: list[str]) -> None:
    out = tmp_path / "out"
    args = ["render", str(EXAMPLE), "--out", str(out), *SOURCE, *extra]
    fast = bodywork(*args)
    assert fast.returncode == 0, fast.stderr
    via_typer = (
        "import sys\nfrom bodywork_render.cli.app import app\n"
        f"sys.argv = ['bodywork', *{[*args, '--check']!r}]\n"
        "try:\n    app()\nexcept SystemExit as exit:\n    print(exit.code)\n"
    )
    checked = subprocess.run([sys.executable, "-c", via_typer], capture_output=True, text=True, timeout=60)
    warnings = "".join(line for line in fast.stderr.splitlines(keepends=True) if line.startswith("warning: "))
    assert (checked.stdout, checked.stderr) == ("0\n", warnings)


def test_the_reproduce_command_parses_back_to_the_same_project_pin_environment_and_options() -> None:
    """Every render option spelled by reproduce_command is read back by render's own parser."""
    from bodywork_render.cli import render
    from bodywork_render.gitops.source import Source
    from bodywork_render.render.options import RenderOptions, flags_of, reproduce_command

    options = RenderOptions(
        format="kustomize", engine="kubectl", namespace="ns x", runner_image="r:1", namespace_object=False,
        ingress_class="nginx", ingress_host="ml.example.com", git_secret="git", flux_source="src",
        deploy_path="./envs/a", k8s_version="1.36", allow_local_repo=True, public_ssh_repo=True,
        scheduled_run="2026-12-04T20:00:00Z",
    )  # fmt: skip
    assert {
        name for name in flags_of(RenderOptions) if getattr(options, name) == RenderOptions._field_defaults[name]
    } == set()
    command = reproduce_command(Source(REPO_URL, COMMIT, "ml/my project"), options, "prod")
    words = shlex.split(command.replace("<this folder>", "o"))
    assert words[:3] == ["bodywork", "render", "ml/my project"]
    values = parse(words[2:], render.COMMAND)
    assert values is not None
    assert (values["path"], values["repo_url"], values["ref"], values["env"]) == (
        Path("ml/my project"),
        REPO_URL,
        COMMIT,
        "prod",
    )
    assert RenderOptions.from_flags(values) == options


def test_validate_gives_a_project_file_the_verdict_of_its_folder(tmp_path: Path) -> None:
    # pre-commit passes file names: nf/bodywork.yaml must be checked as the project nf is
    (tmp_path / "nf").mkdir()
    (tmp_path / "nf" / "bodywork.yaml").write_text((CASES / "valid" / "minimal-1.1.yaml").read_text())
    (tmp_path / "nf" / "train.py").write_text("")
    missing = "stages.serve.executable_module_path: 'serve.py' does not exist in the project folder\n"
    folder = bodywork("validate", "nf", cwd=tmp_path)
    file = bodywork("validate", "nf/bodywork.yaml", cwd=tmp_path)
    assert (folder.returncode, folder.stderr) == (1, f"nf/bodywork.yaml:13:29: error: {missing}")
    assert (file.returncode, file.stderr) == (1, f"nf/bodywork.yaml:13:29: error: {missing}")


# -- environments: an overlay is validated as `render --env` loads it ------------------------------------------------

DEV = "pipeline:\n  replicas: 2\nstages:\n  serv:\n    replicas: 1\n"
DEV_ERRORS = (
    "bodywork.dev.yaml:2:3: error: pipeline.replicas: unknown field 'replicas' (expected one of: docker_image,"
    " gateway, image_pull_secrets, ingress, ingress_class, ingress_host, namespace, network_policy, schedule,"
    " secrets_group, shared_storage)\n"
    "bodywork.dev.yaml:4:3: error: stages.serv: stage 'serv' is not defined in bodywork.yaml (did you mean 'serve'?)\n"
)
SUMMARY = "pipeline Churn.Model, 5 stages in 3 DAG steps (prepare >> train_a,train_b >> serve,report)\n"


@pytest.fixture()
def with_overlays(tmp_path: Path) -> Path:
    """A valid project with a valid overlay (prod) and an invalid one (dev)."""
    shutil.copytree(PROJECTS / "parallel-secrets-ingress", tmp_path / "p")
    (tmp_path / "p" / "bodywork.prod.yaml").write_text(
        "pipeline:\n  namespace: ml-prod\nstages:\n  serve:\n    replicas: 4\n"
    )
    (tmp_path / "p" / "bodywork.dev.yaml").write_text(DEV)
    return tmp_path / "p"


def test_validate_checks_an_overlay_given_by_name_against_its_schema_and_project(with_overlays: Path) -> None:
    valid = bodywork("validate", "bodywork.prod.yaml", cwd=with_overlays)
    assert (valid.returncode, valid.stderr) == (0, f"bodywork.prod.yaml: valid: overlay of bodywork.yaml, {SUMMARY}")
    invalid = bodywork("validate", "bodywork.dev.yaml", cwd=with_overlays)
    assert (invalid.returncode, invalid.stderr) == (1, DEV_ERRORS)
    # pre-commit passes every changed file: the project and its overlays, each problem once
    both = bodywork("validate", "bodywork.yaml", "bodywork.dev.yaml", "bodywork.dev.yaml", cwd=with_overlays)
    assert (both.returncode, both.stderr) == (1, DEV_ERRORS + f"bodywork.yaml: valid: {SUMMARY}")
    # as `render --env` loads it: the project first, whose errors stop it there
    config = with_overlays / "bodywork.yaml"
    config.write_text(config.read_text().replace("retries: 3", "retries: -3"))
    broken = bodywork("validate", "bodywork.prod.yaml", cwd=with_overlays)
    assert (broken.returncode, broken.stderr) == (
        1,
        "bodywork.yaml:19:16: error: stages.prepare.batch.retries: -3 is out of range (expected at least 0)\n",
    )
    config.rename(with_overlays / "elsewhere.yaml")
    alone = bodywork("validate", "bodywork.prod.yaml", cwd=with_overlays)
    assert (alone.returncode, alone.stderr) == (
        1,
        "bodywork.prod.yaml: error: no bodywork.yaml beside this overlay of environment 'prod'\n",
    )


def test_validate_env_applies_the_overlay_and_takes_the_fast_path(with_overlays: Path) -> None:
    from bodywork_render.cli import validate

    assert parse([".", "--env", "dev"], validate.COMMAND) == {
        "paths": (Path("."),), "report": "text", "quiet": False, "env": "dev"
    }  # fmt: skip
    dev = bodywork("validate", ".", "--env", "dev", cwd=with_overlays)
    assert (dev.returncode, dev.stderr) == (1, DEV_ERRORS)
    prod = bodywork("validate", "--env", "prod", cwd=with_overlays)
    assert (prod.returncode, prod.stderr) == (0, f"bodywork.prod.yaml: valid: overlay of bodywork.yaml, {SUMMARY}")
    missing = bodywork("validate", "--env", "qa", cwd=with_overlays)
    assert (missing.returncode, missing.stderr) == (
        1,
        "bodywork.qa.yaml: error: no overlay for environment 'qa' (expected this file beside bodywork.yaml)\n",
    )


def test_render_points_from_an_overlay_to_its_project_and_env(with_overlays: Path) -> None:
    result = bodywork("render", "bodywork.prod.yaml", "--out", "out", *SOURCE, cwd=with_overlays)
    assert (result.returncode, result.stderr) == (
        1,
        "bodywork.prod.yaml: error: an overlay, not a project: give its project folder with --env prod\n",
    )


def test_the_validate_hook_takes_a_project_file_and_its_overlays_and_the_render_check_runs_on_every_commit() -> None:
    from bodywork_render.spec.overlay import OVERLAY_NAME
    from bodywork_render.spec.project import CONFIG_NAMES

    hook = "bodywork-validate"
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    # Any staged file may be a stage's input (requirements.txt, data, shared code): the render check always runs.
    render_check = hooks["bodywork-render-check"]
    assert render_check["always_run"] is True and "files" not in render_check
    names = [
        "bodywork.yaml", "bodywork.yml", "sub/bodywork.prod.yaml", "bodywork.eu-west-2.yaml", "bodywork.prod.yml",
        "bodywork.Prod.yaml", "bodywork.-x.yaml", "bodywork.a.b.yaml", "mybodywork.yaml", "bodywork.yaml.bak",
    ]  # fmt: skip
    taken = [name for name in names if re.search(hooks[hook]["files"], name)]
    assert taken == [
        n for n in names if n.rpartition("/")[2] in CONFIG_NAMES or OVERLAY_NAME.match(n.rpartition("/")[2])
    ]
    assert taken == ["bodywork.yaml", "bodywork.yml", "sub/bodywork.prod.yaml", "bodywork.eu-west-2.yaml"]
