"""Maintenance scripts: run from the repository root, e.g. `.venv/bin/python scripts/compile_schema.py`."""
