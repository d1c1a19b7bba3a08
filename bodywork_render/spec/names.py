"""Names: the one place that turns bodywork names into Kubernetes object names.

Normalisation (documented in the README): lower-case, then '_' and '.' become '-'.
bodywork's stage ``stage_1`` becomes ``stage-1``. A derived name longer than
Kubernetes allows is shortened deterministically: a prefix, '-', and a short hash
of the full name, so it never collides with another shortened name.
"""

from __future__ import annotations

import re

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
"""A DNS-1123 subdomain, unanchored (the schemas' patterns build on it)."""
DNS1123_SUBDOMAIN = re.compile(f"^{SUBDOMAIN}$")
LABEL_MAX = 63
SUBDOMAIN_MAX = 253
HASH_LENGTH = 8


def normalise(name: str) -> str:
    """bodywork name to Kubernetes name: lower-case, '_' and '.' replaced by '-'."""
    return name.lower().replace("_", "-").replace(".", "-")


def is_label(name: str) -> bool:
    """A DNS-1123 label: what namespaces and most names must be."""
    return len(name) <= LABEL_MAX and DNS1123_LABEL.match(name) is not None


def is_dns1035_label(name: str) -> bool:
    """A DNS-1035 label (starts with a letter): what Service names must be."""
    return len(name) <= LABEL_MAX and DNS1035_LABEL.match(name) is not None


def is_subdomain(name: str) -> bool:
    """A DNS-1123 subdomain: what Secret names must be."""
    return len(name) <= SUBDOMAIN_MAX and DNS1123_SUBDOMAIN.match(name) is not None


def digest(*parts: str, length: int = HASH_LENGTH) -> str:
    """A short, stable hex digest of the parts."""
    import hashlib

    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:length]


def fit(name: str, suffix: str = "", limit: int = LABEL_MAX) -> str:
    """``name + suffix`` within ``limit`` characters, shortened as prefix + '-' + hash when too long."""
    if len(name) + len(suffix) <= limit:
        return name + suffix
    keep = limit - len(suffix) - HASH_LENGTH - 1
    prefix = name[:keep].rstrip("-")
    return f"{prefix}-{digest(name)}{suffix}"


def of_stage(base: str, stage: str, suffix: str = "", limit: int = LABEL_MAX) -> str:
    """The name of an object of a stage (or a part such as ``runner``): ``<base>-<stage><suffix>``, fitted.

    ``base`` is the pipeline's name; in a Helm chart, the release's full name (its ``_helpers.tpl`` shortens the
    same way), so two pipelines, or two releases of one chart, in one namespace never share a name.
    """
    return fit(f"{base}-{stage}", suffix, limit)


def job_name(base: str, stage: str, spec_digest: str) -> str:
    """The name of a batch stage's Job: ``<base>-<stage>-<hash of everything the Job runs>``."""
    return of_stage(base, stage, f"-{spec_digest}")


def of_folder(path: str) -> str | None:
    """The name of a folder of a deployment repository, unique per folder: its folders, last first, joined by '-',
    without a leading ``envs`` (``envs/prod/demo`` gives ``demo-prod``, ``envs/default/demo`` ``demo-default``);
    None for the repository's root."""
    parts = [part for part in path.replace("\\", "/").split("/") if part not in ("", ".")]
    if parts[:1] == ["envs"] and len(parts) > 1:
        parts = parts[1:]
    name = "-".join(normalise(part) for part in reversed(parts))
    name = re.sub(r"[^a-z0-9-]+", "-", name).strip("-")
    return fit(name) if name else None


def secret_name(secret: str, group: str | None) -> str:
    """The Kubernetes Secret a stage reads: ``<group>-<secret>``, or ``<secret>`` without a group."""
    full = f"{group}-{secret}" if group else secret
    return fit(normalise(full), limit=SUBDOMAIN_MAX)
