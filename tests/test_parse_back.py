"""The parse-back loader builds exactly what PyYAML's safe loader builds, on rendered objects and on odd YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bodywork_render.render.manifests import parse_back_loader

ODD = [
    "a: &x [1, 2]\nb: *x\n",  # an alias: the very same list
    "base: &b {k: v}\nc:\n  <<: *b\n  d: 1\n",  # a merge key
    "=: 1\n",  # the value key
    "a: 2001-12-14\nb: !!binary aGVsbG8=\nc: 0o17\nd: 017\ne: 1_000\nf: .inf\ng: ~\nh: yes\ni: 1:20\n",
    "a: !!str 1\nb: !!int '7'\nc: !!map {x: 1}\nd: !!seq [1]\n",
    "? [1, 2]\n: x\n",  # an unhashable key
    "a: &r [*r]\n",  # a recursive alias
    "!!omap [a: 1]\n",
    "a: !!set {x, y}\n",
    "x: !foo 1\n",  # an unknown tag
    "a: 1\na: 2\n",  # a duplicate key: the last wins
    "--- 1\n--- {a: [b, {c: d}]}\n...\n",
]


def _load(text: str, loader: Any) -> Any:
    try:
        return list(yaml.load_all(text, Loader=loader))
    except yaml.YAMLError as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("text", ODD)
def test_odd_yaml_loads_as_the_safe_loader_loads_it(text: str) -> None:
    safe = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    expected, got = _load(text, safe), _load(text, parse_back_loader())
    assert repr(got) == repr(expected)
    if text.startswith("a: &x"):
        assert got[0]["a"] is got[0]["b"]


def test_rendered_files_load_as_the_safe_loader_loads_them() -> None:
    files = sorted((Path(__file__).parent / "golden").rglob("*.yaml"))
    assert files
    safe = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert _load(text, parse_back_loader()) == _load(text, safe), path
