"""Whether the suite runs in CI, where a missing tool or data set fails a test instead of skipping it."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set to anything but empty, 0 or false (as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> NoReturn:
    """Skip the test on a developer's machine; fail it in CI, where .ci/run provides everything the suite needs."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: .ci/run must provide it)", pytrace=False)
    pytest.skip(reason)


# CI runs this many times the examples of each property test, from a new seed each run (tests/conftest.py).
CI_EXAMPLES_FACTOR = 4


def examples(n: int) -> int:
    """A property test's example count: ``n`` in the (derandomized) development loop, more in CI."""
    return n * CI_EXAMPLES_FACTOR if in_ci() else n
