"""The one way tests find the shared real data (``SPADOK_TEST_DATA``).

Outside CI a missing folder skips the test with a visible reason; under
``CI=true`` it fails, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    return Path(os.environ.get("SPADOK_TEST_DATA", ROOT.parent / "shared" / "data")).resolve()


def data(*parts: str) -> Path:
    """A path under the shared data folder, or skip (fail under CI) when absent."""
    path = data_dir().joinpath(*parts)
    if not path.exists():
        reason = f"test data not found: {path} (set SPADOK_TEST_DATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path
