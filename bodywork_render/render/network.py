"""NetworkPolicy rules: who may connect to the pipeline's pods and where they may connect, as Kubernetes writes them.

Every pod of the pipeline is selected by one policy that admits nothing, and, when ``egress``
narrows them, lets it connect only there and to DNS; each service stage adds a policy that admits
connections to its port: a routed stage (an Ingress or HTTPRoute) from the namespace of the proxies
that forward to it when one is named, else (and always for a stage without a route) from any
namespace. Policies add up, so a stage's policy opens only its own port.
"""

from __future__ import annotations

from typing import Any

from bodywork_render.spec.model import NetworkPolicy

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""The label every namespace carries with its own name (set by the API server)."""
DNS_PORT = 53
EVERY_ADDRESS = ("0.0.0.0/0", "::/0")
"""The IP blocks of every IPv4 and every IPv6 address: who may reach a Service exposed outside the cluster."""


def dns_rule() -> dict[str, Any]:
    """The egress rule that keeps name resolution working wherever the cluster's DNS runs."""
    return {"ports": [{"protocol": "UDP", "port": DNS_PORT}, {"protocol": "TCP", "port": DNS_PORT}]}


def default_egress(policy: NetworkPolicy) -> list[dict[str, Any]]:
    """The egress rules the chart narrows to when asked, even if ``egress`` is not given: DNS alone, then."""
    return egress_rules(policy) or [dns_rule()]


def egress_rules(policy: NetworkPolicy) -> list[dict[str, Any]] | None:
    """The egress rules of the pipeline's pods, DNS first; None when outgoing connections stay open."""
    if policy.egress is None:
        return None
    rules = [dns_rule()]
    for entry in policy.egress:
        if entry.cidr is not None:
            block: dict[str, Any] = {"cidr": entry.cidr}
            if entry.except_cidrs:
                block["except"] = list(entry.except_cidrs)
            peer: dict[str, Any] = {"ipBlock": block}
        else:
            peer = {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: entry.namespace}}}
        rule: dict[str, Any] = {"to": [peer]}
        if entry.ports:
            rule["ports"] = [{"protocol": "TCP", "port": port} for port in entry.ports]
        rules.append(rule)
    return rules


def service_ingress(policy: NetworkPolicy, port: int, routed: bool) -> list[dict[str, Any]]:
    """The ingress rules of a service stage's pods: its port, from the named namespace when the stage is ``routed``
    (only the proxies there reach it), else from any namespace (in-cluster clients are its only way in)."""
    named = policy.ingress_namespace if routed else None
    selector = {"matchLabels": {NAMESPACE_NAME_LABEL: named}} if named else {}
    return [{"from": [{"namespaceSelector": selector}], "ports": [{"protocol": "TCP", "port": port}]}]
