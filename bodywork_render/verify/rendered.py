"""Rendered objects verified as a whole: strict Kubernetes schemas, the restricted pod profile, our hardening."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bodywork_render.verify.kubernetes import schema_problems
from bodywork_render.verify.podsecurity import hardening_violations, restricted_violations


def rendered_problems(objects: Sequence[Mapping[str, Any]], k8s_version: str) -> list[str]:
    """Every problem of rendered objects, as text: the schemas of ``k8s_version``, then pod security, by object."""
    problems = [str(p) for p in schema_problems(objects, k8s_version)]
    for obj in objects:
        problems += [str(p) for p in restricted_violations(obj) + hardening_violations(obj)]
    return problems
