"""Verification of rendered objects: the Kubernetes schemas and pod security."""
