"""Big point clouds for tests, made from a real aerial LiDAR tile in the shared data.

Copies of ``autzen_trim.laz`` (110,000 points, RGB, intensity, classes) are laid
side by side on a grid and jittered, written chunk by chunk as LAZ.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.testdata import data

SOURCE = ("pointclouds", "las_laspy_tests", "autzen_trim.laz")


def tiled_laz(out: Path, points: int, seed: int = 3) -> Path:
    """A LAZ of exactly ``points`` points: jittered, shifted copies of the real tile."""
    import laspy

    source = laspy.read(data(*SOURCE))
    n = len(source.points)
    copies = -(-points // n)
    side = int(np.ceil(np.sqrt(copies)))
    header = laspy.LasHeader(point_format=source.header.point_format, version="1.2")
    header.scales = source.header.scales
    header.offsets = source.header.offsets
    span = (np.asarray(source.header.maxs) - np.asarray(source.header.mins)) / np.asarray(
        source.header.scales
    )
    rng = np.random.default_rng(seed)
    written = 0
    with laspy.open(out, mode="w", header=header, do_compress=True) as writer:
        for i in range(copies):
            take = min(n, points - written)
            tile = source.points[:take].copy()
            tile.X = tile.X + (i % side) * int(span[0] + 100) + rng.integers(-3, 4, take)
            tile.Y = tile.Y + (i // side) * int(span[1] + 100) + rng.integers(-3, 4, take)
            tile.Z = tile.Z + int(200 * np.sin(i))
            writer.write_points(tile)
            written += take
    return out
