"""A non-editable `pip install .` into a fresh venv works from any folder, with the schema, templates and runner
inside."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_fresh_venv_non_editable_install(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PIP_CACHE_DIR": str(Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "pip"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
        env=env,
        timeout=300,
    )
    (wheel,) = wheels.glob("bodywork_render-*.whl")
    shipped = zipfile.ZipFile(wheel).namelist()
    assert "bodywork_render/schemas/bodywork.schema.json" in shipped
    assert any(name.startswith("bodywork_render/templates/") for name in shipped)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)], check=True, env=env, timeout=600)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    project = ROOT / "tests" / "cases" / "valid" / "minimal-1.1.yaml"
    result = subprocess.run(
        [str(venv / "bin" / "bodywork"), "validate", str(project)],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
    schema = subprocess.run(
        [str(venv / "bin" / "bodywork"), "schema"], capture_output=True, text=True, cwd=elsewhere, timeout=60
    )
    assert schema.stdout == (ROOT / "schemas" / "bodywork.schema.json").read_text()
