"""The route forms of a service stage: an Ingress (the whole path, or ingress-nginx's rewrite) or an HTTPRoute.

A stage is routed at ``/<pipeline>/<stage>``. A plain Ingress forwards that path whole (the pods
get the prefix as BODYWORK_ROUTE_PREFIX to strip it); ingress-nginx's rewrite and the HTTPRoute's
URLRewrite strip it on the way, so an app that answers at ``/`` works unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from bodywork_render.spec.model import Gateway, IngressSettings

REWRITE_TARGET = "nginx.ingress.kubernetes.io/rewrite-target"
"""ingress-nginx's annotation: the path the backend gets, with the capture groups of the rule's path."""
REWRITE_VALUE = "/$2"
REWRITE_SUFFIX = "(/|$)(.*)"
"""What follows the quoted prefix in a rewritten Ingress path: group 2 is the rest of the path after the prefix."""
ROOT_REWRITE_PATH = "/()(.*)"
"""The rewritten Ingress path of the prefix ``/``: group 2 is the rest of the path after the ``/``."""
_GO_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


def regex_quote(text: str) -> str:
    """``text`` as a regular expression that matches it literally, escaped as Go's regexp.QuoteMeta (Helm's
    regexQuoteMeta) escapes it, so the chart and the manifests write the same path."""
    return _GO_META.sub(r"\\\1", text)


def rewrite_path(prefix: str) -> str:
    """The regular expression of a rewritten Ingress path routed at ``prefix`` (a trailing ``/`` left out, as the
    chart leaves it out), whose group 2 is what the backend gets after ``/``."""
    trimmed = prefix.removesuffix("/")
    return regex_quote(trimmed) + REWRITE_SUFFIX if trimmed else ROOT_REWRITE_PATH


def ingress_route(settings: IngressSettings, prefix: str, host: str | None) -> dict[str, Any]:
    """The path, pathType, extra annotations and TLS of a stage's Ingress routed at ``prefix``."""
    annotations = dict(settings.annotations)
    if settings.nginx_rewrite:
        annotations[REWRITE_TARGET] = REWRITE_VALUE
        path, path_type = rewrite_path(prefix), "ImplementationSpecific"
    else:
        path, path_type = prefix, "Prefix"
    tls = []
    if settings.tls_secret:
        hosts = list(settings.tls_hosts) or ([host] if host else [])
        tls = [{"hosts": hosts, "secretName": settings.tls_secret} if hosts else {"secretName": settings.tls_secret}]
    return {"path": path, "path_type": path_type, "annotations": annotations, "tls": tls}


def hostless_tls(settings: IngressSettings, host: str | None) -> str | None:
    """The warning for TLS without a host: its entry names none, which cert-manager skips (no certificate)."""
    if not settings.tls_secret or settings.tls_hosts or host:
        return None
    return (
        f"pipeline.ingress.tls (secret {settings.tls_secret!r}) names no hosts and there is no ingress host: the "
        "Ingresses' TLS entry lists none, so cert-manager issues no certificate for it (\"has no hosts "
        'specified"); give tls.hosts, or an ingress host (ingress_host or --ingress-host)'
    )


def strips_prefix(settings: IngressSettings, gateway: Gateway | None) -> bool:
    """Whether the route takes ``/<pipeline>/<stage>`` off the path before the stage sees it."""
    return gateway is not None or settings.nginx_rewrite


def http_route(gateway: Gateway, prefix: str, host: str | None) -> dict[str, Any]:
    """The parent reference, hostnames and rule of a stage's HTTPRoute (without its backend)."""
    parent: dict[str, Any] = {"name": gateway.name}
    if gateway.namespace:
        parent["namespace"] = gateway.namespace
    if gateway.section_name:
        parent["sectionName"] = gateway.section_name
    return {
        "parent": parent,
        "hostnames": [host] if host else [],
        "match": {"path": {"type": "PathPrefix", "value": prefix}},
        "filter": {
            "type": "URLRewrite",
            "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
        },
    }
