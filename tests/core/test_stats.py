"""Statistics of meshes and point clouds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from spadok.core.formats.base import Asset, PointSet
from spadok.core.stats import asset_stats, mesh_stats, point_stats


def test_unit_cube() -> None:
    stats = mesh_stats(trimesh.Scene(trimesh.creation.box()), "m")
    assert stats["surface_area"] == pytest.approx(6.0)
    assert stats["volume"] == pytest.approx(1.0)
    assert stats["watertight"] is True and stats["manifold"] is True
    assert stats["components"] == 1
    assert stats["vertices"] == 8 and stats["triangles"] == 12
    assert stats["dimensions_m"] == pytest.approx([1, 1, 1])


def test_open_mesh() -> None:
    box = trimesh.creation.box()
    open_box = trimesh.Trimesh(box.vertices, box.faces[:-1], process=False)
    stats = mesh_stats(trimesh.Scene(open_box), None)
    assert stats["volume"] is None and stats["watertight"] is False
    assert stats["dimensions_m"] is None and stats["surface_area_m2"] is None
    assert stats["surface_area"] == pytest.approx(5.5)


def test_inconsistent_winding_is_not_watertight() -> None:
    box = trimesh.creation.box()
    faces = box.faces.copy()
    faces[0] = faces[0][::-1]
    stats = mesh_stats(trimesh.Scene(trimesh.Trimesh(box.vertices, faces, process=False)), "m")
    assert stats["watertight"] is False and stats["manifold"] is True


def test_non_manifold_edge() -> None:
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]], dtype=float)
    f = np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]])
    stats = mesh_stats(trimesh.Scene(trimesh.Trimesh(v, f, process=False)), None)
    assert stats["manifold"] is False


def test_seams_do_not_break_watertightness() -> None:
    """A box with split vertices (as glTF exporters write) is still closed."""
    box = trimesh.creation.box()
    split = trimesh.Trimesh(
        box.vertices[box.faces].reshape(-1, 3), np.arange(36).reshape(-1, 3), process=False
    )
    stats = mesh_stats(trimesh.Scene(split), "mm")
    assert stats["watertight"] is True
    assert stats["volume_m3"] == pytest.approx(1e-9)


def test_instances_and_transforms_count() -> None:
    scene = trimesh.Scene()
    box = trimesh.creation.box()
    scene.add_geometry(box, node_name="a", geom_name="box")
    scene.add_geometry(
        box,
        node_name="b",
        geom_name="box",
        transform=trimesh.transformations.translation_matrix([3, 0, 0]),
    )
    stats = mesh_stats(scene, "cm")
    assert stats["triangles"] == 24 and stats["components"] == 2
    assert stats["size"] == pytest.approx([4, 1, 1])
    assert stats["dimensions_m"] == pytest.approx([0.04, 0.01, 0.01])
    assert stats["volume"] == pytest.approx(2.0)


def test_point_stats() -> None:
    pts = PointSet(
        positions=np.array([[0, 0, 0], [2, 1, 0.5]]),
        attributes={"intensity": np.zeros(2)},
        count=10,
    )
    stats = point_stats(pts, "m", "EPSG:4326")
    assert stats["points"] == 10 and stats["sampled"] is True
    assert stats["size"] == [2, 1, 0.5] and stats["dimensions_m"] == [2, 1, 0.5]
    assert stats["attributes"] == ["intensity"] and stats["crs"] == "EPSG:4326"
    assert stats["has_colors"] is False


def test_asset_stats_is_json() -> None:
    mesh = trimesh.creation.icosphere()
    mesh.visual.vertex_colors = [255, 0, 0, 255]
    asset = Asset(
        kind="mesh",
        format="ply",
        mime="x",
        primary=Path("x.ply"),
        scene=trimesh.Scene(mesh),
        extra={
            "n": np.int64(3),
            "arr": np.arange(2),
            "textures": [
                {"name": "t.ktx2", "format": "ktx2", "width": 4, "height": 4, "decoded": False}
            ],
        },
    )
    stats = asset_stats(asset)
    json.dumps(stats)
    assert stats["format"] == "ply" and stats["kind"] == "mesh"
    assert stats["has_vertex_colors"] is True
    assert stats["textures"] == [{"name": "t.ktx2", "width": 4, "height": 4, "format": "ktx2"}]
    assert stats["extra"]["n"] == 3
    cloud = Asset(
        kind="pointcloud",
        format="xyz",
        mime="x",
        primary=Path("p"),
        points=PointSet(np.zeros((3, 3))),
    )
    assert asset_stats(cloud)["points"] == 3


@pytest.mark.slow
def test_mesh_stats_on_a_million_triangles() -> None:
    """A closed 1.3 M-face sphere: exact counts, closed, and its volume (speed is in bench/)."""
    sphere = trimesh.creation.icosphere(subdivisions=8, radius=2.0)
    stats = mesh_stats(trimesh.Scene(sphere), "m")
    assert stats["triangles"] == 1_310_720 and stats["watertight"] is True
    assert stats["volume"] == pytest.approx(4 / 3 * np.pi * 8, rel=1e-3)


def test_components_and_edges_match_trimesh_on_a_real_scan() -> None:
    """The low-memory edge keys and CSR components agree with trimesh on a real scan.

    The Stanford bunny as scanned is open and in several pieces; a second,
    shifted copy adds exactly its own number of pieces.
    """
    from tests.testdata import data

    bunny = trimesh.load(data("scans", "stanford_via_pyvista", "bunny.ply"), process=False)
    pieces = len(bunny.split(only_watertight=False))
    stats = mesh_stats(trimesh.Scene(bunny), None)
    assert stats["components"] == pieces
    assert stats["watertight"] is bool(bunny.is_watertight)
    assert stats["surface_area"] == pytest.approx(bunny.area, rel=1e-9)
    two = trimesh.Scene()
    two.add_geometry(bunny, node_name="a", geom_name="bunny")
    shift = trimesh.transformations.translation_matrix([1.0, 0, 0])
    two.add_geometry(bunny, node_name="b", geom_name="bunny", transform=shift)
    assert mesh_stats(two, None)["components"] == 2 * pieces
