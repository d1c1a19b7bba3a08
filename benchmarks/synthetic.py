"""A synthetic bodywork project of N stages: parallel steps, batch and service stages, secrets, ingress."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_project(folder: Path, stages: int, width: int = 4) -> Path:
    """A project folder with ``stages`` stages in steps of up to ``width`` parallel stages; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stage.py").write_text("print('hello')\n")
    specs = {}
    steps: list[list[str]] = []
    for index in range(stages):
        name = f"stage_{index:04d}"
        if index % width == 0:
            steps.append([])
        steps[-1].append(name)
        spec = {
            "executable_module_path": "stage.py",
            "args": ["--index", str(index)],
            "requirements": ["numpy==2.1.0"],
            "cpu_request": 0.25,
            "memory_request_mb": 128,
            "secrets": {"API_TOKEN": "api", "DB_PASSWORD": "db"},
        }
        if index % 3 == 2:
            spec["service"] = {"max_startup_time_seconds": 60, "replicas": 2, "port": 8000, "ingress": index % 2 == 0}
        else:
            spec["batch"] = {"max_completion_time_seconds": 600, "retries": 1}
        specs[name] = spec
    config = {
        "version": "1.1",
        "pipeline": {
            "name": "synthetic",
            "docker_image": "python:3.12-slim",
            "DAG": " >> ".join(", ".join(step) for step in steps),
            "secrets_group": "bench",
        },
        "stages": specs,
        "logging": {"log_level": "INFO"},
    }
    (folder / "bodywork.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder
