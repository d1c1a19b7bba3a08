"""The model's stage types: both kinds open with the same fields, and rendering does not import dataclasses."""

from __future__ import annotations

import subprocess
import sys

from bodywork_render.spec.model import BatchStage, ServiceStage

COMMON = (
    "name", "source_name", "module", "args", "requirements", "cpu_request", "memory_request_mb", "cpu_limit",
    "memory_limit_mb", "secrets", "shared_storage", "inputs", "gpus", "gpu_resource", "node_selector", "tolerations",
)  # fmt: skip


def test_every_stage_kind_opens_with_the_common_fields_and_defaults() -> None:
    for kind in (BatchStage, ServiceStage):
        assert kind._fields[: len(COMMON)] == COMMON
        assert {f: kind._field_defaults[f] for f in COMMON[3:]} == {
            f: BatchStage._field_defaults[f] for f in COMMON[3:]
        }
    assert set(BatchStage._fields) & set(ServiceStage._fields) == set(COMMON)


def test_stages_of_either_kind_with_the_same_values_differ() -> None:
    assert BatchStage("a", "a", "a.py") != ServiceStage("a", "a", "a.py")


def test_rendering_imports_no_dataclasses() -> None:
    code = (
        "import sys\n"
        "from tests.renderkit import EXAMPLE, render\n"
        "render(EXAMPLE)\n"
        "print('dataclasses' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False"]
