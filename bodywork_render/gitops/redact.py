"""Redaction: what this package shows of URLs, credentials and git's messages.

``redact_url`` gives a URL's credential-free form, the one recorded in renders and shown.
Text redaction (``url_secrets`` and ``redact_text``) has one definition, in the stage
runner (runner/bodywork_runner.py, standard library only because it runs in the pods,
where this package is not installed): it is loaded from the shipped file on first use,
so that the package and the pods mask exactly the same things. Commands that never show
git's messages (render, validate) do not load it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from types import ModuleType
from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """The URL without any user name or password (``https://tok@host/x`` becomes ``https://host/x``)."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url


def url_secrets(urls: Iterable[str], environ: Mapping[str, str]) -> list[str]:
    """What must never be shown, longest first: the git token of ``environ`` and its HTTP header form, and
    each URL's user info and password (or its user name alone over http, https and git: a token given as user)."""
    secrets: list[str] = _runner().url_secrets(urls, environ)
    return secrets


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` without the user info of any URL (or a bare ``user:password@host``), each secret masked as ``***``."""
    redacted: str = _runner().redact_text(text, secrets)
    return redacted


@cache
def _runner() -> ModuleType:
    """The stage runner as a module of its own (not in sys.modules: nothing else imports it by name)."""
    import importlib.util

    from bodywork_render.package_data import runner_file

    spec = importlib.util.spec_from_file_location("bodywork_render._runner", runner_file())
    assert spec is not None and spec.loader is not None  # a .py file always has a spec and a loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
