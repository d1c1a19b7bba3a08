"""The rules of a stage's serving and scheduling settings that the JSON Schema cannot say.

Autoscaling (a replica range with at least one target) and tolerations (their fields depend on each other, as the
Kubernetes API server checks them). Pure: a stage's mapping in, problems out as (path inside the mapping, message);
``validate`` places them in the file. The mapping may be any shape the schema rejected: what is not a mapping or a
list is skipped, its schema error says enough.
"""

from __future__ import annotations

TYPE_CHECKING = False  # without importing typing: `bodywork validate` imports this module (see diagnostics.py)
if TYPE_CHECKING:
    from typing import Any

    from bodywork_render.spec.load import PathKey

Problem = tuple["PathKey", str]


def autoscaling_problems(spec: Any, where: PathKey) -> list[Problem]:
    """A replica range upside down, and no utilisation target, of an ``autoscaling`` mapping found at ``where``."""
    if not isinstance(spec, dict):
        return []
    found: list[Problem] = []
    low, high = spec.get("min_replicas"), spec.get("max_replicas")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        found.append(((*where, "max_replicas"), f"max_replicas {high} is below min_replicas {low}"))
    if "target_cpu_utilization" not in spec and "target_memory_utilization" not in spec:
        found.append(
            (where, "autoscaling needs a target: target_cpu_utilization, target_memory_utilization or both (in %)")
        )
    return found


def toleration_problems(tolerations: Any, where: PathKey) -> list[Problem]:
    """Tolerations at ``where`` that the API server refuses: a value with operator Exists, no key without it,
    tolerationSeconds with an effect other than NoExecute."""
    found: list[Problem] = []
    for index, toleration in enumerate(tolerations) if isinstance(tolerations, list) else ():
        if not isinstance(toleration, dict):
            continue
        at = (*where, index)
        operator = toleration.get("operator", "Equal")
        if operator == "Exists" and toleration.get("value"):
            found.append(((*at, "value"), "a toleration with operator Exists takes no value (it matches any)"))
        if not toleration.get("key") and operator != "Exists":
            found.append((at, "a toleration without a key must have operator Exists (it then tolerates every taint)"))
        if "tolerationSeconds" in toleration and toleration.get("effect") != "NoExecute":
            found.append(((*at, "tolerationSeconds"), "tolerationSeconds needs effect NoExecute"))
    return found
