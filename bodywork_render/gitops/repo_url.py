"""The repository URL the stages fetch: one a cluster can fetch, or one clear error.

Every pod's init container runs ``git fetch URL`` inside the cluster, where the folders of
the machine that rendered do not exist and ssh has no key unless a Secret brings one.
Accepted: ``https://``, ``git://``, ``http://`` (but not with ``--git-secret``: the
credentials would cross the network in clear text), ``ssh://user@host/path`` and the
scp-like ``user@host:path``. A local path or ``file://`` URL needs ``--allow-local-repo``;
ssh without ``--git-secret`` needs ``--public-ssh-repo``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.redact import SSH_SCHEMES, redact_url

if TYPE_CHECKING:
    from bodywork_render.render.options import RenderOptions

Transport = Literal["https", "http", "git", "ssh", "local"]

EXPECTED = "https://host/path, ssh://user@host/path, user@host:path or git://host/path"
_SSH: Transport = "ssh"
_SCHEMES: dict[str, Transport] = {"https": "https", "http": "http", "git": "git", "file": "local"}
_SCHEMES.update(dict.fromkeys(SSH_SCHEMES, _SSH))
# git reads `[user@]host:path` (a colon before any slash) as ssh.
_SCP_LIKE = re.compile(r"(?:(?P<user>[^@/:]*)@)?(?P<host>[^@/:]*):(?P<path>.*)", re.DOTALL)
_HOST = re.compile(r"[a-z0-9]([a-z0-9._-]*[a-z0-9])?|\[[0-9a-f:.]+\]", re.IGNORECASE)


def check_repo_url(url: str, given_as: str, options: RenderOptions) -> Transport:
    """How the pods fetch ``url`` (``given_as``: ``--repo-url``, ``--source`` or "the checkout's origin");
    BodyworkError, saying what is expected, when a cluster cannot fetch it with ``options``."""
    shown = f"{given_as} {redact_url(url)!r}"
    transport = _transport(url, shown)
    if transport == "local" and not options.allow_local_repo:
        raise BodyworkError(
            f"{shown} is a local path to git, not a URL a cluster can fetch (the pods fetch inside the cluster,"
            f" where this machine's folders are not): expected {EXPECTED}"
            + ("" if given_as.startswith("--") else ", given as --repo-url")  # not a flag: it came from the checkout
            + "; or add --allow-local-repo when the pods can read that path"
        )
    if transport == "ssh" and not options.git_secret and not options.public_ssh_repo:
        raise BodyworkError(
            f"{shown} is an ssh URL and no --git-secret is given, so the pods have no key to fetch with:"
            " give --git-secret NAME (a Secret with key 'ssh-privatekey', and 'known_hosts' for hosts other than"
            " GitHub), or the https:// URL of a public repository, or add --public-ssh-repo when the host lets"
            " anyone fetch over ssh without a key"
        )
    if transport == "http" and options.git_secret:
        raise BodyworkError(
            f"{shown} is plain http and --git-secret is given: the credentials would cross the network in clear"
            " text; give the https:// URL"
        )
    return transport


def _transport(url: str, shown: str) -> Transport:
    """The transport git uses for ``url``; BodyworkError when it is not one that names a repository a pod can reach."""
    bad = f"{shown} is not a URL the stages can fetch"
    if not url.isprintable():
        raise BodyworkError(f"{bad} (expected printable characters only)")
    if not url.strip():
        raise BodyworkError(f"{bad}: expected {EXPECTED}")
    if "://" not in url:
        scp = _SCP_LIKE.fullmatch(url) if ":" in url.partition("/")[0] else None
        if scp is None:
            return "local"
        if not scp["user"]:  # ssh would log in with the pod's user name, which no git host knows
            raise BodyworkError(f"{bad}: an ssh URL names the user the host expects, e.g. git@host:path")
        if not _HOST.fullmatch(scp["host"]) or not scp["path"].strip("/") or " " in url:
            raise BodyworkError(f"{bad}: expected user@host:path (or {EXPECTED})")
        return "ssh"
    parts = urlsplit(url)
    transport = _SCHEMES.get(parts.scheme.lower())
    if transport is None:
        raise BodyworkError(f"{bad}: unknown scheme {parts.scheme!r}; expected {EXPECTED}")
    if transport == "local":
        return transport
    try:
        port = parts.port
    except ValueError:
        raise BodyworkError(f"{bad}: its port is not a number from 0 to 65535") from None
    host = parts.netloc.rpartition("@")[2]
    if port is not None:
        host = host.rpartition(":")[0]
    if not _HOST.fullmatch(host) or not parts.path.strip("/") or " " in url:
        raise BodyworkError(f"{bad}: expected {EXPECTED}")
    if transport == "ssh" and not parts.username:
        raise BodyworkError(f"{bad}: an ssh URL names the user the host expects, e.g. ssh://git@host/path")
    return transport
