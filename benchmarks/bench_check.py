"""Benchmark: output validation throughput, ``schema_problems`` against ``kubernetes_validate.validate``.

Generates a synthetic pipeline's worth of rendered objects (Jobs, Deployments,
Services, Ingresses, ServiceAccounts, Flux Kustomizations), then times:

- ``schema_problems`` on all of them, cold (schemas loaded and compiled) and warm;
- ``kubernetes_validate.validate(obj, version, strict=True)`` per object on a sample.

Every figure is the median of repeated runs; the ratio is per-object time of
the baseline over per-object time of ``schema_problems`` (warm), measured in the
same process. Run: ``.venv/bin/python benchmarks/bench_check.py [--objects N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bodywork_render.verify.kubernetes import DEFAULT_K8S_VERSION, schema_problems  # noqa: E402

RUN = "0123456789abcdef0123456789abcdef01234567"


def _labels(stage: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": stage,
        "app.kubernetes.io/instance": f"bench-{stage}",
        "app.kubernetes.io/part-of": "bench",
        "app.kubernetes.io/managed-by": "bodywork-render",
    }


def _pod_spec(stage: str, restart: str) -> dict[str, Any]:
    hardened = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    resources = {"requests": {"cpu": "500m", "memory": "512M"}, "limits": {"memory": "512M"}}
    mounts = [{"name": "workspace", "mountPath": "/workspace"}, {"name": "tmp", "mountPath": "/tmp"}]
    return {
        "serviceAccountName": "bench",
        "automountServiceAccountToken": False,
        "restartPolicy": restart,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [
            {
                "name": "fetch",
                "image": "ghcr.io/example/bodywork-runner:0.1.0",
                "args": ["fetch", "--repo", "https://example.invalid/project.git", "--commit", RUN],
                "securityContext": hardened,
                "resources": {"requests": {"cpu": "100m", "memory": "64M"}, "limits": {"memory": "64M"}},
                "volumeMounts": mounts,
            }
        ],
        "containers": [
            {
                "name": "stage",
                "image": "python:3.12-slim",
                "command": ["python3", "/workspace/.runner/run.py"],
                "args": ["--stage", stage, "--module", f"stages/{stage}.py"],
                "env": [
                    {"name": "BODYWORK_STAGE", "value": stage},
                    {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "prod-api", "key": "API_KEY"}}},
                ],
                "securityContext": hardened,
                "resources": resources,
                "volumeMounts": mounts,
            }
        ],
        "volumes": [{"name": "workspace", "emptyDir": {}}, {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
    }


def make_objects(count: int) -> list[dict[str, Any]]:
    """About ``count`` objects: a ServiceAccount, then per stage a Job, or a Deployment, Service and Ingress."""
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "bench", "namespace": "bench"},
            "automountServiceAccountToken": False,
        }
    ]
    index = 0
    while len(objects) < count:
        stage = f"stage-{index:04d}"
        meta = {
            "name": stage,
            "namespace": "bench",
            "labels": _labels(stage),
            "annotations": {"argocd.argoproj.io/sync-wave": str(index // 10)},
        }
        if index % 2 == 0:
            objects.append(
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": {**meta, "name": f"{stage}-1a2b3c4d"},
                    "spec": {
                        "backoffLimit": 2,
                        "activeDeadlineSeconds": 3600,
                        "template": {"metadata": {"labels": _labels(stage)}, "spec": _pod_spec(stage, "Never")},
                    },
                }
            )
        else:
            spec = _pod_spec(stage, "Always")
            spec["containers"][0]["ports"] = [{"name": "http", "containerPort": 8000}]
            spec["containers"][0]["startupProbe"] = {
                "tcpSocket": {"port": "http"},
                "periodSeconds": 5,
                "failureThreshold": 60,
            }
            spec["containers"][0]["readinessProbe"] = {"tcpSocket": {"port": "http"}, "periodSeconds": 10}
            objects.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": meta,
                    "spec": {
                        "replicas": 2,
                        "progressDeadlineSeconds": 600,
                        "selector": {"matchLabels": {"app.kubernetes.io/name": stage}},
                        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                        "template": {
                            "metadata": {"labels": _labels(stage), "annotations": {"bodywork/run": RUN}},
                            "spec": spec,
                        },
                    },
                }
            )
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": meta,
                    "spec": {
                        "type": "ClusterIP",
                        "selector": {"app.kubernetes.io/name": stage},
                        "ports": [{"name": "http", "port": 8000, "targetPort": "http"}],
                    },
                }
            )
            objects.append(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "Ingress",
                    "metadata": meta,
                    "spec": {
                        "ingressClassName": "nginx",
                        "rules": [
                            {
                                "http": {
                                    "paths": [
                                        {
                                            "path": f"/bench/{stage}",
                                            "pathType": "Prefix",
                                            "backend": {"service": {"name": stage, "port": {"number": 8000}}},
                                        }
                                    ]
                                }
                            }
                        ],
                    },
                }
            )
        if index % 10 == 9:
            step = index // 10
            objects.append(
                {
                    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                    "kind": "Kustomization",
                    "metadata": {"name": f"bench-step-{step}", "namespace": "flux-system"},
                    "spec": {
                        "interval": "10m",
                        "path": f"./step-{step}",
                        "prune": True,
                        "wait": True,
                        "sourceRef": {"kind": "GitRepository", "name": "bench"},
                        "dependsOn": [{"name": f"bench-step-{step - 1}"}] if step else [],
                    },
                }
            )
        index += 1
    return objects[:count]


def _median_seconds(action: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(count: int, sample_size: int, repeats: int) -> dict[str, float]:
    """Seconds per object of schema_problems (warm, and on the sample) and of kubernetes_validate on the sample."""
    # The figures are about the offline path: keep a kubeconform on PATH out of it.
    os.environ["PATH"] = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if not (Path(p) / "kubeconform").exists()
    )
    objects = make_objects(count)
    start = time.perf_counter()
    problems = schema_problems(objects)
    cold = time.perf_counter() - start
    if problems:
        raise SystemExit("\n".join(str(problem) for problem in problems[:20]))
    warm = _median_seconds(lambda: schema_problems(objects), repeats)

    import kubernetes_validate

    builtin = [obj for obj in objects if "fluxcd.io" not in obj["apiVersion"]]  # the baseline knows no CRDs
    step = max(1, len(builtin) // sample_size)
    sample = builtin[::step][:sample_size]

    def baseline() -> None:
        for obj in sample:
            kubernetes_validate.validate(obj, DEFAULT_K8S_VERSION + ".0", strict=True)

    return {
        "objects": len(objects),
        "sample": len(sample),
        "cold": cold,
        "warm": warm,
        "per_check": warm / len(objects),
        "per_check_sample": _median_seconds(lambda: schema_problems(sample), repeats) / len(sample),
        "per_baseline": _median_seconds(baseline, max(1, repeats // 2)) / len(sample),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the table of figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=3000)
    parser.add_argument("--sample", type=int, default=60, help="objects timed with kubernetes_validate")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    m = measure(args.objects, args.sample, args.repeats)
    rows = [
        ("objects", f"{m['objects']:.0f}"),
        ("schema_problems, all, cold (load + compile)", f"{m['cold'] * 1e3:.1f} ms"),
        ("schema_problems, all, warm (median)", f"{m['warm'] * 1e3:.1f} ms"),
        ("schema_problems per object (warm)", f"{m['per_check'] * 1e6:.1f} us"),
        ("schema_problems per object (sample, warm)", f"{m['per_check_sample'] * 1e6:.1f} us"),
        (f"kubernetes_validate.validate per object ({m['sample']:.0f} sampled)", f"{m['per_baseline'] * 1e3:.2f} ms"),
        ("speed-up on the sample (baseline / schema_problems)", f"{m['per_baseline'] / m['per_check_sample']:.0f}x"),
        ("all objects at the baseline's rate (estimate)", f"{m['per_baseline'] * m['objects']:.1f} s"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value:>12}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
