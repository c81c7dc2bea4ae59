"""The octree of point tiles: every point once, bounds that hold, counts that add up,
the same bytes every time, and the pipeline making it only for big clouds."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spadok.core.derive import octree
from spadok.core.derive.octree import make_point_lod, read_tile
from spadok.core.formats import las
from spadok.core.formats.registry import load
from spadok.core.pointstream import colour_rule
from tests.core.pointclouds import tiled_laz
from tests.testdata import data


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiled_laz(tmp_path_factory.mktemp("octree") / "tiled.laz", 1_100_000, seed=5)


def build(path: Path, out: Path, **kwargs: Any) -> tuple[dict[str, Any], bytes]:
    asset = load(path)
    rule = colour_rule(asset.point_facts, asset.points, "Z")
    files = make_point_lod(asset.stream, asset.point_facts, rule, out, **kwargs)
    assert [f.role for f in files] == ["web-lod", "web-lod-data"]
    return json.loads(files[0].path.read_text()), files[1].path.read_bytes()


def source(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every point (float64) and its colour, read whole by laspy, independently of spadok."""
    import laspy

    c = laspy.read(path)
    xyz = np.stack([c.x, c.y, c.z], axis=1)
    rgb = np.stack([c.red, c.green, c.blue], axis=1)
    rgb = (rgb >> 8 if rgb.max() > 255 else rgb).astype(np.uint8)
    return xyz, rgb


def coarse_cells(local: np.ndarray, index: dict[str, Any], bits: int) -> np.ndarray:
    """Integer cells of ``2**-bits`` of the cube's edge, from local coordinates."""
    size = index["cube"]["size"]
    rel = (local - np.asarray(index["cube"]["min"])) / size * 2**bits
    return np.clip(np.floor(rel + 1e-9), 0, 2**bits - 1).astype(np.int64)


def check_index(index: dict[str, Any], blob: bytes, xyz: np.ndarray, rgb: np.ndarray) -> None:
    nodes = {n["key"]: n for n in index["nodes"]}
    assert index["points"] == len(xyz) == sum(n["points"] for n in nodes.values())
    assert sum(lv["points"] for lv in index["levels"]) == len(xyz)
    assert index["data"]["bytes"] == len(blob)
    assert "0-0-0-0" in nodes and nodes["0-0-0-0"]["points"] > 0
    size = index["cube"]["size"]
    cube_min = np.asarray(index["cube"]["min"])
    # Local coordinates: the cloud's centre is the origin, no georeference is kept.
    centre = (xyz.min(axis=0) + xyz.max(axis=0)) / 2
    local_src = xyz - centre
    decoded, colours = [], []
    ranges = []
    for key, node in nodes.items():
        d, x, y, z = (int(v) for v in key.split("-"))
        if d:  # the parent exists and names this child
            parent = nodes[f"{d - 1}-{x >> 1}-{y >> 1}-{z >> 1}"]
            bit = (x & 1) | (y & 1) << 1 | (z & 1) << 2
            assert parent["children"] & (1 << bit)
        assert bin(node["children"]).count("1") == sum(
            f"{d + 1}-{2 * x + (i & 1)}-{2 * y + (i >> 1 & 1)}-{2 * z + (i >> 2)}" in nodes
            for i in range(8)
        )
        if not node["points"]:
            continue
        pos, col = read_tile(index, node, blob)
        lo, hi = (np.asarray(b) for b in node["bounds"])
        assert np.all(pos >= lo - 1e-9) and np.all(pos <= hi + 1e-9), key
        edge = size / 2**d
        corner = cube_min + np.array([x, y, z]) * edge
        assert np.all(pos >= corner - 1e-9) and np.all(pos < corner + edge + 1e-9), key
        if node["children"]:  # an inner node keeps at most one point per grid cell
            cells = coarse_cells(pos, index, d + 7)
            assert len(np.unique(cells, axis=0)) == len(cells), key
        decoded.append(pos)
        colours.append(col)
        ranges.append((node["offset"], node["offset"] + node["bytes"]))
    ranges.sort()
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ranges)), "tiles overlap"
    # Every point of the file in exactly one tile: the multisets of (cell, colour)
    # are equal at the root's quantisation (1/65,536 of the cube), the coarsest any tile uses.
    got = np.concatenate(decoded)
    got_rgb = np.concatenate(colours)

    def rows(local: np.ndarray, colour: np.ndarray) -> np.ndarray:
        cells = coarse_cells(local, index, 16)
        table = np.concatenate([cells, colour.astype(np.int64)], axis=1)
        return table[np.lexsort(table.T[::-1])]

    assert np.array_equal(rows(got, got_rgb), rows(local_src, rgb))


def test_octree_holds_every_point_once_within_its_bounds(cloud: Path, tmp_path: Path) -> None:
    index, blob = build(cloud, tmp_path / "a", leaf_points=8_000)
    xyz, rgb = source(cloud)
    check_index(index, blob, xyz, rgb)
    assert len(index["levels"]) >= 4
    spacing = [lv["spacing"] for lv in index["levels"]]
    assert all(b == pytest.approx(a / 2) for a, b in itertools.pairwise(spacing))
    assert index["up"] == "Z" and index["attributes"][0]["name"] == "position"


def test_octree_is_deterministic_and_bounded_by_its_buckets(cloud: Path, tmp_path: Path) -> None:
    """Twice the same bytes; and built bucket by bucket on disk (buckets far smaller
    than the cloud) it is just as consistent, with no more points held at once."""
    first = build(cloud, tmp_path / "a", leaf_points=8_000, bucket_points=120_000)
    again = build(cloud, tmp_path / "b", leaf_points=8_000, bucket_points=120_000)
    assert first == again
    builder_stats = json.loads((tmp_path / "a" / "web-lod.json").read_text())
    xyz, rgb = source(cloud)
    check_index(builder_stats, first[1], xyz, rgb)


def test_small_buckets_keep_memory_to_a_bucket(cloud: Path, tmp_path: Path) -> None:
    asset = load(cloud)
    rule = colour_rule(asset.point_facts, asset.points, "Z")
    files = make_point_lod(
        asset.stream,
        asset.point_facts,
        rule,
        tmp_path,
        leaf_points=4_000,
        bucket_points=50_000,
        chunk_size=25_000,
    )
    # No bucket, chunk or merge of eight nodes ever held more than a bucket's worth.
    assert files[0].stats["max_resident_points"] <= 50_000
    assert files[0].stats["points"] == 1_100_000


def test_real_files_of_every_las_flavour_tile(tmp_path: Path) -> None:
    for name in ("autzen_trim.laz", "simple1_4.las", "simple.copc.laz", "vegetation_1_3.las"):
        path = data("pointclouds", "las_laspy_tests", name)
        index, blob = build(path, tmp_path / name, leaf_points=1_000)
        import laspy

        c = laspy.read(path)
        xyz = np.stack([c.x, c.y, c.z], axis=1)
        dims = set(c.point_format.dimension_names)
        if {"red", "green", "blue"} <= dims:
            _, rgb = source(path)
            check_index(index, blob, xyz, rgb)
        else:
            assert index["points"] == len(xyz)
            assert index["colour"] in {"intensity", "height"}


def test_pipeline_adds_point_tiles_only_for_big_clouds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spadok.core import pipeline

    path = data("pointclouds", "las_laspy_tests", "autzen_trim.laz")
    roles = {d.role for d in pipeline.process(path, tmp_path / "small").derivatives}
    assert "web-points" in roles and "web-lod" not in roles  # 110,000 < the policy's minimum
    monkeypatch.setattr(octree, "POINT_LOD_MIN_POINTS", 100_000)
    monkeypatch.setattr(octree, "POINT_LOD_LEAF_POINTS", 5_000)
    monkeypatch.setattr(las, "CHUNK_SIZE", 30_000)
    done = pipeline.process(path, tmp_path / "big")
    found = {d.role: d for d in done.derivatives}
    assert {"web-lod", "web-lod-data", "web-points", "thumbnail"} <= set(found)
    index = json.loads(found["web-lod"].path.read_text())
    assert index["points"] == done.stats["points"] == 110_000
    assert index["up"] == "Z" and index["unit"] == "ft"
    assert "web.lod" in done.timings
    # The tiles are in the file's axes and local: the survey's coordinates are not in them.
    assert max(abs(v) for v in index["bounds"][1]) < 2_000
