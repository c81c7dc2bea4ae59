"""Fuzzing fixtures: the sandboxes the format readers run in, shared by the session.

``fuzz_long`` tests run only when asked for (``pytest -m fuzz_long tests/fuzz``):
their Hypothesis runs take thousands of examples.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.sandbox import Sandbox


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "fuzz_long" in (config.getoption("markexpr", "") or ""):
        return
    long = [item for item in items if item.get_closest_marker("fuzz_long")]
    if long:
        config.hook.pytest_deselected(items=long)
        items[:] = [item for item in items if not item.get_closest_marker("fuzz_long")]


@pytest.fixture(scope="session")
def load_box() -> Iterator[Sandbox]:
    """Detect, read and measure under a 1.5 GiB address-space cap, 20 s per input."""
    with Sandbox(mode="load", memory_mb=1536, timeout_s=20) as box:
        yield box


@pytest.fixture(scope="session")
def process_box() -> Iterator[Sandbox]:
    """The whole pipeline (web copies, thumbnail) under a 2 GiB data cap, 60 s per input."""
    with Sandbox(mode="process", memory_mb=2048, timeout_s=60) as box:
        yield box
