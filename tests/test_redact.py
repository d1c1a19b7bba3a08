"""Redaction: one table of cases that the package and the stage runner (run standalone, as in the pods) both pass."""

from __future__ import annotations

import base64
import importlib.util
from types import ModuleType

import pytest

from bodywork_render.gitops.redact import redact_text, redact_url, url_secrets
from bodywork_render.package_data import runner_file

TOKEN = "ghp_t0ken"
HEADER = "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()

# (text, expected): the git token of the environment is TOKEN in every case.
CASES = [
    ("https://user:pa%40ss@example.com/org/x.git", "https://example.com/org/x.git"),
    ("https://user:p@ss@example.com/org/x.git", "https://example.com/org/x.git"),
    ("HTTPS://User:Pass@Example.com/x", "HTTPS://Example.com/x"),
    (
        "fatal: unable to access 'https://tok@example.com/x/': 403",
        "fatal: unable to access 'https://example.com/x/': 403",
    ),
    ('"https://a:b@h/x"', '"https://h/x"'),
    ("ssh://git@example.com:22/org/x.git", "ssh://example.com:22/org/x.git"),
    ("git@github.com:org/x.git", "git@github.com:org/x.git"),
    ("git://127.0.0.1:9418/x.git", "git://127.0.0.1:9418/x.git"),
    ("https://example.com/a@b and https://example.com?q=a@b", "https://example.com/a@b and https://example.com?q=a@b"),
    ("fatal: unable to look up user:s3cr3t@127.0.0.1 (port 9418)", "fatal: unable to look up 127.0.0.1 (port 9418)"),
    ("host 'tok:x-oauth@[::1]' refused", "host '[::1]' refused"),
    ("mail me at dev@example.com", "mail me at dev@example.com"),
    (f"password={TOKEN} then {TOKEN}@host", "password=*** then host"),
    (f"Authorization: {HEADER}", "Authorization: ***"),
    ("nothing secret here", "nothing secret here"),
]


def standalone_runner() -> ModuleType:
    """The runner file loaded on its own, as a pod runs it: no package on the path it needs."""
    spec = importlib.util.spec_from_file_location("runner_under_test", runner_file())
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_the_package_and_the_runner_redact_alike(text: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BODYWORK_GIT_TOKEN", TOKEN)
    monkeypatch.delenv("BODYWORK_GIT_USERNAME", raising=False)
    assert redact_text(text, url_secrets([], {"BODYWORK_GIT_TOKEN": TOKEN})) == expected
    assert standalone_runner().redact(text) == expected


def test_the_package_uses_the_runners_definition() -> None:
    from bodywork_render.gitops import redact

    assert redact._runner().__file__ == str(runner_file())


def test_the_secrets_of_urls_are_masked_wherever_they_appear() -> None:
    url = "git://user:s3cret-Tok3n@127.0.0.1:9/deploy.git"
    secrets = url_secrets(
        [url, "https://s3cret-Tok3nx@host/r.git", "ssh://git@host/r.git"], {"BODYWORK_GIT_TOKEN": "envtoken"}
    )
    text = "unable to look up user:s3cret-Tok3n@127.0.0.1; https://a:b@h/x; s3cret-Tok3nx; envtoken; git@host"
    assert redact_text(text, secrets) == "unable to look up 127.0.0.1; https://h/x; ***; ***; git@host"
    assert "git" not in secrets  # an ssh user name is no secret


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://tok@host/x.git", "https://host/x.git"),
        ("https://u:p@ss@host/x.git", "https://host/x.git"),
        ("ssh://git@host:22/x.git", "ssh://host:22/x.git"),
        ("git@host:org/x.git", "git@host:org/x.git"),
        ("https://host/a@b", "https://host/a@b"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
