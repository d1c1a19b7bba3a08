"""Rendering: a pipeline planned into Kubernetes objects, filled into templates, written as manifests, kustomize or a
Helm chart."""
