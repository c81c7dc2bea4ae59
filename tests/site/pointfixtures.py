"""A point cloud ingested with its octree of tiles, for the page and browser tests."""

from __future__ import annotations

import pytest

from tests.testdata import data

TRIM = ("pointclouds", "las_laspy_tests", "autzen_trim.laz")


@pytest.fixture(name="tiled_capture")
def tiled_capture_fixture(ingest, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """autzen_trim.laz (110,000 real points) ingested with the octree threshold below its
    size and small leaves, so that it has several levels of tiles."""
    from spadok.core.derive import octree

    monkeypatch.setattr(octree, "POINT_LOD_MIN_POINTS", 100_000)
    monkeypatch.setattr(octree, "POINT_LOD_LEAF_POINTS", 3_000)
    return ingest(data(*TRIM), title="Autzen stadium")
